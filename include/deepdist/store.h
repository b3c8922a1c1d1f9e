// ParamStore: where the master model lives, seen from a worker.
//
// A store holds named tables of float rows and a Descent rule. Workers pull
// the rows they need and push changes to the rows they touched; the rule is
// applied where the rows live (in a distributed store, at the rank that owns
// the row). Pull and Push are batched over several tables, and are issued
// without blocking: each returns a Ticket that Wait() settles, in the manner
// of ps-lite's KVWorker.
//
// Beyond rows, a store keeps the state every worker of every rank shares:
// progress (work units done, summed over all workers, which drives the
// learning-rate schedule so that it anneals as one), a task source (which
// partition a worker trains next), rounds (the barrier of sync mode) and
// Snapshot (the whole model, gathered).
//
// Two stores implement it: LocalStore (below; one process, rows in shared
// memory) and the MPI store (src/store/, built with -DDEEPDIST_MPI=ON), which
// shards rows across ranks by row id. MakeStore (cluster.h) picks one.
//
// Order: the pulls and pushes one thread issues reach each row in the order
// they were issued, so a pull issued after a push sees that push even
// before the push's Wait.
//
// Thread safety: every method may be called from any number of worker
// threads at once, except Snapshot and Barrier, which one thread per rank
// calls while no worker runs. LocalStore does not lock rows: concurrent pushes
// to the same row race in the Hogwild manner (Recht et al. 2011), which sparse
// gradient methods such as word2vec tolerate by design.
#ifndef DEEPDIST_STORE_H_
#define DEEPDIST_STORE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "deepdist/checkpoint.h"
#include "deepdist/descent.h"
#include "deepdist/model.h"
#include "deepdist/status.h"

namespace deepdist {

class ChangeLog;

// Names one Pull or Push in flight; Wait() settles it.
using Ticket = uint64_t;

// A client of a store (NewClient): a worker's full replica, which pulls
// back the rows other clients changed (PullChanged).
inline constexpr uint32_t kNoClient = ~uint32_t{0};

// For PullChanged: rows [begin, end) of `table`. The pull appends the rows
// of the range changed since the client last pulled them (by a push of
// another client, or of none, or of the client itself where the rule does
// not add a delta as it is), in no particular order, and their values, dim
// floats each; the object must stay valid until the pull's Wait returns.
//
// With `deltas` (set by the store, on a quantized wire after the client's
// first pull), the values are instead each row's change since the values
// the client last got: the client adds them to what it holds. With `bits`
// > 0 as well, they stay as the wire brought them: `values` is empty and
// `packed` holds row i's delta as a quantized row of `bits`-bit integers
// (src/store/wire.h: QuantizedRowBytes each, AddQuantizedRow adds one), so
// that the client decodes each straight into its rows.
//
// `from_initial` (set by the caller, on every range of a client's first
// pull, where the store has an initial_model()): the client already holds
// the initial model's rows, so only the rows that differ from them come
// back, as deltas from them.
struct ChangedRows {
  size_t table = 0;
  RowId begin = 0, end = 0;
  bool from_initial = false;
  std::vector<RowId> ids;
  std::vector<float> values;
  bool deltas = false;
  int bits = 0;
  std::string packed;
};

// Rows `ids` of `table`, row i at values + i * stride (stride 0: dim(table),
// densely packed). A pull writes the rows there; the buffer must stay valid
// until the pull's Wait returns.
struct RowBlock {
  size_t table = 0;
  std::span<const RowId> ids;
  float* values = nullptr;
  size_t stride = 0;
};

// Rows `ids` of `table` and their values for a push. A push reads (copies)
// the values before Push returns, so the buffer may be reused at once.
struct ConstRowBlock {
  size_t table = 0;
  std::span<const RowId> ids;
  const float* values = nullptr;
  size_t stride = 0;
};

struct PushOptions {
  enum class Kind {
    // Values are gradients: the owner applies its rule at the current rate.
    kGradient,
    // Values are changes a worker made to its replica by SGD at rate `rate`
    // (Downpour's accumulated delta): SGD adds them; other rules take
    // -delta / rate as the gradient.
    kDelta,
  };
  Kind kind = Kind::kGradient;
  float rate = 0;
  // Sync mode: the owner sums the values of every worker's push and applies
  // the sum once, when the round ends (Rounds::Next), instead of at once.
  bool defer_to_round = false;
  // The pushing client (NewClient), or kNoClient: its own later
  // PullChanged does not return the rows of this push for it.
  uint32_t client = kNoClient;
  // The values were rounded by the store's RoundForPush: a store that sends
  // changes at reduced precision may send these so. Unrounded values are
  // sent exactly. Each row once per push.
  bool rounded = false;
};

// A worker's task: partition `partition` in epoch `epoch`.
struct Task {
  uint64_t epoch = 0;
  uint64_t partition = 0;
};

// Hands out (epoch, partition) tasks in epoch order, each to one worker.
// Under MPI every worker of every rank draws from one sequence (kept at rank
// 0), so faster ranks take more partitions. Thread-safe.
class TaskSource {
 public:
  virtual ~TaskSource() = default;
  // The next task for this rank, or nothing when this rank has none left.
  virtual std::optional<Task> Next() = 0;
};

// Sync mode's rounds. Every worker of every rank calls Next once per round;
// it blocks until all have called, applies the pushes deferred to the round
// (each row's sum once, at the owner), and returns true while at least one
// caller said it had work: a worker that has run out keeps calling with
// false until Next returns false. Thread-safe.
class Rounds {
 public:
  virtual ~Rounds() = default;
  [[nodiscard]] virtual Result<bool> Next(bool has_work) = 0;
};

class ParamStore {
 public:
  virtual ~ParamStore() = default;

