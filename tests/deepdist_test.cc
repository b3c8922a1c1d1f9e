// The DeepDist scope with a custom model: linear regression trained by
// asynchronous and synchronous SGD, plus the guarantees train() makes about
// errors, update counts and the replicas gradient functions see.
#include "deepdist/deepdist.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "deepdist/descent.h"
#include "deepdist/model.h"
#include "deepdist/partition.h"
#include "deepdist/status.h"
#include "tests/test_support.h"

namespace deepdist {
namespace {

// y = 2 x1 - 3 x2 + 0.5 x3 + 1.
constexpr double kTrueW[4] = {2.0, -3.0, 0.5, 1.0};  // The last is the bias.

// The gradient of the mean squared error of y = w . x + b over the
// partition's lines "y x1 x2 x3", for table "w" (row 0 = [w1, w2, w3, b]).
Update LinearRegressionGradient(const Model& replica, Partition& data) {
  const float* w = replica["w"].row(0);
  double g[4] = {0, 0, 0, 0};
  size_t n = 0;
  Status s = data.ForEachLine([&](std::string_view line) {
    const std::string text(line);
    double y = 0;
    double x[3] = {0, 0, 0};
    if (std::sscanf(text.c_str(), "%lf %lf %lf %lf", &y, &x[0], &x[1], &x[2]) != 4) return;
    const double err = w[0] * x[0] + w[1] * x[1] + w[2] * x[2] + w[3] - y;
    for (int k = 0; k < 3; ++k) g[k] += 2 * err * x[k];
    g[3] += 2 * err;
    ++n;
  });
  if (!s.ok()) throw std::runtime_error(s.ToString());
  float gf[4] = {0, 0, 0, 0};
  for (int k = 0; k < 4 && n > 0; ++k) gf[k] = static_cast<float>(g[k] / static_cast<double>(n));
  Update u;
  u.Add(0, 4, 0, gf);
  return u;
}

Model RegressionModel() {
  Model m;
  m.AddTable("w", 1, 4);
  return m;
}

// A hash of every value of every table.
uint64_t HashModel(const Model& m) {
  uint64_t h = 1469598103934665603ull;
  for (size_t t = 0; t < m.num_tables(); ++t) {
    const Table& table = m.table(t);
    for (RowId r = 0; r < table.rows(); ++r) {
      for (float v : table.row_span(r)) {
        uint32_t bits;
        std::memcpy(&bits, &v, sizeof(bits));
        h = (h ^ bits) * 1099511628211ull;
      }
    }
  }
  return h;
}

// Partitions no gradient reads: for tests whose gradients ignore the data.
std::vector<PartitionSpec> FakePartitions(size_t n) {
  std::vector<PartitionSpec> parts;
  for (size_t i = 0; i < n; ++i) {
    PartitionSpec spec;
    spec.path = "/nonexistent/part-" + std::to_string(i);
    spec.end = 1;
    spec.size_hint = 1;
    parts.push_back(spec);
  }
  return parts;
}

// A one-row, one-value table "s".
Model ScalarModel() {
  Model m;
  m.AddTable("s", 1, 1);
  return m;
}

Update ScalarUpdate(float value) {
  Update u;
  u.Add(0, 1, 0, &value);
  return u;
}

// A gradient that throws std::runtime_error(message) on partition `failing`
// and gives ScalarUpdate(1) on every other.
GradientFn ThrowingOn(size_t failing, const std::string& message) {
  return [failing, message](const Model&, Partition& p) -> Update {
    if (p.index() == failing) throw std::runtime_error(message);
    return ScalarUpdate(1.0f);
  };
}

// Adds the update to the row (the update is a delta, not a gradient).
void AddDelta(std::span<float> row, std::span<const float> update, float /*lr*/) {
  for (size_t i = 0; i < row.size(); ++i) row[i] += update[i];
}

class DeepDistTest : public testing_support::TempDirTest {
 protected:
  DeepDistTest() : TempDirTest("deepdist_deepdist_test_") {}

  // `n` lines "y x1 x2 x3" with x in [-1, 1] (three decimals) and y exact.
  std::string WriteRegressionData(size_t n) {
    std::mt19937 rng(7);
    std::string text;
    char line[128];
    for (size_t i = 0; i < n; ++i) {
      double x[3];
      for (double& v : x) v = static_cast<double>(static_cast<int>(rng() % 2001) - 1000) / 1000.0;
      const double y = kTrueW[0] * x[0] + kTrueW[1] * x[1] + kTrueW[2] * x[2] + kTrueW[3];
      std::snprintf(line, sizeof(line), "%.6f %.3f %.3f %.3f\n", y, x[0], x[1], x[2]);
      text += line;
    }
    return Write("regression.txt", text);
  }

