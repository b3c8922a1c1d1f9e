// The SIMD kernel against a plain, scalar reference of word2vec.c's updates.
#include "src/word2vec/sgns_kernel.h"

#include <gtest/gtest.h>
#include <hwy/targets.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "deepdist/descent.h"
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

// Negatives over a Zipf-like vocabulary (word i seen top / (i + 1) + 1
// times), so that draws often repeat and often hit the centre word.
NegativeTable ZipfNegatives(size_t vocab, uint64_t top) {
  std::vector<uint64_t> counts(vocab);
  for (size_t i = 0; i < vocab; ++i) counts[i] = top / (i + 1) + 1;
  return NegativeTable(counts);
}

// A table's rows as plain rows.
RefRows RefRowsOf(const Table& table) {
  RefRows rows(table.rows());
  for (size_t r = 0; r < table.rows(); ++r)
    rows[r].assign(table.row(r), table.row(r) + table.dim());
  return rows;
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
  const NegativeTable negatives = ZipfNegatives(vocab, 1000);
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
  const NegativeTable negatives = ZipfNegatives(vocab, 500);
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

// What ReferenceCbowBatched did: the pairs it trained (a negative that is the
// window's own centre word is none), the windows and batches it trained, and
// the (window, negative) pairs dropped because the two were the same word.
struct RefCbowCounts {
  uint64_t pairs = 0;
  int windows = 0;
  int batches = 0;
  int partial_batches = 0;
  int dropped = 0;
};

// CBOW with negatives shared by a batch of windows, written plainly: each
// window with a context takes the mean of its context rows as they stand
// when it is reached; once cbow_batch windows are gathered (or the sentence
// ends), one draw of c.negative negatives serves them all. Every score comes
// from the old rows, a negative that is a window's own centre word counts
// for nothing in that window, and then every row moves at once: each
// window's error (its gradients times the old output rows) into each of its
// context rows, g * hidden into its centre's output row, and the sum over the
// batch of g * hidden into each negative's output row.
RefCbowCounts ReferenceCbowBatched(const KernelConfig& c, const std::vector<int32_t>& words,
                                   float alpha, uint64_t* rng, RefRows& in, RefRows& out) {
  const size_t dim = in[0].size();
  const int64_t len = static_cast<int64_t>(words.size());
  struct Window {
    int32_t centre;
    std::vector<int32_t> context;  // Word ids, one per context position.
    std::vector<float> hidden;
  };
  std::vector<Window> batch;
  RefCbowCounts counts;
  auto flush = [&]() {
    if (batch.empty()) return;
    std::vector<int32_t> negs;
    for (int k = 0; k < c.negative; ++k) negs.push_back(c.negatives->Sample(NextRandom(rng)));
    const RefRows old_out = out;
    for (const Window& w : batch) {
      std::vector<float> error(dim, 0.0f);
      // Target -1 is the centre word (label 1), 0.. the negatives (label 0).
      for (int k = -1; k < c.negative; ++k) {
        const int32_t target = k < 0 ? w.centre : negs[k];
        if (k >= 0 && target == w.centre) {
          ++counts.dropped;
          continue;
        }
        float f = 0;
        for (size_t i = 0; i < dim; ++i) f += w.hidden[i] * old_out[target][i];
        const float g = RefGradient(f, k < 0 ? 1.0f : 0.0f, alpha);
        ++counts.pairs;
        for (size_t i = 0; i < dim; ++i) error[i] += g * old_out[target][i];
        for (size_t i = 0; i < dim; ++i) out[target][i] += g * w.hidden[i];
      }
      for (const int32_t word : w.context) {
        for (size_t i = 0; i < dim; ++i) in[word][i] += error[i];
      }
    }
    ++counts.batches;
    if (static_cast<int>(batch.size()) < c.cbow_batch) ++counts.partial_batches;
    batch.clear();
  };
  for (int64_t pos = 0; pos < len; ++pos) {
    const auto [lo, hi] = DrawWindow(c, pos, len, rng);
    Window w{words[pos], {}, std::vector<float>(dim, 0.0f)};
    for (int64_t p = lo; p <= hi; ++p) {
      if (p != pos) w.context.push_back(words[p]);
    }
    if (w.context.empty()) continue;
    for (const int32_t word : w.context) {
      for (size_t i = 0; i < dim; ++i) w.hidden[i] += in[word][i];
    }
    for (float& h : w.hidden) h /= static_cast<float>(w.context.size());
    ++counts.windows;
    batch.push_back(std::move(w));
    if (static_cast<int>(batch.size()) == c.cbow_batch) flush();
  }
  flush();
  return counts;
}

class SgnsKernelCbowBatchTest : public ::testing::TestWithParam<int> {};

TEST_P(SgnsKernelCbowBatchTest, MatchesPlainReferenceAndPlan) {
  // A skewed vocabulary, so that negatives often repeat within a draw and
  // often hit a window's centre word.
  const size_t vocab = 60, dim = 29;
  const NegativeTable negatives = ZipfNegatives(vocab, 500);
  KernelConfig config;
  config.cbow = true;
  config.shared_negatives = true;
  config.cbow_batch = GetParam();
  config.window = 4;
  config.negative = 5;
  config.negatives = &negatives;
  // Three sentences, trained one after another from one rng: 151 windows
  // (a partial last batch for every batch size above 1), one word (no
  // context, so no window and no draw of negatives), then 7 windows.
  RandomProblem p = MakeRandomProblem(vocab, dim, 5, 0.5f, 159, 13);
  Table& in = p.in;
  Table& out = p.out;
  const std::vector<std::vector<int32_t>> sentences = {
      std::vector<int32_t>(p.words.begin(), p.words.begin() + 151),
      std::vector<int32_t>(p.words.begin() + 151, p.words.begin() + 152),
      std::vector<int32_t>(p.words.begin() + 152, p.words.end())};
  config.stride = in.stride();
  const Table in_before = in, out_before = out;

  // A high rate, so that a wrong order of updates (scores or hidden vectors
  // taken after part of the batch has moved) shows well above the sigmoid
  // table's resolution.
  const float alpha = 0.2f;
  uint64_t rng = 23, ref_rng = 23, plan_rng = 23;
  std::vector<float> scratch(ScratchFloats(config));
  KernelStats stats;
  RefCbowCounts ref;
  std::vector<int32_t> planned;
  for (const std::vector<int32_t>& words : sentences) {
    TrainSentence(config, words.data(), words.size(), alpha, &rng, {in.data(), out.data(), nullptr},
                  scratch.data(), &stats);
    const RefCbowCounts r =
        ReferenceCbowBatched(config, words, alpha, &ref_rng, p.ref_in, p.ref_out);
    ref.pairs += r.pairs;
    ref.windows += r.windows;
    ref.batches += r.batches;
    ref.partial_batches += r.partial_batches;
    ref.dropped += r.dropped;
    PlanSentence(config, words.data(), words.size(), &plan_rng, &planned);
    EXPECT_EQ(ref_rng, rng) << "the reference must draw what the kernel drew";
    EXPECT_EQ(plan_rng, rng) << "the plan must draw exactly what the kernel drew";
  }
  // The problem exercises what it should: full and partial batches, and
  // negatives that are a window's own centre word.
  EXPECT_EQ(ref.windows, 151 + 7);
  EXPECT_EQ(ref.batches, (151 + config.cbow_batch - 1) / config.cbow_batch +
                             (7 + config.cbow_batch - 1) / config.cbow_batch);
  if (config.cbow_batch > 1) EXPECT_GT(ref.partial_batches, 0);
  EXPECT_GT(ref.dropped, 0);
  EXPECT_EQ(stats.pairs, ref.pairs) << "a negative that is the centre word is no pair";

  const double max_diff = std::max(MaxDiff(in, p.ref_in), MaxDiff(out, p.ref_out));
  for (size_t r = 0; r < vocab; ++r) {
    bool changed = false;
    for (size_t k = 0; k < dim; ++k) {
      changed |= in.row(r)[k] != in_before.row(r)[k] || out.row(r)[k] != out_before.row(r)[k];
    }
    for (size_t k = dim; k < in.stride(); ++k) {
      ASSERT_EQ(in.row(r)[k], 0.0f) << "padding must stay zero";
      ASSERT_EQ(out.row(r)[k], 0.0f) << "padding must stay zero";
    }
    if (changed) {
      EXPECT_NE(std::find(planned.begin(), planned.end(), static_cast<int32_t>(r)), planned.end())
          << "row " << r << " changed but was not planned";
    }
  }
  EXPECT_LT(max_diff, 2e-2);  // Table sigmoid against exp, as above.
}

INSTANTIATE_TEST_SUITE_P(BatchSizes, SgnsKernelCbowBatchTest, ::testing::Values(1, 2, 3, 5));

TEST(SgnsKernelCbowBatchOfOneTest, MatchesPerWindowReference) {
  // A large, nearly flat vocabulary: a window's negatives rarely repeat, so
  // the per-window reference (which updates one target after another) and
  // the batch (which scores all targets from the old rows) agree.
  const size_t vocab = 2000, dim = 29;
  std::vector<uint64_t> counts(vocab);
  for (size_t i = 0; i < vocab; ++i) counts[i] = 100 + 10 * (i % 10);
  NegativeTable negatives(counts);
  KernelConfig batched;
  batched.cbow = true;
  batched.shared_negatives = true;
  batched.cbow_batch = 1;
  batched.window = 4;
  batched.negative = 5;
  batched.negatives = &negatives;
  KernelConfig per_window = batched;
  per_window.shared_negatives = false;
  RandomProblem p = MakeRandomProblem(vocab, dim, 8, 0.5f, 200, 21);
  batched.stride = per_window.stride = p.in.stride();
  Table in_unbatched = p.in, out_unbatched = p.out;

  const float alpha = 0.1f;  // High, so that errors from moved rows would show.
  uint64_t rng = 31, unbatched_rng = 31;
  std::vector<float> scratch(ScratchFloats(batched));
  KernelStats stats, unbatched_stats;
  TrainSentence(batched, p.words.data(), p.words.size(), alpha, &rng,
                {p.in.data(), p.out.data(), nullptr}, scratch.data(), &stats);
  Reference(per_window, p.words, alpha, 31, p.ref_in, p.ref_out);
  // The kernel's own per-window CBOW draws and counts the same.
  TrainSentence(per_window, p.words.data(), p.words.size(), alpha, &unbatched_rng,
                {in_unbatched.data(), out_unbatched.data(), nullptr}, scratch.data(),
                &unbatched_stats);
  EXPECT_EQ(rng, unbatched_rng);
  EXPECT_EQ(stats.pairs, unbatched_stats.pairs);
  EXPECT_GT(stats.pairs, 0u);
  const double max_diff = std::max(MaxDiff(p.in, p.ref_in), MaxDiff(p.out, p.ref_out));
  EXPECT_LT(max_diff, 2e-2);  // Table sigmoid against exp, as above.
}

// One binary carries several SIMD targets (AVX-512, AVX2, SSE4, ... as
// compiled) and picks the best the CPU has. Each target the CPU supports is
// forced in turn, and each kernel on it is checked against its plain
// reference, so that a target other than this machine's best cannot go wrong
// unseen.
TEST(SgnsKernelTargetsTest, EverySupportedTargetMatchesTheReferences) {
  const std::vector<int64_t> targets = hwy::SupportedAndGeneratedTargets();
  ASSERT_FALSE(targets.empty());
  const size_t vocab = 60, dim = 29;
  const NegativeTable negatives = ZipfNegatives(vocab, 500);
  for (int64_t target : targets) {
    SCOPED_TRACE(hwy::TargetName(target));
    hwy::SetSupportedTargetsForTest(target);
    EXPECT_STREQ(KernelTarget(), hwy::TargetName(target));
    for (const bool cbow : {false, true}) {
      for (const bool shared : {false, true}) {
        SCOPED_TRACE(std::string(cbow ? "cbow" : "skip-gram") + (shared ? " batched" : " pair"));
        KernelConfig config;
        config.cbow = cbow;
        config.window = 4;
        config.negative = 5;
        config.negatives = &negatives;
        config.shared_negatives = shared;
        RandomProblem p = MakeRandomProblem(vocab, dim, 3, 0.5f, 120, 11);
        config.stride = p.in.stride();
        uint64_t rng = 17;
        std::vector<float> scratch(ScratchFloats(config));
        KernelStats stats;
        TrainSentence(config, p.words.data(), p.words.size(), 0.05f, &rng,
                      {p.in.data(), p.out.data(), nullptr}, scratch.data(), &stats);
        uint64_t ref_rng = 17;
        if (!shared) {
          Reference(config, p.words, 0.05f, 17, p.ref_in, p.ref_out);
        } else if (cbow) {
          ReferenceCbowBatched(config, p.words, 0.05f, &ref_rng, p.ref_in, p.ref_out);
        } else {
          ReferenceShared(config, p.words, 0.05f, 17, p.ref_in, p.ref_out);
        }
        EXPECT_GT(stats.pairs, 0u);
        EXPECT_LT(std::max(MaxDiff(p.in, p.ref_in), MaxDiff(p.out, p.ref_out)), 2e-2);
      }
    }
  }
  hwy::SetSupportedTargetsForTest(0);
}

// With marks (a full replica's Replica::touched), every row the kernel
// changes is marked, in both tables and every kernel family; with a large
// vocabulary most rows are neither changed nor marked, the marked ones are
// the changed ones (bar a gradient of 0), and marking changes
// nothing of the training.
TEST(SgnsKernelMarksTest, EveryChangedRowIsMarked) {
  const size_t vocab = 2000, dim = 16;
  const NegativeTable negatives = ZipfNegatives(vocab, 100000);
  for (const bool cbow : {false, true}) {
    for (const bool shared : {false, true}) {
      SCOPED_TRACE(std::string(cbow ? "cbow" : "skip-gram") + (shared ? " batched" : " pair"));
      KernelConfig config;
      config.cbow = cbow;
      config.window = 3;
      config.negative = 5;
      config.negatives = &negatives;
      config.shared_negatives = shared;
      RandomProblem marked = MakeRandomProblem(vocab, dim, 3, 0.5f, 40, 11);
      RandomProblem plain = MakeRandomProblem(vocab, dim, 3, 0.5f, 40, 11);
      config.stride = marked.in.stride();
      std::vector<uint8_t> touched_in(vocab), touched_out(vocab);
      std::vector<float> scratch(ScratchFloats(config));
      KernelStats stats;
      uint64_t rng = 17;
      TrainSentence(
          config, marked.words.data(), marked.words.size(), 0.05f, &rng,
          {marked.in.data(), marked.out.data(), nullptr, touched_in.data(), touched_out.data()},
          scratch.data(), &stats);
      rng = 17;
      TrainSentence(config, plain.words.data(), plain.words.size(), 0.05f, &rng,
                    {plain.in.data(), plain.out.data(), nullptr}, scratch.data(), &stats);
      size_t changed = 0, marks = 0;
      for (size_t w = 0; w < vocab; ++w) {
        for (const bool in : {true, false}) {
          const Table& table = in ? marked.in : marked.out;
          const RefRows& before = in ? marked.ref_in : marked.ref_out;
          const bool mark = (in ? touched_in : touched_out)[w] != 0;
          marks += mark;
          const std::vector<float> row(table.row(w), table.row(w) + dim);
          if (row == before[w]) continue;
          ++changed;
          EXPECT_TRUE(mark) << (in ? "input" : "output") << " row " << w;
        }
      }
      EXPECT_GT(changed, 40u);
      // Marked rows are changed rows, bar a few (a gradient of 0).
      EXPECT_LE(marks, changed + changed / 20);
      EXPECT_LT(marks, vocab);
      EXPECT_EQ(MaxDiff(marked.in, RefRowsOf(plain.in)), 0.0);
      EXPECT_EQ(MaxDiff(marked.out, RefRowsOf(plain.out)), 0.0);
    }
  }
}

// ---------------------------------------------------------------------------
// AdaGrad in place (RowSource::in_state/out_state): every update of the SGD
// kernels becomes one AdaGrad step of its row, checked against plain loops
// that compute the same changes and apply AdaGrad::ApplyRow (the store's own
// rule) to each, in the kernel's order.

// The kernel's sigmoid, from its table (word2vec.c's: 1024 steps over
// [-6, 6]), so that the references below see the kernel's gradients and only
// the rounding of sums and of AdaGrad's 1 / sqrt can differ.
float TableGradient(float f, float label) {
  if (f >= 6.0f || f <= -6.0f) return 0.0f;
  const int i = static_cast<int>((f + 6.0f) * (1024 / 12.0f));
  const double x = (static_cast<double>(i) / 1024 * 2.0 - 1.0) * 6.0;
  return label - static_cast<float>(1.0 / (1.0 + std::exp(-x)));
}

// One AdaGrad step moving `row` along `change` (a gradient times -1).
void RefStep(std::vector<float>& row, std::vector<float>& state, const std::vector<float>& change,
             float lr) {
  static const AdaGrad rule;
  std::vector<float> gradient(change.size());
  for (size_t k = 0; k < change.size(); ++k) gradient[k] = -change[k];
  rule.ApplyRow(row.data(), state.data(), gradient.data(), row.size(), lr);
}

struct RefAdaGradRows {
  RefRows in, out, in_state, out_state;
};

RefAdaGradRows StartAdaGrad(const RandomProblem& p) {
  const size_t dim = p.ref_in[0].size();
  const RefRows zero(p.ref_in.size(), std::vector<float>(dim, 0.0f));
  return {p.ref_in, p.ref_out, zero, zero};
}

std::vector<float> Scaled(float a, const std::vector<float>& x) {
  std::vector<float> y(x.size());
  for (size_t k = 0; k < x.size(); ++k) y[k] = a * x[k];
  return y;
}

float RefDot(const std::vector<float>& a, const std::vector<float>& b) {
  float f = 0;
  for (size_t k = 0; k < a.size(); ++k) f += a[k] * b[k];
  return f;
}

// word2vec.c's per-pair updates (--kernel pair), each an AdaGrad step.
void ReferenceAdaGradPairs(const KernelConfig& c, const std::vector<int32_t>& words, float lr,
                           uint64_t rng, RefAdaGradRows& r) {
  const size_t dim = r.in[0].size();
  const int64_t len = static_cast<int64_t>(words.size());
  for (int64_t pos = 0; pos < len; ++pos) {
    const int32_t word = words[pos];
    const auto [lo, hi] = DrawWindow(c, pos, len, &rng);
    auto train = [&](const std::vector<float>& input) {
      std::vector<float> error(dim, 0.0f);
      for (int d = 0; d <= c.negative; ++d) {
        int32_t target = word;
        if (d > 0) {
          target = c.negatives->Sample(NextRandom(&rng));
          if (target == word) continue;
        }
        const float g = TableGradient(RefDot(input, r.out[target]), d == 0 ? 1.0f : 0.0f);
        for (size_t k = 0; k < dim; ++k) error[k] += g * r.out[target][k];
        RefStep(r.out[target], r.out_state[target], Scaled(g, input), lr);
      }
      return error;
    };
    if (c.cbow) {
      std::vector<float> hidden(dim, 0.0f);
      int count = 0;
      for (int64_t p = lo; p <= hi; ++p) {
        if (p == pos) continue;
        for (size_t k = 0; k < dim; ++k) hidden[k] += r.in[words[p]][k];
        ++count;
      }
      if (count == 0) continue;
      for (float& h : hidden) h /= static_cast<float>(count);
      const std::vector<float> error = train(hidden);
      for (int64_t p = lo; p <= hi; ++p) {
        if (p != pos) RefStep(r.in[words[p]], r.in_state[words[p]], error, lr);
      }
      continue;
    }
    for (int64_t p = lo; p <= hi; ++p) {
      if (p == pos) continue;
      const std::vector<float> error = train(r.in[words[p]]);
      RefStep(r.in[words[p]], r.in_state[words[p]], error, lr);
    }
  }
}

// Skip-gram with negatives shared across each window: every change from the
// old rows, then a step per input position, then per target position.
void ReferenceAdaGradShared(const KernelConfig& c, const std::vector<int32_t>& words, float lr,
                            uint64_t rng, RefAdaGradRows& r) {
  const size_t dim = r.in[0].size();
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
        g[i][j] = TableGradient(RefDot(r.in[inputs[i]], r.out[targets[j]]), j == 0 ? 1.0f : 0.0f);
      }
    }
    std::vector<std::vector<float>> to_in(inputs.size(), std::vector<float>(dim, 0.0f));
    std::vector<std::vector<float>> to_out(targets.size(), std::vector<float>(dim, 0.0f));
    for (size_t i = 0; i < inputs.size(); ++i) {
      for (size_t j = 0; j < targets.size(); ++j) {
        for (size_t k = 0; k < dim; ++k) {
          to_in[i][k] += g[i][j] * r.out[targets[j]][k];
          to_out[j][k] += g[i][j] * r.in[inputs[i]][k];
        }
      }
    }
    for (size_t i = 0; i < inputs.size(); ++i) {
      RefStep(r.in[inputs[i]], r.in_state[inputs[i]], to_in[i], lr);
    }
    for (size_t j = 0; j < targets.size(); ++j) {
      RefStep(r.out[targets[j]], r.out_state[targets[j]], to_out[j], lr);
    }
  }
}

