#include "src/cli/scope_flags.h"

#include <cstdio>
#include <filesystem>
#include <thread>
#include <utility>

#include "src/cli/interrupt.h"
#include "src/core/atomic_file.h"

namespace deepdist::cli {

size_t ScopeTrainFlags::Threads() const {
  return threads > 0 ? static_cast<size_t>(threads)
                     : std::max(1u, std::thread::hardware_concurrency());
}

std::unique_ptr<Descent> ScopeTrainFlags::Rule(float default_alpha) const {
  DescentOptions options;
  options.momentum = static_cast<float>(momentum);
  const float rate = alpha > 0 ? static_cast<float>(alpha) : default_alpha;
  return MakeDescent(optimizer, LearningRate{rate, false}, options);
}

void ScopeTrainFlags::KeepSnapshots(Options* options, std::vector<TrainSnapshot>* snapshots) const {
  if (eval_every <= 0) return;
  options->snapshot_every = eval_every;
  options->on_snapshot = [snapshots](TrainSnapshot s) { snapshots->push_back(std::move(s)); };
}

void ScopeTrainFlags::SaveCheckpoints(Options* options, Cluster& cluster,
                                      std::map<std::string, std::string> extra,
                                      const std::optional<SavedCheckpoint>& saved,
                                      std::optional<CheckpointWriter>* writer) const {
  const std::string dir = CheckpointDir();
  if (dir.empty()) return;
  writer->emplace(cluster, dir, std::move(extra),
                  saved ? saved->generation : CurrentGeneration(dir));
  options->checkpoint_every = checkpoint_every;
  CheckpointWriter* w = &**writer;
  options->on_checkpoint = [w](Checkpoint& c) { return w->Save(c); };
}

Status ScopeStatus::Start(const ScopeTrainFlags& f, const Cluster& cluster, Options* options) {
  if (f.status_port < 0 || cluster.rank() != 0) return Status::OK();
  Result<std::unique_ptr<StatusServer>> started = StatusServer::Start(
      f.status_bind, static_cast<int>(f.status_port), cluster.ranks(),
      {.name = "partitions",
       .help = "Partitions trained so far, every rank's (one gradient and update each).",
       .loss_help = "Mean loss per example of the partitions trained lately."});
  if (!started.ok()) return started.status();
  server_ = std::move(*started);
  start_ = std::chrono::steady_clock::now();
  std::fprintf(stderr, "status: http://%s:%d/\n", f.status_bind.c_str(), server_->port());
  std::fflush(stderr);
  options->on_tick = [this] { Tick(); };
  return Status::OK();
}

void ScopeStatus::RecordLoss(double loss, size_t examples) {
  if (server_ == nullptr || examples == 0) return;
  std::lock_guard lock(mu_);
  loss_sum_ += loss * static_cast<double>(examples);
  loss_examples_ += examples;
}

void ScopeStatus::Tick() {
  if (dd_ == nullptr) return;
  ParamStore* store = dd_->store();
  if (store == nullptr) return;
  {
    std::lock_guard lock(mu_);
    if (loss_examples_ > 0) loss_ = loss_sum_ / static_cast<double>(loss_examples_);
    loss_sum_ = 0;
    loss_examples_ = 0;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const uint64_t done = store->progress();
  const Activity activity = dd_->activity();
  server_->Update({.seconds = seconds,
                   .progress = store->progress_fraction(),
                   .done = done,
                   .per_second = seconds > 0 ? static_cast<double>(done) / seconds : 0.0,
                   .learning_rate = store->learning_rate(),
                   .loss = loss_,
                   .bytes_sent = store->bytes_sent(),
                   .updates = activity.updates,
                   .staleness = activity.staleness});
}

Status ScopeRun::Prepare(const ScopeTrainFlags& f, Cluster& cluster,
                         std::map<std::string, std::string> extra,
                         const std::optional<SavedCheckpoint>& saved) {
  options = Options{.threads = f.Threads(),
                    .mode = f.ScopeMode(),
                    .epochs = static_cast<size_t>(f.epochs),
                    .cluster = &cluster,
                    .interrupt = Interrupts::flag()};
  f.KeepSnapshots(&options, &snapshots);
  f.SaveCheckpoints(&options, cluster, std::move(extra), saved, &checkpoints);
  if (saved) options.resume = saved->parts();
  return status.Start(f, cluster, &options);
}

Status CheckCheckpointDir(const ScopeTrainFlags& scope, const Cluster& cluster) {
  const std::string dir = scope.CheckpointDir();
  if (dir.empty()) return Status::OK();
  return PrepareCheckpointDir(dir, /*clean=*/cluster.rank() == 0);
}

nlohmann::json MeasureSeries(const ScopeTrainFlags& f, const std::vector<TrainSnapshot>& snapshots,
                             const Model& trained, double seconds, const std::string& name,
                             const std::function<double(const Model&)>& measure) {
  nlohmann::json series = nlohmann::json::array();
  if (f.eval_every <= 0) return series;
  for (const TrainSnapshot& s : snapshots) {
    series.push_back({{"seconds", s.seconds}, {"progress", s.progress}, {name, measure(s.model)}});
  }
  series.push_back({{"seconds", seconds}, {"progress", 1.0}, {name, measure(trained)}});
  return series;
}

void AddScopeTrainFlags(CLI::App& train, ScopeTrainFlags& f, const std::string& seed_help,
                        const std::string& alpha_help) {
  train
      .add_option("--test-fraction", f.test_fraction,
                  "Fraction of the lines held out for the test accuracy: a line is held out "
                  "when a hash of --seed and its text says so")
      ->capture_default_str();
  train.add_option("--seed", f.seed, seed_help)->capture_default_str();
  train.add_option("--epochs", f.epochs, "Passes over the data")->capture_default_str();
  train
      .add_option("--batch", f.batch, "Training lines per partition (one gradient and update each)")
      ->capture_default_str();
  train.add_option("--threads", f.threads, "Worker threads per rank (default: hardware threads)");
  train
      .add_option("--mode", f.mode,
                  "async (Downpour-like) or sync (MLlib-like rounds: one partition per worker "
                  "against the same model, their mean applied once)")
      ->capture_default_str();
  train
      .add_option("--optimizer", f.optimizer,
                  "Descent rule on the model server: sgd, adagrad or adam (docs/DESCENT.md)")
      ->capture_default_str();
  train.add_option("--alpha", f.alpha, alpha_help);
  train.add_option("--init-model", f.init_model,
                   "Start from the model in FILE (written by this command's --output), which "
                   "must have this run's shape, instead of a fresh one");
  train.add_option("--momentum", f.momentum, "Momentum of --optimizer sgd, in [0, 1)");
  train.add_option("--eval-every", f.eval_every,
                   "Also measure the model as it stood every SECONDS of training (pulled from "
                   "the model server while training goes on, measured after it): a series in "
                   "the --json summary");
  train.add_option("--checkpoint", f.checkpoint,
                   "Save a checkpoint (the model, optimizer state, settings and where training "
                   "stands) in DIR every --checkpoint-every seconds and when SIGINT or SIGTERM "
                   "stops the run; atomically. Under mpirun each rank saves its shard (DIR "
                   "shared by every rank). --mode async");
  train.add_option("--checkpoint-every", f.checkpoint_every, "Seconds between checkpoints")
      ->capture_default_str();
  train.add_option("--resume", f.resume,
                   "Go on from the checkpoint in DIR (its settings; a flag given with another "
                   "value is an error; --threads and the number of ranks may change), saving "
                   "further checkpoints there; a DIR without one starts a fresh run");
  train.add_option("--status-port", f.status_port,
                   "Serve the run's status over HTTP on this port (0: any free port, printed on "
                   "stderr): /status (JSON), /metrics (Prometheus) and a page at /; read-only; "
                   "rank 0 only");
  train
      .add_option("--status-bind", f.status_bind,
                  "The address --status-port listens on (another than 127.0.0.1 makes the "
                  "status reachable from other machines)")
      ->capture_default_str();
  train.add_flag("--json", f.json, "Print the summary as one JSON line");
  train.add_flag("--quiet", f.quiet, "No summary line");
}

std::string ValidateScopeTrainFlags(const ScopeTrainFlags& f) {
  if (!(f.test_fraction >= 0 && f.test_fraction < 1)) return "--test-fraction: must be in [0, 1)";
  if (f.epochs < 1 || f.epochs > 1000000) return "--epochs: must be between 1 and 1000000";
  if (f.batch < 1 || f.batch > 1000000) return "--batch: must be between 1 and 1000000";
  if (f.threads < 0 || f.threads > 4096) return "--threads: must be between 1 and 4096";
  if (f.mode != "async" && f.mode != "sync") return "--mode: must be async or sync";
  if (f.optimizer != "sgd" && f.optimizer != "adagrad" && f.optimizer != "adam")
    return "--optimizer: must be sgd, adagrad or adam, not \"" + f.optimizer + "\"";
  if (f.alpha != -1 && !(f.alpha > 0 && f.alpha < 100)) return "--alpha: must be in (0, 100)";
  if (!(f.momentum >= 0 && f.momentum < 1)) return "--momentum: must be in [0, 1)";
  if (f.momentum > 0 && f.optimizer != "sgd") return "--momentum: only --optimizer sgd has one";
  if (!(f.eval_every >= 0 && f.eval_every <= 1e6))
    return "--eval-every: must be between 0 and 10^6 seconds";
  if (f.eval_every > 0 && !f.json) return "--eval-every: its series is in the --json summary";
  if (!(f.checkpoint_every > 0 && f.checkpoint_every <= 1e7))
    return "--checkpoint-every: must be more than 0 and at most 10^7 seconds";
  if (f.status_port < -1 || f.status_port > 65535) return "--status-port: must be 0 to 65535";
  if (f.mode == "sync" && !f.CheckpointDir().empty())
    return "--checkpoint: --mode sync does not pause for checkpoints; use --mode async";
  return "";
}

}  // namespace deepdist::cli