  std::vector<PartitionSpec> ListLines(const std::string& path, size_t target) {
    PartitionOptions options;
    options.target_partitions = target;
    options.split_on = SplitOn::kLines;
    Result<std::vector<PartitionSpec>> parts = ListPartitions({path}, options);
    EXPECT_TRUE(parts.ok()) << parts.status().ToString();
    return parts.ok() ? *parts : std::vector<PartitionSpec>{};
  }

  void ExpectLearned(const Model& model) {
    const float* w = model["w"].row(0);
    for (int k = 0; k < 4; ++k) EXPECT_NEAR(w[k], kTrueW[k], 1e-2) << "weight " << k;
  }
};

TEST_F(DeepDistTest, LinearRegressionAsync) {
  // Partitions of 1000 lines: each gradient costs far more than applying it,
  // so the server keeps up and replicas stay at most a few updates old.
  const std::vector<PartitionSpec> parts = ListLines(WriteRegressionData(8000), 8);
  ASSERT_GE(parts.size(), 4u);
  DeepDist dd(RegressionModel(), {.threads = 2, .mode = Mode::kAsync, .epochs = 40});
  Sgd sgd(LearningRate{0.1f, false});
  Status s = dd.train(parts, LinearRegressionGradient, sgd);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ExpectLearned(dd.model());
  EXPECT_EQ(dd.updates_applied(), parts.size() * 40);
}

TEST_F(DeepDistTest, LinearRegressionSync) {
  const std::vector<PartitionSpec> parts = ListLines(WriteRegressionData(2000), 8);
  ASSERT_GE(parts.size(), 4u);
  // One step per round of 4 partitions (one per worker): each shrinks the
  // weights' error by about 1 - 0.1 * 2 / 3.
  DeepDist dd(RegressionModel(), {.threads = 4, .mode = Mode::kSync, .epochs = 125});
  Sgd sgd(LearningRate{0.1f, false});
  Status s = dd.train(parts, LinearRegressionGradient, sgd);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ExpectLearned(dd.model());
  EXPECT_EQ(dd.updates_applied(), 125u * ((parts.size() + 3) / 4));
}

TEST_F(DeepDistTest, LinearRegressionWithADescentFunction) {
  const std::vector<PartitionSpec> parts = ListLines(WriteRegressionData(8000), 8);
  DeepDist dd(RegressionModel(), {.threads = 2, .epochs = 40});
  Sgd sgd(LearningRate{0.1f, false});
  std::atomic<size_t> calls{0};
  // The user's own rule, row by row: plain SGD at a rate of its own.
  Status s = dd.train(parts, LinearRegressionGradient,
                      [&](std::span<float> row, std::span<const float> gradient, float lr) {
                        ++calls;
                        EXPECT_EQ(lr, 1.0f);
                        for (size_t i = 0; i < row.size(); ++i) row[i] -= 0.1f * gradient[i];
                      });
  ASSERT_TRUE(s.ok()) << s.ToString();
  ExpectLearned(dd.model());
  EXPECT_EQ(calls.load(), parts.size() * 40);  // One row per update.
}

TEST_F(DeepDistTest, ForEachLineYieldsEveryLineOnceAcrossPartitions) {
  std::string text;
  std::mt19937 rng(3);
  for (int i = 0; i < 300; ++i) {
    text += "line" + std::to_string(i) + std::string(rng() % 40, ' ') + "end\n";
    if (i % 37 == 0) text += "\n";  // Some empty lines, which are lines too.
  }
  const std::string path = Write("lines.txt", text);
  std::vector<std::string> expected;
  for (size_t pos = 0; pos < text.size();) {
    const size_t nl = text.find('\n', pos);
    expected.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  for (size_t target : {1u, 3u, 8u, 17u}) {
    const std::vector<PartitionSpec> parts = ListLines(path, target);
    std::vector<std::string> lines;
    for (size_t i = 0; i < parts.size(); ++i) {
      Partition part(parts[i], i, 0);
      Status s = part.ForEachLine([&](std::string_view line) { lines.emplace_back(line); });
      ASSERT_TRUE(s.ok()) << s.ToString();
    }
    size_t i = 0;
    while (i < lines.size() && i < expected.size() && lines[i] == expected[i]) ++i;
    EXPECT_EQ(lines.size(), expected.size()) << "target " << target;
    EXPECT_TRUE(lines == expected)
        << "target " << target << ": first difference at line " << i << ": got \""
        << (i < lines.size() ? lines[i] : "(none)") << "\", want \""
        << (i < expected.size() ? expected[i] : "(none)") << "\"";
  }
}

TEST_F(DeepDistTest, ForEachLineGivesALastLineWithoutNewline) {
  const std::string path = Write("tail.txt", "a b\n\nc");
  const std::vector<PartitionSpec> parts = ListLines(path, 1);
  ASSERT_EQ(parts.size(), 1u);
  Partition part(parts[0], 0, 0);
  std::vector<std::string> lines;
  ASSERT_TRUE(part.ForEachLine([&](std::string_view l) { lines.emplace_back(l); }).ok());
  EXPECT_EQ(lines, (std::vector<std::string>{"a b", "", "c"}));
}

TEST_F(DeepDistTest, ForEachLineOfAMissingFileIsAnError) {
  PartitionSpec spec;
  spec.path = dir_ + "/gone.txt";
  spec.end = 10;
  Partition part(spec, 0, 0);
  EXPECT_FALSE(part.ForEachLine([](std::string_view) {}).ok());
}

TEST(DeepDistScopeTest, ModelBeforeTrainingIsTheGivenModel) {
  Model m = ScalarModel();
  m["s"].row(0)[0] = 3.5f;
  DeepDist dd(m);
  EXPECT_EQ(dd.model()["s"].row(0)[0], 3.5f);
  EXPECT_EQ(dd.updates_applied(), 0u);
  const DeepDist& c = dd;
  EXPECT_EQ(c.model().num_tables(), 1u);
}

TEST(DeepDistScopeTest, AsyncSumsUpdatesSyncAveragesThem) {
  const std::vector<PartitionSpec> parts = FakePartitions(8);
  auto gradient = [](const Model&, Partition& p) {
    return ScalarUpdate(static_cast<float>(p.index() + 1));
  };
  {
    DeepDist dd(ScalarModel(), {.threads = 3, .mode = Mode::kAsync});
    ASSERT_TRUE(dd.train(parts, gradient, AddDelta).ok());
    EXPECT_FLOAT_EQ(dd.model()["s"].row(0)[0], 36.0f);  // 1 + 2 + ... + 8
  }
  {
    // Rounds of one partition per worker: (1, 2, 3), (4, 5, 6), (7, 8), each
    // applying its mean: 2 + 5 + 7.5.
    DeepDist dd(ScalarModel(), {.threads = 3, .mode = Mode::kSync});
    ASSERT_TRUE(dd.train(parts, gradient, AddDelta).ok());
    EXPECT_FLOAT_EQ(dd.model()["s"].row(0)[0], 14.5f);
  }
  {
    DeepDist dd(ScalarModel(), {.threads = 3, .mode = Mode::kSync, .epochs = 2});
    ASSERT_TRUE(dd.train(parts, gradient, AddDelta).ok());
    EXPECT_FLOAT_EQ(dd.model()["s"].row(0)[0], 29.0f);  // 14.5 per epoch
  }
}

TEST(DeepDistScopeTest, EveryPartitionOncePerEpoch) {
  const std::vector<PartitionSpec> parts = FakePartitions(5);
  for (Mode mode : {Mode::kAsync, Mode::kSync}) {
    DeepDist dd(ScalarModel(), {.threads = 3, .mode = mode, .epochs = 4});
    std::mutex mu;
    std::multiset<std::pair<size_t, size_t>> seen;
    bool paths_match = true;
    Status s = dd.train(
        parts,
        [&](const Model&, Partition& p) {
          std::lock_guard<std::mutex> lock(mu);
          seen.insert({p.index(), p.epoch()});
          if (p.index() >= parts.size() || p.spec().path != parts[p.index()].path) {
            paths_match = false;
          }
          return ScalarUpdate(1.0f);
        },
        AddDelta);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_TRUE(paths_match);
    std::multiset<std::pair<size_t, size_t>> expected;
    for (size_t e = 0; e < 4; ++e) {
      for (size_t i = 0; i < parts.size(); ++i) expected.insert({i, e});
    }
    EXPECT_EQ(seen, expected) << (mode == Mode::kAsync ? "async" : "sync");
  }
}

TEST(DeepDistScopeTest, UpdatesAppliedCountsTasksInAsyncRoundsInSync) {
  const std::vector<PartitionSpec> parts = FakePartitions(8);
  auto gradient = [](const Model&, Partition&) { return ScalarUpdate(1.0f); };
  {
    DeepDist dd(ScalarModel(), {.threads = 4, .mode = Mode::kAsync, .epochs = 3});
    ASSERT_TRUE(dd.train(parts, gradient, AddDelta).ok());
    EXPECT_EQ(dd.updates_applied(), 8u * 3u);
    // A second run adds to the count.
    Sgd sgd(LearningRate{0.1f, false});
    ASSERT_TRUE(dd.train(parts, gradient, sgd).ok());
    EXPECT_EQ(dd.updates_applied(), 2u * 8u * 3u);
  }
  {
    // 8 partitions, 4 workers: 2 rounds per epoch.
    DeepDist dd(ScalarModel(), {.threads = 4, .mode = Mode::kSync, .epochs = 3});
    ASSERT_TRUE(dd.train(parts, gradient, AddDelta).ok());
    EXPECT_EQ(dd.updates_applied(), 6u);
    Sgd sgd(LearningRate{0.1f, false});
    ASSERT_TRUE(dd.train(parts, gradient, sgd).ok());
    EXPECT_EQ(dd.updates_applied(), 12u);
  }
}

TEST(DeepDistScopeTest, SyncReplicasAreIdenticalWithinARound) {
  const std::vector<PartitionSpec> parts = FakePartitions(6);
  Model m;
  m.AddTable("w", 3, 5);
  for (RowId r = 0; r < 3; ++r) {
    for (size_t i = 0; i < 5; ++i) m["w"].row(r)[i] = static_cast<float>(r * 5 + i);
  }
  const uint64_t initial = HashModel(m);
  DeepDist dd(m, {.threads = 3, .mode = Mode::kSync, .epochs = 4});
  std::mutex mu;
  // Per (epoch, round): 6 partitions, 3 workers, rounds of partitions 0-2
  // and 3-5.
  std::map<std::pair<size_t, size_t>, std::vector<uint64_t>> hashes;
  Sgd sgd(LearningRate{0.5f, false});
  Status s = dd.train(
      parts,
      [&](const Model& replica, Partition& p) {
        {
          std::lock_guard<std::mutex> lock(mu);
          hashes[{p.epoch(), p.index() / 3}].push_back(HashModel(replica));
        }
        // Every partition changes a different part of the model.
        Update u;
        std::vector<float> g(5, static_cast<float>(p.index() + 1));
        u.Add(0, 5, p.index() % 3, g.data());
        return u;
      },
      sgd);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(hashes.size(), 8u);
  std::set<uint64_t> per_round;
  for (const auto& [round, hs] : hashes) {
    ASSERT_EQ(hs.size(), 3u) << "epoch " << round.first << " round " << round.second;
    for (uint64_t h : hs)
      EXPECT_EQ(h, hs[0]) << "epoch " << round.first << " round " << round.second;
    per_round.insert(hs[0]);
  }
  EXPECT_EQ(hashes[std::make_pair(size_t{0}, size_t{0})][0], initial);  // The first round: initial.
  EXPECT_EQ(per_round.size(), 8u);  // Each round sees the model after the last.
  EXPECT_NE(HashModel(dd.model()), initial);
}

TEST(DeepDistScopeTest, SyncReplicaIsTheMasterAfterEachRound) {
  const std::vector<PartitionSpec> parts = FakePartitions(5);
  DeepDist dd(ScalarModel(), {.threads = 2, .mode = Mode::kSync, .epochs = 6});
  std::mutex mu;
  bool all_match = true;
  Status s = dd.train(
      parts,
      [&](const Model& replica, Partition& p) {
        // The master gains 1 per round (the mean of its 1s); 5 partitions, 2
        // workers: rounds of partitions (0, 1), (2, 3), (4), so partition p
        // of epoch e sees exactly 3 e + p / 2, however many already returned.
        std::lock_guard<std::mutex> lock(mu);
        const auto want = static_cast<float>(3 * p.epoch() + p.index() / 2);
        if (replica["s"].row(0)[0] != want) all_match = false;
        return ScalarUpdate(1.0f);
      },
      AddDelta);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(all_match);
  EXPECT_FLOAT_EQ(dd.model()["s"].row(0)[0], 18.0f);
}

TEST(DeepDistScopeTest, AsyncReplicaDoesNotChangeUnderTheGradient) {
  const std::vector<PartitionSpec> parts = FakePartitions(6);
  DeepDist dd(ScalarModel(), {.threads = 3, .mode = Mode::kAsync, .epochs = 3});
  std::atomic<int> changed{0};
  std::atomic<int> calls{0};
  Status s = dd.train(
      parts,
      [&](const Model& replica, Partition&) {
        const uint64_t before = HashModel(replica);
        // Others' updates are applied to the master meanwhile.
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        if (HashModel(replica) != before) ++changed;
        ++calls;
        return ScalarUpdate(1.0f);
      },
      AddDelta);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(calls.load(), 18);
  EXPECT_EQ(changed.load(), 0);
  EXPECT_FLOAT_EQ(dd.model()["s"].row(0)[0], 18.0f);
}

TEST(DeepDistScopeTest, DescentScheduleAdvancesWithWork) {
  // Records the learning rate of each update it applies.
  class RecordingSgd : public Sgd {
   public:
    using Sgd::Sgd;
    void ApplyRow(float* row, float* state, const float* gradient, size_t n,
                  float lr) const override {
      {
        std::lock_guard<std::mutex> lock(mu);  // Workers apply their own pushes.
        rates.push_back(lr);
      }
      Sgd::ApplyRow(row, state, gradient, n, lr);
    }
    mutable std::mutex mu;
    mutable std::vector<float> rates;
  };
  const std::vector<PartitionSpec> parts = FakePartitions(4);
  auto gradient = [](const Model&, Partition&) { return ScalarUpdate(1.0f); };
  for (Mode mode : {Mode::kAsync, Mode::kSync}) {
    SCOPED_TRACE(mode == Mode::kAsync ? "async" : "sync");
    DeepDist dd(ScalarModel(), {.threads = 2, .mode = mode, .epochs = 4});
    RecordingSgd sgd(LearningRate{1.0f, true});
    ASSERT_TRUE(dd.train(parts, gradient, sgd).ok());
    const size_t updates = mode == Mode::kAsync ? 16 : 8;  // Sync: 2 rounds an epoch.
    ASSERT_EQ(sgd.rates.size(), updates);
    if (mode == Mode::kSync) {
      // Rounds apply in order, each at a later progress.
      EXPECT_FLOAT_EQ(sgd.rates.front(), 1.0f);
      for (size_t i = 1; i < sgd.rates.size(); ++i) EXPECT_LT(sgd.rates[i], sgd.rates[i - 1]);
    } else {
      // Async workers read the rate, then take turns to apply: two pushes
      // may land in either order, or at the same progress. In rate order,
      // the rate still falls with the work done.
      std::sort(sgd.rates.begin(), sgd.rates.end(), std::greater<float>());
      EXPECT_FLOAT_EQ(sgd.rates.front(), 1.0f);
      const std::set<float> distinct(sgd.rates.begin(), sgd.rates.end());
      EXPECT_GE(distinct.size(), updates / 2);
    }
    EXPECT_LT(sgd.rates.back(), sgd.rates.front());
    EXPECT_GT(sgd.rates.back(), 0.0f);
    EXPECT_LE(sgd.rates.back(), 0.3f);
  }
}

TEST(DeepDistScopeTest, ThrowingGradientFailsTrainAsync) {
  DeepDist dd(ScalarModel(), {.threads = 4, .mode = Mode::kAsync, .epochs = 2});
  Status s = dd.train(FakePartitions(8), ThrowingOn(3, "boom in partition 3"), AddDelta);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("boom in partition 3"), std::string::npos) << s.message();
  EXPECT_LT(dd.updates_applied(), 16u);
}

TEST(DeepDistScopeTest, ThrowingGradientStopsTrainingWithOneWorker) {
  const std::vector<PartitionSpec> parts = FakePartitions(4);
  DeepDist dd(ScalarModel(), {.threads = 1, .mode = Mode::kAsync, .epochs = 3});
  int calls = 0;
  Status s = dd.train(
      parts,
      [&](const Model&, Partition&) -> Update {
        ++calls;
        throw std::runtime_error("boom");
      },
      AddDelta);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(dd.updates_applied(), 0u);
  EXPECT_EQ(dd.model()["s"].row(0)[0], 0.0f);
}

TEST(DeepDistScopeTest, ThrowingGradientFailsTrainSync) {
  DeepDist dd(ScalarModel(), {.threads = 4, .mode = Mode::kSync, .epochs = 5});
  Status s = dd.train(FakePartitions(8), ThrowingOn(0, "boom in sync"), AddDelta);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("boom in sync"), std::string::npos) << s.message();
  // Every epoch holds the failing partition, so no epoch's average is whole.
  EXPECT_EQ(dd.updates_applied(), 0u);
  EXPECT_EQ(dd.model()["s"].row(0)[0], 0.0f);
}

TEST(DeepDistScopeTest, ThrowingGradientWithTheDescentOverload) {
  const std::vector<PartitionSpec> parts = FakePartitions(3);
  DeepDist dd(ScalarModel(), {.threads = 2});
  Sgd sgd(LearningRate{0.1f, false});
  Status s = dd.train(
      parts, [](const Model&, Partition&) -> Update { throw std::runtime_error("boom"); }, sgd);
  EXPECT_FALSE(s.ok());
}

// A gradient may throw something that is not a std::exception; train() must
// still return an error rather than end the process.
TEST(DeepDistScopeDeathTest, GradientThrowingANonStandardExceptionFailsTrain) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  for (Mode mode : {Mode::kAsync, Mode::kSync}) {
    EXPECT_EXIT(
        {
          DeepDist dd(ScalarModel(), {.threads = 2, .mode = mode});
          Status s = dd.train(
              FakePartitions(4), [](const Model&, Partition&) -> Update { throw 42; }, AddDelta);
          std::fprintf(stderr, "train returned: %s\n", s.ToString().c_str());
          std::_Exit(s.ok() ? 1 : 0);
        },
        ::testing::ExitedWithCode(0), "train returned")
        << (mode == Mode::kAsync ? "async" : "sync");
  }
}

