// Replica: a worker's local copy of the rows it uses, in the manner of
// Downpour SGD (Dean et al. 2012).
//
// A replica covers some tables of a ParamStore. Require() makes rows
// present, pulling the missing ones in one batched pull; each present row has
// a slot in its table's local copy. The worker reads rows, or changes them in
// place by SGD; the replica keeps each row's value as it was last pulled or
// pushed, and every `push_every` work units (Advance) it pushes the
// difference of the rows that changed (PushOptions::Kind::kDelta), and every
// `fetch_every` units it drops its rows, so that the next Require pulls them
// fresh, with every other worker's changes in them.
//
// Rows of tables with the same number of rows can share slots: Require(ids)
// without a table makes `ids` present in every table of the replica, at the
// same slot in each (word2vec's input and output rows of a word), and remap()
// maps a row id to that slot.
//
// Direct mode: when the store hands out its master tables (the embedded store
// with SGD) and the options allow it, the replica is the master itself:
// Require does nothing, the slot of a row is the row, and nothing is pushed.
// This is the Hogwild path: workers update shared rows without locks.
//
// Not thread-safe: one replica per worker thread.
#ifndef DEEPDIST_REPLICA_H_
#define DEEPDIST_REPLICA_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <span>
#include <vector>

#include "deepdist/model.h"
#include "deepdist/status.h"
#include "deepdist/store.h"

namespace deepdist {

struct ReplicaOptions {
  // Work units (words, examples) between pushes of the accumulated change,
  // and between refreshes; 0 means at every Advance.
  uint64_t push_every = 0;
  uint64_t fetch_every = 0;
  // Use the master tables in place when the store allows it.
  bool allow_direct = true;
  // The worker can apply AdaGrad in place too (with direct_state(k)'s
  // accumulators): with allow_direct, a store whose rule is AdaGrad hands
  // out its rows (ParamStore::DirectAdaGradTable).
  bool direct_adagrad = false;
  // Mirror every row of the tables (when not direct): the tables are loaded
  // whole at the first Require (copied from the store's initial_model()
  // where it has one, the first pull then bringing only what differs from
  // it, else pulled), rows sit at their ids (no making rows
  // present per batch, no id -> slot lookups), and a refresh pushes the
  // changed rows and pulls them back without waiting: the pulled values are
  // merged in when they land, each row keeping the change made on it since
  // its push. Costs two copies of the tables per worker; for models that
  // fit, it saves the per-batch bookkeeping of the sparse replica.
  bool full = false;
  // Sync mode: pushes are deferred to the end of the store's round.
  bool defer_to_round = false;
  // Pushed changes are multiplied by this (sync mode: 1 / workers, so that
  // the round applies the workers' mean change).
  float push_scale = 1.0f;
  // Hot rows: the rows with ids below hot_rows (word2vec's most frequent
  // words: ids follow frequency) are pushed and refreshed every hot_every
  // units, more often than the rest. They change most and are shared by
  // every worker, so their staleness costs the most accuracy, while they
  // are few, so syncing them often costs few bytes (Ji et al. 2016,
  // arXiv:1604.04661, tie a word's sync frequency to its frequency in the
  // same way). 0: off.
  // Not in sync mode (a round syncs every row).
  uint64_t hot_rows = 0;
  uint64_t hot_every = 0;
  // Sync mode: every push_every units the replica pushes its change,
  // deferred to the round, ends the round with the other workers
  // (Rounds::Next) and drops its rows, so the next round starts from the
  // model the round left. Implies defer_to_round. Not owned.
  Rounds* rounds = nullptr;
  // When set and true, Advance stops the worker with an error: another
  // worker has failed. Not owned.
  const std::atomic<bool>* stop = nullptr;
  // Checkpoints: when `pause` is set and true at the end of an Advance, the
  // replica pushes its change, waits for it, and calls on_pause, which
  // returns when training may go on (the store then holds all this
  // worker's work). Not owned.
  const std::atomic<bool>* pause = nullptr;
  std::function<void()> on_pause;
  // Monitoring (DeepDist::activity): when set, each push of changed rows
  // counts one update in `updates` (shared by the scope's workers; in
  // direct mode each Advance counts one, the master having changed in
  // place), and `staleness` gets the push's staleness: the updates of other
  // workers since the rows it changed were fetched (0 in direct mode). Not
  // owned.
  std::atomic<uint64_t>* updates = nullptr;
  std::atomic<uint64_t>* staleness = nullptr;
};

class Replica {
 public:
  // A replica of the store's tables `tables` (all of them when empty).
  Replica(ParamStore& store, std::vector<size_t> tables, ReplicaOptions options);
  // Waits for a prefetch in flight: its pull writes into this replica.
  ~Replica();
  Replica(const Replica&) = delete;
  Replica& operator=(const Replica&) = delete;

  bool direct() const { return direct_; }
  // Every row is present at its id (ReplicaOptions::full), once loaded.
  bool full() const { return full_; }
  // Rows must be made present (Require) before they are touched: false when
  // direct or full.
  bool needs_rows() const { return !direct_ && !full_; }
  ParamStore& store() { return store_; }

