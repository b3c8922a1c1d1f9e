// MpiStore: the parameter store sharded across the ranks of an MPI job.
//
// Row r of every table lives at rank r % ranks, at local index r / ranks
// (with its optimizer state: AdaGrad's accumulators exist only at the owner).
// Every rank is a server for its shard and a host of workers:
//
//  - Pull copies rows this rank owns at once, in the calling thread; for the
//    other rows it sends one request per owning rank (all tables of the call
//    together, each row once however often the call names it) through the
//    cluster's communication thread. The owner's communication thread answers
//    from its shard and the reply is copied into the caller's buffers on
//    arrival. Wait blocks on a condition variable until every reply is in.
//  - Push sums the values of rows named twice (as one change), applies the
//    rows this rank owns at once, in the calling thread, and sends one message
//    per other owner, which applies them with its rule and acknowledges; Wait
//    returns when every acknowledgement is in. With defer_to_round the owner
//    sums into a per-row buffer applied once when the round ends.
//  - Progress: AddProgress counts locally; the communication thread sends the
//    running total to every other rank when it has grown (at most every
//    2 ms); Barrier exchanges the totals exactly.
//  - Barrier waits until every push this rank issued has been acknowledged,
//    then meets the other ranks (an all-gather of the progress totals).
//  - Snapshot gathers every shard at rank 0, in row order.
//
// Hogwild: local workers (in Push) and the communication thread (serving
// other ranks' pushes and pulls) read and update the shard's rows without
// locks, as LocalStore does. Only the deferred sums take a mutex.
//
// Thread safety: as ParamStore. Construction is a collective (every rank
// passes the same model; see MpiCluster::MakeStore); so are Barrier,
// Snapshot, NewTasks and the rounds. Destroy the store on every rank after a
// collective that ends its traffic (Snapshot or Barrier): messages for a
// store that is gone are dropped.
#ifndef DEEPDIST_SRC_STORE_MPI_STORE_H_
#define DEEPDIST_SRC_STORE_MPI_STORE_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "deepdist/cluster.h"
#include "deepdist/store.h"
#include "src/store/change_log.h"
#include "src/store/mpi_cluster.h"
#include "src/store/row_groups.h"
#include "src/store/wire.h"

namespace deepdist {

class MpiStore : public ParamStore, private MpiCluster::Handler {
 public:
  // Keeps this rank's shard of `model` and registers with `cluster`, which
  // must outlive the store. `id` is the same on every rank.
  MpiStore(MpiCluster* cluster, uint16_t id, Model model, std::unique_ptr<Descent> descent,
           ClusterOptions::Wire wire);
  ~MpiStore() override;

  size_t num_tables() const override { return tables_.size(); }
  size_t rows(size_t table) const override { return tables_[table].rows; }
  size_t dim(size_t table) const override { return tables_[table].dim; }
  const Descent& descent() const override { return *descent_; }
  int rank() const override { return rank_; }
  int ranks() const override { return ranks_; }

  Ticket Pull(std::span<const RowBlock> blocks) override;
  Ticket Push(std::span<const ConstRowBlock> blocks, const PushOptions& options = {}) override;
  Status Wait(Ticket ticket) override;
  bool Test(Ticket ticket) override;
  uint32_t NewClient() override;
  // None once LoadShard has put saved rows in: a replica then pulls every
  // row exactly (a first pull in fp32), not as deltas from the initial model
  // (4-bit deltas of trained rows would stay in its view of the rows nobody
  // changes again).
  const Model* initial_model() const override {
    return bits_ > 0 && initial_.num_tables() > 0 ? &initial_ : nullptr;
  }
  Ticket PullChanged(uint32_t client, std::span<ChangedRows> ranges) override;
  bool RoundsPushes() const override { return bits_ > 0; }
  bool PullsDeltas() const override { return bits_ > 0; }
  void RoundForPush(std::span<float> values, size_t dim) const override;
  void RoundChangeForPush(const float* now, float* before, float* change,
                          size_t dim) const override;
  Result<Model> Snapshot() override;
  Status SaveShard(Checkpoint& out) const override;
  Status LoadShard(std::span<const Checkpoint* const> shards) override;
  using ParamStore::LoadShard;

  void SetPlan(uint64_t planned_units) override { planned_ = planned_units; }
  void AddProgress(uint64_t units) override {
    progress_.fetch_add(units, std::memory_order_relaxed);
  }
  uint64_t progress() const override;
  uint64_t planned() const override { return planned_; }

