// The DeepDist scope: a model server and asynchronous workers in one process.
//
//   deepdist::DeepDist dd(model);                     // starts the model server
//   dd.train(partitions,
//            [](const deepdist::Model& replica, deepdist::Partition& data) {
//              deepdist::Update update;  /* gradient of `data` at `replica` */
//              return update;
//            },
//            sgd);                                    // a Descent, or any
//                                                     // void(Model&, const Update&)
//   // dd.model() is the trained master model.
//
// Asynchronous mode (the default, as Downpour SGD): each worker thread takes
// the next partition, fetches a replica of the current master model, runs the
// gradient function on its partition and pushes the update to the server
// thread, which folds updates in as they arrive; there is no barrier. Sync mode
// (as Spark MLlib): per epoch, every partition computes its update on the same
// model, the updates are averaged, and the server applies the average once.
//
// Thread safety: train() runs one training at a time and blocks until every
// update has been applied; model() must not be called while train() runs. The
// gradient function is called from several threads at once; the descent
// function only from the server thread. The destructor stops the server.
#ifndef DEEPDIST_DEEPDIST_H_
#define DEEPDIST_DEEPDIST_H_

#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "deepdist/descent.h"
#include "deepdist/model.h"
#include "deepdist/partition.h"
#include "deepdist/status.h"

namespace deepdist {

enum class Mode { kAsync, kSync };

struct Options {
  size_t threads = 0;  // Workers; 0 means one per hardware thread.
  Mode mode = Mode::kAsync;
  size_t epochs = 1;  // Passes over all partitions.
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

using GradientFn = std::function<Update(const Model& replica, Partition& data)>;
using DescentFn = std::function<void(Model& model, const Update& update)>;

class DeepDist {
 public:
  explicit DeepDist(Model model, Options options = {});
  ~DeepDist();
  DeepDist(const DeepDist&) = delete;
  DeepDist& operator=(const DeepDist&) = delete;

  // Trains over `partitions` (listed with SplitOn::kLines) for options.epochs.
  // Returns the first error a partition reported; training stops then.
  [[nodiscard]] Status train(const std::vector<PartitionSpec>& partitions,
                             const GradientFn& gradient, const DescentFn& descent);
  // As above, and advances the rule's learning-rate schedule as work is done.
  [[nodiscard]] Status train(const std::vector<PartitionSpec>& partitions,
                             const GradientFn& gradient, Descent& descent);

  Model& model();
  const Model& model() const;
  // Updates the server has applied since construction.
  size_t updates_applied() const;

 private:
  class Server;
  Options options_;
  std::unique_ptr<Server> server_;
};

}  // namespace deepdist

#endif  // DEEPDIST_DEEPDIST_H_
