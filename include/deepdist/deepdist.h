// The DeepDist scope: a model server and asynchronous workers, on one
// ParamStore, embedded or across MPI ranks.
//
//   deepdist::DeepDist dd(model);                     // the model server
//   dd.train(partitions,
//            [](const deepdist::Model& model, deepdist::Partition& data) {
//              deepdist::Update update;  /* gradient of `data` at `model` */
//              return update;
//            },
//            sgd);                                    // a Descent, or a row
//                                                     // rule DescentFn
//   // dd.model() is the trained master model.
//
// The gradient comes in two forms. The seed's: it gets the whole model,
// fetched for each partition (fine for small models). The row-level form
// gets the worker's Replica and pulls only the rows it needs
// (replica.Require(table, ids), then replica.Row(table, id)), for models too
// large to fetch whole. Either returns a sparse Update of gradients, which the
// store's descent rule applies where the rows live.
//
// Asynchronous mode (the default, as Downpour SGD): each worker thread takes
// the next partition from the store's task source, fetches the rows, runs the
// gradient and pushes the update; there is no barrier. Sync mode (as Spark
// MLlib): per epoch, every partition computes its update at the same model
// version; the updates are averaged and applied once, when the epoch's round
// ends.
//
// Distributed: with Options::cluster set to an MPI cluster (JoinCluster under
// mpirun), every rank constructs the scope with the same model and calls
// train with the same arguments; rows are sharded across ranks, each rank
// trains its share of the partitions, and after train rank 0's model() is
// the trained master model (the other ranks' is empty).
//
// Thread safety: train() runs one training at a time and blocks until every
// update has been applied; model() must not be called while train() runs.
// The gradient function is called from several threads at once. The descent
// rule is applied by whichever thread pushes (the embedded store serialises
// updates of a row; distinct rows in parallel), so it must be thread-safe
// for distinct rows. The destructor stops the server.
#ifndef DEEPDIST_DEEPDIST_H_
#define DEEPDIST_DEEPDIST_H_

#include <functional>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "deepdist/cluster.h"
#include "deepdist/descent.h"
#include "deepdist/model.h"
#include "deepdist/partition.h"
#include "deepdist/replica.h"
#include "deepdist/status.h"
#include "deepdist/store.h"

namespace deepdist {

enum class Mode { kAsync, kSync };

struct Options {
  size_t threads = 0;  // Workers per rank; 0 means one per hardware thread.
  Mode mode = Mode::kAsync;
  size_t epochs = 1;  // Passes over all partitions.
  // The job's ranks; nullptr means embedded (one process).
  Cluster* cluster = nullptr;
};

// One data partition as a gradient function sees it.
class Partition {
 public:
  Partition(PartitionSpec spec, size_t index, size_t epoch)
      : spec_(std::move(spec)), index_(index), epoch_(epoch) {}
  const PartitionSpec& spec() const { return spec_; }
  size_t index() const { return index_; }
  size_t epoch() const { return epoch_; }
  // Calls `fn` for each line (without its '\n') of the partition.
  [[nodiscard]] Status ForEachLine(const std::function<void(std::string_view)>& fn);

 private:
  PartitionSpec spec_;
  size_t index_;
  size_t epoch_;
};

// The seed's form: the whole model, fetched for this partition.
using GradientFn = std::function<Update(const Model& model, Partition& data)>;
// The row-level form: the worker's replica, which pulls rows on Require.
using RowGradientFn = std::function<Update(Replica& model, Partition& data)>;
// A user's descent rule for one row: change `row` by `update` at rate `lr`.
using DescentFn =
    std::function<void(std::span<float> row, std::span<const float> update, float lr)>;

class DeepDist {
 public:
  explicit DeepDist(Model model, Options options = {});
  ~DeepDist();
  DeepDist(const DeepDist&) = delete;
  DeepDist& operator=(const DeepDist&) = delete;

  // Trains over `partitions` (listed with SplitOn::kLines) for
  // options.epochs, advancing the rule's learning-rate schedule as
  // partitions are done. Returns the first error a partition reported;
  // training stops then. The store keeps the optimizer state of the first
  // rule it was trained with; a later train() with a rule that needs a
  // different amount of state is an error.
  [[nodiscard]] Status train(const std::vector<PartitionSpec>& partitions,
                             const GradientFn& gradient, const Descent& descent);
  [[nodiscard]] Status train(const std::vector<PartitionSpec>& partitions,
                             const RowGradientFn& gradient, const Descent& descent);
  // As above, with a row rule (a constant rate of 1 is passed as lr).
  [[nodiscard]] Status train(const std::vector<PartitionSpec>& partitions,
                             const GradientFn& gradient, const DescentFn& descent);

  Model& model();
  const Model& model() const;
  // Updates applied since construction: one per partition and epoch when
  // asynchronous, one per epoch when synchronous (this rank's, under MPI).
  size_t updates_applied() const { return updates_applied_; }
  // The store behind the scope (created at the first train()), or nullptr.
  ParamStore* store() { return store_.get(); }

 private:
  class ForwardingDescent;
  Status Run(const std::vector<PartitionSpec>& partitions, const GradientFn* whole,
             const RowGradientFn* rows, const Descent& descent);

  Options options_;
  Model model_;
  ForwardingDescent* rule_ = nullptr;  // Owned by store_.
  std::unique_ptr<ParamStore> store_;
  size_t updates_applied_ = 0;
};

}  // namespace deepdist

#endif  // DEEPDIST_DEEPDIST_H_