// CBOW with cbow_batch windows sharing a draw of negatives: each window's
// mean as its rows stand when it is reached; for the batch, every score from
// the old output rows; then a step per window's centre row, one per negative
// (its change summed over the batch's windows, with a single window the
// negative's own), and per context position its window's error.
void ReferenceAdaGradCbow(const KernelConfig& c, const std::vector<int32_t>& words, float lr,
                          uint64_t rng, RefAdaGradRows& r) {
  const size_t dim = r.in[0].size();
  const int64_t len = static_cast<int64_t>(words.size());
  struct Window {
    int32_t centre;
    std::vector<int32_t> context;
    std::vector<float> hidden;
  };
  std::vector<Window> batch;
  auto flush = [&]() {
    if (batch.empty()) return;
    std::vector<int32_t> negs;
    for (int k = 0; k < c.negative; ++k) negs.push_back(c.negatives->Sample(NextRandom(&rng)));
    std::vector<std::vector<float>> g(batch.size(), std::vector<float>(negs.size() + 1));
    std::vector<std::vector<float>> error(batch.size(), std::vector<float>(dim, 0.0f));
    for (size_t b = 0; b < batch.size(); ++b) {
      const Window& w = batch[b];
      for (size_t j = 0; j <= negs.size(); ++j) {
        const int32_t target = j == 0 ? w.centre : negs[j - 1];
        if (j > 0 && target == w.centre) continue;  // No negative for this window.
        g[b][j] = TableGradient(RefDot(w.hidden, r.out[target]), j == 0 ? 1.0f : 0.0f);
        for (size_t k = 0; k < dim; ++k) error[b][k] += g[b][j] * r.out[target][k];
      }
    }
    for (size_t b = 0; b < batch.size(); ++b) {
      RefStep(r.out[batch[b].centre], r.out_state[batch[b].centre],
              Scaled(g[b][0], batch[b].hidden), lr);
    }
    for (size_t k = 0; k < negs.size(); ++k) {
      std::vector<float> change(dim, 0.0f);
      for (size_t b = 0; b < batch.size(); ++b) {
        for (size_t i = 0; i < dim; ++i) change[i] += g[b][k + 1] * batch[b].hidden[i];
      }
      RefStep(r.out[negs[k]], r.out_state[negs[k]], change, lr);
    }
    for (size_t b = 0; b < batch.size(); ++b) {
      for (const int32_t word : batch[b].context) {
        RefStep(r.in[word], r.in_state[word], error[b], lr);
      }
    }
    batch.clear();
  };
  for (int64_t pos = 0; pos < len; ++pos) {
    const auto [lo, hi] = DrawWindow(c, pos, len, &rng);
    Window w{words[pos], {}, std::vector<float>(dim, 0.0f)};
    for (int64_t p = lo; p <= hi; ++p) {
      if (p != pos) w.context.push_back(words[p]);
    }
    if (w.context.empty()) continue;
    for (const int32_t word : w.context) {
      for (size_t i = 0; i < dim; ++i) w.hidden[i] += r.in[word][i];
    }
    for (float& h : w.hidden) h /= static_cast<float>(w.context.size());
    batch.push_back(std::move(w));
    if (static_cast<int>(batch.size()) == c.cbow_batch) flush();
  }
  flush();
}

