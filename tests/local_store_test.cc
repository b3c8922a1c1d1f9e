// LocalStore: pulling rows, pushing gradients through the descent rule,
// errors for rows and tables that do not exist, Hogwild access and snapshots.
#include <gtest/gtest.h>

#include <memory>
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
  ASSERT_TRUE(store.Pull(0, ids, out.data()).ok());
  EXPECT_EQ(out, (std::vector<float>{31, 32, 33, 1, 2, 3, 31, 32, 33, 41, 42, 43}));
}

TEST(LocalStoreTest, PullOfNoRowsIsOk) {
  LocalStore store(MakeModel(), std::make_unique<Sgd>());
  EXPECT_TRUE(store.Pull(0, std::vector<RowId>{}, nullptr).ok());
}

TEST(LocalStoreTest, PullWritesExactlyDimFloatsPerRow) {
  LocalStore store(MakeModel(), std::make_unique<Sgd>());
  const std::vector<RowId> ids = {1, 1};
  std::vector<float> out(41, -7.0f);
  ASSERT_TRUE(store.Pull(1, ids, out.data()).ok());
  for (size_t i = 0; i < 40; ++i) EXPECT_EQ(out[i], 0.0f) << i;
  EXPECT_EQ(out[40], -7.0f);  // Nothing written past ids.size() * dim.
}

