// The Huffman tree of a vocabulary, for hierarchical softmax (Morin and
// Bengio 2005; Mikolov et al. 2013, section 2.1): each word is a leaf, and
// p(word | input) is the product, along the word's path from the root, of
// sigmoid(+-input . node) for each inner node passed, the sign given by the
// branch taken. Frequent words sit near the root, so a word costs about
// log2(vocabulary) - its own information in node updates instead of
// 1 + negative.
//
// Built as word2vec.c's CreateBinaryTree builds it: the two lightest nodes
// merge until one remains, from the counts in one linear pass (two queues,
// the leaves sorted once). Inner nodes are numbered from the root down: the
// root is node 0 and the last merges (the heaviest nodes, those every path
// crosses) take the smallest numbers, so that a store's "hot" first rows are
// the nodes most words train. A vocabulary of V words has V - 1 inner nodes:
// the output table's rows 0 to V - 2 (row V - 1 is never used).
// Immutable after construction; thread-safe to read.
#ifndef DEEPDIST_SRC_WORD2VEC_HUFFMAN_H_
#define DEEPDIST_SRC_WORD2VEC_HUFFMAN_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace deepdist::word2vec {

class HuffmanTree {
 public:
  explicit HuffmanTree(const std::vector<uint64_t>& counts);

  // The inner nodes on the path from the root to `word`, root first.
  std::span<const int32_t> Points(int32_t word) const {
    return {points_.data() + offsets_[word], offsets_[word + 1] - offsets_[word]};
  }
  // At each of those nodes, the branch taken towards `word`: 0 or 1. The
  // kernel trains node . input towards label 1 - code, as word2vec.c does.
  std::span<const uint8_t> Codes(int32_t word) const {
    return {codes_.data() + offsets_[word], offsets_[word + 1] - offsets_[word]};
  }
  size_t words() const { return offsets_.size() - 1; }
  size_t inner_nodes() const { return words() > 0 ? words() - 1 : 0; }
  // The longest path, in nodes.
  size_t depth() const { return depth_; }

 private:
  std::vector<size_t> offsets_;  // Per word, into points_ and codes_; words + 1.
  std::vector<int32_t> points_;
  std::vector<uint8_t> codes_;
  size_t depth_ = 0;
};

}  // namespace deepdist::word2vec

#endif  // DEEPDIST_SRC_WORD2VEC_HUFFMAN_H_