  virtual size_t num_tables() const = 0;
  virtual size_t rows(size_t table) const = 0;
  virtual size_t dim(size_t table) const = 0;
  virtual const Descent& descent() const = 0;
  // This process's rank and the number of ranks (0 and 1 when embedded).
  virtual int rank() const { return 0; }
  virtual int ranks() const { return 1; }

  // Copies rows into the blocks' buffers. Errors (a table or row out of
  // range, a failed transfer) come from Wait.
  virtual Ticket Pull(std::span<const RowBlock> blocks) = 0;
  // Applies the descent rule to the blocks' rows (see PushOptions).
  virtual Ticket Push(std::span<const ConstRowBlock> blocks, const PushOptions& options = {}) = 0;
  // Blocks until the ticket's pull has landed or its push has been applied.
  [[nodiscard]] virtual Status Wait(Ticket ticket) = 0;
  // A new client id, unique across every rank.
  virtual uint32_t NewClient() = 0;
  // The model the store was made with, where every process knows it (the
  // MPI store on a quantized wire: every rank was given the same model),
  // else null. A full replica copies it and pulls only what differs from it
  // (ChangedRows::from_initial) instead of every row.
  virtual const Model* initial_model() const { return nullptr; }
  // The rows of each range changed for `client` since it last pulled them
  // through PullChanged (every row, the first time), with their values
  // (see ChangedRows). Ordered after this thread's earlier pushes.
  virtual Ticket PullChanged(uint32_t client, std::span<ChangedRows> ranges) = 0;
  // True when Wait(ticket) would return at once; false when it would block
  // or the store cannot tell without blocking.
  virtual bool Test(Ticket /*ticket*/) { return false; }
  // Whether pushes of changes may travel at reduced precision (the MPI
  // store's int8 and int4 wires), and the rounding: RoundForPush replaces
  // each row of `values` (rows of `dim`, packed) by exactly what a push with
  // PushOptions::rounded delivers. A pusher that keeps the difference and
  // pushes it with its next change loses nothing (error feedback).
  virtual bool RoundsPushes() const { return false; }
  // Whether PullChanged returns deltas (ChangedRows::deltas) after a
  // client's first pull: then merging a pull commutes with the client's
  // pushes.
  virtual bool PullsDeltas() const { return false; }
  virtual void RoundForPush(std::span<float> /*values*/, size_t /*dim*/) const {}
  // One row's change for a rounded push: change = now - before (dim values)
  // as RoundForPush rounds it, and before += change (what the master will
  // have from this client's view). In one pass where the store can.
  virtual void RoundChangeForPush(const float* now, float* before, float* change,
                                  size_t dim) const {
    for (size_t k = 0; k < dim; ++k) change[k] = now[k] - before[k];
    RoundForPush(std::span<float>(change, dim), dim);
    for (size_t k = 0; k < dim; ++k) before[k] += change[k];
  }
  // Pull(...) then Wait.
  [[nodiscard]] Status PullNow(std::span<const RowBlock> blocks) { return Wait(Pull(blocks)); }
  [[nodiscard]] Status PushNow(std::span<const ConstRowBlock> blocks,
                               const PushOptions& options = {}) {
    return Wait(Push(blocks, options));
  }

