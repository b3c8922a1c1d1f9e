// deepdist mlp train | predict: a multilayer perceptron classifier on CSV
// data, trained through the DeepDist scope (embedded, or distributed under
// mpirun with the same flags).
#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "deepdist/cluster.h"
#include "deepdist/deepdist.h"
#include "deepdist/descent.h"
#include "deepdist/mlp.h"
#include "deepdist/partition.h"
#include "src/cli/commands.h"
#include "src/cli/interrupt.h"
#include "src/cli/scope_flags.h"
#include "src/core/atomic_file.h"

namespace deepdist::cli {
namespace {

struct MlpTrainFlags {
  std::string input;
  std::string output;
  long long label_column = -1;
  std::string hidden = "64";
  ScopeTrainFlags scope;
};

Result<std::vector<size_t>> ParseHidden(const std::string& text) {
  std::vector<size_t> units;
  if (text.empty() || text == "0") return units;  // No hidden layer: softmax regression.
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    char* end = nullptr;
    const long long v = std::strtoll(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || v < 1 || v > 100000) {
      return Status::InvalidArgument("--hidden: \"" + text +
                                     "\" is not a list of layer sizes such as 64,32");
    }
    units.push_back(static_cast<size_t>(v));
  }
  return units;
}

std::string Validate(const MlpTrainFlags& f) {
  if (std::string problem = ValidateScopeTrainFlags(f.scope); !problem.empty()) return problem;
  if (f.input.empty()) return "--input: is required";
  if (f.label_column < -1) return "--label-column: must be 0 or more";
  return "";
}

// "I inputs, hidden H1,H2, C classes".
std::string Shape(const mlp::Architecture& arch) {
  std::string hidden;
  for (size_t units : arch.hidden) hidden += (hidden.empty() ? "" : ",") + std::to_string(units);
  return std::to_string(arch.inputs) + " inputs, hidden " + (hidden.empty() ? "none" : hidden) +
         ", " + std::to_string(arch.classes) + " classes";
}

// The flags a checkpoint keeps (run_settings.h).
const std::vector<Setting<MlpTrainFlags>>& TrainSettings() {
  using F = MlpTrainFlags;
  static const std::vector<Setting<F>> settings = WithScopeSettings<F>({
      Bind<F>(
          "input", [](F & f) -> auto& { return f.input; }),
      Bind<F>(
          "label-column", [](F & f) -> auto& { return f.label_column; }),
      Bind<F>(
          "hidden", [](F & f) -> auto& { return f.hidden; }),
  });
  return settings;
}

int RunTrain(const MlpTrainFlags& flags) {
  MlpTrainFlags f = flags;  // A resumed run takes its settings from the checkpoint.
  std::optional<SavedCheckpoint> saved;
  if (int code = ResumeSettings(TrainSettings(), &f, f.scope, &saved)) return code;
  if (std::string problem = Validate(f); !problem.empty()) return UsageError(problem);
  Result<std::vector<size_t>> hidden = ParseHidden(f.hidden);
  if (!hidden.ok()) return ReportError(hidden.status());
  const Interrupts interrupts;  // SIGINT, SIGTERM: training stops, nothing is written.
  Result<std::unique_ptr<Cluster>> joined = JoinCluster();
  if (!joined.ok()) return ReportError(joined.status());
  Cluster& cluster = **joined;
  const bool lead = cluster.rank() == 0;
  // Fail before any work when the model cannot be written (rank 0 writes).
  const Status writable =
      lead && !f.output.empty() ? AtomicFile::CheckWritable(f.output) : Status::OK();
  if (int code = AgreeAcrossRanks(cluster, writable)) return code;
  if (int code = AgreeAcrossRanks(cluster, CheckCheckpointDir(f.scope, cluster))) return code;

  // Every line is checked before training (errors name the line), and the
  // split is read out of the same pass.
  mlp::ReadOptions read;
  read.csv.label_column = f.label_column;
  read.split = true;
  read.seed = f.scope.seed;
  read.test_fraction = f.scope.test_fraction;
  Result<mlp::Examples> train_set = mlp::ReadCsv(f.input, read);
  read.test_side = true;
  Result<mlp::Examples> test_set = train_set.ok() ? mlp::ReadCsv(f.input, read) : train_set;
  if (int code = AgreeAcrossRanks(cluster, test_set.status())) return code;
  if (train_set->rows() == 0) {
    return AgreeAcrossRanks(cluster, Status::Corruption(f.input + ": no training examples"));
  }
  int32_t top = 0;
  for (int32_t y : train_set->y) top = std::max(top, y);
  for (int32_t y : test_set->y) top = std::max(top, y);
  mlp::Architecture arch;
  arch.inputs = train_set->features;
  arch.hidden = *hidden;
  arch.classes = std::max<size_t>(2, static_cast<size_t>(top) + 1);

  // Partitions of about --batch training lines each: one update apiece.
  const auto batch = static_cast<size_t>(f.scope.batch);
  const size_t parts_wanted = std::max<size_t>(1, (train_set->rows() + batch - 1) / batch);
  Result<std::vector<PartitionSpec>> parts =
      saved ? LoadPartitions(saved->main.Has("partitions") ? *saved->main.Get("partitions") : "",
                             saved->main.source())
            : ListPartitions({f.input},
                             {.target_partitions = parts_wanted, .split_on = SplitOn::kLines});
  if (int code = AgreeAcrossRanks(cluster, parts.status())) return code;

  const size_t threads = f.scope.Threads();
  // The scope's options, with the checkpoints (the engine's rows and state,
  // with the settings and the partitions a resumed run needs) and the
  // status server, rank 0's: a port that cannot be had fails the run before
  // it trains.
  ScopeRun run;
  if (int code =
          AgreeAcrossRanks(cluster, run.Prepare(f.scope, cluster,
                                                {{"settings", SaveSettings(TrainSettings(), f)},
                                                 {"partitions", SavePartitions(*parts)}},
                                                saved)))
    return code;
  // Every rank reads the model to start from, so that all start alike.
  Model initial;
  if (f.scope.init_model.empty()) {
    initial = mlp::NewModel(arch, f.scope.seed);
  } else {
    Result<mlp::Loaded> loaded = mlp::Load(f.scope.init_model);
    Status usable = loaded.status();
    if (loaded.ok() && (loaded->arch.inputs != arch.inputs || loaded->arch.hidden != arch.hidden ||
                        loaded->arch.classes != arch.classes)) {
      usable = Status::InvalidArgument("--init-model: " + f.scope.init_model + ": " +
                                       Shape(loaded->arch) + ", not this run's " + Shape(arch));
    }
    if (int code = AgreeAcrossRanks(cluster, usable)) return code;
    initial = std::move(loaded->model);
  }
  DeepDist dd(std::move(initial), run.options);
  run.status.Watch(&dd);
  // Defaults: the best rates measured on the digits (docs/BENCHMARKS.md).
  const std::unique_ptr<Descent> rule = f.scope.Rule(f.scope.optimizer == "adam" ? 0.001f : 0.01f);
  const float alpha = rule->schedule().alpha;

  const mlp::Csv csv{f.label_column};
  const size_t columns = arch.inputs + 1;
  const auto start = std::chrono::steady_clock::now();
  Status trained = dd.train(
      *parts,
      [&](const Model& model, Partition& data) {
        std::vector<float> xs, x;
        std::vector<int32_t> ys;
        int32_t y = 0;
        // Lines were checked above; the test lines are left out.
        Status read_status = data.ForEachLine([&](std::string_view line) {
          if (line.find_first_not_of(" \t\r") == std::string_view::npos) return;
          if (mlp::IsTestLine(line, f.scope.seed, f.scope.test_fraction)) return;
          if (!mlp::ParseLine(line, csv, columns, &x, &y).ok()) return;
          xs.insert(xs.end(), x.begin(), x.end());
          ys.push_back(y);
        });
        Update update;
        if (!read_status.ok() || ys.empty()) return update;
        std::vector<Table> gradient;
        run.status.RecordLoss(
            mlp::LossAndGradient(model, arch, xs.data(), ys.data(), ys.size(), &gradient),
            ys.size());
        for (size_t l = 0; l < gradient.size(); ++l) {
          for (RowId r = 0; r < gradient[l].rows(); ++r) {
            update.Add(l, gradient[l].dim(), r, gradient[l].row(r));
          }
        }
        return update;
      },
      *rule);
  if (!trained.ok()) {
    if (const int code = Interrupts::Stop(cluster, f.output, trained, run.SavedPath())) return code;
  }
  if (int code = AgreeAcrossRanks(cluster, trained)) return code;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!lead) return 0;

