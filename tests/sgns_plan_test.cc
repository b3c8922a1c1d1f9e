// PlanSentence against TrainSentence: the planned rows cover every row the
// kernel changes, and a replica holding only the planned rows trains exactly
// as the full tables do (what the store path relies on).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <vector>

#include "deepdist/model.h"
#include "src/word2vec/negative_table.h"
#include "src/word2vec/sgns_kernel.h"

namespace deepdist::word2vec {
namespace {

constexpr size_t kVocab = 60;
constexpr size_t kDim = 20;             // Stride 32: rows carry padding.
constexpr int32_t kSentenceWords = 15;  // Sentences use ids below this; negatives any id.

struct PlanCase {
  bool cbow;
  int window;
  int negative;
};

class SgnsPlanTest : public ::testing::TestWithParam<PlanCase> {
 protected:
  SgnsPlanTest() : negatives_(Counts()) {}

  static std::vector<uint64_t> Counts() {
    std::vector<uint64_t> counts(kVocab);
    for (size_t i = 0; i < kVocab; ++i) counts[i] = 5000 / (i + 1) + 3;
    return counts;
  }

  static void Fill(Table* t, uint64_t seed, float scale) {
    for (size_t r = 0; r < t->rows(); ++r) {
      for (size_t k = 0; k < t->dim(); ++k) {
        t->row(r)[k] = (static_cast<float>(NextRandom(&seed) % 2001) / 1000.0f - 1.0f) * scale;
      }
    }
  }

  KernelConfig Config(size_t stride) const {
    KernelConfig c;
    c.cbow = GetParam().cbow;
    c.window = GetParam().window;
    c.negative = GetParam().negative;
    c.stride = stride;
    c.negatives = &negatives_;
    return c;
  }