  // Makes rows `ids` (duplicates allowed) of store table `table` present.
  [[nodiscard]] Status Require(size_t table, std::span<const RowId> ids);
  // Gives `ids` the same slot in every table of the replica (the tables must
  // have the same number of rows) and makes their rows present in the
  // tables whose positions are set in the mask `tables` (bit k: the k-th
  // table of the replica; all by default). A row of a table not asked for
  // holds no value: the caller must neither read nor change it.
  static constexpr uint32_t kAllTables = ~0u;
  [[nodiscard]] Status Require(std::span<const RowId> ids, uint32_t tables = kAllTables);
  // Several groups of ids, each with its tables, in one pull.
  struct RowGroup {
    std::span<const RowId> ids;
    uint32_t tables = kAllTables;
  };
  [[nodiscard]] Status Require(std::span<const RowGroup> groups);
  // Starts the pull of the rows of `groups` that are absent and returns
  // without waiting for it, so that the worker trains on rows it has while
  // the next batch's rows travel (the pull's latency hidden behind work).
  // The rows may be neither read nor changed until a Require of them (which
  // waits for the pull); every other call waits for it first. At most one
  // prefetch is in flight: a second waits for the first.
  [[nodiscard]] Status Prefetch(std::span<const RowGroup> groups);
  bool prefetching() const { return prefetching_; }
  // Makes every row of every table present (the seed's whole-model fetch).
  [[nodiscard]] Status RequireAll();
  // Row `id` of store table `table`, which must be present.
  const float* Row(size_t table, RowId id) const;
  float* MutableRow(size_t table, RowId id);

  // Slot access for kernels, by position k in the replica's tables: slot
  // `s` of table k is at base(k) + s * stride(k).
  float* base(size_t k) { return direct_ ? direct_tables_[k]->data() : tables_[k].current.data(); }
  size_t stride(size_t k) const { return tables_[k].stride; }
  // Direct AdaGrad: the accumulators of table k, laid out as base(k)'s rows;
  // the worker moves rows by AdaGrad's step with them, not by SGD. Null
  // everywhere else.
  float* direct_state(size_t k) {
    return direct_states_.empty() ? nullptr : direct_states_[k]->data();
  }
  // The shared slot of `id` (the row itself in direct mode), or -1.
  int32_t slot(RowId id) const {
    return direct_ || full_ ? static_cast<int32_t>(id) : tables_[0].remap[id];
  }
  // Row id -> slot for the shared slots (nullptr in direct mode: the slot
  // of a row is the row).
  const int32_t* remap() const;
  // A full replica on a store that rounds pushes keeps, per row of table k,
  // a mark that the worker changed it: MutableRow sets it, and a kernel
  // that writes rows through base(k) must set touched(k)[id] = 1 for each
  // row it changes (a row changed unmarked has its change put off to the
  // next exact push, Finish or Refresh). Null where no marks are kept.
  uint8_t* touched(size_t k) {
    return tables_[k].touched.empty() ? nullptr : tables_[k].touched.data();
  }
  size_t rows_present(size_t k) const { return tables_[k].ids.size(); }

  // Records `units` of work done (the store's progress) with rows changed by
  // SGD at `rate`; pushes, refreshes or ends a sync round when their
  // intervals have passed.
  [[nodiscard]] Status Advance(uint64_t units, float rate);
  // After the worker's last task: pushes what is left and waits; in sync
  // mode, also takes part in rounds until no worker has work left.
  // `keep_changes` false (the worker failed) drops the change instead.
  [[nodiscard]] Status Finish(float rate, bool keep_changes = true);
  // Pushes the change of every row since its last push (not waiting).
  [[nodiscard]] Status Push(float rate);
  // Pushes, then drops every row (the next Require pulls it again, with
  // the push in: stores keep a worker's pushes and pulls in order).
  [[nodiscard]] Status Refresh(float rate);
  // Waits for the pushes in flight (and the pull of a full replica).
  [[nodiscard]] Status Wait();