  std::unique_ptr<TaskSource> NewTasks(uint64_t partitions, uint64_t epochs) override;
  std::unique_ptr<Rounds> NewRounds(size_t local_workers) override;
  Status Barrier() override;
  Result<std::vector<std::string>> AllGather(std::string_view bytes) override {
    return cluster_->AllGather(bytes);
  }
  uint64_t bytes_sent() const override { return cluster_->bytes_sent(); }

  // The cross-rank step at the end of a round, run by the last local worker
  // to arrive: waits for this rank's pushes, meets the other ranks, applies
  // the deferred sums this rank owns, and returns the sum over ranks of
  // `local_work` (an all-reduce, which no rank passes before every owner has
  // applied its sums).
  [[nodiscard]] Result<uint64_t> EndRound(uint64_t local_work);

 private:
  struct TableInfo {
    std::string name;
    size_t rows = 0;
    size_t dim = 0;
  };
  // Where a pulled row's values go: `dim` values from `offset` (in values)
  // of the owner's reply, to `out`.
  struct PullDest {
    float* out;
    size_t offset;
    size_t dim;
  };
  // How a PullChanged reply carries rows: values (at the wire's precision);
  // on a quantized wire, a client's first pull: fp32 values, which the owner
  // keeps as what the client got; later pulls: the quantized difference from
  // that, which the owner adds to it. A client's first pull from the initial
  // model (ChangedRows::from_initial): the owner takes the initial values as
  // what the client got and sends the quantized difference of the rows that
  // differ from them, as later pulls do.
  enum class ChangedMode : uint8_t { kValues = 0, kFirst = 1, kDeltas = 2, kFromInitial = 3 };
  // A pull or push in flight.
  struct Op {
    int remaining = 0;  // Replies or acknowledgements still to come.
    Status status;
    bool push = false;
    std::vector<std::vector<PullDest>> dests;  // Pulls, per owner.
    std::vector<size_t> values;                // Pulls, values per owner's reply.
    std::span<ChangedRows> changed;            // PullChanged: where replies append.
    ChangedMode changed_mode = ChangedMode::kValues;
  };
  struct Deferred {
    std::unordered_map<size_t, std::vector<float>> rows;  // Local index -> sum.
    PushOptions options;
  };

  // MpiCluster::Handler, on the communication thread.
  // Each handler reads its message whole before it acts; one it cannot
  // read is an error (the cluster ends the job with it). A request whose
  // body is damaged is answered with an error reply instead.
  Status OnMessage(int source, std::string_view message) override;
  void OnPoll() override;
  Status ServePull(int source, std::string_view message);
  Status ServePush(int source, std::string_view message);
  Status TakeReply(int source, std::string_view message, bool push);
  Status ServePullChanged(int source, std::string_view message);
  // This rank's rows of [begin, end) changed for `client`, appended to
  // `out` as global ids.
  void TakeChanged(uint32_t client, size_t table, RowId begin, RowId end, std::vector<RowId>* out);
  // Marks this rank's rows `ids` (global ids) of `table` as changed by `by`.
  void MarkChanged(size_t table, std::span<const RowId> ids, uint32_t by);
  Status TakeShardChunk(int source, std::string_view message);
  // Quantized wires: what this rank's rows were for `client` when it last
  // got them, or null when it has not pulled; created when `create`, with
  // the initial model's values when `from_initial` (null if the client has
  // pulled before), else empty-handed (the values are filled by the first
  // pull).
  std::vector<Table>* SentTo(uint32_t client, bool create, bool from_initial = false);
  // The rows of [begin, end) (global ids) of `table` that a pull in `mode`
  // sends `client`, appended to `out`: those changed since it last took
  // them; on a first pull from the initial model, only those of them that
  // differ from `sent` (the initial values).
  void ChangedIds(uint32_t client, ChangedMode mode, const std::vector<Table>* sent, size_t table,
                  RowId begin, RowId end, std::vector<RowId>* out);
  // What a PullChanged in `mode` sends for this rank's row `local` of
  // `table`, keeping `sent` in step: values into out (dim values), deltas
  // encoded into `encoded` (QuantizedRowBytes) instead.
  void ChangedRow(ChangedMode mode, std::vector<Table>* sent, size_t table, RowId local, float* out,
                  char* encoded = nullptr) const;
  // The sent values that a push with `options` moves (a delta push by a
  // client that has pulled: its own view of the rows moved by the push's
  // values), or null.
  std::vector<Table>* SentMovedBy(const PushOptions& options);
  // Moves `sent`'s row `id` (global) of `table` by `values`, when `sent`.
  void MoveSent(std::vector<Table>* sent, size_t table, RowId id, const float* values) const;

