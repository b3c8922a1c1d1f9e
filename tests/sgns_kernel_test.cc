// The SIMD kernel against a plain, scalar reference of word2vec.c's updates.
#include "src/word2vec/sgns_kernel.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "deepdist/model.h"

namespace deepdist::word2vec {
namespace {

// The kernel's gradient: none where the score saturates (|f| >= 6), as in
// gensim; else (label - sigmoid(f)) * alpha.
float RefGradient(float f, float label, float alpha) {
  if (f >= 6.0f || f <= -6.0f) return 0.0f;
  return (label - 1.0f / (1.0f + std::exp(-f))) * alpha;
}

using RefRows = std::vector<std::vector<float>>;

// The reduced random window around pos, drawn as the kernel draws it.
struct RefWindow {
  int64_t lo, hi;
};
RefWindow DrawWindow(const KernelConfig& c, int64_t pos, int64_t len, uint64_t* rng) {
  const int reduce = static_cast<int>(NextRandom(rng) % c.window);
  return {std::max<int64_t>(0, pos - (c.window - reduce)),
          std::min<int64_t>(len - 1, pos + (c.window - reduce))};
}

// Random tables, the same values as plain rows for a reference, and a
// sentence of random word ids.
struct RandomProblem {
  Table in, out;
  RefRows ref_in, ref_out;
  std::vector<int32_t> words;
};
RandomProblem MakeRandomProblem(size_t vocab, size_t dim, uint64_t seed, float out_scale,
                                size_t sentence, uint64_t sentence_seed) {
  RandomProblem p{Table("in", vocab, dim),
                  Table("out", vocab, dim),
                  RefRows(vocab, std::vector<float>(dim)),
                  RefRows(vocab, std::vector<float>(dim)),
                  {}};
  for (size_t r = 0; r < vocab; ++r) {
    for (size_t k = 0; k < dim; ++k) {
      p.ref_in[r][k] = p.in.row(r)[k] =
          static_cast<float>(NextRandom(&seed) % 1000) / 1000.0f - 0.5f;
      p.ref_out[r][k] = p.out.row(r)[k] =
          (static_cast<float>(NextRandom(&seed) % 1000) / 1000.0f - 0.5f) * out_scale;
    }
  }
  for (size_t i = 0; i < sentence; ++i) {
    p.words.push_back(static_cast<int32_t>(NextRandom(&sentence_seed) % vocab));
  }
  return p;
}

// The largest difference between a table and its reference rows.
double MaxDiff(const Table& table, const RefRows& ref) {
  double diff = 0;
  for (size_t r = 0; r < ref.size(); ++r) {
    for (size_t k = 0; k < ref[r].size(); ++k) {
      diff = std::max<double>(diff, std::fabs(table.row(r)[k] - ref[r][k]));
    }
  }
  return diff;
}

// Plain word2vec.c-style training with the same random choices.
void Reference(const KernelConfig& c, const std::vector<int32_t>& words, float alpha, uint64_t rng,
               RefRows& in, RefRows& out) {
  const size_t dim = in[0].size();
  const int64_t len = static_cast<int64_t>(words.size());
  for (int64_t pos = 0; pos < len; ++pos) {
    const int32_t word = words[pos];
    const auto [lo, hi] = DrawWindow(c, pos, len, &rng);
    auto train = [&](const std::vector<float>& input, std::vector<float>& error) {
      for (int d = 0; d <= c.negative; ++d) {
        int32_t target = word;
        if (d > 0) {
          target = c.negatives->Sample(NextRandom(&rng));
          if (target == word) continue;
        }
        float f = 0;
        for (size_t k = 0; k < dim; ++k) f += input[k] * out[target][k];
        const float g = RefGradient(f, d == 0 ? 1.0f : 0.0f, alpha);
        for (size_t k = 0; k < dim; ++k) error[k] += g * out[target][k];
        for (size_t k = 0; k < dim; ++k) out[target][k] += g * input[k];
      }
    };
    if (c.cbow) {
      std::vector<float> hidden(dim, 0.0f), error(dim, 0.0f);
      int count = 0;
      for (int64_t p = lo; p <= hi; ++p) {
        if (p == pos) continue;
        for (size_t k = 0; k < dim; ++k) hidden[k] += in[words[p]][k];
        ++count;
      }
      if (count == 0) continue;
      for (float& h : hidden) h /= static_cast<float>(count);
      train(hidden, error);
      for (int64_t p = lo; p <= hi; ++p) {
        if (p == pos) continue;
        for (size_t k = 0; k < dim; ++k) in[words[p]][k] += error[k];
      }
    } else {
      for (int64_t p = lo; p <= hi; ++p) {
        if (p == pos) continue;
        std::vector<float> error(dim, 0.0f);
        std::vector<float> input = in[words[p]];
        train(input, error);
        for (size_t k = 0; k < dim; ++k) in[words[p]][k] += error[k];
      }
    }
  }
}

class SgnsKernelTest : public ::testing::TestWithParam<bool> {};

TEST_P(SgnsKernelTest, MatchesScalarReference) {
  const size_t vocab = 50, dim = 37;
  std::vector<uint64_t> counts(vocab);
  for (size_t i = 0; i < vocab; ++i) counts[i] = 1000 / (i + 1) + 1;
  NegativeTable negatives(counts);
  KernelConfig config;
  config.cbow = GetParam();
  config.window = 3;
  config.negative = 4;
  config.negatives = &negatives;
  RandomProblem p = MakeRandomProblem(vocab, dim, 42, 0.1f, 200, 7);
  Table& in = p.in;
  Table& out = p.out;
  config.stride = in.stride();

  uint64_t rng = 99;
  std::vector<float> scratch(ScratchFloats(config));
  KernelStats stats;
  TrainSentence(config, p.words.data(), p.words.size(), 0.05f, &rng,
                {in.data(), out.data(), nullptr}, scratch.data(), &stats);
  Reference(config, p.words, 0.05f, 99, p.ref_in, p.ref_out);
  EXPECT_GT(stats.pairs, 0u);
  const double max_diff = std::max(MaxDiff(in, p.ref_in), MaxDiff(out, p.ref_out));
  for (size_t r = 0; r < vocab; ++r) {
    for (size_t k = dim; k < in.stride(); ++k) {
      ASSERT_EQ(in.row(r)[k], 0.0f) << "padding must stay zero";
      ASSERT_EQ(out.row(r)[k], 0.0f) << "padding must stay zero";
    }
  }
  // The kernel's sigmoid comes from a table (step 12/1024), the reference's
  // from exp: the updates agree to the table's resolution.
  EXPECT_LT(max_diff, 2e-2);
}

TEST_P(SgnsKernelTest, SaturatedScoresLeaveRowsUnchanged) {
  // Every score is 37 (all values 1, dim 37): beyond the sigmoid table, so no
  // pair updates anything, positive or negative.
  const size_t vocab = 10, dim = 37;
  std::vector<uint64_t> counts(vocab, 10);
  NegativeTable negatives(counts);
  KernelConfig config;
  config.cbow = GetParam();
  config.window = 2;
  config.negative = 3;
  config.negatives = &negatives;
  Table in("in", vocab, dim), out("out", vocab, dim);
  config.stride = in.stride();
  for (size_t r = 0; r < vocab; ++r) {
    for (size_t k = 0; k < dim; ++k) in.row(r)[k] = out.row(r)[k] = 1.0f;
  }
  const Table in_before = in, out_before = out;
  std::vector<int32_t> words = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  uint64_t rng = 5;
  std::vector<float> scratch(ScratchFloats(config));
  KernelStats stats;
  TrainSentence(config, words.data(), words.size(), 0.05f, &rng, {in.data(), out.data(), nullptr},
                scratch.data(), &stats);
  EXPECT_GT(stats.pairs, 0u);
  EXPECT_GT(stats.loss, 0.0) << "negatives scored +37 are wrong and cost loss";
  for (size_t r = 0; r < vocab; ++r) {
    for (size_t k = 0; k < dim; ++k) {
      ASSERT_EQ(in.row(r)[k], in_before.row(r)[k]);
      ASSERT_EQ(out.row(r)[k], out_before.row(r)[k]);
    }
  }
}

// Skip-gram with negatives shared across a window, written plainly: all
// scores from the old values, then every input and target moves at once.
void ReferenceShared(const KernelConfig& c, const std::vector<int32_t>& words, float alpha,
                     uint64_t rng, RefRows& in, RefRows& out) {
  const size_t dim = in[0].size();
  const int64_t len = static_cast<int64_t>(words.size());
  for (int64_t pos = 0; pos < len; ++pos) {
    const int32_t word = words[pos];
    const auto [lo, hi] = DrawWindow(c, pos, len, &rng);
    std::vector<int32_t> inputs, targets = {word};
    for (int64_t p = lo; p <= hi; ++p) {
      if (p != pos) inputs.push_back(words[p]);
    }
    if (inputs.empty()) continue;
    for (int d = 1; d <= c.negative; ++d) {
      const int32_t t = c.negatives->Sample(NextRandom(&rng));
      if (t != word) targets.push_back(t);
    }
    std::vector<std::vector<float>> g(inputs.size(), std::vector<float>(targets.size()));
    for (size_t i = 0; i < inputs.size(); ++i) {
      for (size_t j = 0; j < targets.size(); ++j) {
        float f = 0;
        for (size_t k = 0; k < dim; ++k) f += in[inputs[i]][k] * out[targets[j]][k];
        g[i][j] = RefGradient(f, j == 0 ? 1.0f : 0.0f, alpha);
      }
    }
    const auto old_in = in;
    const auto old_out = out;
    for (size_t i = 0; i < inputs.size(); ++i) {
      for (size_t j = 0; j < targets.size(); ++j) {
        for (size_t k = 0; k < dim; ++k) {
          in[inputs[i]][k] += g[i][j] * old_out[targets[j]][k];
          out[targets[j]][k] += g[i][j] * old_in[inputs[i]][k];
        }
      }
    }
  }
}

TEST(SgnsKernelSharedTest, MatchesPlainReferenceAndPlan) {
  const size_t vocab = 60, dim = 29;
  std::vector<uint64_t> counts(vocab);
  for (size_t i = 0; i < vocab; ++i) counts[i] = 500 / (i + 1) + 1;
  NegativeTable negatives(counts);
  KernelConfig config;
  config.window = 4;
  config.negative = 5;
  config.negatives = &negatives;
  config.shared_negatives = true;
  RandomProblem p = MakeRandomProblem(vocab, dim, 3, 0.5f, 150, 11);
  Table& in = p.in;
  Table& out = p.out;
  const std::vector<int32_t>& words = p.words;
  config.stride = in.stride();
  const Table in_before = in, out_before = out;

  uint64_t rng = 17, plan_rng = 17;
  std::vector<float> scratch(ScratchFloats(config));
  KernelStats stats;
  TrainSentence(config, words.data(), words.size(), 0.05f, &rng, {in.data(), out.data(), nullptr},
                scratch.data(), &stats);
  ReferenceShared(config, words, 0.05f, 17, p.ref_in, p.ref_out);
  std::vector<int32_t> planned;
  PlanSentence(config, words.data(), words.size(), &plan_rng, &planned);
  EXPECT_EQ(plan_rng, rng) << "the plan must draw exactly what the kernel drew";
  const double max_diff = std::max(MaxDiff(in, p.ref_in), MaxDiff(out, p.ref_out));
  for (size_t r = 0; r < vocab; ++r) {
    bool changed = false;
    for (size_t k = 0; k < dim; ++k) {
      changed |= in.row(r)[k] != in_before.row(r)[k] || out.row(r)[k] != out_before.row(r)[k];
    }
    if (changed) {
      EXPECT_NE(std::find(planned.begin(), planned.end(), static_cast<int32_t>(r)), planned.end())
          << "row " << r << " changed but was not planned";
    }
  }
  EXPECT_GT(stats.pairs, 0u);
  EXPECT_LT(max_diff, 2e-2);  // Table sigmoid against exp, as above.
}

INSTANTIATE_TEST_SUITE_P(SkipGramAndCbow, SgnsKernelTest, ::testing::Values(false, true));

}  // namespace
}  // namespace deepdist::word2vec
