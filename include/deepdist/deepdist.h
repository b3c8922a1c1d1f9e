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
// MLlib): in rounds of one partition per worker (of every rank), as much as
// an async worker computes between two pushes, every worker computes its
// update at the same model version; the round's updates are averaged and
// applied once, when the round ends.
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

#include <atomic>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "deepdist/checkpoint.h"
#include "deepdist/cluster.h"
#include "deepdist/descent.h"
#include "deepdist/model.h"
#include "deepdist/partition.h"
#include "deepdist/replica.h"
#include "deepdist/status.h"
#include "deepdist/store.h"

namespace deepdist {

enum class Mode { kAsync, kSync };

// The master model as it stood part-way through a train() (Options::
// snapshot_every): the tables asked for, pulled from the store while the
// workers went on.
struct TrainSnapshot {
  double seconds = 0;   // Since train() started, on rank 0's clock.
  double progress = 0;  // The store's progress_fraction() then, 0..1.
  Model model;          // The tables of Options::snapshot_tables, in that order.
};

// Where a train() stood when it paused for a checkpoint
// (Options::checkpoint_every): with the store's rows (ParamStore::SaveShard),
// what it needs to go on from there.
struct TaskState {
  uint64_t epoch = 0;
  uint64_t partition = 0;
  std::string position;  // Partition::position() when it paused.
};
struct TrainState {
  // Tasks run in one sequence, epoch by epoch (partition p of epoch e is
  // number e * partitions + p); the first `tasks_started` were handed out.
  uint64_t tasks_started = 0;
  // Of those, the ones begun and not finished, with where each stood.
  std::vector<TaskState> in_flight;
  uint64_t progress = 0;    // The store's progress().
  std::string model_state;  // WorkerOptions::save_state's.
  std::string Serialize() const;
  // Errors name `source`; every length is checked before it is used.
  [[nodiscard]] static Result<TrainState> Parse(std::string_view bytes, const std::string& source);
};

struct Options {
  size_t threads = 0;  // Workers per rank; 0 means one per hardware thread.
  Mode mode = Mode::kAsync;
  size_t epochs = 1;  // Passes over all partitions.
  // The job's ranks; nullptr means embedded (one process).
  Cluster* cluster = nullptr;
  // Every `snapshot_every` seconds of a train() (0: never), rank 0 pulls
  // the master rows of `snapshot_tables` (every table when empty) from the
  // store, as any worker would, while the workers go on, and hands them to
  // `on_snapshot` on the thread that called train(). Training is not paused:
  // keep the snapshot and evaluate it after train() returns, or the
  // evaluation's work slows the training it measures. A failed pull ends
  // the train() with its error.
  double snapshot_every = 0;
  std::vector<size_t> snapshot_tables = {};
  std::function<void(TrainSnapshot snapshot)> on_snapshot = {};
  // When set, read about every 100 ms of a train(): once true (a signal
  // handler's flag, say), the workers stop at their next progress
  // checkpoint, as they do when one fails, and train() returns
  // kInterrupted. Not owned.
  const std::atomic<bool>* interrupt = nullptr;
  // Checkpoints (asynchronous mode): every checkpoint_every seconds of a
  // train() (0: never), and once more when `interrupt` stops it, every
  // worker pauses at its next progress point (Replica::Advance in the
  // Downpour form, between tasks in the gradient forms) with its replica's
  // change pushed, while the store's rows (ParamStore::SaveShard) and where
  // training stands (section "train", a TrainState) are copied into a
  // checkpoint; then the workers go on and on_checkpoint gets the
  // checkpoint, on the thread that called train(): add what else a resume
  // needs and save it (Checkpoint::Save). An error from it ends the train()
  // with that error. Under MPI the ranks pause together (their watchers
  // vote every 250 ms; rank 0's clock decides when) and every rank's
  // on_checkpoint gets its own shard and state at the same checkpoint, in
  // step, so it may use the store's collectives (ParamStore::AllGather) to
  // commit the shards together; a rank whose workers failed takes none, and
  // its error ends the job.
  double checkpoint_every = 0;
  std::function<Status(Checkpoint& checkpoint)> on_checkpoint = {};
  // Goes on from the checkpoints on_checkpoint was given at one checkpoint
  // (loaded back): one for an embedded run, one per rank for a distributed
  // one, in any order, on any number of ranks; over the same partitions and
  // epochs. The rows go back into the store (resharded by row id), its
  // progress is restored, the tasks in flight are handed out first, each
  // with its position (Partition::resume_position), dealt to the ranks in
  // turn, then the tasks not yet started. Not owned; read at the start of
  // train().
  std::vector<const Checkpoint*> resume = {};
  // The gradient forms: called from the thread that called train() about
  // every 100 ms while the workers run (the Downpour form takes
  // WorkerOptions::on_tick).
  std::function<void()> on_tick = {};
};

// The message of the error a train() ended by Options::interrupt returns.
inline constexpr const char* kInterrupted = "training interrupted";

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

  // Checkpoints, for a Worker that pauses inside a task: before each
  // Replica::Advance it sets what it needs to go on from there; a resumed
  // task gets it back as resume_position() (empty on a fresh task).
  void set_position(std::string position) { position_ = std::move(position); }
  const std::string& position() const { return position_; }
  const std::string& resume_position() const { return resume_position_; }
  void set_resume_position(std::string position) { resume_position_ = std::move(position); }

 private:
  PartitionSpec spec_;
  size_t index_;
  size_t epoch_;
  std::string position_;
  std::string resume_position_;
};