// The Downpour form: a Worker that throws anything ends train() with an
// error naming the partition, never std::terminate.
TEST(DeepDistScopeDeathTest, WorkerThrowingAnythingFailsTrain) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  struct Thrower : Worker {
    Status Train(Replica&, Partition&) override { throw 42; }
  };
  EXPECT_EXIT(
      {
        DeepDist dd(ScalarModel(), {.threads = 2});
        WorkerOptions options;
        options.planned_units = 4;
        Status s = dd.train(
            FakePartitions(4), [](size_t) { return std::make_unique<Thrower>(); }, options,
            Sgd(LearningRate{0.1f, false}));
        std::fprintf(stderr, "train returned: %s\n", s.ToString().c_str());
        std::_Exit(!s.ok() && s.message().find("unknown exception") != std::string::npos ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "train returned");
}

TEST(DeepDistScopeTest, SyncModeEqualsAPlainLoopOfTheSameRounds) {
  // gradient(m, p) = m / 2 + (p + 1) per value, SGD at 0.25, 4 partitions in
  // rounds of one per worker, each round's mean applied once. Every value
  // stays a short binary fraction (rounds of 1, 2 or 4), so float sums are
  // exact in any order and the scope must match the loop exactly.
  const size_t parts = 4, epochs = 6;
  Model start;
  start.AddTable("w", 2, 3);
  for (RowId r = 0; r < 2; ++r) {
    for (size_t i = 0; i < 3; ++i) start["w"].row(r)[i] = static_cast<float>(r * 3 + i) - 2.0f;
  }
  auto gradient_at = [](const float* row, size_t n, size_t p, float* g) {
    for (size_t i = 0; i < n; ++i) g[i] = row[i] * 0.5f + static_cast<float>(p + 1);
  };
  for (size_t threads : {1u, 2u, 4u}) {
    // The plain loop: each round's partitions' gradients at the same model,
    // their mean applied once.
    Model want = start;
    for (size_t e = 0; e < epochs; ++e) {
      for (size_t first = 0; first < parts; first += threads) {
        const size_t in_round = std::min(threads, parts - first);
        const Model at = want;
        for (RowId r = 0; r < 2; ++r) {
          float sum[3] = {0, 0, 0};
          for (size_t p = first; p < first + in_round; ++p) {
            float g[3];
            gradient_at(at["w"].row(r), 3, p, g);
            for (size_t i = 0; i < 3; ++i) sum[i] += g[i];
          }
          for (size_t i = 0; i < 3; ++i) {
            want["w"].row(r)[i] -= 0.25f * (sum[i] / static_cast<float>(in_round));
          }
        }
      }
    }
    DeepDist dd(start, {.threads = threads, .mode = Mode::kSync, .epochs = epochs});
    Sgd sgd(LearningRate{0.25f, false});
    Status s = dd.train(
        FakePartitions(parts),
        [&](const Model& m, Partition& p) {
          Update u;
          for (RowId r = 0; r < 2; ++r) {
            float g[3];
            gradient_at(m["w"].row(r), 3, p.index(), g);
            u.Add(0, 3, r, g);
          }
          return u;
        },
        sgd);
    ASSERT_TRUE(s.ok()) << s.ToString();
    for (RowId r = 0; r < 2; ++r) {
      for (size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(dd.model()["w"].row(r)[i], want["w"].row(r)[i])
            << threads << " threads, row " << r << ", value " << i;
      }
    }
  }
}

TEST(DeepDistScopeTest, NoPartitionsInAsyncModeIsANoOp) {
  DeepDist dd(ScalarModel(), {.mode = Mode::kAsync, .epochs = 3});
  int calls = 0;
  Status s = dd.train(
      {},
      [&](const Model&, Partition&) {
        ++calls;
        return ScalarUpdate(1.0f);
      },
      AddDelta);
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(dd.updates_applied(), 0u);
}

// Snapshots taken while training goes on: each is the master as some moment
// left it (a whole number of unit updates, never ahead of what was pushed),
// in order, on a grid of the interval.
TEST(DeepDistScopeTest, SnapshotsShowTheMasterAsTrainingGoes) {
  const std::vector<PartitionSpec> parts = FakePartitions(20);
  for (Mode mode : {Mode::kAsync, Mode::kSync}) {
    std::vector<TrainSnapshot> snapshots;
    DeepDist dd(ScalarModel(),
                {.threads = mode == Mode::kAsync ? 1u : 2u,
                 .mode = mode,
                 .snapshot_every = 0.025,
                 .on_snapshot = [&](TrainSnapshot s) { snapshots.push_back(std::move(s)); }});
    // At least 20 x 10 ms (async) or 10 rounds x 10 ms (sync) of training:
    // time for several snapshots, however fast the machine.
    Status s = dd.train(
        parts,
        [mode](const Model&, Partition&) {
          std::this_thread::sleep_for(std::chrono::milliseconds(mode == Mode::kAsync ? 10 : 25));
          return ScalarUpdate(1.0f);
        },
        AddDelta);
    ASSERT_TRUE(s.ok()) << s.ToString();
    const char* name = mode == Mode::kAsync ? "async" : "sync";
    ASSERT_GE(snapshots.size(), 2u) << name;
    // Async adds 1 per partition; sync the mean of 1s, 1 per round.
    const float final_value = mode == Mode::kAsync ? 20.0f : 10.0f;
    EXPECT_EQ(dd.model()["s"].row(0)[0], final_value) << name;
    float last = 0;
    for (size_t i = 0; i < snapshots.size(); ++i) {
      const TrainSnapshot& snap = snapshots[i];
      ASSERT_EQ(snap.model.num_tables(), 1u);
      EXPECT_EQ(snap.model.table(0).name(), "s");
      const float v = snap.model.table(0).row(0)[0];
      EXPECT_EQ(v, std::floor(v)) << name << " snapshot " << i;
      EXPECT_GE(v, last) << name << " snapshot " << i;
      EXPECT_LE(v, final_value);
      last = v;
      EXPECT_GE(snap.seconds, 0.025 * static_cast<double>(i + 1) - 1e-3) << name;
      if (i > 0) {
        EXPECT_GT(snap.seconds, snapshots[i - 1].seconds);
        EXPECT_GE(snap.progress, snapshots[i - 1].progress);
      }
      if (mode == Mode::kAsync) {
        // Progress is counted after the push lands: the value is that
        // count, or one push ahead of it.
        const float done = static_cast<float>(std::lround(snap.progress * 20.0));
        EXPECT_TRUE(v == done || v == done + 1.0f) << v << " after " << done << " partitions";
      }
    }
  }
}

TEST(DeepDistScopeTest, SnapshotOfAMissingTableFailsTrain) {
  int snapshots = 0;
  DeepDist dd(ScalarModel(), {.threads = 1,
                              .snapshot_every = 0.01,
                              .snapshot_tables = {3},
                              .on_snapshot = [&](TrainSnapshot) { ++snapshots; }});
  Status s = dd.train(
      FakePartitions(50),
      [](const Model&, Partition&) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        return ScalarUpdate(1.0f);
      },
      AddDelta);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("snapshot_tables: the store has no table 3"), std::string::npos)
      << s.message();
  EXPECT_EQ(snapshots, 0);
  // Training stopped at the failure instead of running every partition.
  EXPECT_LT(dd.updates_applied(), 50u);
}

}  // namespace
}  // namespace deepdist