TEST(LocalStoreTest, PushAppliesSgd) {
  LocalStore store(MakeModel(), std::make_unique<Sgd>(LearningRate{0.5f, false}));
  const std::vector<RowId> ids = {1, 4};
  const std::vector<float> g = {2, 4, 6, -2, 0, 2};
  ASSERT_TRUE(store.Push(0, ids, g.data()).ok());
  // row 1: [11, 12, 13] - 0.5 * [2, 4, 6] = [10, 10, 10]
  // row 4: [41, 42, 43] - 0.5 * [-2, 0, 2] = [42, 42, 42]
  EXPECT_EQ(Row(store.model(), 0, 1), (std::vector<float>{10, 10, 10}));
  EXPECT_EQ(Row(store.model(), 0, 4), (std::vector<float>{42, 42, 42}));
  // Other rows are unchanged.
  EXPECT_EQ(Row(store.model(), 0, 0), (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(Row(store.model(), 0, 2), (std::vector<float>{21, 22, 23}));
  EXPECT_EQ(Row(store.model(), 0, 3), (std::vector<float>{31, 32, 33}));

  std::vector<float> out(3);
  ASSERT_TRUE(store.Pull(0, std::vector<RowId>{1}, out.data()).ok());
  EXPECT_EQ(out, (std::vector<float>{10, 10, 10}));
}

TEST(LocalStoreTest, PushOfARepeatedRowAppliesEachGradient) {
  LocalStore store(MakeModel(), std::make_unique<Sgd>(LearningRate{1.0f, false}));
  const std::vector<RowId> ids = {2, 2};
  const std::vector<float> g = {1, 1, 1, 2, 2, 2};
  ASSERT_TRUE(store.Push(0, ids, g.data()).ok());
  // [21, 22, 23] - [1, 1, 1] - [2, 2, 2] = [18, 19, 20]
  EXPECT_EQ(Row(store.model(), 0, 2), (std::vector<float>{18, 19, 20}));
}

TEST(LocalStoreTest, PushUsesTheScheduledRate) {
  LocalStore store(MakeModel(), std::make_unique<Sgd>(LearningRate{1.0f, true, 0.0f}));
  store.descent().set_progress(0.75);  // lr = 1 * (1 - 0.75) = 0.25
  const std::vector<float> g = {4, 8, 12};
  ASSERT_TRUE(store.Push(0, std::vector<RowId>{0}, g.data()).ok());
  // [1, 2, 3] - 0.25 * [4, 8, 12] = [0, 0, 0]
  EXPECT_EQ(Row(store.model(), 0, 0), (std::vector<float>{0, 0, 0}));
}

TEST(LocalStoreTest, PushAccumulatesAdaGradStateAcrossPushes) {
  Model m;
  m.AddTable("w", 3, 2);
  LocalStore store(std::move(m), std::make_unique<AdaGrad>(LearningRate{0.1f, false}));
  const std::vector<float> g = {1, 2};
  // Push 1: state [1, 4]; row 0 = [0, 0] - 0.1 * [1/1, 2/2] = [-0.1, -0.1].
  ASSERT_TRUE(store.Push(0, std::vector<RowId>{0}, g.data()).ok());
  EXPECT_NEAR(store.model().table(0).row(0)[0], -0.1f, 1e-7);
  EXPECT_NEAR(store.model().table(0).row(0)[1], -0.1f, 1e-7);
  // Push 2: state [2, 8]; row 0 -= 0.1 * [1/sqrt(2), 2/sqrt(8)]
  //         = [-0.17071068, -0.17071068].
  ASSERT_TRUE(store.Push(0, std::vector<RowId>{0}, g.data()).ok());
  EXPECT_NEAR(store.model().table(0).row(0)[0], -0.17071068f, 1e-6);
  EXPECT_NEAR(store.model().table(0).row(0)[1], -0.17071068f, 1e-6);
  // Push 3: state [3, 12]; row 0 -= 0.1 * [1/sqrt(3), 2/sqrt(12)]
  //         = 0.1 * [0.57735027, 0.57735027]: row = [-0.22844571, -0.22844571].
  ASSERT_TRUE(store.Push(0, std::vector<RowId>{0}, g.data()).ok());
  EXPECT_NEAR(store.model().table(0).row(0)[0], -0.22844571f, 1e-6);
  EXPECT_NEAR(store.model().table(0).row(0)[1], -0.22844571f, 1e-6);

  // Row 2 has its own state: its first step is lr * sign(g).
  ASSERT_TRUE(store.Push(0, std::vector<RowId>{2}, g.data()).ok());
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
  ASSERT_TRUE(store.Push(0, std::vector<RowId>{0}, &g).ok());
  ASSERT_TRUE(store.Push(0, std::vector<RowId>{0}, &g).ok());
  EXPECT_NEAR(store.model().table(0).row(0)[0], -1.70710678f, 1e-6);
  // b: fresh state 4, step 1 -> -1.
  ASSERT_TRUE(store.Push(1, std::vector<RowId>{0}, &g).ok());
  EXPECT_NEAR(store.model().table(1).row(0)[0], -1.0f, 1e-6);
}

TEST(LocalStoreTest, OutOfRangeRowsAreErrors) {
  LocalStore store(MakeModel(), std::make_unique<Sgd>());
  std::vector<float> out(6);
  Status s = store.Pull(0, std::vector<RowId>{5}, out.data());
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(s.message().empty());
  s = store.Pull(0, std::vector<RowId>{0, 1000000}, out.data());
  EXPECT_FALSE(s.ok());
  s = store.Pull(1, std::vector<RowId>{2}, out.data());
  EXPECT_FALSE(s.ok());

  const std::vector<float> g(6, 1.0f);
  s = store.Push(0, std::vector<RowId>{5}, g.data());
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(s.message().empty());
  s = store.Push(1, std::vector<RowId>{2}, g.data());
  EXPECT_FALSE(s.ok());
  // A push of nothing but a bad row changes nothing.
  Model unchanged = MakeModel();
  for (RowId r = 0; r < 5; ++r) EXPECT_EQ(Row(store.model(), 0, r), Row(unchanged, 0, r));
}

TEST(LocalStoreTest, OutOfRangeTablesAreErrors) {
  LocalStore store(MakeModel(), std::make_unique<Sgd>());
  std::vector<float> out(3);
  const std::vector<float> g(3, 1.0f);
  EXPECT_FALSE(store.Pull(2, std::vector<RowId>{0}, out.data()).ok());
  EXPECT_FALSE(store.Push(2, std::vector<RowId>{0}, g.data()).ok());
  EXPECT_FALSE(store.Pull(99, std::vector<RowId>{}, out.data()).ok());
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
  ASSERT_TRUE(store.Pull(0, std::vector<RowId>{3}, out.data()).ok());
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
  ASSERT_TRUE(store->Pull(0, std::vector<RowId>{2}, out.data()).ok());
  EXPECT_EQ(out, (std::vector<float>{21, 22, 23}));
}

TEST(LocalStoreTest, SnapshotIsADeepCopy) {
  LocalStore store(MakeModel(), std::make_unique<Sgd>(LearningRate{1.0f, false}));
  Model snap = store.Snapshot();
  ASSERT_EQ(snap.num_tables(), 2u);
  EXPECT_EQ(snap.table(0).name(), "emb");
  EXPECT_EQ(snap.table(1).name(), "ctx");
  EXPECT_NE(snap.table(0).data(), store.model().table(0).data());
  for (RowId r = 0; r < 5; ++r) EXPECT_EQ(Row(snap, 0, r), Row(store.model(), 0, r));

  // Later pushes do not reach the snapshot.
  const std::vector<float> g = {1, 1, 1};
  ASSERT_TRUE(store.Push(0, std::vector<RowId>{0}, g.data()).ok());
  EXPECT_EQ(Row(store.model(), 0, 0), (std::vector<float>{0, 1, 2}));
  EXPECT_EQ(Row(snap, 0, 0), (std::vector<float>{1, 2, 3}));

  // Changing the snapshot does not reach the store.
  snap.table(0).row(4)[0] = 0.0f;
  EXPECT_EQ(store.model().table(0).row(4)[0], 41.0f);
}

}  // namespace
}  // namespace deepdist