// The seed's form: the whole model, fetched for this partition.
using GradientFn = std::function<Update(const Model& model, Partition& data)>;
// The row-level form: the worker's replica, which pulls rows on Require.
using RowGradientFn = std::function<Update(Replica& model, Partition& data)>;
// A user's descent rule for one row: change `row` by `update` at rate `lr`.
using DescentFn =
    std::function<void(std::span<float> row, std::span<const float> update, float lr)>;

// The Downpour form, for models that train their rows in place (word2vec):
// each worker thread gets a Worker of its own and a Replica that lives
// across its tasks. Train makes the rows it needs present
// (replica.Require), changes them by SGD at the rate it chooses, and calls
// replica.Advance(units, rate) as work is done: the replica counts the
// store's progress, pushes its change every push_every units, refreshes
// every fetch_every, and in sync mode ends a round there. Where the store
// allows it (embedded, SGD) the replica is the master itself (Hogwild).
class Worker {
 public:
  virtual ~Worker() = default;
  [[nodiscard]] virtual Status Train(Replica& replica, Partition& data) = 0;
  // After the worker's last task, before its replica's final push.
  virtual void Done() {}
};
// Makes the Worker for worker thread `index` (0 .. threads - 1).
using WorkerFactory = std::function<std::unique_ptr<Worker>(size_t index)>;

struct WorkerOptions {
  // Work units (words, examples) planned over all partitions and epochs:
  // the learning-rate schedule's 1.0.
  uint64_t planned_units = 0;
  // The tables the replicas cover (all when empty), and their intervals;
  // in sync mode a round is push_every units per worker.
  std::vector<size_t> tables;
  ReplicaOptions replica;
  // Called from the thread that called train() about every 100 ms while
  // the workers run.
  std::function<void()> on_tick;
  // Called once the store exists, before the first worker starts.
  std::function<void(ParamStore& store)> on_start;
  // Checkpoints: the model's own counters (words read, losses), saved while
  // the workers pause (TrainState::model_state), and given back on resume
  // before any worker starts: restore_state is called once for each saved
  // rank's counters this rank takes over (none, one or several when the
  // number of ranks changed), so it adds them to its own.
  std::function<std::string()> save_state;
  std::function<Status(std::string_view state)> restore_state;
};

// What the workers of a scope have done, for monitoring (DeepDist::activity).
struct Activity {
  // Updates this rank's workers have pushed to the model server: in the
  // gradient forms one per partition (one per round in sync mode); in the
  // Downpour form one per push of a replica's change, or, for a worker
  // that writes the master rows in place (Hogwild), one per progress point.
  uint64_t updates = 0;
  // Per worker thread, the staleness of its last update, in updates: those
  // of this rank's other workers applied between its fetch of the rows and
  // its push (Downpour's staleness). 0 for a worker on the master rows, and
  // in sync mode, where every worker of a round starts from the same model.
  std::vector<uint64_t> staleness;
};

class DeepDist {
 public:
  // A scope that owns its model server, made from `model` at the first
  // train() (under MPI, every rank passes the same model).
  explicit DeepDist(Model model, Options options = {});
  // A scope over an existing store (its rule and its cluster); the store
  // must outlive the scope. options.cluster is not used.
  DeepDist(ParamStore& store, Options options);
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

  // The Downpour form with the store's own rule (a scope over a store), or
  // with `descent`.
  [[nodiscard]] Status train(const std::vector<PartitionSpec>& partitions,
                             const WorkerFactory& workers, const WorkerOptions& options);
  [[nodiscard]] Status train(const std::vector<PartitionSpec>& partitions,
                             const WorkerFactory& workers, const WorkerOptions& options,
                             const Descent& descent);

  // The master model as of the last train() (rank 0's, under MPI). A scope
  // over a store has no model of its own: use the store's Snapshot.
  Model& model();
  const Model& model() const;
  // Updates applied since construction: one per partition and epoch when
  // asynchronous, one per round when synchronous (this rank's, under MPI).
  size_t updates_applied() const { return updates_applied_; }
  // Since construction; may be read from any thread while train() runs
  // (from WorkerOptions::on_tick, say).
  Activity activity() const;
  const Options& options() const { return options_; }
  // The store behind the scope (for an owned one, created at the first
  // train()), or nullptr.
  ParamStore* store() { return store_; }

 private:
  class ForwardingDescent;
  Status Run(const std::vector<PartitionSpec>& partitions, const GradientFn* whole,
             const RowGradientFn* rows, const Descent& descent);
  Status RunWorkers(const std::vector<PartitionSpec>& partitions, const WorkerFactory& workers,
                    const WorkerOptions& options);
  // Makes the owned store on the first call (rows locked or not; the first
  // train() decides); sets the rule for this train().
  Status Prepare(const Descent& descent, bool lock_rows);
  // Snapshot into model_ (rank 0) after an owned store's train().
  Status Gather();

  Options options_;
  Model model_;
  ForwardingDescent* rule_ = nullptr;  // Owned by owned_store_.
  std::unique_ptr<ParamStore> owned_store_;
  ParamStore* store_ = nullptr;  // owned_store_, or the borrowed one.
  size_t updates_applied_ = 0;
  std::atomic<uint64_t> updates_{0};                    // Activity::updates.
  std::unique_ptr<std::atomic<uint64_t>[]> staleness_;  // Per worker thread.
};

}  // namespace deepdist

#endif  // DEEPDIST_DEEPDIST_H_