namespace deepdist {
namespace {

// Checkpoints in the gradient form: the workers pause between tasks, and a
// scope resumed from any checkpoint ends where the uninterrupted one does:
// bit for bit on one worker (AdaGrad's accumulators restored with the
// rows), and with every remaining task applied exactly once on two.
TEST(DeepDistScopeTest, ResumingFromAnyCheckpointEndsWhereTheRunWould) {
  const std::vector<PartitionSpec> parts = FakePartitions(30);
  // A gradient that depends on the model and the partition, so that order
  // and state both show in the result.
  auto gradient = [](const Model& m, Partition& p) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    return ScalarUpdate(m["s"].row(0)[0] - static_cast<float>(p.index() % 7));
  };
  const AdaGrad adagrad(LearningRate{0.3f, false});
  DeepDist plain(ScalarModel(), {.threads = 1, .epochs = 2});
  ASSERT_TRUE(plain.train(parts, gradient, adagrad).ok());
  const float want = plain.model()["s"].row(0)[0];

  std::vector<Checkpoint> saved;
  DeepDist checkpointed(
      ScalarModel(),
      {.threads = 1, .epochs = 2, .checkpoint_every = 0.01, .on_checkpoint = [&](Checkpoint& c) {
         saved.push_back(c);
         return Status::OK();
       }});
  ASSERT_TRUE(checkpointed.train(parts, gradient, adagrad).ok());
  EXPECT_EQ(checkpointed.model()["s"].row(0)[0], want);
  ASSERT_GE(saved.size(), 2u);
  for (size_t i = 0; i < saved.size(); ++i) {
    SCOPED_TRACE("checkpoint " + std::to_string(i));
    ASSERT_TRUE(saved[i].Has("state/0"));  // AdaGrad's accumulators.
    DeepDist resumed(ScalarModel(), {.threads = 1, .epochs = 2, .resume = {&saved[i]}});
    ASSERT_TRUE(resumed.train(parts, gradient, adagrad).ok());
    EXPECT_EQ(resumed.model()["s"].row(0)[0], want);
  }

