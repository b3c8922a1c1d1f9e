// LocalStore: pulling rows, pushing gradients through the descent rule,
// errors for rows and tables that do not exist, Hogwild access and snapshots.
#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <span>
#include <thread>
#include <vector>

#include "deepdist/descent.h"
#include "deepdist/model.h"
#include "deepdist/status.h"
#include "deepdist/store.h"

namespace deepdist {
namespace {

// Table "emb": 5 rows of 3, row r = [10r + 1, 10r + 2, 10r + 3]; table "ctx":
// 2 rows of 20, all zero.
Model MakeModel() {
  Model m;
  m.AddTable("emb", 5, 3);
  m.AddTable("ctx", 2, 20);
  for (RowId r = 0; r < 5; ++r) {
    for (size_t i = 0; i < 3; ++i) m["emb"].row(r)[i] = static_cast<float>(10 * r + i + 1);
  }
  return m;
}

// One-table pull and push through the batched interface.
Status PullRows(ParamStore& store, size_t table, const std::vector<RowId>& ids, float* out) {
  const RowBlock block{table, ids, out};
  return store.PullNow(std::span<const RowBlock>(&block, 1));
}
Status PushRows(ParamStore& store, size_t table, const std::vector<RowId>& ids, const float* g,
                const PushOptions& options = {}) {
  const ConstRowBlock block{table, ids, g};
  return store.PushNow(std::span<const ConstRowBlock>(&block, 1), options);
}

std::vector<float> Row(const Model& m, size_t table, RowId r) {
  auto span = m.table(table).row_span(r);
  return std::vector<float>(span.begin(), span.end());
}

TEST(LocalStoreTest, Shape) {
  LocalStore store(MakeModel(), std::make_unique<Sgd>());
  EXPECT_EQ(store.num_tables(), 2u);
  EXPECT_EQ(store.rows(0), 5u);
  EXPECT_EQ(store.dim(0), 3u);
  EXPECT_EQ(store.rows(1), 2u);
  EXPECT_EQ(store.dim(1), 20u);
  EXPECT_EQ(store.descent().name(), "sgd");
}

TEST(LocalStoreTest, PullReturnsTheRowsDenselyPacked) {
  LocalStore store(MakeModel(), std::make_unique<Sgd>());
  const std::vector<RowId> ids = {3, 0, 3, 4};
  std::vector<float> out(ids.size() * 3, -1.0f);
  ASSERT_TRUE(PullRows(store, 0, ids, out.data()).ok());
  EXPECT_EQ(out, (std::vector<float>{31, 32, 33, 1, 2, 3, 31, 32, 33, 41, 42, 43}));
}

TEST(LocalStoreTest, PullOfNoRowsIsOk) {
  LocalStore store(MakeModel(), std::make_unique<Sgd>());
  EXPECT_TRUE(PullRows(store, 0, std::vector<RowId>{}, nullptr).ok());
}

TEST(LocalStoreTest, PullWritesExactlyDimFloatsPerRow) {
  LocalStore store(MakeModel(), std::make_unique<Sgd>());
  const std::vector<RowId> ids = {1, 1};
  std::vector<float> out(41, -7.0f);
  ASSERT_TRUE(PullRows(store, 1, ids, out.data()).ok());
  for (size_t i = 0; i < 40; ++i) EXPECT_EQ(out[i], 0.0f) << i;
  EXPECT_EQ(out[40], -7.0f);  // Nothing written past ids.size() * dim.
}

TEST(LocalStoreTest, PushAppliesSgd) {
  LocalStore store(MakeModel(), std::make_unique<Sgd>(LearningRate{0.5f, false}));
  const std::vector<RowId> ids = {1, 4};
  const std::vector<float> g = {2, 4, 6, -2, 0, 2};
  ASSERT_TRUE(PushRows(store, 0, ids, g.data()).ok());
  // row 1: [11, 12, 13] - 0.5 * [2, 4, 6] = [10, 10, 10]
  // row 4: [41, 42, 43] - 0.5 * [-2, 0, 2] = [42, 42, 42]
  EXPECT_EQ(Row(store.model(), 0, 1), (std::vector<float>{10, 10, 10}));
  EXPECT_EQ(Row(store.model(), 0, 4), (std::vector<float>{42, 42, 42}));
  // Other rows are unchanged.
  EXPECT_EQ(Row(store.model(), 0, 0), (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(Row(store.model(), 0, 2), (std::vector<float>{21, 22, 23}));
  EXPECT_EQ(Row(store.model(), 0, 3), (std::vector<float>{31, 32, 33}));

  std::vector<float> out(3);
  ASSERT_TRUE(PullRows(store, 0, std::vector<RowId>{1}, out.data()).ok());
  EXPECT_EQ(out, (std::vector<float>{10, 10, 10}));
}

TEST(LocalStoreTest, PushOfARepeatedRowSumsItsGradientsIntoOne) {
  LocalStore store(MakeModel(), std::make_unique<Sgd>(LearningRate{1.0f, false}));
  const std::vector<RowId> ids = {2, 0, 2};
  const std::vector<float> g = {1, 1, 1, 5, 5, 5, 2, 2, 2};
  ASSERT_TRUE(PushRows(store, 0, ids, g.data()).ok());
  // [21, 22, 23] - ([1, 1, 1] + [2, 2, 2]) = [18, 19, 20]
  EXPECT_EQ(Row(store.model(), 0, 2), (std::vector<float>{18, 19, 20}));
  EXPECT_EQ(Row(store.model(), 0, 0), (std::vector<float>{-4, -3, -2}));

  // AdaGrad shows that the sum is applied once: one accumulation of 3^2.
  Model m;
  m.AddTable("w", 1, 1);
  LocalStore adagrad(std::move(m), std::make_unique<AdaGrad>(LearningRate{1.0f, false}));
  const std::vector<float> parts = {1, 2};
  ASSERT_TRUE(PushRows(adagrad, 0, {0, 0}, parts.data()).ok());
  EXPECT_NEAR(adagrad.model().table(0).row(0)[0], -1.0f, 1e-7);  // 3 / sqrt(9)
}

TEST(LocalStoreTest, PushUsesTheScheduledRate) {
  LocalStore store(MakeModel(), std::make_unique<Sgd>(LearningRate{1.0f, true, 0.0f}));
  store.SetPlan(4);
  store.AddProgress(3);  // lr = 1 * (1 - 0.75) = 0.25
  EXPECT_DOUBLE_EQ(store.progress_fraction(), 0.75);
  EXPECT_FLOAT_EQ(store.learning_rate(), 0.25f);
  const std::vector<float> g = {4, 8, 12};
  ASSERT_TRUE(PushRows(store, 0, std::vector<RowId>{0}, g.data()).ok());
  // [1, 2, 3] - 0.25 * [4, 8, 12] = [0, 0, 0]
  EXPECT_EQ(Row(store.model(), 0, 0), (std::vector<float>{0, 0, 0}));
}

TEST(LocalStoreTest, PushAccumulatesAdaGradStateAcrossPushes) {
  Model m;
  m.AddTable("w", 3, 2);
  LocalStore store(std::move(m), std::make_unique<AdaGrad>(LearningRate{0.1f, false}));
  const std::vector<float> g = {1, 2};
  // Push 1: state [1, 4]; row 0 = [0, 0] - 0.1 * [1/1, 2/2] = [-0.1, -0.1].
  ASSERT_TRUE(PushRows(store, 0, std::vector<RowId>{0}, g.data()).ok());
  EXPECT_NEAR(store.model().table(0).row(0)[0], -0.1f, 1e-7);
  EXPECT_NEAR(store.model().table(0).row(0)[1], -0.1f, 1e-7);
  // Push 2: state [2, 8]; row 0 -= 0.1 * [1/sqrt(2), 2/sqrt(8)]
  //         = [-0.17071068, -0.17071068].
  ASSERT_TRUE(PushRows(store, 0, std::vector<RowId>{0}, g.data()).ok());
  EXPECT_NEAR(store.model().table(0).row(0)[0], -0.17071068f, 1e-6);
  EXPECT_NEAR(store.model().table(0).row(0)[1], -0.17071068f, 1e-6);
  // Push 3: state [3, 12]; row 0 -= 0.1 * [1/sqrt(3), 2/sqrt(12)]
  //         = 0.1 * [0.57735027, 0.57735027]: row = [-0.22844571, -0.22844571].
  ASSERT_TRUE(PushRows(store, 0, std::vector<RowId>{0}, g.data()).ok());
  EXPECT_NEAR(store.model().table(0).row(0)[0], -0.22844571f, 1e-6);
  EXPECT_NEAR(store.model().table(0).row(0)[1], -0.22844571f, 1e-6);

  // Row 2 has its own state: its first step is lr * sign(g).
  ASSERT_TRUE(PushRows(store, 0, std::vector<RowId>{2}, g.data()).ok());
  EXPECT_NEAR(store.model().table(0).row(2)[0], -0.1f, 1e-7);
  EXPECT_NEAR(store.model().table(0).row(2)[1], -0.1f, 1e-7);
  EXPECT_EQ(Row(store.model(), 0, 1), (std::vector<float>{0, 0}));
}

TEST(LocalStoreTest, AdaGradStateIsPerTable) {
  Model m;
  m.AddTable("a", 1, 1);
  m.AddTable("b", 1, 1);
  LocalStore store(std::move(m), std::make_unique<AdaGrad>(LearningRate{1.0f, false}));
  const float g = 2.0f;
  // a: state 4, step 1 -> -1; state 8, step 2/sqrt(8) = 0.70710678 -> -1.70710678.
  ASSERT_TRUE(PushRows(store, 0, std::vector<RowId>{0}, &g).ok());
  ASSERT_TRUE(PushRows(store, 0, std::vector<RowId>{0}, &g).ok());
  EXPECT_NEAR(store.model().table(0).row(0)[0], -1.70710678f, 1e-6);
  // b: fresh state 4, step 1 -> -1.
  ASSERT_TRUE(PushRows(store, 1, std::vector<RowId>{0}, &g).ok());
  EXPECT_NEAR(store.model().table(1).row(0)[0], -1.0f, 1e-6);
}

TEST(LocalStoreTest, OutOfRangeRowsAreErrors) {
  LocalStore store(MakeModel(), std::make_unique<Sgd>());
  std::vector<float> out(6);
  Status s = PullRows(store, 0, std::vector<RowId>{5}, out.data());
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(s.message().empty());
  s = PullRows(store, 0, std::vector<RowId>{0, 1000000}, out.data());
  EXPECT_FALSE(s.ok());
  s = PullRows(store, 1, std::vector<RowId>{2}, out.data());
  EXPECT_FALSE(s.ok());

  const std::vector<float> g(6, 1.0f);
  s = PushRows(store, 0, std::vector<RowId>{5}, g.data());
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(s.message().empty());
  s = PushRows(store, 1, std::vector<RowId>{2}, g.data());
  EXPECT_FALSE(s.ok());
  // A push of nothing but a bad row changes nothing.
  Model unchanged = MakeModel();
  for (RowId r = 0; r < 5; ++r) EXPECT_EQ(Row(store.model(), 0, r), Row(unchanged, 0, r));
}

// A bad row anywhere in a call fails all of it: the blocks before it are
// not applied either, and the error names the row and the table.
TEST(LocalStoreTest, APushWithABadRowAppliesNothing) {
  LocalStore store(MakeModel(), std::make_unique<Sgd>());
  const std::vector<float> g(40, 1.0f);  // Room for both blocks' rows.
  const RowId good[] = {0, 1};
  const RowId bad[] = {1, 7};
  const ConstRowBlock blocks[] = {{0, good, g.data(), 0}, {1, bad, g.data(), 0}};
  const Status s = store.PushNow(blocks);
  EXPECT_EQ(s.code(), Status::Code::kOutOfRange);
  EXPECT_NE(s.message().find("push: row 7 out of range of table 'ctx'"), std::string::npos)
      << s.message();
  const Model unchanged = MakeModel();
  for (size_t t = 0; t < 2; ++t) {
    for (RowId r = 0; r < unchanged.table(t).rows(); ++r) {
      EXPECT_EQ(Row(store.model(), t, r), Row(unchanged, t, r)) << t << " " << r;
    }
  }
  std::vector<float> out(6);
  const RowBlock pulls[] = {{0, good, out.data(), 0}, {7, good, out.data(), 0}};
  const Status p = store.PullNow(pulls);
  EXPECT_EQ(p.code(), Status::Code::kOutOfRange);
  EXPECT_NE(p.message().find("pull: no table 7"), std::string::npos) << p.message();
}

TEST(LocalStoreTest, OutOfRangeTablesAreErrors) {
  LocalStore store(MakeModel(), std::make_unique<Sgd>());
  std::vector<float> out(3);
  const std::vector<float> g(3, 1.0f);
  EXPECT_FALSE(PullRows(store, 2, std::vector<RowId>{0}, out.data()).ok());
  EXPECT_FALSE(PushRows(store, 2, std::vector<RowId>{0}, g.data()).ok());
  EXPECT_FALSE(PullRows(store, 99, std::vector<RowId>{}, out.data()).ok());
}

TEST(LocalStoreTest, DirectTableForSgd) {
  LocalStore store(MakeModel(), std::make_unique<Sgd>());
  Table* t = store.DirectTable(0);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t, &store.model().table(0));
  EXPECT_EQ(t->name(), "emb");
  ASSERT_NE(store.DirectTable(1), nullptr);
  EXPECT_EQ(store.DirectTable(1)->name(), "ctx");
  EXPECT_EQ(store.DirectTable(2), nullptr);

  // Writes through it are the master rows.
  t->row(3)[1] = -5.0f;
  std::vector<float> out(3);
  ASSERT_TRUE(PullRows(store, 0, std::vector<RowId>{3}, out.data()).ok());
  EXPECT_EQ(out, (std::vector<float>{31, -5, 33}));
}

TEST(LocalStoreTest, NoDirectTableForAdaGrad) {
  LocalStore store(MakeModel(), std::make_unique<AdaGrad>());
  EXPECT_EQ(store.DirectTable(0), nullptr);
  EXPECT_EQ(store.DirectTable(1), nullptr);
}

TEST(LocalStoreTest, ThroughTheBaseInterface) {
  std::unique_ptr<ParamStore> store =
      std::make_unique<LocalStore>(MakeModel(), MakeDescent("adagrad", LearningRate{0.1f}));
  EXPECT_EQ(store->DirectTable(0), nullptr);
  EXPECT_EQ(store->descent().name(), "adagrad");
  std::vector<float> out(3);
  ASSERT_TRUE(PullRows(*store, 0, std::vector<RowId>{2}, out.data()).ok());
  EXPECT_EQ(out, (std::vector<float>{21, 22, 23}));
}

TEST(LocalStoreTest, SnapshotIsADeepCopy) {
  LocalStore store(MakeModel(), std::make_unique<Sgd>(LearningRate{1.0f, false}));
  Model snap = store.Snapshot().value();
  ASSERT_EQ(snap.num_tables(), 2u);
  EXPECT_EQ(snap.table(0).name(), "emb");
  EXPECT_EQ(snap.table(1).name(), "ctx");
  EXPECT_NE(snap.table(0).data(), store.model().table(0).data());
  for (RowId r = 0; r < 5; ++r) EXPECT_EQ(Row(snap, 0, r), Row(store.model(), 0, r));

  // Later pushes do not reach the snapshot.
  const std::vector<float> g = {1, 1, 1};
  ASSERT_TRUE(PushRows(store, 0, std::vector<RowId>{0}, g.data()).ok());
  EXPECT_EQ(Row(store.model(), 0, 0), (std::vector<float>{0, 1, 2}));
  EXPECT_EQ(Row(snap, 0, 0), (std::vector<float>{1, 2, 3}));

  // Changing the snapshot does not reach the store.
  snap.table(0).row(4)[0] = 0.0f;
  EXPECT_EQ(store.model().table(0).row(4)[0], 41.0f);
}

TEST(LocalStoreTest, OnePullFillsBlocksOfSeveralTablesWithTheirStrides) {
  LocalStore store(MakeModel(), std::make_unique<Sgd>());
  const std::vector<RowId> emb = {4, 1};
  const std::vector<RowId> ctx = {1};
  std::vector<float> a(2 * 5, -1.0f);  // Stride 5: two floats of gap per row.
  std::vector<float> b(20, -1.0f);
  const std::vector<RowBlock> blocks = {{0, emb, a.data(), 5}, {1, ctx, b.data()}};
  ASSERT_TRUE(store.PullNow(blocks).ok());
  EXPECT_EQ(a, (std::vector<float>{41, 42, 43, -1, -1, 11, 12, 13, -1, -1}));
  EXPECT_EQ(b, std::vector<float>(20, 0.0f));
}

TEST(LocalStoreTest, AFailedPullIsReportedByItsTicketOnly) {
  LocalStore store(MakeModel(), std::make_unique<Sgd>());
  std::vector<float> out(3);
  const std::vector<RowId> bad = {7}, good = {0};
  const RowBlock b1{0, bad, out.data()}, b2{0, good, out.data()};
  const Ticket t1 = store.Pull(std::span<const RowBlock>(&b1, 1));
  const Ticket t2 = store.Pull(std::span<const RowBlock>(&b2, 1));
  EXPECT_NE(t1, t2);
  EXPECT_TRUE(store.Wait(t2).ok());
  Status s = store.Wait(t1);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("pull"), std::string::npos) << s.message();
}

TEST(LocalStoreTest, SgdAddsADeltaAsItIs) {
  LocalStore store(MakeModel(), std::make_unique<Sgd>(LearningRate{0.5f, false}));
  const std::vector<float> delta = {1, -2, 0.25f};
  PushOptions options;
  options.kind = PushOptions::Kind::kDelta;
  options.rate = 0.1f;  // SGD ignores it: the change was already made at a rate.
  ASSERT_TRUE(PushRows(store, 0, {2}, delta.data(), options).ok());
  EXPECT_EQ(Row(store.model(), 0, 2), (std::vector<float>{22, 20, 23.25f}));
}

TEST(LocalStoreTest, AdaGradTakesMinusDeltaOverRateAsTheGradient) {
  Model m;
  m.AddTable("w", 1, 2);
  LocalStore store(std::move(m), std::make_unique<AdaGrad>(LearningRate{0.1f, false}));
  // delta -0.2 made at rate 0.1 is a gradient of 2: state 4, step 0.1 * 2 / 2.
  const std::vector<float> delta = {-0.2f, 0.1f};
  PushOptions options;
  options.kind = PushOptions::Kind::kDelta;
  options.rate = 0.1f;
  ASSERT_TRUE(PushRows(store, 0, {0}, delta.data(), options).ok());
  EXPECT_NEAR(store.model().table(0).row(0)[0], -0.1f, 1e-7);
  EXPECT_NEAR(store.model().table(0).row(0)[1], 0.1f, 1e-7);
  options.rate = 0;
  EXPECT_FALSE(PushRows(store, 0, {0}, delta.data(), options).ok());
}

TEST(LocalStoreTest, DeferredPushesApplyTheirSumOnceWhenTheRoundEnds) {
  Model m;
  m.AddTable("w", 2, 1);
  LocalStore store(std::move(m), std::make_unique<AdaGrad>(LearningRate{1.0f, false}));
  std::unique_ptr<Rounds> rounds = store.NewRounds(3);
  std::vector<std::thread> workers;
  for (int w = 0; w < 3; ++w) {
    workers.emplace_back([&, w] {
      const float g = 1.0f;
      PushOptions options;
      options.defer_to_round = true;
      ASSERT_TRUE(PushRows(store, 0, {0}, &g, options).ok());
      Result<bool> more = rounds->Next(w == 1);
      ASSERT_TRUE(more.ok());
      EXPECT_TRUE(*more);  // Worker 1 said it had work.
      more = rounds->Next(false);
      ASSERT_TRUE(more.ok());
      EXPECT_FALSE(*more);
    });
  }
  for (std::thread& t : workers) t.join();
  // One AdaGrad step with the sum 3: state 9, row -= 1 * 3 / 3.
  EXPECT_NEAR(store.model().table(0).row(0)[0], -1.0f, 1e-7);
  EXPECT_EQ(store.model().table(0).row(1)[0], 0.0f);
}

TEST(LocalStoreTest, TasksCoverEveryPartitionOfEveryEpochOnceInEpochOrder) {
  LocalStore store(MakeModel(), std::make_unique<Sgd>());
  std::unique_ptr<TaskSource> tasks = store.NewTasks(3, 2);
  std::vector<std::pair<uint64_t, uint64_t>> seen;
  while (std::optional<Task> t = tasks->Next()) seen.push_back({t->epoch, t->partition});
  EXPECT_EQ(seen, (std::vector<std::pair<uint64_t, uint64_t>>{
                      {0, 0}, {0, 1}, {0, 2}, {1, 0}, {1, 1}, {1, 2}}));
  EXPECT_FALSE(tasks->Next().has_value());
}

TEST(LocalStoreTest, SetPlanRestartsProgress) {
  LocalStore store(MakeModel(), std::make_unique<Sgd>(LearningRate{1.0f, true, 0.0f}));
  EXPECT_EQ(store.progress_fraction(), 0.0);  // No plan yet.
  store.SetPlan(10);
  store.AddProgress(4);
  store.AddProgress(6);
  EXPECT_EQ(store.progress(), 10u);
  EXPECT_EQ(store.progress_fraction(), 1.0);
  store.AddProgress(5);
  EXPECT_EQ(store.progress_fraction(), 1.0);  // Clamped.
  store.SetPlan(20);
  EXPECT_EQ(store.progress(), 0u);
  EXPECT_EQ(store.planned(), 20u);
}

TEST(LocalStoreTest, LockedRowsLoseNoConcurrentUpdate) {
  Model m;
  m.AddTable("s", 1, 1);
  LocalStore store(std::move(m), std::make_unique<Sgd>(LearningRate{1.0f, false}),
                   LocalStoreOptions{.lock_rows = true});
  EXPECT_EQ(store.DirectTable(0), nullptr);  // No unlocked access.
  std::vector<std::thread> workers;
  for (int w = 0; w < 2; ++w) {
    workers.emplace_back([&] {
      const float g = -1.0f;
      for (int i = 0; i < 20000; ++i) ASSERT_TRUE(PushRows(store, 0, {0}, &g).ok());
    });
  }
  for (std::thread& t : workers) t.join();
  EXPECT_EQ(store.model().table(0).row(0)[0], 40000.0f);
}

}  // namespace
}  // namespace deepdist