  // The whole master model. Under MPI every rank calls it together; rank 0
  // gets the model, the other ranks an empty Model.
  [[nodiscard]] virtual Result<Model> Snapshot() = 0;
  // As Snapshot, for a caller that is done with the store: the embedded
  // store hands its model over without a copy and is empty afterwards.
  [[nodiscard]] virtual Result<Model> TakeModel() { return Snapshot(); }

  // Progress and the learning-rate schedule. SetPlan (before training, on
  // every rank) sets the work units planned over the run and restarts the
  // count from zero;
  // AddProgress adds what one worker has done; progress() is the sum over
  // every worker of every rank (under MPI, others' shares as last heard).
  virtual void SetPlan(uint64_t planned_units) = 0;
  virtual void AddProgress(uint64_t units) = 0;
  virtual uint64_t progress() const = 0;
  virtual uint64_t planned() const = 0;
  // progress() / planned(), in 0..1.
  double progress_fraction() const;
  // The descent rule's rate at progress_fraction().
  float learning_rate() const;

  // A task source over `partitions` x `epochs`. Under MPI every rank calls
  // it with the same arguments.
  virtual std::unique_ptr<TaskSource> NewTasks(uint64_t partitions, uint64_t epochs) = 0;
  // Rounds for `local_workers` workers on this rank.
  virtual std::unique_ptr<Rounds> NewRounds(size_t local_workers) = 0;
  // Returns once every rank has called it, after every push issued on any
  // rank before the call has been applied. One caller per rank.
  [[nodiscard]] virtual Status Barrier() = 0;
  // Every rank's `bytes`, in rank order, once every rank has called it (one
  // caller per rank, as Barrier; it does not wait for pushes). Embedded: the
  // caller's own.
  [[nodiscard]] virtual Result<std::vector<std::string>> AllGather(std::string_view bytes) {
    return std::vector<std::string>{std::string(bytes)};
  }

  // The master rows of `table` for in-place updates (Hogwild: a worker's
  // replica is the master itself), or nullptr when the store or its rule
  // does not allow that. Rows are stride() apart.
  virtual Table* DirectTable(size_t /*table*/) { return nullptr; }
  // The same for workers that apply AdaGrad in place (Hogwild AdaGrad), when
  // the store's rule is AdaGrad: the master rows, and the rule's accumulators
  // laid out as the rows (same stride); else nullptr. Kept apart from
  // DirectTable so that no worker adds SGD steps to an AdaGrad model.
  virtual Table* DirectAdaGradTable(size_t /*table*/) { return nullptr; }
  virtual Table* DirectState(size_t /*table*/) { return nullptr; }
  // Payload bytes this rank has handed to the transport (0 when embedded).
  virtual uint64_t bytes_sent() const { return 0; }

  // Checkpoints, while no worker pushes. SaveShard puts in `out` the rows
  // this rank holds and their optimizer state: "shard" ("r R": rank r of
  // R), "rule" (the rule's name and state sizes), "table/<k>" (rows r,
  // r + R, ... of table k, packed) and "state/<k>" (their state, for a rule
  // that keeps one). LoadShard takes back, from the shards of every rank of
  // the run that saved them (one for an embedded run; any order), the rows
  // this rank holds now, by row id: a run saved on R ranks resumes on any
  // number. Another shape or rule, or a shard missing or given twice, is an
  // error naming the checkpoint.
  [[nodiscard]] virtual Status SaveShard(Checkpoint& /*out*/) const {
    return Status::InvalidArgument("checkpoints: this store cannot save its rows");
  }
  [[nodiscard]] virtual Status LoadShard(std::span<const Checkpoint* const> /*shards*/) {
    return Status::InvalidArgument("checkpoints: this store cannot load rows");
  }
  [[nodiscard]] Status LoadShard(const Checkpoint& shard) {
    const Checkpoint* one[] = {&shard};
    return LoadShard(one);
  }
};

struct LocalStoreOptions {
  // Serialise the updates (and reads) of each row with striped locks, so no
  // update is lost to a concurrent one: for small dense models whose workers
  // all update the same rows. Off by default: Hogwild.
  bool lock_rows = false;
};

// The embedded store: one process, rows in shared memory. Pull and Push run
// to completion in the calling thread; their tickets are settled at once.
class LocalStore : public ParamStore {
 public:
  LocalStore(Model model, std::unique_ptr<Descent> descent, LocalStoreOptions options = {});
  ~LocalStore() override;

