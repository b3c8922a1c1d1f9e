// NegativeTable and subsampling against plain references of word2vec's
// formulas, and their samplers against those probabilities.
#include "src/word2vec/negative_table.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

namespace deepdist::word2vec {
namespace {

// Zipf-like counts: the i-th word occurs about top / (i + 1) times.
std::vector<uint64_t> ZipfCounts(size_t n, uint64_t top) {
  std::vector<uint64_t> counts(n);
  for (size_t i = 0; i < n; ++i) counts[i] = top / (i + 1) + 1;
  return counts;
}

std::vector<double> ReferenceProbabilities(const std::vector<uint64_t>& counts, double power) {
  std::vector<double> p(counts.size());
  double sum = 0;
  for (size_t i = 0; i < counts.size(); ++i) sum += std::pow(static_cast<double>(counts[i]), power);
  for (size_t i = 0; i < counts.size(); ++i) {
    p[i] = std::pow(static_cast<double>(counts[i]), power) / sum;
  }
  return p;
}

TEST(NegativeTableTest, ProbabilityIsCountToThePowerOverSum) {
  const std::vector<std::vector<uint64_t>> vectors = {
      ZipfCounts(1000, 1000000), {1}, {5, 5, 5, 5}, {1, 2, 3, 1000000000000ull}, {7, 1, 7, 2}};
  for (const auto& counts : vectors) {
    for (double power : {0.75, 1.0, 0.5}) {
      const NegativeTable table(counts, power);
      ASSERT_EQ(table.size(), counts.size());
      const std::vector<double> ref = ReferenceProbabilities(counts, power);
      double total = 0;
      for (size_t i = 0; i < counts.size(); ++i) {
        EXPECT_NEAR(table.Probability(static_cast<int32_t>(i)), ref[i], 1e-12 * ref[i] + 1e-300)
            << "word " << i << " of " << counts.size() << ", power " << power;
        total += table.Probability(static_cast<int32_t>(i));
      }
      EXPECT_NEAR(total, 1.0, 1e-9);
    }
  }
  // The default power is word2vec's 3/4.
  const std::vector<uint64_t> counts = {16, 1};
  const NegativeTable table(counts);
  EXPECT_NEAR(table.Probability(0), 8.0 / 9.0, 1e-12);
  EXPECT_NEAR(table.Probability(1), 1.0 / 9.0, 1e-12);
}

// Draws `n` samples with splitmix64 and checks every word's frequency is
// within 5 standard errors of Probability.
void ExpectSamplesMatch(const NegativeTable& table, const std::vector<double>& ref, size_t n,
                        uint64_t seed) {
  std::vector<uint64_t> seen(table.size(), 0);
  uint64_t rng = seed;
  for (size_t i = 0; i < n; ++i) {
    const int32_t w = table.Sample(NextRandom(&rng));
    ASSERT_GE(w, 0);
    ASSERT_LT(static_cast<size_t>(w), table.size());
    ++seen[w];
  }
  double chi2 = 0;
  size_t cells = 0;
  for (size_t i = 0; i < table.size(); ++i) {
    const double p = ref[i];
    const double expected = p * static_cast<double>(n);
    const double se = std::sqrt(static_cast<double>(n) * p * (1.0 - p));
    if (p == 0) {
      EXPECT_EQ(seen[i], 0u) << "word " << i << " has probability 0";
      continue;
    }
    EXPECT_NEAR(static_cast<double>(seen[i]), expected, 5.0 * se + 1.0)
        << "word " << i << ": p = " << p;
    if (expected > 5) {
      chi2 += (static_cast<double>(seen[i]) - expected) *
              (static_cast<double>(seen[i]) - expected) / expected;
      ++cells;
    }
  }
  // Chi-square over the cells: mean `cells - 1`, sd sqrt(2 (cells - 1)).
  if (cells > 1) {
    const double dof = static_cast<double>(cells - 1);
    EXPECT_LT(chi2, dof + 6.0 * std::sqrt(2.0 * dof)) << cells << " cells";
  }
}

TEST(NegativeTableTest, SampleFrequenciesMatchProbabilityForZipfCounts) {
  const std::vector<uint64_t> counts = ZipfCounts(300, 2000000);
  const NegativeTable table(counts);
  ExpectSamplesMatch(table, ReferenceProbabilities(counts, 0.75), 2000000, 7);
}

TEST(NegativeTableTest, SampleFrequenciesMatchForUnevenAndZeroCounts) {
  // A huge count beside tiny ones, and a zero count that must never be drawn.
  const std::vector<uint64_t> counts = {1, 5000000, 0, 3, 1, 40, 40, 1000};
  const NegativeTable table(counts);
  const std::vector<double> ref = ReferenceProbabilities(counts, 0.75);
  EXPECT_EQ(table.Probability(2), 0.0);
  ExpectSamplesMatch(table, ref, 2000000, 99);
}

TEST(NegativeTableTest, SingleWordAlwaysSampled) {
  const NegativeTable table(std::vector<uint64_t>{42});
  uint64_t rng = 3;
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(table.Sample(NextRandom(&rng)), 0);
  EXPECT_EQ(table.Sample(0), 0);
  EXPECT_EQ(table.Sample(~0ull), 0);
}

TEST(NegativeTableTest, ExtremeRandomValuesStayInRange) {
  const std::vector<uint64_t> counts = ZipfCounts(37, 1000);
  const NegativeTable table(counts);
  for (uint64_t r : {0ull, ~0ull, 0xFFFFFFFFull, 0xFFFFFFFF00000000ull, 0x8000000080000000ull}) {
    const int32_t w = table.Sample(r);
    EXPECT_GE(w, 0);
    EXPECT_LT(w, 37);
  }
}

// word2vec's subsampling, written out.
double ReferenceKeep(uint64_t count, double sample, uint64_t train_words) {
  const double t = sample * static_cast<double>(train_words);
  const double f = static_cast<double>(count);
  return std::min(1.0, (std::sqrt(f / t) + 1.0) * t / f);
}

TEST(SubsampleTest, ThresholdsFollowTheFormula) {
  std::vector<uint64_t> counts = ZipfCounts(2000, 5000000);
  for (uint64_t c : {1, 2, 10, 100, 1000}) counts.push_back(c);
  uint64_t train_words = 0;
  for (uint64_t c : counts) train_words += c;
  for (double sample : {1e-3, 1e-4, 1e-5}) {
    const std::vector<uint32_t> keep = SubsampleThresholds(counts, sample, train_words);
    ASSERT_EQ(keep.size(), counts.size());
    size_t below_one = 0, capped = 0;
    for (size_t i = 0; i < counts.size(); ++i) {
      const double p = ReferenceKeep(counts[i], sample, train_words);
      if (p >= 1.0) {
        EXPECT_EQ(keep[i], 0xFFFFFFFFu) << "word " << i << " must always be kept";
        ++capped;
      } else {
        EXPECT_NEAR(static_cast<double>(keep[i]) / 4294967296.0, p, 1e-9) << "word " << i;
        ++below_one;
      }
    }
    // Both branches are exercised.
    EXPECT_GT(below_one, 0u) << sample;
    EXPECT_GT(capped, 0u) << sample;
  }
}

TEST(SubsampleTest, ThresholdsAreMonotoneInCount) {
  std::vector<uint64_t> counts;
  for (uint64_t c = 1; c < 2000000; c = c * 3 / 2 + 1) counts.push_back(c);
  const std::vector<uint32_t> keep = SubsampleThresholds(counts, 1e-3, 10000000);
  for (size_t i = 1; i < counts.size(); ++i) EXPECT_LE(keep[i], keep[i - 1]) << counts[i];
}

TEST(SubsampleTest, SampleZeroOrNegativeKeepsAll) {
  const std::vector<uint64_t> counts = ZipfCounts(100, 1000000);
  for (double sample : {0.0, -1e-4}) {
    const std::vector<uint32_t> keep = SubsampleThresholds(counts, sample, 12345678);
    ASSERT_EQ(keep.size(), counts.size());
    for (uint32_t k : keep) EXPECT_EQ(k, 0xFFFFFFFFu);
  }
}

TEST(SubsampleTest, KeepWordRateMatchesThreshold) {
  const std::vector<uint64_t> counts = {1000000, 200000, 30000, 5000, 10};
  const uint64_t train_words = 2000000;
  const std::vector<uint32_t> keep = SubsampleThresholds(counts, 1e-4, train_words);
  const size_t n = 1000000;
  uint64_t rng = 2024;
  for (size_t i = 0; i < counts.size(); ++i) {
    const double p = ReferenceKeep(counts[i], 1e-4, train_words);
    size_t kept = 0;
    for (size_t k = 0; k < n; ++k) kept += KeepWord(keep[i], NextRandom(&rng)) ? 1 : 0;
    if (p >= 1.0) {
      EXPECT_EQ(kept, n) << "word " << i;
      continue;
    }
    const double se = std::sqrt(static_cast<double>(n) * p * (1.0 - p));
    EXPECT_NEAR(static_cast<double>(kept), p * static_cast<double>(n), 5.0 * se + 1.0)
        << "word " << i << ": p = " << p;
  }
}

TEST(SubsampleTest, KeepWordEdgeCases) {
  // Threshold 0xFFFFFFFF keeps even the largest random value.
  EXPECT_TRUE(KeepWord(0xFFFFFFFFu, 0xFFFFFFFFull));
  EXPECT_TRUE(KeepWord(0xFFFFFFFFu, ~0ull));
  // Threshold 0 keeps nothing; otherwise the low 32 bits are compared.
  EXPECT_FALSE(KeepWord(0, 0));
  EXPECT_FALSE(KeepWord(0, ~0ull));
  EXPECT_TRUE(KeepWord(100, 99));
  EXPECT_FALSE(KeepWord(100, 100));
  EXPECT_TRUE(KeepWord(100, (5ull << 32) | 99));
}

}  // namespace
}  // namespace deepdist::word2vec