  const Model& model = dd.model();
  const double train_accuracy = mlp::Accuracy(model, arch, *train_set);
  const double test_accuracy = mlp::Accuracy(model, arch, *test_set);
  const double loss = mlp::LossAndGradient(model, arch, train_set->x.data(), train_set->y.data(),
                                           train_set->rows(), nullptr);
  if (!f.output.empty()) {
    if (Status s = mlp::Save(f.output, model, arch); !s.ok()) return ReportError(s);
  }
  if (const int code = Interrupts::StopAfterOutput(cluster, f.output)) return code;
  if (f.scope.json) {
    nlohmann::json j = {{"train_examples", train_set->rows()},
                        {"test_examples", test_set->rows()},
                        {"features", arch.inputs},
                        {"classes", arch.classes},
                        {"hidden", arch.hidden},
                        {"epochs", f.scope.epochs},
                        {"updates", dd.updates_applied()},
                        {"ranks", cluster.ranks()},
                        {"threads", threads},
                        {"mode", f.scope.mode},
                        {"optimizer", f.scope.optimizer},
                        {"alpha", alpha},
                        {"seconds", seconds},
                        {"loss", loss},
                        {"train_accuracy", train_accuracy},
                        {"test_accuracy", test_accuracy}};
    if (!f.output.empty()) j["output"] = f.output;
    if (!f.scope.CheckpointDir().empty()) {
      j["checkpoints"] = run.checkpoints ? run.checkpoints->taken() : 0;
      j["resumed"] = saved.has_value();
    }
    if (f.scope.eval_every > 0) {
      j["test_accuracy_series"] =
          MeasureSeries(f.scope, run.snapshots, model, seconds, "test_accuracy",
                        [&](const Model& m) { return mlp::Accuracy(m, arch, *test_set); });
    }
    std::printf("%s\n", j.dump().c_str());
  } else if (!f.scope.quiet) {
    std::printf(
        "trained an MLP (%zu inputs, %zu classes) on %zu examples in %.1f s: "
        "test accuracy %.4f on %zu examples, train accuracy %.4f, loss %.4f%s%s\n",
        arch.inputs, arch.classes, train_set->rows(), seconds, test_accuracy, test_set->rows(),
        train_accuracy, loss, f.output.empty() ? "" : "; model in ", f.output.c_str());
  }
  return 0;
}

