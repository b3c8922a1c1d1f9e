// Hierarchical softmax: the Huffman tree against word2vec.c's construction
// and a plain priority-queue Huffman code, and the kernel's updates against a
// scalar per-pair reference (SGD and AdaGrad), with the rows it changes
// marked and planned.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <queue>
#include <set>
#include <string>
#include <vector>

#include "deepdist/descent.h"
#include "deepdist/model.h"
#include "src/word2vec/huffman.h"
#include "src/word2vec/negative_table.h"
#include "src/word2vec/sgns_kernel.h"

namespace deepdist::word2vec {
namespace {

// ---------------------------------------------------------------------------
// The tree.

TEST(HuffmanTreeTest, SmallVocabularyAsWord2vecCBuildsIt) {
  // Counts 5, 3, 2, 1: d and c merge (3); that node and b tie at 3, and the
  // merged node is taken first, as word2vec.c takes it, so b is the heavier
  // child (branch 1) of the next merge (6); a and that node make the root.
  const HuffmanTree tree({5, 3, 2, 1});
  EXPECT_EQ(tree.inner_nodes(), 3u);
  EXPECT_EQ(tree.depth(), 3u);
  auto points = [&](int32_t w) {
    return std::vector<int32_t>(tree.Points(w).begin(), tree.Points(w).end());
  };
  auto codes = [&](int32_t w) {
    return std::vector<int>(tree.Codes(w).begin(), tree.Codes(w).end());
  };
  EXPECT_EQ(points(0), (std::vector<int32_t>{0}));
  EXPECT_EQ(codes(0), (std::vector<int>{0}));
  EXPECT_EQ(points(1), (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(codes(1), (std::vector<int>{1, 1}));
  EXPECT_EQ(points(2), (std::vector<int32_t>{0, 1, 2}));
  EXPECT_EQ(codes(2), (std::vector<int>{1, 0, 1}));
  EXPECT_EQ(points(3), (std::vector<int32_t>{0, 1, 2}));
  EXPECT_EQ(codes(3), (std::vector<int>{1, 0, 0}));
}

TEST(HuffmanTreeTest, OneWordHasNoPathAndTwoWordsOneNode) {
  const HuffmanTree one({7});
  EXPECT_EQ(one.inner_nodes(), 0u);
  EXPECT_TRUE(one.Points(0).empty());
  const HuffmanTree two({7, 9});
  ASSERT_EQ(two.Points(0).size(), 1u);
  ASSERT_EQ(two.Points(1).size(), 1u);
  EXPECT_EQ(two.Points(0)[0], 0);
  EXPECT_NE(two.Codes(0)[0], two.Codes(1)[0]);
  EXPECT_EQ(two.Codes(1)[0], 1);  // The heavier word takes branch 1.
}

// The cost of an optimal prefix code, sum(count x code length): the sum of
// the weights of every merge, from a plain priority queue.
uint64_t ReferenceHuffmanCost(const std::vector<uint64_t>& counts) {
  std::priority_queue<uint64_t, std::vector<uint64_t>, std::greater<>> queue(counts.begin(),
                                                                             counts.end());
  uint64_t cost = 0;
  while (queue.size() > 1) {
    const uint64_t a = queue.top();
    queue.pop();
    const uint64_t b = queue.top();
    queue.pop();
    cost += a + b;
    queue.push(a + b);
  }
  return cost;
}

TEST(HuffmanTreeTest, AnOptimalPrefixCodeWithConsistentNodes) {
  uint64_t seed = 5;
  for (const size_t v : {size_t{3}, size_t{17}, size_t{200}, size_t{5000}}) {
    SCOPED_TRACE("vocabulary " + std::to_string(v));
    // Zipf-like counts with noise and many ties, in descending order as
    // vocabulary ids run, and one vocabulary shuffled.
    std::vector<uint64_t> counts(v);
    for (size_t i = 0; i < v; ++i) counts[i] = 100000 / (i + 1) + NextRandom(&seed) % 3;
    std::sort(counts.rbegin(), counts.rend());
    for (const bool shuffled : {false, true}) {
      if (shuffled) {
        for (size_t i = v - 1; i > 0; --i)
          std::swap(counts[i], counts[NextRandom(&seed) % (i + 1)]);
      }
      const HuffmanTree tree(counts);
      ASSERT_EQ(tree.words(), v);
      ASSERT_EQ(tree.inner_nodes(), v - 1);
      uint64_t cost = 0;
      size_t depth = 0;
      // Every path starts at the root (row 0); a node is reached by one
      // branch string only, and a word's string is no other's prefix.
      std::map<std::string, int32_t> node_at;  // Branches before it ('0'/'1') -> node.
      std::set<std::string> words;
      std::set<int32_t> nodes;
      for (size_t w = 0; w < v; ++w) {
        const auto points = tree.Points(static_cast<int32_t>(w));
        const auto codes = tree.Codes(static_cast<int32_t>(w));
        ASSERT_EQ(points.size(), codes.size());
        ASSERT_GE(points.size(), 1u);
        EXPECT_EQ(points[0], 0);
        cost += counts[w] * points.size();
        depth = std::max(depth, points.size());
        std::string prefix;
        for (size_t d = 0; d < points.size(); ++d) {
          ASSERT_GE(points[d], 0);
          ASSERT_LT(points[d], static_cast<int32_t>(v - 1));
          ASSERT_LE(codes[d], 1);
          auto [it, inserted] = node_at.emplace(prefix, points[d]);
          EXPECT_EQ(it->second, points[d]) << "two nodes at one place in the tree";
          nodes.insert(points[d]);
          prefix.push_back(static_cast<char>('0' + codes[d]));
        }
        EXPECT_EQ(node_at.count(prefix), 0u) << "word " << w << " is at an inner node";
        EXPECT_TRUE(words.insert(prefix).second) << "two words share a code";
      }
      for (const auto& code : words) {
        for (size_t k = 1; k < code.size(); ++k) {
          EXPECT_EQ(words.count(code.substr(0, k)), 0u);
        }
      }
      EXPECT_EQ(nodes.size(), v - 1) << "every inner node lies on some path";
      EXPECT_EQ(cost, ReferenceHuffmanCost(counts));
      EXPECT_EQ(depth, tree.depth());
      // A heavier word never has the longer code.
      for (size_t a = 0; a < v; a += 7) {
        for (size_t b = 0; b < v; b += 5) {
          if (counts[a] > counts[b]) {
            EXPECT_LE(tree.Points(a).size(), tree.Points(b).size());
          }
        }
      }
    }
  }
}

TEST(HuffmanTreeTest, TheRootEndOfTheTreeHasTheSmallestRows) {
  // Rows are numbered from the root down: a node's row is smaller than
  // every row below it, so the first rows are those most paths cross.
  std::vector<uint64_t> counts(1000);
  for (size_t i = 0; i < counts.size(); ++i) counts[i] = 1000000 / (i + 1);
  const HuffmanTree tree(counts);
  for (size_t w = 0; w < counts.size(); ++w) {
    const auto points = tree.Points(static_cast<int32_t>(w));
    for (size_t d = 1; d < points.size(); ++d) EXPECT_LT(points[d - 1], points[d]);
  }
}

// ---------------------------------------------------------------------------
// The kernel.

using RefRows = std::vector<std::vector<float>>;

struct Problem {
  Table in, out;
  RefRows ref_in, ref_out;
  std::vector<int32_t> words;
};

Problem MakeProblem(size_t vocab, size_t dim, uint64_t seed, size_t sentence) {
  Problem p{Table("in", vocab, dim),
            Table("out", vocab, dim),
            RefRows(vocab, std::vector<float>(dim)),
            RefRows(vocab, std::vector<float>(dim)),
            {}};
  for (size_t r = 0; r < vocab; ++r) {
    for (size_t k = 0; k < dim; ++k) {
      p.ref_in[r][k] = p.in.row(r)[k] = static_cast<float>(NextRandom(&seed) % 1000) / 1000 - 0.5f;
      p.ref_out[r][k] = p.out.row(r)[k] =
          (static_cast<float>(NextRandom(&seed) % 1000) / 1000 - 0.5f) * 0.3f;
    }
  }
  // Frequent words more often, as a corpus has them.
  for (size_t i = 0; i < sentence; ++i) {
    const uint64_t r = NextRandom(&seed);
    p.words.push_back(static_cast<int32_t>((r % vocab) * ((r >> 32) % vocab) / vocab));
  }
  return p;
}

std::vector<uint64_t> ZipfCounts(size_t vocab) {
  std::vector<uint64_t> counts(vocab);
  for (size_t i = 0; i < vocab; ++i) counts[i] = 10000 / (i + 1) + 1;
  return counts;
}

double MaxDiff(const Table& table, const RefRows& ref) {
  double diff = 0;
  for (size_t r = 0; r < ref.size(); ++r) {
    for (size_t k = 0; k < ref[r].size(); ++k) {
      diff = std::max<double>(diff, std::fabs(table.row(r)[k] - ref[r][k]));
    }
  }
  return diff;
}

// The kernel's sigmoid table (word2vec.c's: 1024 steps over [-6, 6]); no
// gradient where the score saturates.
float TableSigmoidGradient(float f, float label) {
  if (f >= 6.0f || f <= -6.0f) return 0.0f;
  const int i = static_cast<int>((f + 6.0f) * (1024 / 12.0f));
  const double x = (static_cast<double>(i) / 1024 * 2.0 - 1.0) * 6.0;
  return label - static_cast<float>(1.0 / (1.0 + std::exp(-x)));
}

// word2vec.c's hierarchical softmax, pair by pair, written plainly: for each
// input (a context word's row, or CBOW's mean of them) and the centre word,
// each node on the word's path moves by g x input and the input gathers
// g x node, g = (1 - code - sigmoid(input . node)) x alpha; then the input
// rows move by what they gathered. With `adagrad`, every move is one
// AdaGrad step (AdaGrad::ApplyRow) at rate alpha instead.
void ReferenceHs(const KernelConfig& c, const HuffmanTree& tree, const std::vector<int32_t>& words,
                 float alpha, uint64_t rng, bool adagrad, RefRows& in, RefRows& out,
                 RefRows& in_state, RefRows& out_state, uint64_t* pairs) {
  const size_t dim = in[0].size();
  const int64_t len = static_cast<int64_t>(words.size());
  static const AdaGrad rule;
  auto move = [&](std::vector<float>& row, std::vector<float>& state,
                  const std::vector<float>& change) {
    if (!adagrad) {
      for (size_t k = 0; k < dim; ++k) row[k] += change[k];
      return;
    }
    std::vector<float> gradient(dim);
    for (size_t k = 0; k < dim; ++k) gradient[k] = -change[k];
    rule.ApplyRow(row.data(), state.data(), gradient.data(), dim, alpha);
  };
  auto train = [&](const std::vector<float>& input, int32_t word, std::vector<float>& error) {
    const auto points = tree.Points(word);
    const auto codes = tree.Codes(word);
    for (size_t d = 0; d < points.size(); ++d) {
      std::vector<float>& node = out[points[d]];
      float f = 0;
      for (size_t k = 0; k < dim; ++k) f += input[k] * node[k];
      ++*pairs;
      const float g = TableSigmoidGradient(f, 1.0f - codes[d]) * (adagrad ? 1.0f : alpha);
      if (g == 0.0f) continue;
      std::vector<float> change(dim);
      for (size_t k = 0; k < dim; ++k) error[k] += g * node[k];
      for (size_t k = 0; k < dim; ++k) change[k] = g * input[k];
      move(node, out_state[points[d]], change);
    }
  };
  for (int64_t pos = 0; pos < len; ++pos) {
    const int reduce = static_cast<int>(NextRandom(&rng) % c.window);
    const int64_t lo = std::max<int64_t>(0, pos - (c.window - reduce));
    const int64_t hi = std::min<int64_t>(len - 1, pos + (c.window - reduce));
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
      train(hidden, words[pos], error);
      for (int64_t p = lo; p <= hi; ++p) {
        if (p != pos) move(in[words[p]], in_state[words[p]], error);
      }
    } else {
      for (int64_t p = lo; p <= hi; ++p) {
        if (p == pos) continue;
        std::vector<float> error(dim, 0.0f);
        train(in[words[p]], words[pos], error);
        move(in[words[p]], in_state[words[p]], error);
      }
    }
  }
}

struct KernelCase {
  bool cbow;
  bool adagrad;
};

class HierarchicalSoftmaxKernelTest : public ::testing::TestWithParam<KernelCase> {};

TEST_P(HierarchicalSoftmaxKernelTest, MatchesTheScalarReference) {
  const size_t vocab = 120, dim = 37;
  const HuffmanTree tree(ZipfCounts(vocab));
  KernelConfig config;
  config.cbow = GetParam().cbow;
  config.window = 4;
  config.tree = &tree;
  // Negative sampling's settings must not matter: shared negatives asked
  // for, and no negatives table to draw from.
  config.shared_negatives = true;
  config.negative = 5;
  Problem p = MakeProblem(vocab, dim, 42, 300);
  config.stride = p.in.stride();
  Table in_state("in_state", vocab, dim), out_state("out_state", vocab, dim);
  const RefRows zero(vocab, std::vector<float>(dim, 0.0f));
  RefRows ref_in_state = zero, ref_out_state = zero;

  const bool adagrad = GetParam().adagrad;
  const float alpha = adagrad ? 0.1f : 0.05f;
  uint64_t rng = 99;
  std::vector<float> scratch(ScratchFloats(config));
  KernelStats stats;
  RowSource rows{p.in.data(), p.out.data(), nullptr};
  if (adagrad) {
    rows.in_state = in_state.data();
    rows.out_state = out_state.data();
  }
  TrainSentence(config, p.words.data(), p.words.size(), alpha, &rng, rows, scratch.data(), &stats);
  uint64_t ref_pairs = 0;
  ReferenceHs(config, tree, p.words, alpha, 99, adagrad, p.ref_in, p.ref_out, ref_in_state,
              ref_out_state, &ref_pairs);
  EXPECT_EQ(stats.pairs, ref_pairs);
  EXPECT_GT(stats.pairs, 1000u);
  EXPECT_GT(stats.loss, 0.0);
  // The same sigmoid table; sums in another order (and AdaGrad's hardware
  // 1 / sqrt estimate) round differently.
  EXPECT_LT(MaxDiff(p.in, p.ref_in), adagrad ? 2e-3 : 1e-4);
  EXPECT_LT(MaxDiff(p.out, p.ref_out), adagrad ? 2e-3 : 1e-4);
  // The unused row (a vocabulary of V words has V - 1 nodes) never moves.
  for (size_t k = 0; k < dim; ++k) EXPECT_EQ(p.out.row(vocab - 1)[k], p.ref_out[vocab - 1][k]);
  // And the rows did move: the tolerance is far below the change.
  RefRows start_in = MakeProblem(vocab, dim, 42, 300).ref_in;
  double moved = 0;
  for (size_t r = 0; r < vocab; ++r) {
    for (size_t k = 0; k < dim; ++k) {
      moved = std::max<double>(moved, std::fabs(p.in.row(r)[k] - start_in[r][k]));
    }
  }
  EXPECT_GT(moved, 1e-2);
}

INSTANTIATE_TEST_SUITE_P(Cases, HierarchicalSoftmaxKernelTest,
                         ::testing::Values(KernelCase{false, false}, KernelCase{true, false},
                                           KernelCase{false, true}, KernelCase{true, true}),
                         [](const auto& info) {
                           return std::string(info.param.cbow ? "Cbow" : "SkipGram") +
                                  (info.param.adagrad ? "AdaGrad" : "Sgd");
                         });

TEST(HierarchicalSoftmaxPlanTest, PlannedAndMarkedRowsCoverEveryChangedRow) {
  // The store path pulls the rows PlanSentence lists (the sentence's words
  // in both tables, their paths' nodes in "out") and a full replica pushes
  // the rows the kernel marks: both must cover every row the kernel changes.
  const size_t vocab = 3000, dim = 16;
  const HuffmanTree tree(ZipfCounts(vocab));
  for (const bool cbow : {false, true}) {
    SCOPED_TRACE(cbow ? "cbow" : "skip-gram");
    KernelConfig config;
    config.cbow = cbow;
    config.window = 3;
    config.tree = &tree;
    Problem p = MakeProblem(vocab, dim, 3, 60);
    config.stride = p.in.stride();
    uint64_t plan_rng = 17;
    std::vector<int32_t> planned;
    PlanSentence(config, p.words.data(), p.words.size(), &plan_rng, &planned);
    ASSERT_GE(planned.size(), p.words.size());
    const std::set<int32_t> in_rows(planned.begin(), planned.begin() + p.words.size());
    const std::set<int32_t> out_rows(planned.begin(), planned.end());
    std::vector<uint8_t> touched_in(vocab), touched_out(vocab);
    std::vector<float> scratch(ScratchFloats(config));
    KernelStats stats;
    uint64_t rng = 17;
    TrainSentence(config, p.words.data(), p.words.size(), 0.05f, &rng,
                  {p.in.data(), p.out.data(), nullptr, touched_in.data(), touched_out.data()},
                  scratch.data(), &stats);
    size_t changed_out = 0;
    for (size_t r = 0; r < vocab; ++r) {
      const std::vector<float> in(p.in.row(r), p.in.row(r) + dim);
      const std::vector<float> out(p.out.row(r), p.out.row(r) + dim);
      if (in != p.ref_in[r]) {
        EXPECT_TRUE(touched_in[r]) << "input row " << r;
        EXPECT_EQ(in_rows.count(static_cast<int32_t>(r)), 1u) << "input row " << r;
      }
      if (out != p.ref_out[r]) {
        ++changed_out;
        EXPECT_TRUE(touched_out[r]) << "node row " << r;
        EXPECT_EQ(out_rows.count(static_cast<int32_t>(r)), 1u) << "node row " << r;
      }
    }
    EXPECT_GT(changed_out, 50u);
  }
}

}  // namespace
}  // namespace deepdist::word2vec