  // Two workers adding 1 per task: whatever the checkpoint, the resumed
  // run ends at 60, each task counted once.
  saved.clear();
  auto one = [](const Model&, Partition&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    return ScalarUpdate(1.0f);
  };
  DeepDist two(
      ScalarModel(),
      {.threads = 2, .epochs = 2, .checkpoint_every = 0.005, .on_checkpoint = [&](Checkpoint& c) {
         saved.push_back(c);
         return Status::OK();
       }});
  ASSERT_TRUE(two.train(parts, one, AddDelta).ok());
  EXPECT_EQ(two.model()["s"].row(0)[0], 60.0f);
  ASSERT_GE(saved.size(), 2u);
  for (const Checkpoint& c : {saved.front(), saved[saved.size() / 2], saved.back()}) {
    DeepDist resumed(ScalarModel(), {.threads = 2, .epochs = 2, .resume = {&c}});
    ASSERT_TRUE(resumed.train(parts, one, AddDelta).ok());
    EXPECT_EQ(resumed.model()["s"].row(0)[0], 60.0f);
  }
}

// A checkpoint that fails to save ends the train() with its error; one
// that does not fit the partitions is refused before any work; sync mode
// does not pause for checkpoints.
TEST(DeepDistScopeTest, CheckpointErrorsEndTrain) {
  const std::vector<PartitionSpec> parts = FakePartitions(50);
  auto slow = [](const Model&, Partition&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    return ScalarUpdate(1.0f);
  };
  DeepDist failing(ScalarModel(),
                   {.threads = 1, .checkpoint_every = 0.01, .on_checkpoint = [](Checkpoint&) {
                      return Status::IOError("ckpt: disk full");
                    }});
  Status s = failing.train(parts, slow, AddDelta);
  EXPECT_EQ(s.message(), "ckpt: disk full");

  Checkpoint saved;
  DeepDist once(ScalarModel(),
                {.threads = 1, .checkpoint_every = 0.01, .on_checkpoint = [&](Checkpoint& c) {
                   saved = c;
                   return Status::OK();
                 }});
  ASSERT_TRUE(once.train(parts, slow, AddDelta).ok());
  ASSERT_TRUE(saved.Has("train"));
  DeepDist fewer(ScalarModel(), {.threads = 1, .resume = {&saved}});
  s = fewer.train(FakePartitions(1), slow, AddDelta);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();

  DeepDist sync(ScalarModel(), {.threads = 1, .mode = Mode::kSync, .resume = {&saved}});
  EXPECT_EQ(sync.train(parts, slow, AddDelta).code(), Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace deepdist

namespace deepdist {
namespace {

// Monitoring: every partition's update is counted, and two workers whose
// gradients overlap in time each see the other's update land between their
// fetch and their push (Downpour's staleness), never many more.
TEST(DeepDistScopeTest, ActivityCountsUpdatesAndStaleness) {
  const std::vector<PartitionSpec> parts = FakePartitions(80);
  std::vector<Activity> seen;  // Sampled by on_tick while the workers run.
  DeepDist* scope = nullptr;
  DeepDist dd(ScalarModel(),
              {.threads = 2, .epochs = 2, .on_tick = [&] { seen.push_back(scope->activity()); }});
  scope = &dd;
  ASSERT_TRUE(dd.train(
                    parts,
                    [](const Model&, Partition&) {
                      std::this_thread::sleep_for(std::chrono::milliseconds(5));
                      return ScalarUpdate(1.0f);
                    },
                    AddDelta)
                  .ok());
  EXPECT_EQ(dd.activity().updates, 160u);
  ASSERT_GE(seen.size(), 2u);
  uint64_t most = 0, last_updates = 0;
  for (const Activity& a : seen) {
    ASSERT_EQ(a.staleness.size(), 2u);
    EXPECT_GE(a.updates, last_updates);
    last_updates = a.updates;
    for (uint64_t s : a.staleness) most = std::max(most, s);
  }
  EXPECT_GE(most, 1u);
  EXPECT_LE(most, 3u);
  DeepDist alone(ScalarModel(), {.threads = 1});
  ASSERT_TRUE(alone
                  .train(
                      parts, [](const Model&, Partition&) { return ScalarUpdate(1.0f); }, AddDelta)
                  .ok());
  EXPECT_EQ(alone.activity().updates, 80u);
  EXPECT_EQ(alone.activity().staleness, std::vector<uint64_t>{0});
}

}  // namespace
}  // namespace deepdist