  size_t num_tables() const override { return model_.num_tables(); }
  size_t rows(size_t table) const override { return model_.table(table).rows(); }
  size_t dim(size_t table) const override { return model_.table(table).dim(); }
  const Descent& descent() const override { return *descent_; }

  Ticket Pull(std::span<const RowBlock> blocks) override;
  Ticket Push(std::span<const ConstRowBlock> blocks, const PushOptions& options = {}) override;
  Status Wait(Ticket ticket) override;
  uint32_t NewClient() override { return next_client_.fetch_add(1, std::memory_order_relaxed); }
  Ticket PullChanged(uint32_t client, std::span<ChangedRows> ranges) override;
  // Every ticket is settled when it is returned.
  bool Test(Ticket /*ticket*/) override { return true; }
  Result<Model> Snapshot() override { return model_; }
  Result<Model> TakeModel() override { return std::move(model_); }

  // Starts counting progress from zero towards `planned_units`.
  void SetPlan(uint64_t planned_units) override {
    planned_ = planned_units;
    progress_.store(0, std::memory_order_relaxed);
  }
  void AddProgress(uint64_t units) override {
    progress_.fetch_add(units, std::memory_order_relaxed);
  }
  uint64_t progress() const override { return progress_.load(std::memory_order_relaxed); }
  uint64_t planned() const override { return planned_; }

  std::unique_ptr<TaskSource> NewTasks(uint64_t partitions, uint64_t epochs) override;
  std::unique_ptr<Rounds> NewRounds(size_t local_workers) override;
  Status Barrier() override { return Status::OK(); }
  Table* DirectTable(size_t table) override;
  Table* DirectAdaGradTable(size_t table) override;
  Table* DirectState(size_t table) override;
  Status SaveShard(Checkpoint& out) const override;
  Status LoadShard(std::span<const Checkpoint* const> shards) override;
  using ParamStore::LoadShard;

  // The master model itself; callers must not race with training.
  Model& model() { return model_; }
  const Model& model() const { return model_; }

  // Applies the pushes deferred to the current round; Rounds calls it.
  void ApplyDeferred();

 private:
  Status DoPull(std::span<const RowBlock> blocks);
  Status DoPush(std::span<const ConstRowBlock> blocks, const PushOptions& options);
  Ticket Settle(Status status);

  static constexpr size_t kRowLocks = 64;
  std::mutex* RowLock(RowId id) {
    return options_.lock_rows ? &row_locks_[id % kRowLocks] : nullptr;
  }

  Model model_;
  std::unique_ptr<Descent> descent_;
  LocalStoreOptions options_;
  std::unique_ptr<std::mutex[]> row_locks_;
  // Optimizer state per table: a row of state_floats(dim) floats per row
  // (empty tables for a rule without state).
  std::vector<Table> state_;
  std::atomic<uint64_t> progress_{0};
  uint64_t planned_ = 0;
  std::atomic<uint32_t> next_client_{0};
  std::unique_ptr<ChangeLog> changes_;

  std::mutex mu_;  // Guards what follows.
  Ticket next_ticket_ = 1;
  std::unordered_map<Ticket, Status> failed_;  // Settled tickets that failed.
  // Sync mode: per table, row -> summed values (gradients, or deltas and
  // their rate) waiting for the round's end.
  struct Deferred {
    std::unordered_map<RowId, std::vector<float>> rows;
    PushOptions options;
  };
  std::vector<Deferred> deferred_;
};

}  // namespace deepdist

#endif  // DEEPDIST_STORE_H_
