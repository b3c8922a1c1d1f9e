// Replica: rows pulled on Require into slots, changes pushed as deltas at
// the push interval, rows dropped at the fetch interval, hot rows synced on
// their own interval, the full mode (every row, synced in the background),
// the direct (Hogwild) mode, and sync rounds.
#include "deepdist/replica.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <memory>
#include <span>
#include <thread>
#include <vector>

#include "deepdist/descent.h"
#include "deepdist/model.h"
#include "deepdist/store.h"
#include "src/store/wire.h"

namespace deepdist {
namespace {

// Two tables of 6 rows: "a" (dim 3), row r = [r, r, r]; "b" (dim 2), zero.
Model TwoTables() {
  Model m;
  m.AddTable("a", 6, 3);
  m.AddTable("b", 6, 2);
  for (RowId r = 0; r < 6; ++r) {
    for (size_t i = 0; i < 3; ++i) m["a"].row(r)[i] = static_cast<float>(r);
  }
  return m;
}

// Counts the rows that travel through a LocalStore.
class CountingStore : public LocalStore {
 public:
  using LocalStore::LocalStore;
  Ticket Pull(std::span<const RowBlock> blocks) override {
    for (const RowBlock& b : blocks) pulled[b.table] += b.ids.size();
    return LocalStore::Pull(blocks);
  }
  Ticket Push(std::span<const ConstRowBlock> blocks, const PushOptions& options) override {
    for (const ConstRowBlock& b : blocks) pushed[b.table] += b.ids.size();
    last_push = options;
    return LocalStore::Push(blocks, options);
  }
  Ticket PullChanged(uint32_t client, std::span<ChangedRows> ranges) override {
    const Ticket ticket = LocalStore::PullChanged(client, ranges);  // Settled at once.
    for (const ChangedRows& r : ranges) pulled[r.table] += r.ids.size();
    return ticket;
  }
  uint64_t pulled[2] = {0, 0};
  uint64_t pushed[2] = {0, 0};
  PushOptions last_push;
};

ReplicaOptions Copies(uint64_t push_every, uint64_t fetch_every) {
  ReplicaOptions o;
  o.push_every = push_every;
  o.fetch_every = fetch_every;
  o.allow_direct = false;
  return o;
}

TEST(ReplicaTest, RequireGivesSharedSlotsAndPullsOnlyMissingRows) {
  CountingStore store(TwoTables(), std::make_unique<Sgd>());
  Replica replica(store, {0, 1}, Copies(100, 100));
  EXPECT_FALSE(replica.direct());
  const std::vector<RowId> first = {4, 1, 4};
  ASSERT_TRUE(replica.Require(first).ok());
  EXPECT_EQ(store.pulled[0], 2u);  // 4 and 1, once each.
  EXPECT_EQ(store.pulled[1], 2u);
  EXPECT_EQ(replica.slot(4), replica.remap()[4]);
  EXPECT_EQ(replica.Row(0, 4)[2], 4.0f);
  EXPECT_EQ(replica.Row(0, 1)[0], 1.0f);
  EXPECT_EQ(replica.slot(2), -1);
  // The slot is the same in both tables: base + slot * stride.
  const int32_t s = replica.remap()[1];
  EXPECT_EQ(replica.base(0) + s * replica.stride(0), replica.Row(0, 1));
  EXPECT_EQ(replica.base(1) + s * replica.stride(1), replica.Row(1, 1));
  const std::vector<RowId> second = {1, 2};
  ASSERT_TRUE(replica.Require(second).ok());
  EXPECT_EQ(store.pulled[0], 3u);  // Only 2 was missing.
  EXPECT_EQ(replica.rows_present(0), 3u);
}

TEST(ReplicaTest, ATableMaskPullsOnlyThoseTablesAndTheRestLaterOnDemand) {
  CountingStore store(TwoTables(), std::make_unique<Sgd>());
  Replica replica(store, {0, 1}, Copies(100, 100));
  const std::vector<RowId> ids = {3, 5};
  ASSERT_TRUE(replica.Require(ids, 1u << 1).ok());  // Table "b" only.
  EXPECT_EQ(store.pulled[0], 0u);
  EXPECT_EQ(store.pulled[1], 2u);
  const std::vector<RowId> later = {5};
  ASSERT_TRUE(replica.Require(later).ok());  // Now "a" too, for 5 only.
  EXPECT_EQ(store.pulled[0], 1u);
  EXPECT_EQ(store.pulled[1], 2u);
  EXPECT_EQ(replica.Row(0, 5)[0], 5.0f);
  // A row never loaded is never pushed, whatever its slot holds.
  replica.MutableRow(1, 3)[0] = 7.0f;
  replica.base(0)[replica.slot(3) * replica.stride(0)] = 99.0f;  // Unloaded.
  ASSERT_TRUE(replica.Push(0.1f).ok());
  ASSERT_TRUE(replica.Wait().ok());
  EXPECT_EQ(store.pushed[0], 0u);
  EXPECT_EQ(store.pushed[1], 1u);
  EXPECT_EQ(store.model()["a"].row(3)[0], 3.0f);
  EXPECT_EQ(store.model()["b"].row(3)[0], 7.0f);
}

TEST(ReplicaTest, GroupsOfIdsWithTheirTablesComeInOnePull) {
  CountingStore store(TwoTables(), std::make_unique<Sgd>());
  Replica replica(store, {0, 1}, Copies(100, 100));
  const std::vector<RowId> both = {2, 4}, only_b = {5, 2, 1};
  const Replica::RowGroup groups[] = {{both}, {only_b, 1u << 1}};
  ASSERT_TRUE(replica.Require(groups).ok());
  EXPECT_EQ(store.pulled[0], 2u);  // 2 and 4.
  EXPECT_EQ(store.pulled[1], 4u);  // 2, 4, 5 and 1.
  // Every id has its own slot, the same in both tables.
  std::vector<int32_t> slots;
  for (RowId id : {2, 4, 5, 1}) slots.push_back(replica.slot(id));
  EXPECT_EQ(slots, (std::vector<int32_t>{0, 1, 2, 3}));
  EXPECT_EQ(replica.Row(0, 4)[0], 4.0f);
  EXPECT_EQ(replica.Row(0, 2)[0], 2.0f);
}

TEST(ReplicaTest, PushSendsTheChangeOfChangedRowsOnlyAsADelta) {
  CountingStore store(TwoTables(), std::make_unique<Sgd>());
  Replica replica(store, {0, 1}, Copies(100, 100));
  const std::vector<RowId> ids = {0, 2, 3};
  ASSERT_TRUE(replica.Require(ids).ok());
  replica.MutableRow(0, 2)[1] += 0.5f;
  // Someone else changes the master meanwhile: SGD adds our delta to it.
  store.model()["a"].row(2)[1] = 10.0f;
  ASSERT_TRUE(replica.Push(0.25f).ok());
  ASSERT_TRUE(replica.Wait().ok());
  EXPECT_EQ(store.pushed[0], 1u);
  EXPECT_EQ(store.pushed[1], 0u);
  EXPECT_EQ(store.last_push.kind, PushOptions::Kind::kDelta);
  EXPECT_EQ(store.last_push.rate, 0.25f);
  EXPECT_EQ(store.model()["a"].row(2)[1], 10.5f);
  // Pushed once: nothing left to push.
  ASSERT_TRUE(replica.Push(0.25f).ok());
  EXPECT_EQ(store.pushed[0], 1u);
}

// A store whose pulls land only when waited on, as a remote store's do
// some time after Pull returns: what a replica reads before it waits is
// stale.
class LatePullStore : public CountingStore {
 public:
  using CountingStore::CountingStore;
  Ticket Pull(std::span<const RowBlock> blocks) override {
    for (const RowBlock& b : blocks) pulled[b.table] += b.ids.size();
    Late late;
    for (const RowBlock& b : blocks) {
      late.ids.emplace_back(b.ids.begin(), b.ids.end());
      late.blocks.push_back(b);
    }
    const Ticket ticket = next_++;
    late_.emplace(ticket, std::move(late));
    return ticket;
  }
  Ticket PullChanged(uint32_t client, std::span<ChangedRows> ranges) override {
    const Ticket ticket = next_++;
    late_changed_.emplace(ticket, std::make_pair(client, ranges));
    return ticket;
  }
  Status Wait(Ticket ticket) override {
    if (auto changed = late_changed_.find(ticket); changed != late_changed_.end()) {
      const auto [client, ranges] = changed->second;
      late_changed_.erase(changed);
      ++landed;
      return LocalStore::Wait(CountingStore::PullChanged(client, ranges));
    }
    auto it = late_.find(ticket);
    if (it == late_.end()) return LocalStore::Wait(ticket);
    Late late = std::move(it->second);
    late_.erase(it);
    ++landed;
    for (size_t i = 0; i < late.blocks.size(); ++i) late.blocks[i].ids = late.ids[i];
    return LocalStore::Wait(LocalStore::Pull(late.blocks));
  }
  bool Test(Ticket ticket) override {
    return late_.count(ticket) == 0 && late_changed_.count(ticket) == 0;
  }
  size_t in_flight() const { return late_.size() + late_changed_.size(); }
  int landed = 0;

