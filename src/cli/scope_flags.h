// The flags every model trained through the DeepDist scope's gradient forms
// shares (deepdist mlp train, deepdist logreg train): the split, the
// partitions, the workers, the mode and the descent rule.
#ifndef DEEPDIST_SRC_CLI_SCOPE_FLAGS_H_
#define DEEPDIST_SRC_CLI_SCOPE_FLAGS_H_

#include <CLI/CLI.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "deepdist/checkpoint.h"
#include "deepdist/deepdist.h"
#include "deepdist/descent.h"
#include "src/cli/checkpoint_files.h"
#include "src/cli/commands.h"
#include "src/cli/run_settings.h"
#include "src/monitor/status_server.h"

namespace deepdist::cli {

struct ScopeTrainFlags {
  double test_fraction = 0.2;
  unsigned long long seed = 1;
  long long epochs = 10;  // Each command sets its own default before AddScopeTrainFlags.
  long long batch = 100;
  long long threads = 0;
  std::string mode = "async";
  std::string optimizer = "sgd";
  double alpha = -1;
  double momentum = 0;
  double eval_every = 0;   // Seconds; 0: only the trained model is measured.
  std::string init_model;  // A model file of the same command to start from.
  bool json = false;
  bool quiet = false;
  std::string checkpoint;  // DIR, or empty.
  double checkpoint_every = 300;
  std::string resume;          // DIR, or empty.
  long long status_port = -1;  // -1: no status server.
  std::string status_bind = "127.0.0.1";
  // The settings given on the command line (run_settings.h).
  std::set<std::string> given;

  // Worker threads per rank: --threads, else the hardware's.
  size_t Threads() const;
  Mode ScopeMode() const { return mode == "sync" ? Mode::kSync : Mode::kAsync; }
  // The rule at --alpha, else at `default_alpha` (constant rates).
  std::unique_ptr<Descent> Rule(float default_alpha) const;
  // With --eval-every, has the scope keep its model every so many seconds of
  // training in `snapshots`, to be measured after training.
  void KeepSnapshots(Options* options, std::vector<TrainSnapshot>* snapshots) const;
  // The folder checkpoints go to: --checkpoint, else --resume's.
  const std::string& CheckpointDir() const { return checkpoint.empty() ? resume : checkpoint; }
  // With a checkpoint folder, has the scope save a checkpoint there every
  // --checkpoint-every seconds (and when a signal stops it), with the
  // sections `extra` besides the engine's, through `writer`
  // (checkpoint_files.h; one file per rank under MPI), which must outlive
  // the training; `saved` is the checkpoint the run resumes from, if any.
  void SaveCheckpoints(Options* options, Cluster& cluster, std::map<std::string, std::string> extra,
                       const std::optional<SavedCheckpoint>& saved,
                       std::optional<CheckpointWriter>* writer) const;
};

// Before training, for a command whose flags `f` hold `scope`: with
// --resume DIR, loads DIR's checkpoint into `saved` (none there: a fresh
// run) and takes the run's settings from it. Returns the exit code of an
// error it printed, else 0.
template <typename Flags>
int ResumeSettings(const std::vector<Setting<Flags>>& settings, Flags* f,
                   const ScopeTrainFlags& scope, std::optional<SavedCheckpoint>* saved) {
  if (scope.resume.empty()) return 0;
  Result<std::optional<SavedCheckpoint>> loaded = LoadCheckpointDir(scope.resume);
  if (!loaded.ok()) return ReportError(loaded.status());
  *saved = std::move(*loaded);
  if (!*saved) return 0;
  const Checkpoint& main = (*saved)->main;
  const std::string* text = main.Get("settings");
  const std::string problem = text == nullptr
                                  ? "--resume: " + main.source() + ": no saved settings"
                                  : ApplySettings(settings, *text, main.source(), scope.given, f);
  return problem.empty() ? 0 : UsageError(problem);
}

// The --status-port server of a gradient-form run, rank 0's: partitions
// done and their rate, the mean loss the gradient reported over the
// partitions since the last tick (RecordLoss), the store's rate, updates
// and staleness; fed from the scope's on_tick.
class ScopeStatus {
 public:
  // Starts the server when --status-port is given (rank 0 only) and sets
  // options->on_tick to feed it from the scope Watch names. An error names
  // the address that cannot be had; every rank should agree on it.
  [[nodiscard]] Status Start(const ScopeTrainFlags& f, const Cluster& cluster, Options* options);
  // The scope to read, once made (options are copied into it).
  void Watch(DeepDist* dd) { dd_ = dd; }
  // A partition's mean loss over its `examples`; any thread.
  void RecordLoss(double loss, size_t examples);