 private:
  struct Local {
    size_t table = 0;  // In the store.
    size_t dim = 0, stride = 0;
    std::vector<int32_t> remap;      // Row id -> slot, -1 when absent.
    std::vector<RowId> ids;          // Slot -> row id.
    Table current{"replica", 0, 1};  // The worker's values, by slot.
    Table pushed{"pushed", 0, 1};    // The values as last pulled or pushed.
    std::vector<uint8_t> loaded;     // Slot -> its row has been pulled.
    // Full mode on a store that rounds pushes: row id -> written since its
    // last rounded push (see touched()), which tells the rows trained on
    // from those only holding a rounding error.
    std::vector<uint8_t> touched;
    std::vector<RowId> changed_ids;  // Reused across pushes.
    std::vector<float> changes;
    std::vector<RowId> load_ids;  // Reused across Requires.
    std::vector<int32_t> load_slots;
    std::vector<float> load_buffer;
    bool load_in_place = true;
  };
  void Drop();
  Status AdvanceIntervals(uint64_t units, float rate);
  // Waits for the pushes in flight only.
  Status WaitPushes();
  Status Load(std::span<const RowGroup> groups, bool wait);
  // Waits for the prefetch in flight, if any, and completes its rows.
  Status Settle();
  // Copies the rows of the last pull into place and records them as pulled.
  void FinishLoad();
  // Pushes the change of the rows (the hot ones only, or all); `unload`:
  // the rows are unloaded next, so their snapshots need not follow.
  Status PushChanges(float rate, bool hot_only, bool unload);
  // Pushes the hot rows' change and unloads them (see ReplicaOptions).
  Status RefreshHot(float rate);
  Local& LocalOf(size_t table);
  const Local& LocalOf(size_t table) const;
  static void Grow(Local& local, size_t slots);
  // Appends the change of slot `slot` (row `id`) since its snapshot,
  // times `scale`, to the table's push, unless it has none; with
  // `snapshot`, the snapshot takes the current values.
  static void AddChange(Local& local, size_t slot, RowId id, float scale, bool snapshot);
  // Pushes the changes added to every table (AddChange) as one delta push
  // at `rate`, not waiting; `rounded`: by the store's RoundForPush.
  void PushAdded(float rate, bool rounded);
  // Gives the absent rows of `ids` slots; appends them to `missing`.
  static void Assign(Local& local, std::span<const RowId> ids, std::vector<RowId>* missing);
  // Full mode: makes the tables the master's, the first time and after a
  // Drop (waiting for the rows others changed).
  Status LoadFull();
  // Full mode: pushes the change of the changed rows (the hot ones only, or
  // all) and, with `pull`, starts the pull of the rows others changed (see
  // full).
  // With `exact` (or where the store does not round pushes), each changed
  // row's whole change goes at full precision; else (see rounded_) the
  // change of the rows trained on since their last push goes rounded, the
  // rounding error left for their next push.
  Status SyncFull(float rate, bool hot_only, bool pull, bool exact);
  // Full mode, rounded pushes: appends row `r`'s change, rounded, if it was
  // trained on since its last push, and counts the rounded change as pushed.
  void AddRoundedChange(Local& local, RowId r);
  // Full mode: starts the pull of the rows others changed, all or the hot
  // ones; `from_initial`: the client's first pull, the replica holding the
  // store's initial model.
  void StartPullChanged(bool hot_only, bool from_initial = false);
  // Full mode: merges the landed rows of a sync.
  void MergeSync(const std::vector<ChangedRows>& rows);
  // Full mode: waits for the oldest sync in flight and merges its rows.
  Status MergeOldestSync();

  ParamStore& store_;
  ReplicaOptions options_;
  bool direct_ = false;
  std::vector<Table*> direct_tables_;
  std::vector<Table*> direct_states_;  // Direct AdaGrad only.
  std::vector<Local> tables_;
  std::vector<int> position_;  // Store table -> position in tables_, -1.
  uint64_t since_push_ = 0, since_fetch_ = 0, since_hot_ = 0;
  std::vector<RowId> missing_;
  std::vector<Ticket> in_flight_;
  Ticket prefetch_ = 0;
  bool prefetching_ = false;
  bool full_ = false;
  bool full_loaded_ = false;
  bool pulled_once_ = false;  // Full mode: the client's first pull has been issued.
  // Full mode on a store that sends changes at reduced precision
  // (ParamStore::RoundsPushes), asynchronously: interval pushes are rounded
  // by the store's rule and only the rounded change counts as pushed, so
  // the rounding error is pushed with the row's next change (error
  // feedback) instead of lost; Push and Finish push exactly.
  bool rounded_ = false;
  // Full mode on a store whose pulls bring deltas (ParamStore::PullsDeltas):
  // a pull in flight adds to the rows whenever it lands, so pushes go
  // without waiting for it.
  bool overlap_ = false;
  uint32_t client_ = kNoClient;
  // Monitoring: the update count when the rows were last fetched, and this
  // replica's own pushes since then and in all.
  uint64_t fetched_at_ = 0;
  uint64_t own_since_fetch_ = 0;
  uint64_t own_pushes_ = 0;
  void Fetched(uint64_t at, uint64_t own_at);
  // Full mode: the pulls of the rows others changed in flight, oldest
  // first, each with its rows per table of the replica as they land; at
  // most kMaxSyncsInFlight, and only one unless pulls bring deltas.
  struct Sync {
    Ticket ticket = 0;
    std::vector<ChangedRows> rows;
    uint64_t updates_at = 0, own_at = 0;  // Monitoring: the counts when issued.
  };
  static constexpr size_t kMaxSyncsInFlight = 4;
  std::deque<Sync> syncs_;
  std::vector<std::vector<ChangedRows>> spare_syncs_;  // Buffers of merged syncs.
};

}  // namespace deepdist

#endif  // DEEPDIST_REPLICA_H_