  NegativeTable negatives_;
};

TEST_P(SgnsPlanTest, PlannedRowsCoverEveryChangedRow) {
  size_t changed_outside_sentence = 0;
  size_t sentences_with_changes = 0;
  for (const size_t length : {1u, 2u, 3u, 8u, 40u, 200u}) {
    for (uint64_t seed = 1; seed <= 8; ++seed) {
      Table in("in", kVocab, kDim), out("out", kVocab, kDim);
      Fill(&in, seed * 31, 0.5f);
      Fill(&out, seed * 57, 0.5f);
      const Table in0 = in, out0 = out;
      const KernelConfig config = Config(in.stride());

      std::vector<int32_t> words;
      uint64_t w = seed * 1000 + length;
      for (size_t i = 0; i < length; ++i) {
        words.push_back(static_cast<int32_t>(NextRandom(&w) % kSentenceWords));
      }

      uint64_t train_rng = seed, plan_rng = seed;
      std::vector<float> scratch(ScratchFloats(config));
      KernelStats stats;
      TrainSentence(config, words.data(), words.size(), 0.05f, &train_rng,
                    {in.data(), out.data(), nullptr}, scratch.data(), &stats);
      std::vector<int32_t> touched = {-7};  // Plan appends; what was there stays.
      PlanSentence(config, words.data(), words.size(), &plan_rng, &touched);
      ASSERT_EQ(touched.front(), -7);
      touched.erase(touched.begin());
      // The same random choices: both leave the generator in the same state.
      EXPECT_EQ(train_rng, plan_rng) << "length " << length << ", seed " << seed;

      // Every sentence word is planned (its rows are read, if not changed).
      const std::set<int32_t> planned(touched.begin(), touched.end());
      for (int32_t x : words) EXPECT_EQ(planned.count(x), 1u) << x;
      for (int32_t x : touched) {
        ASSERT_GE(x, 0);
        ASSERT_LT(x, static_cast<int32_t>(kVocab));
      }

      bool any = false;
      for (size_t r = 0; r < kVocab; ++r) {
        const bool in_changed = std::memcmp(in.row(r), in0.row(r), kDim * sizeof(float)) != 0;
        const bool out_changed = std::memcmp(out.row(r), out0.row(r), kDim * sizeof(float)) != 0;
        if (!in_changed && !out_changed) continue;
        any = true;
        EXPECT_EQ(planned.count(static_cast<int32_t>(r)), 1u)
            << "row " << r << " changed (" << (in_changed ? "in" : "")
            << (out_changed ? " out" : "") << ") but was not planned; length " << length
            << ", seed " << seed;
        if (r >= static_cast<size_t>(kSentenceWords)) ++changed_outside_sentence;
      }
      if (any) ++sentences_with_changes;
      if (length == 1) EXPECT_FALSE(any) << "a one-word sentence has no context";
    }
  }
  // The check is not vacuous: sentences changed rows, negatives included.
  EXPECT_GT(sentences_with_changes, 30u);
  if (GetParam().negative > 0) EXPECT_GT(changed_outside_sentence, 0u);
}

TEST_P(SgnsPlanTest, ReplicaOfPlannedRowsTrainsLikeTheFullTables) {
  for (const size_t length : {2u, 17u, 150u}) {
    for (uint64_t seed = 11; seed <= 15; ++seed) {
      Table in("in", kVocab, kDim), out("out", kVocab, kDim);
      Fill(&in, seed * 3, 0.5f);
      Fill(&out, seed * 5, 0.5f);
      const KernelConfig config = Config(in.stride());
      std::vector<int32_t> words;
      uint64_t w = seed * 77 + length;
      for (size_t i = 0; i < length; ++i) {
        words.push_back(static_cast<int32_t>(NextRandom(&w) % kSentenceWords));
      }

      // The replica: one row per planned word, then a trap row that every
      // unplanned word maps to.
      uint64_t plan_rng = seed;
      std::vector<int32_t> touched;
      PlanSentence(config, words.data(), words.size(), &plan_rng, &touched);
      std::vector<int32_t> remap(kVocab, -1);
      std::vector<int32_t> ids;
      for (int32_t x : touched) {
        if (remap[x] < 0) {
          remap[x] = static_cast<int32_t>(ids.size());
          ids.push_back(x);
        }
      }
      const int32_t trap = static_cast<int32_t>(ids.size());
      for (int32_t& r : remap) {
        if (r < 0) r = trap;
      }
      Table rin("in", ids.size() + 1, kDim), rout("out", ids.size() + 1, kDim);
      for (size_t i = 0; i < ids.size(); ++i) {
        std::memcpy(rin.row(i), in.row(ids[i]), kDim * sizeof(float));
        std::memcpy(rout.row(i), out.row(ids[i]), kDim * sizeof(float));
      }
      for (size_t k = 0; k < kDim; ++k) rin.row(trap)[k] = rout.row(trap)[k] = 0.125f;
      const Table rin0 = rin, rout0 = rout;

      std::vector<float> scratch(ScratchFloats(config));
      KernelStats full_stats, replica_stats;
      uint64_t rng = seed;
      TrainSentence(config, words.data(), words.size(), 0.05f, &rng,
                    {in.data(), out.data(), nullptr}, scratch.data(), &full_stats);
      rng = seed;
      TrainSentence(config, words.data(), words.size(), 0.05f, &rng,
                    {rin.data(), rout.data(), remap.data()}, scratch.data(), &replica_stats);

      EXPECT_EQ(full_stats.pairs, replica_stats.pairs);
      EXPECT_EQ(full_stats.loss, replica_stats.loss);
      EXPECT_EQ(std::memcmp(rin.row(trap), rin0.row(trap), kDim * sizeof(float)), 0)
          << "an unplanned in row was used; length " << length << ", seed " << seed;
      EXPECT_EQ(std::memcmp(rout.row(trap), rout0.row(trap), kDim * sizeof(float)), 0)
          << "an unplanned out row was used; length " << length << ", seed " << seed;
      for (size_t i = 0; i < ids.size(); ++i) {
        EXPECT_EQ(std::memcmp(rin.row(i), in.row(ids[i]), kDim * sizeof(float)), 0)
            << "in row " << ids[i];
        EXPECT_EQ(std::memcmp(rout.row(i), out.row(ids[i]), kDim * sizeof(float)), 0)
            << "out row " << ids[i];
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(SkipGramAndCbow, SgnsPlanTest,
                         ::testing::Values(PlanCase{false, 5, 5}, PlanCase{false, 1, 3},
                                           PlanCase{false, 3, 0}, PlanCase{false, 2, 15},
                                           PlanCase{true, 5, 5}, PlanCase{true, 1, 3},
                                           PlanCase{true, 3, 0}, PlanCase{true, 2, 15}),
                         [](const ::testing::TestParamInfo<PlanCase>& info) {
                           return std::string(info.param.cbow ? "Cbow" : "SkipGram") + "Window" +
                                  std::to_string(info.param.window) + "Negative" +
                                  std::to_string(info.param.negative);
                         });

}  // namespace
}  // namespace deepdist::word2vec