 private:
  void Tick();

  std::unique_ptr<StatusServer> server_;
  DeepDist* dd_ = nullptr;
  std::chrono::steady_clock::time_point start_;
  std::mutex mu_;
  double loss_sum_ = 0;  // Since the last tick, guarded by mu_.
  uint64_t loss_examples_ = 0;
  double loss_ = 0;  // The last tick's.
};

// What a gradient-form command sets up around its DeepDist scope from the
// shared flags: the scope's options (threads, mode, epochs, the cluster, the
// interrupt flag), --eval-every's snapshots, --checkpoint's writer (saving
// the sections `extra` beside the engine's) and --resume's checkpoint
// `saved`, and --status-port's server. The options' callbacks point into it:
// it stays where it was made, and outlives the scope made from `options`.
struct ScopeRun {
  ScopeRun() = default;
  ScopeRun(const ScopeRun&) = delete;
  ScopeRun& operator=(const ScopeRun&) = delete;
  // Every rank calls it; the error (a status port that cannot be had) is
  // for every rank to agree on before training.
  [[nodiscard]] Status Prepare(const ScopeTrainFlags& f, Cluster& cluster,
                               std::map<std::string, std::string> extra,
                               const std::optional<SavedCheckpoint>& saved);
  // The checkpoint an interrupted run can resume from ("" when none was
  // taken).
  std::string SavedPath() const {
    return checkpoints && checkpoints->taken() > 0 ? checkpoints->path() : std::string();
  }

  Options options;
  std::vector<TrainSnapshot> snapshots;
  std::optional<CheckpointWriter> checkpoints;
  ScopeStatus status;
};

// Checks that checkpoints can be saved where the flags say (creating the
// folder; rank 0 removes what saves cut short left there).
[[nodiscard]] Status CheckCheckpointDir(const ScopeTrainFlags& scope, const Cluster& cluster);

// A gradient-form command's settings (run_settings.h): its own, `own`, then
// the ones every such command keeps, for flags structs that hold their
// ScopeTrainFlags as `scope`.
template <typename Flags>
std::vector<Setting<Flags>> WithScopeSettings(std::vector<Setting<Flags>> own) {
  using F = Flags;
  std::vector<Setting<F>> shared = {
      Bind<F>(
          "test-fraction", [](F & f) -> auto& { return f.scope.test_fraction; }),
      Bind<F>(
          "seed", [](F & f) -> auto& { return f.scope.seed; }),
      Bind<F>(
          "epochs", [](F & f) -> auto& { return f.scope.epochs; }),
      Bind<F>(
          "batch", [](F & f) -> auto& { return f.scope.batch; }),
      Bind<F>(
          "threads", [](F & f) -> auto& { return f.scope.threads; }, true),
      Bind<F>(
          "mode", [](F & f) -> auto& { return f.scope.mode; }),
      Bind<F>(
          "optimizer", [](F & f) -> auto& { return f.scope.optimizer; }),
      Bind<F>(
          "alpha", [](F & f) -> auto& { return f.scope.alpha; }),
      Bind<F>(
          "momentum", [](F & f) -> auto& { return f.scope.momentum; }),
      Bind<F>(
          "init-model", [](F & f) -> auto& { return f.scope.init_model; }),
  };
  for (Setting<F>& setting : shared) own.push_back(std::move(setting));
  return own;
}

// The "<name>_series" entries of a --json summary: each snapshot's seconds,
// progress and `measure`(model) under `name`, then the trained model's at
// `seconds`. Empty without --eval-every.
nlohmann::json MeasureSeries(const ScopeTrainFlags& f, const std::vector<TrainSnapshot>& snapshots,
                             const Model& trained, double seconds, const std::string& name,
                             const std::function<double(const Model&)>& measure);

// Registers the shared flags on `train`; `seed_help` says what the seed
// seeds, `alpha_help` the rates' defaults.
void AddScopeTrainFlags(CLI::App& train, ScopeTrainFlags& f, const std::string& seed_help,
                        const std::string& alpha_help);
// "" when the values are in range, else the "--flag: problem" message.
std::string ValidateScopeTrainFlags(const ScopeTrainFlags& f);

}  // namespace deepdist::cli

#endif  // DEEPDIST_SRC_CLI_SCOPE_FLAGS_H_
