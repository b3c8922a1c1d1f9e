#include "src/word2vec/negative_table.h"

#include <algorithm>
#include <cmath>

#include "deepdist/status.h"

namespace deepdist::word2vec {

NegativeTable::NegativeTable(const std::vector<uint64_t>& counts, double power) {
  size_ = counts.size();
  DD_CHECK(size_ > 0 && size_ < (1ull << 31));
  probability_.resize(size_);
  double total = 0;
  for (size_t i = 0; i < size_; ++i) {
    probability_[i] = std::pow(static_cast<double>(counts[i]), power);
    total += probability_[i];
  }
  DD_CHECK(total > 0);
  for (double& p : probability_) p /= total;

  // Vose's construction: scaled weights n*p split into small (<1) and large.
  std::vector<double> scaled(size_);
  std::vector<uint32_t> small, large;
  for (size_t i = 0; i < size_; ++i) {
    scaled[i] = probability_[i] * static_cast<double>(size_);
    (scaled[i] < 1.0 ? small : large).push_back(static_cast<uint32_t>(i));
  }
  cells_.assign(size_, Cell{0xFFFFFFFFu, 0});
  for (size_t i = 0; i < size_; ++i) cells_[i].alias = static_cast<int32_t>(i);
  while (!small.empty() && !large.empty()) {
    const uint32_t s = small.back();
    small.pop_back();
    const uint32_t l = large.back();
    cells_[s].threshold = static_cast<uint32_t>(std::min(scaled[s] * 4294967296.0, 4294967295.0));
    cells_[s].alias = static_cast<int32_t>(l);
    scaled[l] = (scaled[l] + scaled[s]) - 1.0;
    if (scaled[l] < 1.0) {
      large.pop_back();
      small.push_back(l);
    }
  }
  // What is left has weight 1 up to rounding: always keep its own word.
}

std::vector<uint32_t> SubsampleThresholds(const std::vector<uint64_t>& counts, double sample,
                                          uint64_t train_words) {
  std::vector<uint32_t> keep(counts.size(), 0xFFFFFFFFu);
  if (sample <= 0) return keep;
  const double t = sample * static_cast<double>(train_words);
  for (size_t i = 0; i < counts.size(); ++i) {
    const double f = static_cast<double>(counts[i]);
    const double p = (std::sqrt(f / t) + 1.0) * t / f;
    if (p < 1.0) keep[i] = static_cast<uint32_t>(p * 4294967296.0);
  }
  return keep;
}

}  // namespace deepdist::word2vec
