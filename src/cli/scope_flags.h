// The flags every model trained through the DeepDist scope's gradient forms
// shares (deepdist mlp train, deepdist logreg train): the split, the
// partitions, the workers, the mode and the descent rule.
#ifndef DEEPDIST_SRC_CLI_SCOPE_FLAGS_H_
#define DEEPDIST_SRC_CLI_SCOPE_FLAGS_H_

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "deepdist/deepdist.h"
#include "deepdist/descent.h"

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

  // Worker threads per rank: --threads, else the hardware's.
  size_t Threads() const;
  Mode ScopeMode() const { return mode == "sync" ? Mode::kSync : Mode::kAsync; }
  // The rule at --alpha, else at `default_alpha` (constant rates).
  std::unique_ptr<Descent> Rule(float default_alpha) const;
  // With --eval-every, has the scope keep its model every so many seconds of
  // training in `snapshots`, to be measured after training.
  void KeepSnapshots(Options* options, std::vector<TrainSnapshot>* snapshots) const;
};

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