  // The next index of task source `source`'s cursor at rank 0 (a request
  // and its reply, or the atomic itself on rank 0).
  uint64_t NextTaskIndex(uint32_t source);
  std::atomic<uint64_t>& TaskCursor(uint32_t source);  // Rank 0.
  Status ServeTask(int source, std::string_view message);
  Status TakeTaskReply(std::string_view message);

  Status Validate(size_t table, std::span<const RowId> ids, size_t stride, const char* what) const;
  // Ticket for a call that is already settled.
  Ticket Settled(Status status);
  // Applies (or defers) one row's summed change at this rank, the owner.
  void ApplyOwned(size_t table, RowId id, const float* values, const PushOptions& options,
                  float lr);
  void ApplyDeferred();
  // Blocks until every push this rank issued has been acknowledged.
  void AwaitPushes();
  std::string ErrorReply(MessageType type, uint64_t ticket, const Status& status) const;
  // Scratch for one Pull or Push: from the free list, or new.
  std::unique_ptr<RowGroups> TakeGroups();
  void ReturnGroups(std::unique_ptr<RowGroups> groups);

  MpiCluster* cluster_;
  const uint16_t id_;
  const int rank_;
  const int ranks_;
  const bool fp16_;
  const int bits_;          // 8 or 4 on a quantized wire, else 0.
  bool narrow_ids_ = true;  // Every table has < 2^32 rows: ids travel as uint32.
  std::unique_ptr<Descent> descent_;
  std::vector<TableInfo> tables_;
  std::vector<Table> shard_;  // Per table, the rows this rank owns.
  Model initial_;             // Quantized wires: the model every rank was given (initial_model).
  std::vector<std::vector<float>> state_;  // Per table, their optimizer state.

  std::atomic<uint64_t> progress_{0};
  std::unique_ptr<std::atomic<uint64_t>[]> heard_;          // Others' last heard totals.
  std::atomic<uint64_t> progress_sent_{0};                  // The total others last got.
  std::chrono::steady_clock::time_point progress_sent_at_;  // Communication thread.
  uint64_t planned_ = 0;

  std::atomic<Ticket> next_ticket_{1};
  std::mutex ops_mu_;  // Guards ops_ and pending_pushes_.
  std::condition_variable ops_cv_;
  std::unordered_map<Ticket, std::unique_ptr<Op>> ops_;
  uint64_t pending_pushes_ = 0;  // Push messages not yet acknowledged.

  std::mutex deferred_mu_;
  std::vector<Deferred> deferred_;  // Per table.

  std::mutex groups_mu_;
  std::vector<std::unique_ptr<RowGroups>> free_groups_;  // One per concurrent call, at most.
  std::vector<float> serve_values_;     // Communication thread: a pushed row, decoded.
  std::unique_ptr<ChangeLog> changes_;  // By local index.
  std::atomic<uint32_t> next_client_{0};
  std::mutex sent_mu_;  // Guards the maps; each client's tables are used by one thread.
  std::unordered_map<uint32_t, std::unique_ptr<std::vector<Table>>> sent_;
  std::unordered_set<uint32_t> pulled_;  // Local clients that have pulled once.

  // Task sources (NewTasks): rank 0 keeps each one's cursor, created by
  // whichever of its own call or a request comes first.
  std::atomic<uint32_t> next_task_source_{0};
  std::mutex tasks_mu_;  // Guards the two maps.
  std::condition_variable tasks_cv_;
  std::unordered_map<uint32_t, std::unique_ptr<std::atomic<uint64_t>>> task_cursors_;
  std::unordered_map<Ticket, uint64_t> task_replies_;  // This rank's requests answered.

  std::mutex snapshot_mu_;  // Rank 0 during Snapshot: the model being gathered.
  std::condition_variable snapshot_cv_;
  Model* snapshot_ = nullptr;
  size_t snapshot_rows_ = 0;  // Rows received so far.
};

}  // namespace deepdist

#endif  // DEEPDIST_SRC_STORE_MPI_STORE_H_