 private:
  struct Late {
    std::vector<std::vector<RowId>> ids;
    std::vector<RowBlock> blocks;
  };
  std::map<Ticket, Late> late_;
  std::map<Ticket, std::pair<uint32_t, std::span<ChangedRows>>> late_changed_;
  Ticket next_ = uint64_t{1} << 40;
};

TEST(ReplicaTest, APrefetchLandsBeforeItsRowsAreUsedAndIsNotPushedBack) {
  LatePullStore store(TwoTables(), std::make_unique<Sgd>());
  Replica replica(store, {0, 1}, Copies(100, 100));
  const std::vector<RowId> first = {1, 2};
  const std::vector<RowId> next = {2, 4, 5};
  ASSERT_TRUE(replica.Require(first).ok());
  EXPECT_EQ(store.landed, 1);
  // Only the absent rows 4 and 5 travel; the call does not wait for them.
  const Replica::RowGroup groups[] = {{next}};
  ASSERT_TRUE(replica.Prefetch(groups).ok());
  EXPECT_TRUE(replica.prefetching());
  EXPECT_EQ(store.in_flight(), 1u);
  EXPECT_EQ(store.pulled[0], 4u);
  // Rows present before the prefetch stay usable meanwhile.
  replica.MutableRow(0, 1)[0] += 1.0f;
  // Require waits for the prefetch and pulls nothing more.
  ASSERT_TRUE(replica.Require(next).ok());
  EXPECT_FALSE(replica.prefetching());
  EXPECT_EQ(store.landed, 2);
  EXPECT_EQ(store.pulled[0], 4u);
  EXPECT_EQ(replica.Row(0, 4)[2], 4.0f);
  EXPECT_EQ(replica.Row(0, 5)[0], 5.0f);
  // The prefetched rows' snapshots are their values as pulled: unchanged,
  // they are not pushed; the one changed row is.
  ASSERT_TRUE(replica.Push(0.5f).ok());
  ASSERT_TRUE(replica.Wait().ok());
  EXPECT_EQ(store.pushed[0], 1u);
  EXPECT_EQ(store.model()["a"].row(1)[0], 2.0f);
  EXPECT_EQ(store.model()["a"].row(4)[0], 4.0f);
}

TEST(ReplicaTest, APushOrRefreshWaitsForThePrefetchInFlight) {
  LatePullStore store(TwoTables(), std::make_unique<Sgd>());
  Replica replica(store, {0, 1}, Copies(100, 100));
  const std::vector<RowId> ids = {3, 4};
  const Replica::RowGroup groups[] = {{ids}};
  ASSERT_TRUE(replica.Prefetch(groups).ok());
  // A push compares rows with their snapshots: it lets the pull land first,
  // so that nothing is pushed for rows never changed.
  ASSERT_TRUE(replica.Push(0.5f).ok());
  EXPECT_EQ(store.landed, 1);
  EXPECT_EQ(store.pushed[0], 0u);
  ASSERT_TRUE(replica.Prefetch(groups).ok());  // Present: nothing travels.
  EXPECT_EQ(store.in_flight(), 0u);
  EXPECT_EQ(store.pulled[0], 2u);
  // A refresh drops the rows: the next prefetch pulls them again.
  ASSERT_TRUE(replica.Refresh(0.5f).ok());
  ASSERT_TRUE(replica.Prefetch(groups).ok());
  EXPECT_EQ(store.pulled[0], 4u);
  ASSERT_TRUE(replica.Refresh(0.5f).ok());
  EXPECT_EQ(store.landed, 2);
  EXPECT_EQ(store.in_flight(), 0u);
  EXPECT_EQ(store.model()["a"].row(3)[0], 3.0f);
}

TEST(ReplicaTest, AReplicaDestroyedWithAPrefetchInFlightLetsItLandFirst) {
  LatePullStore store(TwoTables(), std::make_unique<Sgd>());
  {
    Replica replica(store, {0, 1}, Copies(100, 100));
    const std::vector<RowId> ids = {1, 5};
    const Replica::RowGroup groups[] = {{ids}};
    ASSERT_TRUE(replica.Prefetch(groups).ok());
    EXPECT_EQ(store.in_flight(), 1u);
  }
  // The pull wrote into the replica's rows before they were freed.
  EXPECT_EQ(store.in_flight(), 0u);
  EXPECT_EQ(store.landed, 1);
}

TEST(ReplicaTest, AdvancePushesAndRefreshesAtTheirIntervals) {
  CountingStore store(TwoTables(), std::make_unique<Sgd>());
  store.SetPlan(1000);
  Replica replica(store, {0, 1}, Copies(10, 30));
  const std::vector<RowId> ids = {1};
  ASSERT_TRUE(replica.Require(ids).ok());
  replica.MutableRow(0, 1)[0] = 2.0f;
  ASSERT_TRUE(replica.Advance(9, 0.1f).ok());  // Not yet.
  EXPECT_EQ(store.pushed[0], 0u);
  EXPECT_EQ(store.progress(), 9u);
  ASSERT_TRUE(replica.Advance(1, 0.1f).ok());  // 10: a push.
  EXPECT_EQ(store.pushed[0], 1u);
  EXPECT_EQ(replica.rows_present(0), 1u);
  ASSERT_TRUE(replica.Advance(20, 0.1f).ok());  // 30: a refresh drops the rows.
  EXPECT_EQ(replica.rows_present(0), 0u);
  EXPECT_EQ(replica.slot(1), -1);
  ASSERT_TRUE(replica.Require(ids).ok());  // Pulled again, with the change in.
  EXPECT_EQ(store.pulled[0], 2u);
  EXPECT_EQ(replica.Row(0, 1)[0], 2.0f);
  EXPECT_EQ(store.progress(), 30u);
}

TEST(ReplicaTest, HotRowsAreSyncedOnTheirOwnInterval) {
  CountingStore store(TwoTables(), std::make_unique<Sgd>());
  ReplicaOptions o = Copies(1000, 1000);
  o.hot_rows = 2;  // Rows 0 and 1.
  o.hot_every = 5;
  Replica replica(store, {0, 1}, o);
  const std::vector<RowId> ids = {0, 4};
  ASSERT_TRUE(replica.Require(ids).ok());
  replica.MutableRow(0, 0)[0] = 3.0f;
  replica.MutableRow(0, 4)[0] = 8.0f;
  ASSERT_TRUE(replica.Advance(5, 0.1f).ok());
  // Row 0's change is in the master, row 4's is not yet.
  EXPECT_EQ(store.model()["a"].row(0)[0], 3.0f);
  EXPECT_EQ(store.model()["a"].row(4)[0], 4.0f);
  // Row 0 is pulled again when next needed, with others' changes.
  store.model()["a"].row(0)[1] = 6.0f;
  const uint64_t before = store.pulled[0];
  ASSERT_TRUE(replica.Require(ids).ok());
  EXPECT_EQ(store.pulled[0], before + 1);
  EXPECT_EQ(replica.Row(0, 0)[1], 6.0f);
  EXPECT_EQ(replica.Row(0, 4)[0], 8.0f);  // Cold rows keep the worker's values.
  ASSERT_TRUE(replica.Finish(0.1f).ok());
  EXPECT_EQ(store.model()["a"].row(4)[0], 8.0f);
}

ReplicaOptions Full(uint64_t push_every, uint64_t fetch_every) {
  ReplicaOptions o = Copies(push_every, fetch_every);
  o.full = true;
  return o;
}

TEST(ReplicaTest, AFullReplicaPullsTheTablesOnceAndKeepsRowsAtTheirIds) {
  CountingStore store(TwoTables(), std::make_unique<Sgd>());
  Replica replica(store, {0, 1}, Full(100, 100));
  ASSERT_TRUE(replica.full());
  EXPECT_FALSE(replica.needs_rows());
  EXPECT_EQ(replica.remap(), nullptr);
  const std::vector<RowId> ids = {4};
  ASSERT_TRUE(replica.Require(ids).ok());
  EXPECT_EQ(store.pulled[0], 6u);
  EXPECT_EQ(store.pulled[1], 6u);
  EXPECT_EQ(replica.slot(3), 3);
  EXPECT_EQ(replica.Row(0, 3), replica.base(0) + 3 * replica.stride(0));
  EXPECT_EQ(replica.Row(0, 3)[2], 3.0f);
  ASSERT_TRUE(replica.RequireAll().ok());  // Present already.
  EXPECT_EQ(store.pulled[0], 6u);
  // Changes stay in the replica until a push.
  replica.MutableRow(0, 3)[2] = 9.0f;
  EXPECT_EQ(store.model()["a"].row(3)[2], 3.0f);
}

// Another worker's push of `delta` to row `id` of table `table` (SGD adds
// it), as a client of its own.
void OtherWorkerAdds(ParamStore& store, size_t table, RowId id, std::vector<float> delta) {
  PushOptions o;
  o.kind = PushOptions::Kind::kDelta;
  o.rate = 0.1f;
  o.client = 1000;
  const RowId ids[] = {id};
  const ConstRowBlock block{table, ids, delta.data(), 0};
  ASSERT_TRUE(store.PushNow(std::span<const ConstRowBlock>(&block, 1), o).ok());
}

TEST(ReplicaTest, AFullReplicaSyncMergesTheRowsOthersChangedWithLaterChanges) {
  LatePullStore store(TwoTables(), std::make_unique<Sgd>());
  store.SetPlan(1000);
  Replica replica(store, {0, 1}, Full(10, 10));
  ASSERT_TRUE(replica.RequireAll().ok());
  EXPECT_EQ(store.landed, 1);
  replica.MutableRow(0, 2)[0] = 2.5f;
  replica.MutableRow(0, 3)[0] = 3.5f;
  ASSERT_TRUE(replica.Advance(10, 0.1f).ok());
  // The changed rows alone are pushed, as deltas, with the replica's client.
  EXPECT_EQ(store.pushed[0], 2u);
  EXPECT_EQ(store.pushed[1], 0u);
  EXPECT_EQ(store.last_push.kind, PushOptions::Kind::kDelta);
  EXPECT_NE(store.last_push.client, kNoClient);
  EXPECT_EQ(store.model()["a"].row(2)[0], 2.5f);
  // The pull of what others changed is in flight. Before it lands, another
  // worker changes row 2, and this worker changes it again.
  EXPECT_EQ(store.in_flight(), 1u);
  OtherWorkerAdds(store, 0, 2, {0.0f, 0.0f, 5.0f});
  replica.MutableRow(0, 2)[0] += 1.0f;
  ASSERT_TRUE(replica.Advance(1, 0.1f).ok());  // Not landed yet: nothing merged.
  EXPECT_EQ(replica.Row(0, 2)[2], 2.0f);
  ASSERT_TRUE(replica.Wait().ok());
  // Row 2 alone came back (row 3 only this worker changed): the master's
  // row plus this worker's change since its push.
  EXPECT_EQ(store.pulled[0], 6u + 1u);
  EXPECT_EQ(store.pulled[1], 6u);
  EXPECT_EQ(replica.Row(0, 2)[0], 3.5f);
  EXPECT_EQ(replica.Row(0, 2)[1], 2.0f);
  EXPECT_EQ(replica.Row(0, 2)[2], 7.0f);
  EXPECT_EQ(replica.Row(0, 3)[0], 3.5f);
  ASSERT_TRUE(replica.Finish(0.1f).ok());
  EXPECT_EQ(store.model()["a"].row(2)[0], 3.5f);  // The later change is not lost.
  EXPECT_EQ(store.model()["a"].row(2)[2], 7.0f);
  EXPECT_EQ(store.pushed[0], 2u + 1u + 1u);  // Its two, the other's, its last.
}

TEST(ReplicaTest, AFullReplicaMergesAtTheNextAdvanceOnceThePullHasLanded) {
  CountingStore store(TwoTables(), std::make_unique<Sgd>());  // Pulls land at once.
  store.SetPlan(1000);
  ReplicaOptions o = Full(1000, 1000);
  o.hot_rows = 2;  // Rows 0 and 1.
  o.hot_every = 5;
  Replica replica(store, {0, 1}, o);
  ASSERT_TRUE(replica.RequireAll().ok());
  replica.MutableRow(0, 0)[0] = 3.0f;
  replica.MutableRow(0, 4)[0] = 8.0f;
  OtherWorkerAdds(store, 0, 1, {0.0f, 5.0f, 0.0f});  // A hot row.
  OtherWorkerAdds(store, 0, 5, {0.0f, 5.0f, 0.0f});  // A cold one.
  ASSERT_TRUE(replica.Advance(5, 0.1f).ok());
  // The hot rows: row 0's change pushed, row 1 (changed by the other
  // worker) pulled; the cold rows wait.
  EXPECT_EQ(store.pushed[0], 1u + 2u);
  EXPECT_EQ(store.pulled[0], 6u + 1u);
  EXPECT_EQ(store.pulled[1], 6u);
  EXPECT_EQ(store.model()["a"].row(0)[0], 3.0f);
  EXPECT_EQ(store.model()["a"].row(4)[0], 4.0f);
  EXPECT_EQ(replica.Row(0, 1)[1], 1.0f);
  ASSERT_TRUE(replica.Advance(1, 0.1f).ok());
  EXPECT_EQ(replica.Row(0, 1)[1], 6.0f);
  EXPECT_EQ(replica.Row(0, 0)[0], 3.0f);
  EXPECT_EQ(replica.Row(0, 4)[0], 8.0f);
  EXPECT_EQ(replica.Row(0, 5)[1], 5.0f);
  ASSERT_TRUE(replica.Finish(0.1f).ok());
  EXPECT_EQ(store.model()["a"].row(4)[0], 8.0f);
}

// A store that sends changes at reduced precision, as the MPI store's int8
// and int4 wires do, with a plain rule: pushes rounded to whole numbers;
// and, after a client's first pull, changed rows as their change since the
// values the client last got (ChangedRows::deltas), as floats or, with
// packed_bits, quantized as the wire sends them (ChangedRows::bits).
class CoarseStore : public CountingStore {
 public:
  using CountingStore::CountingStore;
  int packed_bits = 0;
  bool RoundsPushes() const override { return true; }
  bool PullsDeltas() const override { return true; }
  void RoundForPush(std::span<float> values, size_t /*dim*/) const override {
    for (float& v : values) v = std::nearbyint(v);
  }
  Ticket Push(std::span<const ConstRowBlock> blocks, const PushOptions& options) override {
    const Ticket ticket = CountingStore::Push(blocks, options);
    // The client's own view moved by what it pushed.
    auto it = got_.find(options.client);
    if (it == got_.end()) return ticket;
    for (const ConstRowBlock& b : blocks) {
      const size_t dim = model().table(b.table).dim();
      for (size_t i = 0; i < b.ids.size(); ++i) {
        for (size_t k = 0; k < dim; ++k)
          it->second[b.table].row(b.ids[i])[k] += b.values[i * dim + k];
      }
    }
    return ticket;
  }
  Ticket PullChanged(uint32_t client, std::span<ChangedRows> ranges) override {
    const Ticket ticket = CountingStore::PullChanged(client, ranges);
    auto [it, first] = got_.try_emplace(client);
    if (first) {
      for (size_t t = 0; t < model().num_tables(); ++t) it->second.push_back(model().table(t));
      return ticket;
    }
    for (ChangedRows& r : ranges) {
      const size_t dim = model().table(r.table).dim();
      const size_t row_bytes = packed_bits > 0 ? QuantizedRowBytes(dim, packed_bits) : 0;
      r.packed.resize(r.ids.size() * row_bytes);
      for (size_t i = 0; i < r.ids.size(); ++i) {
        float* last = it->second[r.table].row(r.ids[i]);
        if (packed_bits > 0) {
          EncodeDifference(&r.values[i * dim], last, dim, packed_bits, &r.packed[i * row_bytes]);
          continue;
        }
        for (size_t k = 0; k < dim; ++k) {
          r.values[i * dim + k] -= last[k];
          last[k] += r.values[i * dim + k];
        }
      }
      if (packed_bits > 0) r.values.clear();
      r.bits = packed_bits;
      r.deltas = true;
    }
    return ticket;
  }