struct AdaGradCase {
  bool cbow, shared;
  int cbow_batch;
};

const AdaGradCase kAdaGradCases[] = {
    {false, false, 1}, {true, false, 1}, {false, true, 1}, {true, true, 1}, {true, true, 3}};

std::string NameOf(const AdaGradCase& k) {
  return std::string(k.cbow ? "cbow" : "skip-gram") + (k.shared ? " batched " : " pair ") +
         std::to_string(k.cbow_batch);
}

// How far the in-place kernel lands from the plain reference.
struct AdaGradGap {
  double rows = 0;   // Largest difference of a row value.
  double state = 0;  // Largest relative difference of an accumulator.
  double sgd = 0;    // Largest difference between SGD's rows and AdaGrad's.
  uint64_t pairs = 0;
};

AdaGradGap RunAdaGradCase(const AdaGradCase& k, size_t vocab, const NegativeTable& negatives,
                          size_t sentence, uint64_t seed) {
  const size_t dim = 29;
  const float lr = 0.05f;
  KernelConfig config;
  config.cbow = k.cbow;
  config.window = 4;
  config.negative = 5;
  config.negatives = &negatives;
  config.shared_negatives = k.shared;
  config.cbow_batch = k.cbow_batch;
  RandomProblem p = MakeRandomProblem(vocab, dim, seed, 0.5f, sentence, seed + 8);
  config.stride = p.in.stride();
  RefAdaGradRows ref = StartAdaGrad(p);
  Table sgd_in = p.in, sgd_out = p.out;
  Table in_state("in_state", vocab, dim), out_state("out_state", vocab, dim);
  std::vector<float> scratch(ScratchFloats(config));
  KernelStats stats;
  RowSource rows{p.in.data(), p.out.data(), nullptr};
  rows.in_state = in_state.data();
  rows.out_state = out_state.data();
  uint64_t rng = seed + 14;
  TrainSentence(config, p.words.data(), p.words.size(), lr, &rng, rows, scratch.data(), &stats);
  if (!k.shared) {
    ReferenceAdaGradPairs(config, p.words, lr, seed + 14, ref);
  } else if (k.cbow) {
    ReferenceAdaGradCbow(config, p.words, lr, seed + 14, ref);
  } else {
    ReferenceAdaGradShared(config, p.words, lr, seed + 14, ref);
  }
  AdaGradGap gap;
  gap.pairs = stats.pairs;
  gap.rows = std::max(MaxDiff(p.in, ref.in), MaxDiff(p.out, ref.out));
  for (size_t r = 0; r < vocab; ++r) {
    for (size_t c = 0; c < dim; ++c) {
      for (const bool in : {true, false}) {
        const double want = (in ? ref.in_state : ref.out_state)[r][c];
        const double got = (in ? in_state : out_state).row(r)[c];
        if (want == 0) {
          EXPECT_EQ(got, 0.0) << "an accumulator the reference left at 0";
          continue;
        }
        gap.state = std::max(gap.state, std::fabs(got - want) / want);
      }
    }
    for (size_t c = dim; c < p.in.stride(); ++c) {
      EXPECT_EQ(p.in.row(r)[c], 0.0f) << "padding must stay zero";
      EXPECT_EQ(in_state.row(r)[c], 0.0f) << "padding must stay zero";
      EXPECT_EQ(out_state.row(r)[c], 0.0f) << "padding must stay zero";
    }
  }
  rng = seed + 14;
  TrainSentence(config, p.words.data(), p.words.size(), lr, &rng,
                {sgd_in.data(), sgd_out.data(), nullptr}, scratch.data(), &stats);
  gap.sgd = std::max(MaxDiff(sgd_in, ref.in), MaxDiff(sgd_out, ref.out));
  return gap;
}

