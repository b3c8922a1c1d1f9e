// Sampling tables of word2vec: negatives drawn from the unigram distribution
// raised to 3/4 (Mikolov et al. 2013), and frequent-word subsampling.
//
// NegativeTable uses Walker's alias method: O(1) per draw from one 64-bit
// random number and O(vocabulary) memory, where word2vec.c's lookup table
// takes 10^8 ints. Immutable after construction; thread-safe to sample.
#ifndef DEEPDIST_SRC_WORD2VEC_NEGATIVE_TABLE_H_
#define DEEPDIST_SRC_WORD2VEC_NEGATIVE_TABLE_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace deepdist::word2vec {

// splitmix64: a fast generator whose every output bit is usable.
inline uint64_t NextRandom(uint64_t* state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

class NegativeTable {
 public:
  explicit NegativeTable(const std::vector<uint64_t>& counts, double power = 0.75);

  // A word id drawn with probability count^power / sum(count^power).
  int32_t Sample(uint64_t random) const {
    const uint32_t slot = static_cast<uint32_t>(((random & 0xFFFFFFFFull) * size_) >> 32);
    const Cell& cell = cells_[slot];
    // Branch-free: the coin is a fair random bit, so a branch on it would be
    // mispredicted half the time.
    const int32_t keep =
        -static_cast<int32_t>(static_cast<uint32_t>(random >> 32) < cell.threshold);
    return cell.alias ^ ((static_cast<int32_t>(slot) ^ cell.alias) & keep);
  }
  // The exact probability Sample aims for (up to 2^-32 per draw).
  double Probability(int32_t id) const { return probability_[id]; }
  size_t size() const { return size_; }

 private:
  struct Cell {
    uint32_t threshold;  // Keep the slot's own word when the coin is below.
    int32_t alias;
  };
  uint64_t size_ = 0;
  std::vector<Cell> cells_;
  std::vector<double> probability_;
};

// Per word, the chance (scaled to 2^32) that one occurrence is kept under
// word2vec's subsampling: keep = (sqrt(f / t) + 1) * t / f with f the word's
// count and t = sample * train_words, capped at 1. sample <= 0 keeps all.
std::vector<uint32_t> SubsampleThresholds(const std::vector<uint64_t>& counts, double sample,
                                          uint64_t train_words);

inline bool KeepWord(uint32_t threshold, uint64_t random) {
  return threshold == 0xFFFFFFFFu || static_cast<uint32_t>(random) < threshold;
}

}  // namespace deepdist::word2vec

#endif  // DEEPDIST_SRC_WORD2VEC_NEGATIVE_TABLE_H_
