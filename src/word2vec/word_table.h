// WordTable: an open-addressing hash table from words to dense ids 0..n-1.
//
// Word lookup is on the hot path of vocabulary counting and of training (every
// corpus token is looked up once per epoch), so this avoids std::unordered_map's
// per-node allocation and takes std::string_view keys without copying.
// Not thread-safe for Insert; Find is safe from many threads once built.
#ifndef DEEPDIST_SRC_WORD2VEC_WORD_TABLE_H_
#define DEEPDIST_SRC_WORD2VEC_WORD_TABLE_H_

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace deepdist::word2vec {

class WordTable {
 public:
  WordTable() { slots_.assign(1024, -1); }

  static uint64_t Hash(std::string_view w) {
    uint64_t h = 1469598103934665603ull;  // FNV-1a.
    for (char c : w) {
      h ^= static_cast<unsigned char>(c);
      h *= 1099511628211ull;
    }
    return h ^ (h >> 29);
  }

  int32_t Find(std::string_view w) const {
    const uint64_t mask = slots_.size() - 1;
    for (uint64_t i = Hash(w) & mask;; i = (i + 1) & mask) {
      const int32_t id = slots_[i];
      if (id < 0) return -1;
      if (words_[id] == w) return id;
    }
  }

  // The id of `w`, added with the next id if new.
  int32_t Insert(std::string_view w) {
    if ((words_.size() + 1) * 2 > slots_.size()) Grow();
    const uint64_t mask = slots_.size() - 1;
    for (uint64_t i = Hash(w) & mask;; i = (i + 1) & mask) {
      const int32_t id = slots_[i];
      if (id < 0) {
        slots_[i] = static_cast<int32_t>(words_.size());
        words_.emplace_back(w);
        return slots_[i];
      }
      if (words_[id] == w) return id;
    }
  }

  // Keeps only the words for which keep(id) is true, renumbered 0..n-1 in
  // their old order; keep is called once per id, in increasing order. The
  // strings are moved, not copied, and the slots keep their size, so a
  // pruning (word2vec.c's ReduceVocab) needs no memory beyond the table's.
  template <typename Keep>
  void Retain(Keep keep) {
    size_t kept = 0;
    for (size_t id = 0; id < words_.size(); ++id) {
      if (!keep(static_cast<int32_t>(id))) continue;
      if (kept != id) words_[kept] = std::move(words_[id]);
      ++kept;
    }
    words_.resize(kept);
    Rehash();
  }

  size_t size() const { return words_.size(); }
  const std::string& word(int32_t id) const { return words_[id]; }
  std::vector<std::string>& words() { return words_; }

 private:
  void Grow() {
    slots_.assign(slots_.size() * 2, -1);
    Rehash();
  }

  // Fills the slots anew from words_.
  void Rehash() {
    std::fill(slots_.begin(), slots_.end(), -1);
    const uint64_t mask = slots_.size() - 1;
    for (int32_t id = 0; id < static_cast<int32_t>(words_.size()); ++id) {
      uint64_t i = Hash(words_[id]) & mask;
      while (slots_[i] >= 0) i = (i + 1) & mask;
      slots_[i] = id;
    }
  }

  std::vector<int32_t> slots_;
  std::vector<std::string> words_;
};

}  // namespace deepdist::word2vec

#endif  // DEEPDIST_SRC_WORD2VEC_WORD_TABLE_H_