// Sentences of two words over a large vocabulary: nearly every row takes
// one step (a few take two), so nothing compounds and the kernel must land
// within the error of its 1 / sqrt estimate (1.5 x 2^-12 of a step of at
// most lr = 0.05) of AdaGrad::ApplyRow, and its accumulators within twice
// that (a second step's gradient carries the first step's error), on every
// SIMD target this CPU runs.
TEST(SgnsKernelAdaGradTest, OneStepPerRowMatchesTheRuleOnEveryTarget) {
  const size_t vocab = 2000;
  std::vector<uint64_t> flat(vocab);
  for (size_t i = 0; i < vocab; ++i) flat[i] = 100 + 10 * (i % 10);
  const NegativeTable negatives(flat);
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    SCOPED_TRACE(hwy::TargetName(target));
    hwy::SetSupportedTargetsForTest(target);
    for (const AdaGradCase& k : kAdaGradCases) {
      SCOPED_TRACE(NameOf(k));
      for (uint64_t seed = 1; seed <= 6; ++seed) {
        const AdaGradGap gap = RunAdaGradCase(k, vocab, negatives, 2, seed);
        EXPECT_GT(gap.pairs, 0u);
        EXPECT_LT(gap.rows, 0.05 * 4e-4);
        EXPECT_LT(gap.state, 1e-3);
        EXPECT_GT(gap.sgd, 1e-2);  // SGD would be far off.
      }
    }
  }
  hwy::SetSupportedTargetsForTest(0);
}

// Long sentences over a small vocabulary: rows take many steps, each window's
// changes from the rows as the windows before left them. AdaGrad's first
// step of a value is lr times the sign of its gradient, so where a gradient
// is near 0 the estimate's error can flip it; the kernel still stays as near
// the reference as the SGD kernels do to theirs (2e-2), and SGD's rows stay
// far from both.
TEST(SgnsKernelAdaGradTest, LongSentencesFollowTheRuleOnEveryTarget) {
  const size_t vocab = 60;
  const NegativeTable negatives = ZipfNegatives(vocab, 500);
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    SCOPED_TRACE(hwy::TargetName(target));
    hwy::SetSupportedTargetsForTest(target);
    for (const AdaGradCase& k : kAdaGradCases) {
      SCOPED_TRACE(NameOf(k));
      const AdaGradGap gap = RunAdaGradCase(k, vocab, negatives, 150, 3);
      EXPECT_GT(gap.pairs, 500u);
      EXPECT_LT(gap.rows, 2e-2);
      EXPECT_LT(gap.state, 2e-2);
      EXPECT_GT(gap.sgd, 0.1);
    }
  }
  hwy::SetSupportedTargetsForTest(0);
}

}  // namespace
}  // namespace deepdist::word2vec
