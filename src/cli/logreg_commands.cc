// deepdist logreg train | predict: sparse logistic regression on libsvm data,
// trained through the DeepDist scope with row-level pulls and pushes
// (embedded, or distributed under mpirun with the same flags).
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>

#include "deepdist/cluster.h"
#include "deepdist/deepdist.h"
#include "deepdist/descent.h"
#include "deepdist/logreg.h"
#include "deepdist/partition.h"
#include "deepdist/replica.h"
#include "src/cli/commands.h"
#include "src/cli/interrupt.h"
#include "src/cli/scope_flags.h"
#include "src/core/atomic_file.h"

namespace deepdist::cli {
namespace {

struct LogregTrainFlags {
  std::string input;
  std::string output;
  long long features = 0;
  ScopeTrainFlags scope;
};

std::string Validate(const LogregTrainFlags& f) {
  if (std::string problem = ValidateScopeTrainFlags(f.scope); !problem.empty()) return problem;
  if (f.input.empty()) return "--input: is required";
  if (f.features < 0 || static_cast<uint64_t>(f.features) > logreg::kMaxFeatures)
    return "--features: must be between 1 and 2^31";
  return "";
}

bool Skip(std::string_view line) {
  const size_t at = line.find_first_not_of(" \t\r");
  return at == std::string_view::npos || line[at] == '#';
}

// The lines of one side of the split, parsed (the file was checked first).
std::vector<logreg::Example> ReadSide(const std::string& path, uint64_t seed, double fraction,
                                      bool held_out) {
  std::vector<logreg::Example> out;
  std::ifstream in(path, std::ios::binary);
  std::string line;
  logreg::Example e;
  while (std::getline(in, line)) {
    if (Skip(line) || IsHeldOutLine(line, seed, fraction) != held_out) continue;
    if (logreg::ParseLine(line, &e).ok()) out.push_back(e);
  }
  return out;
}

struct Quality {
  double accuracy = 0;
  double loss = 0;
};

Quality Measure(const Model& model, const std::vector<logreg::Example>& examples) {
  Quality q;
  if (examples.empty()) return q;
  size_t right = 0;
  for (const logreg::Example& e : examples) {
    const double p = logreg::Probability(model, e);
    right += (p > 0.5) == e.positive;
    const double pe = std::clamp(e.positive ? p : 1.0 - p, 1e-15, 1.0);
    q.loss -= std::log(pe);
  }
  q.accuracy = static_cast<double>(right) / static_cast<double>(examples.size());
  q.loss /= static_cast<double>(examples.size());
  return q;
}

// The flags a checkpoint keeps (run_settings.h).
const std::vector<Setting<LogregTrainFlags>>& TrainSettings() {
  using F = LogregTrainFlags;
  static const std::vector<Setting<F>> settings = WithScopeSettings<F>({
      Bind<F>(
          "input", [](F & f) -> auto& { return f.input; }),
      Bind<F>(
          "features", [](F & f) -> auto& { return f.features; }),
  });
  return settings;
}

int RunTrain(const LogregTrainFlags& flags) {
  LogregTrainFlags f = flags;  // A resumed run takes its settings from the checkpoint.
  std::optional<SavedCheckpoint> saved;
  if (int code = ResumeSettings(TrainSettings(), &f, f.scope, &saved)) return code;
  if (std::string problem = Validate(f); !problem.empty()) return UsageError(problem);
  const Interrupts interrupts;  // SIGINT, SIGTERM: training stops, nothing is written.
  Result<std::unique_ptr<Cluster>> joined = JoinCluster();
  if (!joined.ok()) return ReportError(joined.status());
  Cluster& cluster = **joined;
  const bool lead = cluster.rank() == 0;
  const Status writable =
      lead && !f.output.empty() ? AtomicFile::CheckWritable(f.output) : Status::OK();
  if (int code = AgreeAcrossRanks(cluster, writable)) return code;
  if (int code = AgreeAcrossRanks(cluster, CheckCheckpointDir(f.scope, cluster))) return code;

  // Every line is checked before training (errors name the line).
  Result<logreg::Scan> scan = logreg::ScanFile(f.input);
  if (int code = AgreeAcrossRanks(cluster, scan.status())) return code;
  // Every rank reads the model to start from, so that all start alike; its
  // features are the run's unless --features says otherwise.
  Model initial;
  if (!f.scope.init_model.empty()) {
    Result<Model> loaded = logreg::Load(f.scope.init_model);
    Status usable = loaded.status();
    // Weights come in rows of kWeightsPerRow: a model holds its features
    // rounded up to whole rows.
    if (loaded.ok() && f.features > 0 &&
        logreg::RowOf(logreg::FeaturesOf(*loaded)) !=
            logreg::RowOf(static_cast<uint64_t>(f.features))) {
      usable = Status::InvalidArgument("--init-model: " + f.scope.init_model + ": " +
                                       std::to_string(logreg::FeaturesOf(*loaded)) +
                                       " features, not --features " + std::to_string(f.features));
    }
    if (int code = AgreeAcrossRanks(cluster, usable)) return code;
    initial = std::move(*loaded);
  }
  const uint64_t features = !f.scope.init_model.empty() ? logreg::FeaturesOf(initial)
                            : f.features > 0            ? static_cast<uint64_t>(f.features)
                                                        : scan->max_index;
  if (features < scan->max_index) {
    if (!f.scope.init_model.empty()) {
      return AgreeAcrossRanks(
          cluster, Status::InvalidArgument("--init-model: " + f.scope.init_model + ": " +
                                           std::to_string(features) + " features, but " + f.input +
                                           " has index " + std::to_string(scan->max_index)));
    }
    return AgreeAcrossRanks(
        cluster,
        Status::InvalidArgument("--features: " + std::to_string(features) + ", but " + f.input +
                                " has index " + std::to_string(scan->max_index)));
  }
  const auto batch = static_cast<size_t>(f.scope.batch);
  const uint64_t train_lines = std::max<uint64_t>(
      1,
      static_cast<uint64_t>(static_cast<double>(scan->examples) * (1.0 - f.scope.test_fraction)));
  Result<std::vector<PartitionSpec>> parts =
      saved ? LoadPartitions(saved->main.Has("partitions") ? *saved->main.Get("partitions") : "",
                             saved->main.source())
            : ListPartitions({f.input}, {.target_partitions =
                                             std::max<size_t>(1, (train_lines + batch - 1) / batch),
                                         .split_on = SplitOn::kLines});
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
  DeepDist dd(f.scope.init_model.empty() ? logreg::NewModel(features) : std::move(initial),
              run.options);
  run.status.Watch(&dd);
  // Defaults: the rates measured on generated data (docs/BENCHMARKS.md).
  const std::unique_ptr<Descent> rule = f.scope.Rule(f.scope.optimizer == "sgd" ? 1.0f : 0.1f);
  const float alpha = rule->schedule().alpha;

  std::atomic<uint64_t> rows_pulled{0};
  const auto start = std::chrono::steady_clock::now();
  Status trained = dd.train(
      *parts,
      [&](Replica& replica, Partition& data) {
        std::vector<logreg::Example> examples;
        logreg::Example e;
        Status read = data.ForEachLine([&](std::string_view line) {
          if (Skip(line) || IsHeldOutLine(line, f.scope.seed, f.scope.test_fraction)) return;
          if (logreg::ParseLine(line, &e).ok()) examples.push_back(e);
        });
        Update update;
        if (!read.ok()) throw std::runtime_error(read.message());
        if (examples.empty()) return update;
        // Only the rows the partition's features fall in.
        const std::vector<RowId> rows = logreg::RowsOf(examples);
        if (Status s = replica.Require(0, rows); !s.ok()) throw std::runtime_error(s.message());
        rows_pulled.fetch_add(rows.size(), std::memory_order_relaxed);
        std::vector<float> gradient;
        const double loss = logreg::LossAndGradient(
            examples, rows,
            [&](uint64_t j) {
              return static_cast<double>(replica.Row(0, logreg::RowOf(j))[logreg::ColumnOf(j)]);
            },
            &gradient);
        run.status.RecordLoss(loss, examples.size());
        for (size_t i = 0; i < rows.size(); ++i) {
          update.Add(0, logreg::kWeightsPerRow, rows[i], &gradient[i * logreg::kWeightsPerRow]);
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
  const Quality train =
      Measure(model, ReadSide(f.input, f.scope.seed, f.scope.test_fraction, false));
  const std::vector<logreg::Example> test_set =
      ReadSide(f.input, f.scope.seed, f.scope.test_fraction, true);
  const Quality test = Measure(model, test_set);
  uint64_t nonzero = 0;
  const Table& w = model.table(0);
  for (RowId r = 0; r < w.rows(); ++r) {
    for (size_t k = 0; k < logreg::kWeightsPerRow; ++k) nonzero += w.row(r)[k] != 0.0f;
  }
  if (!f.output.empty()) {
    if (Status s = logreg::Save(f.output, model); !s.ok()) return ReportError(s);
  }
  if (const int code = Interrupts::StopAfterOutput(cluster, f.output)) return code;
  if (f.scope.json) {
    nlohmann::json j = {{"examples", scan->examples},
                        {"test_examples", test_set.size()},
                        {"features", features},
                        {"nonzero_weights", nonzero},
                        {"rows_pulled", rows_pulled.load()},
                        {"epochs", f.scope.epochs},
                        {"updates", dd.updates_applied()},
                        {"ranks", cluster.ranks()},
                        {"threads", threads},
                        {"mode", f.scope.mode},
                        {"optimizer", f.scope.optimizer},
                        {"alpha", alpha},
                        {"seconds", seconds},
                        {"loss", train.loss},
                        {"train_accuracy", train.accuracy},
                        {"test_loss", test.loss},
                        {"test_accuracy", test.accuracy}};
    if (!f.output.empty()) j["output"] = f.output;
    if (!f.scope.CheckpointDir().empty()) {
      j["checkpoints"] = run.checkpoints ? run.checkpoints->taken() : 0;
      j["resumed"] = saved.has_value();
    }
    if (f.scope.eval_every > 0) {
      j["test_accuracy_series"] =
          MeasureSeries(f.scope, run.snapshots, model, seconds, "test_accuracy",
                        [&](const Model& m) { return Measure(m, test_set).accuracy; });
    }
    std::printf("%s\n", j.dump().c_str());
  } else if (!f.scope.quiet) {
    std::printf(
        "trained logistic regression (%llu features, %llu not 0) in %.1f s: test "
        "accuracy %.4f on %zu examples, train accuracy %.4f%s%s\n",
        static_cast<unsigned long long>(features), static_cast<unsigned long long>(nonzero),
        seconds, test.accuracy, test_set.size(), train.accuracy,
        f.output.empty() ? "" : "; model in ", f.output.c_str());
  }
  return 0;
}

struct LogregPredictFlags {
  std::string model;
  std::string input;
  std::string output;
  bool json = false;
};

int RunPredict(const LogregPredictFlags& f) {
  Result<Model> model = logreg::Load(f.model);
  if (!model.ok()) return ReportError(model.status());
  Result<logreg::Scan> scan = logreg::ScanFile(f.input);
  if (!scan.ok()) return ReportError(scan.status());
  const std::vector<logreg::Example> examples = ReadSide(f.input, 0, 0, false);
  if (!f.output.empty()) {
    AtomicFile file(f.output);
    if (Status s = file.Open(); !s.ok()) return ReportError(s);
    for (const logreg::Example& e : examples) {
      std::fprintf(file.stream(), "%.6f\n", logreg::Probability(*model, e));
    }
    if (Status s = file.Commit(); !s.ok()) return ReportError(s);
  }
  const Quality q = Measure(*model, examples);
  if (f.json) {
    nlohmann::json j = {{"examples", examples.size()}, {"accuracy", q.accuracy}, {"loss", q.loss}};
    if (!f.output.empty()) j["output"] = f.output;
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("accuracy %.4f, log-loss %.4f on %zu examples\n", q.accuracy, q.loss,
                examples.size());
  }
  return 0;
}

}  // namespace

void RegisterLogreg(CLI::App& app, Action& run) {
  CLI::App* cmd = app.add_subcommand("logreg", "Train and apply sparse logistic regression.");
  cmd->require_subcommand(1);

  auto tf = std::make_shared<LogregTrainFlags>();
  CLI::App* train = cmd->add_subcommand(
      "train", "Train on libsvm data (LABEL INDEX:VALUE ..., a label > 0 positive)");
  train->add_option("--input", tf->input, "libsvm file of examples");
  train->add_option("--output", tf->output, "Write the model to FILE (for logreg predict)");
  train->add_option("--features", tf->features,
                    "Feature indices 1..N (default: the largest index in the input)");
  AddScopeTrainFlags(*train, tf->scope, "Seed of the split",
                     "Learning rate, constant (default 1 for sgd, 0.1 for adagrad and adam)");
  train->callback([&run, tf, train] {
    tf->scope.given = GivenSettings(*train, TrainSettings());
    run = [tf] { return RunTrain(*tf); };
  });

  auto pf = std::make_shared<LogregPredictFlags>();
  CLI::App* predict = cmd->add_subcommand(
      "predict", "Score libsvm examples with a trained model; print accuracy and log-loss");
  predict->add_option("--model", pf->model, "Model file of logreg train")->required();
  predict->add_option("--input", pf->input, "libsvm file")->required();
  predict->add_option("--output", pf->output, "Write P(positive) of each example, one a line");
  predict->add_flag("--json", pf->json, "Print the summary as one JSON line");
  predict->callback([&run, pf] { run = [pf] { return RunPredict(*pf); }; });
}

}  // namespace deepdist::cli
