#include "src/word2vec/huffman.h"

#include <algorithm>
#include <numeric>

namespace deepdist::word2vec {

HuffmanTree::HuffmanTree(const std::vector<uint64_t>& counts) {
  const size_t v = counts.size();
  offsets_.assign(v + 1, 0);
  if (v < 2) return;  // One word (or none): no inner node, nothing to learn.

  // Leaves lightest first (ties by id, so the tree depends on the counts
  // only). Vocabulary ids run by descending count, so this is usually the
  // ids reversed.
  std::vector<int32_t> leaves(v);
  std::iota(leaves.begin(), leaves.end(), 0);
  std::stable_sort(leaves.begin(), leaves.end(),
                   [&](int32_t a, int32_t b) { return counts[a] < counts[b]; });
  // Node ids: leaves are 0..v-1 (word ids), the k-th merge is v + k. Merges
  // come out in non-decreasing weight, so the merged nodes form a second
  // sorted queue and the lightest node is always at one of the two fronts.
  const size_t total = 2 * v - 1;
  std::vector<uint64_t> weight(total);
  std::vector<int32_t> parent(total, -1);
  std::vector<uint8_t> branch(total, 0);
  for (size_t i = 0; i < v; ++i) weight[i] = counts[i];
  size_t next_leaf = 0;
  size_t next_merged = v;
  auto take_lightest = [&](size_t merged_end) -> size_t {
    // A merged node wins ties, as in word2vec.c.
    if (next_leaf < v &&
        (next_merged >= merged_end || weight[leaves[next_leaf]] < weight[next_merged])) {
      return static_cast<size_t>(leaves[next_leaf++]);
    }
    return next_merged++;
  };
  for (size_t k = 0; k + 1 < v; ++k) {
    const size_t node = v + k;
    const size_t a = take_lightest(node);
    const size_t b = take_lightest(node);
    weight[node] = weight[a] + weight[b];
    parent[a] = parent[b] = static_cast<int32_t>(node);
    branch[b] = 1;  // The heavier child is branch 1, as word2vec.c codes it.
  }
  // Inner node v + k is row v - 2 - k: the root (the last merge) is row 0.
  auto row_of = [&](size_t node) { return static_cast<int32_t>(2 * v - 2 - node); };

  std::vector<size_t> length(v, 0);
  for (size_t w = 0; w < v; ++w) {
    for (size_t n = w; parent[n] >= 0; n = static_cast<size_t>(parent[n])) ++length[w];
    offsets_[w + 1] = offsets_[w] + length[w];
    depth_ = std::max(depth_, length[w]);
  }
  points_.resize(offsets_[v]);
  codes_.resize(offsets_[v]);
  for (size_t w = 0; w < v; ++w) {
    // Walked from the leaf up, written from the end of the word's span so
    // that the path reads root first.
    size_t at = offsets_[w + 1];
    for (size_t n = w; parent[n] >= 0; n = static_cast<size_t>(parent[n])) {
      --at;
      points_[at] = row_of(static_cast<size_t>(parent[n]));
      codes_[at] = branch[n];
    }
  }
}

}  // namespace deepdist::word2vec