struct MlpPredictFlags {
  std::string model;
  std::string input;
  std::string output;
  long long label_column = -1;
  bool json = false;
};

int RunPredict(const MlpPredictFlags& f) {
  Result<mlp::Loaded> loaded = mlp::Load(f.model);
  if (!loaded.ok()) return ReportError(loaded.status());
  const mlp::Architecture& arch = loaded->arch;
  mlp::ReadOptions read;
  read.csv.label_column = f.label_column;
  Result<mlp::Examples> examples = mlp::ReadCsv(f.input, read);
  if (!examples.ok()) return ReportError(examples.status());
  if (examples->features != arch.inputs) {
    return ReportError(Status::InvalidArgument(f.input + ": " + std::to_string(examples->features) +
                                               " features, the model " + f.model + " takes " +
                                               std::to_string(arch.inputs)));
  }
  if (!f.output.empty()) {
    AtomicFile file(f.output);
    if (Status s = file.Open(); !s.ok()) return ReportError(s);
    for (size_t i = 0; i < examples->rows(); ++i) {
      std::fprintf(file.stream(), "%d\n",
                   mlp::Classify(loaded->model, arch, &examples->x[i * arch.inputs]));
    }
    if (Status s = file.Commit(); !s.ok()) return ReportError(s);
  }
  const double accuracy = mlp::Accuracy(loaded->model, arch, *examples);
  if (f.json) {
    nlohmann::json j = {{"examples", examples->rows()}, {"accuracy", accuracy}};
    if (!f.output.empty()) j["output"] = f.output;
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("accuracy %.4f on %zu examples\n", accuracy, examples->rows());
  }
  return 0;
}

}  // namespace

void RegisterMlp(CLI::App& app, Action& run) {
  CLI::App* mlp = app.add_subcommand("mlp", "Train and apply a multilayer perceptron classifier.");
  mlp->require_subcommand(1);

  auto train_flags = std::make_shared<MlpTrainFlags>();
  CLI::App* train = mlp->add_subcommand(
      "train", "Train an MLP on CSV data (numbers; one column the class label 0, 1, 2, ...)");
  train->add_option("--input", train_flags->input, "CSV file of examples");
  train->add_option("--output", train_flags->output, "Write the model to FILE (for mlp predict)");
  train->add_option("--label-column", train_flags->label_column,
                    "The label's column, 0-based (default: the last)");
  train_flags->scope.epochs = 100;
  train_flags->scope.batch = 32;
  AddScopeTrainFlags(*train, train_flags->scope, "Random seed (weights and split)",
                     "Learning rate, constant (default 0.01; 0.001 with adam)");
  train
      ->add_option("--hidden", train_flags->hidden,
                   "Hidden layer sizes, comma-separated (0: none, softmax regression)")
      ->capture_default_str();
  train->callback([&run, train_flags, train] {
    train_flags->scope.given = GivenSettings(*train, TrainSettings());
    run = [train_flags] { return RunTrain(*train_flags); };
  });

  auto predict_flags = std::make_shared<MlpPredictFlags>();
  CLI::App* predict = mlp->add_subcommand(
      "predict", "Classify CSV examples with a trained model; print the accuracy");
  predict->add_option("--model", predict_flags->model, "Model file of mlp train")->required();
  predict->add_option("--input", predict_flags->input, "CSV file, as for training")->required();
  predict->add_option("--output", predict_flags->output, "Write one predicted class per line");
  predict->add_option("--label-column", predict_flags->label_column,
                      "The label's column, 0-based (default: the last)");
  predict->add_flag("--json", predict_flags->json, "Print the summary as one JSON line");
  predict->callback(
      [&run, predict_flags] { run = [predict_flags] { return RunPredict(*predict_flags); }; });
}

}  // namespace deepdist::cli