 private:
  std::map<uint32_t, std::vector<Table>> got_;  // Per client, the rows as it last got them.
};

// CoarseStore whose PullChanged lands only when waited for.
class LateCoarseStore : public CoarseStore {
 public:
  using CoarseStore::CoarseStore;
  Ticket PullChanged(uint32_t client, std::span<ChangedRows> ranges) override {
    const Ticket ticket = next_++;
    late_.emplace(ticket, std::make_pair(client, ranges));
    return ticket;
  }
  Status Wait(Ticket ticket) override {
    auto it = late_.find(ticket);
    if (it == late_.end()) return CoarseStore::Wait(ticket);
    const auto [client, ranges] = it->second;
    late_.erase(it);
    return CoarseStore::Wait(CoarseStore::PullChanged(client, ranges));
  }
  Ticket Push(std::span<const ConstRowBlock> blocks, const PushOptions& options) override {
    if (!late_.empty()) ++pushes_during_pulls;
    return CoarseStore::Push(blocks, options);
  }
  bool Test(Ticket ticket) override { return late_.count(ticket) == 0; }
  size_t in_flight() const { return late_.size(); }
  int pushes_during_pulls = 0;

 private:
  std::map<Ticket, std::pair<uint32_t, std::span<ChangedRows>>> late_;
  Ticket next_ = uint64_t{1} << 40;
};

TEST(ReplicaTest, AFullReplicaPushesAndPullsWithoutWaitingForPullsOfDeltasInFlight) {
  LateCoarseStore store(TwoTables(), std::make_unique<Sgd>());
  store.SetPlan(1000);
  Replica replica(store, {0, 1}, Full(10, 5));
  ASSERT_TRUE(replica.RequireAll().ok());
  OtherWorkerAdds(store, 0, 1, {2.0f, 0.0f, 0.0f});
  ASSERT_TRUE(replica.Advance(5, 0.1f).ok());  // Starts a pull.
  EXPECT_EQ(store.in_flight(), 1u);
  replica.MutableRow(0, 3)[0] += 0.75f;
  ASSERT_TRUE(replica.Advance(5, 0.1f).ok());  // Pushes, then pulls again.
  // The push went while the pull was in flight, and the next pull did not
  // wait for it either: deltas add up in any number.
  EXPECT_EQ(store.pushes_during_pulls, 1);
  EXPECT_EQ(store.model()["a"].row(3)[0], 4.0f);
  EXPECT_EQ(store.in_flight(), 2u);
  EXPECT_EQ(replica.Row(0, 1)[0], 1.0f);  // The other worker's change is still travelling.
  EXPECT_EQ(replica.Row(0, 3)[0], 3.75f);
  // Four pulls travel at once; the fifth waits for the oldest, which brings
  // the other worker's change.
  ASSERT_TRUE(replica.Advance(5, 0.1f).ok());
  ASSERT_TRUE(replica.Advance(5, 0.1f).ok());
  EXPECT_EQ(store.in_flight(), 4u);
  EXPECT_EQ(replica.Row(0, 1)[0], 1.0f);
  ASSERT_TRUE(replica.Advance(5, 0.1f).ok());
  EXPECT_EQ(store.in_flight(), 4u);
  EXPECT_EQ(replica.Row(0, 1)[0], 3.0f);
  EXPECT_EQ(replica.Row(0, 3)[0], 3.75f);
  ASSERT_TRUE(replica.Finish(0.1f).ok());
  EXPECT_EQ(store.in_flight(), 0u);
  EXPECT_EQ(store.model()["a"].row(3)[0], 3.75f);
  EXPECT_EQ(store.model()["a"].row(1)[0], 3.0f);
}

TEST(ReplicaTest, AFullReplicaOnARoundingStorePushesRoundedChangesAndTheirErrorLater) {
  CoarseStore store(TwoTables(), std::make_unique<Sgd>());
  store.SetPlan(1000);
  Replica replica(store, {0, 1}, Full(10, 1000));
  ASSERT_TRUE(replica.RequireAll().ok());
  replica.MutableRow(0, 2)[0] += 0.75f;  // Rounds to +1.
  replica.MutableRow(0, 3)[1] += 0.25f;  // Rounds to 0.
  ASSERT_TRUE(replica.Advance(10, 0.1f).ok());
  ASSERT_TRUE(replica.Wait().ok());
  EXPECT_TRUE(store.last_push.rounded);
  EXPECT_EQ(store.pushed[0], 2u);
  EXPECT_EQ(store.model()["a"].row(2)[0], 3.0f);
  EXPECT_EQ(store.model()["a"].row(3)[1], 3.0f);
  // Rows not trained on since are not pushed for their rounding error alone.
  ASSERT_TRUE(replica.Advance(10, 0.1f).ok());
  ASSERT_TRUE(replica.Wait().ok());
  EXPECT_EQ(store.pushed[0], 2u);
  // A row's next change carries its error: 0.25 + 0.5 rounds to +1.
  replica.MutableRow(0, 3)[1] += 0.5f;
  ASSERT_TRUE(replica.Advance(10, 0.1f).ok());
  ASSERT_TRUE(replica.Wait().ok());
  EXPECT_EQ(store.pushed[0], 3u);
  EXPECT_EQ(store.model()["a"].row(3)[1], 4.0f);
  EXPECT_EQ(replica.Row(0, 3)[1], 3.75f);  // The worker's own value is kept.
  // Finish pushes exactly: nothing is lost.
  ASSERT_TRUE(replica.Finish(0.1f).ok());
  EXPECT_FALSE(store.last_push.rounded);
  EXPECT_EQ(store.model()["a"].row(2)[0], 2.75f);
  EXPECT_EQ(store.model()["a"].row(3)[1], 3.75f);
  EXPECT_EQ(store.model()["a"].row(4)[0], 4.0f);
}

TEST(ReplicaTest, AFullReplicaAddsPulledDeltasToItsOwnChanges) {
  // Deltas as floats, and quantized (exact here: 2 and 3 are on both grids).
  for (int bits : {0, 8, 4}) {
    SCOPED_TRACE(bits);
    CoarseStore store(TwoTables(), std::make_unique<Sgd>());
    store.packed_bits = bits;
    store.SetPlan(1000);
    Replica replica(store, {0, 1}, Full(10, 5));
    ASSERT_TRUE(replica.RequireAll().ok());
    replica.MutableRow(0, 1)[0] += 0.5f;  // Trained on, not pushed yet.
    OtherWorkerAdds(store, 0, 1, {2.0f, 0.0f, 0.0f});
    OtherWorkerAdds(store, 0, 4, {0.0f, 3.0f, 0.0f});
    ASSERT_TRUE(replica.Advance(5, 0.1f).ok());  // Starts the pull.
    ASSERT_TRUE(replica.Advance(1, 0.1f).ok());  // Merges it.
    EXPECT_EQ(replica.Row(0, 1)[0], 1.0f + 2.0f + 0.5f);
    EXPECT_EQ(replica.Row(0, 4)[1], 4.0f + 3.0f);
    EXPECT_EQ(replica.Row(0, 4)[0], 4.0f);
    // The merged row 4 was not trained on: nothing of it goes back; row 1's
    // own change does, once.
    ASSERT_TRUE(replica.Advance(4, 0.1f).ok());
    ASSERT_TRUE(replica.Wait().ok());
    EXPECT_EQ(store.pushed[0], 2u + 1u);  // The other worker's two, then row 1.
    ASSERT_TRUE(replica.Finish(0.1f).ok());
    EXPECT_EQ(store.model()["a"].row(1)[0], 3.5f);
    EXPECT_EQ(store.model()["a"].row(4)[1], 7.0f);
  }
}

TEST(ReplicaTest, DirectModeIsTheMasterItself) {
  CountingStore store(TwoTables(), std::make_unique<Sgd>());
  Replica replica(store, {0, 1}, ReplicaOptions{});
  ASSERT_TRUE(replica.direct());
  EXPECT_EQ(replica.remap(), nullptr);
  EXPECT_EQ(replica.base(0), store.model()["a"].data());
  const std::vector<RowId> ids = {2};
  ASSERT_TRUE(replica.Require(ids).ok());
  replica.MutableRow(0, 2)[0] = -1.0f;
  EXPECT_EQ(store.model()["a"].row(2)[0], -1.0f);
  ASSERT_TRUE(replica.Advance(100, 0.1f).ok());
  ASSERT_TRUE(replica.Finish(0.1f).ok());
  EXPECT_EQ(store.pulled[0] + store.pushed[0], 0u);
  EXPECT_EQ(store.progress(), 100u);

  // A rule without Hogwild (AdaGrad) gives copies.
  CountingStore adagrad(TwoTables(), std::make_unique<AdaGrad>());
  EXPECT_FALSE(Replica(adagrad, {0, 1}, ReplicaOptions{}).direct());
}

TEST(ReplicaTest, AStopFlagEndsTheWorkerAtItsNextAdvance) {
  CountingStore store(TwoTables(), std::make_unique<Sgd>());
  std::atomic<bool> stop{false};
  ReplicaOptions o = Copies(100, 100);
  o.stop = &stop;
  Replica replica(store, {0, 1}, o);
  EXPECT_TRUE(replica.Advance(1, 0.1f).ok());
  stop = true;
  EXPECT_FALSE(replica.Advance(1, 0.1f).ok());
}

class ReplicaRoundsTest : public testing::TestWithParam<bool> {};

TEST_P(ReplicaRoundsTest, SyncRoundsApplyTheWorkersMeanChangeOnce) {
  Model m;
  m.AddTable("w", 2, 1);
  LocalStore store(std::move(m), std::make_unique<Sgd>());
  const std::unique_ptr<Rounds> rounds = store.NewRounds(2);
  std::vector<std::thread> workers;
  std::vector<float> seen(2, -1.0f);
  for (int w = 0; w < 2; ++w) {
    workers.emplace_back([&, w] {
      ReplicaOptions o = Copies(10, 10);
      o.rounds = rounds.get();
      o.push_scale = 0.5f;
      o.full = GetParam();
      Replica replica(store, {0}, o);
      const std::vector<RowId> ids = {0};
      ASSERT_TRUE(replica.Require(ids).ok());
      replica.MutableRow(0, 0)[0] += static_cast<float>(2 * (w + 1));  // +2 and +4.
      ASSERT_TRUE(replica.Advance(10, 0.1f).ok());                     // Ends the round.
      ASSERT_TRUE(replica.Require(ids).ok());
      seen[w] = replica.Row(0, 0)[0];                   // Both see the mean, 3.
      if (w == 0) replica.MutableRow(0, 0)[0] += 2.0f;  // One more change, then done.
      ASSERT_TRUE(replica.Finish(0.1f).ok());
    });
  }
  for (std::thread& t : workers) t.join();
  EXPECT_EQ(seen[0], 3.0f);
  EXPECT_EQ(seen[1], 3.0f);
  EXPECT_EQ(store.model()["w"].row(0)[0], 4.0f);  // 3 + 2 * 0.5.
}

INSTANTIATE_TEST_SUITE_P(RowsAndFull, ReplicaRoundsTest, testing::Bool(),
                         [](const testing::TestParamInfo<bool>& info) {
                           return info.param ? "Full" : "Rows";
                         });

}  // namespace
}  // namespace deepdist
