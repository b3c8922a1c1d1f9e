// Counting under a bound on distinct words (VocabularyOptions::max_entries,
// the --vocab-entries flag): pruning against a plain word2vec.c ReduceVocab
// written in the test, exact counts when the bound is never reached, the
// bound held by every table, and the flag's validation and checkpointing.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "deepdist/partition.h"
#include "deepdist/word2vec/vocabulary.h"
#include "tests/test_support.h"

namespace deepdist::word2vec {
namespace {

namespace fs = std::filesystem;
using testing_support::CommandResult;
using testing_support::RunDeepdist;

// The reference: word2vec.c's LearnVocabFromTrainFile and ReduceVocab as
// plainly as possible, over whitespace-split words. A new word that finds
// `bound` words in the table first prunes it: every word counted at most r
// times goes, r = 1 at the first pruning and one more at each after, again
// while the table is still full.
struct PrunedReference {
  std::map<std::string, uint64_t> counts;
  uint64_t tokens = 0;
  size_t bound = 0;
  uint64_t threshold = 0;
  uint64_t prunes = 0;
  size_t peak = 0;

  void Add(const std::string& text) {
    std::istringstream in(text);
    std::string w;
    while (in >> w) {
      ++tokens;
      auto it = counts.find(w);
      if (it != counts.end()) {
        ++it->second;
        continue;
      }
      while (bound > 0 && counts.size() >= bound) Prune();
      counts[w] = 1;
      peak = std::max(peak, counts.size());
    }
  }

  void Prune() {
    ++threshold;
    ++prunes;
    for (auto it = counts.begin(); it != counts.end();) {
      it = it->second <= threshold ? counts.erase(it) : std::next(it);
    }
  }
};

std::map<std::string, uint64_t> AsMap(const WordCounts& counts) {
  std::map<std::string, uint64_t> out;
  for (const auto& [w, c] : counts.words) EXPECT_TRUE(out.emplace(w, c).second) << w << " twice";
  return out;
}

class VocabularyPruneTest : public testing_support::TempDirTest {
 protected:
  VocabularyPruneTest() : TempDirTest("deepdist_vocab_prune_test_") {}

  // `lines` lines of Zipf-distributed words over `types` words, "the" every
  // other word, and a word seen once ("rareN") every 20 words.
  static std::string ZipfText(int lines, int types, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<double> weights;
    for (int i = 0; i < types; ++i) weights.push_back(1.0 / (1.0 + i));
    std::discrete_distribution<int> pick(weights.begin(), weights.end());
    std::string text;
    int rare = 0;
    for (int line = 0; line < lines; ++line) {
      for (int k = 0; k < 40; ++k) {
        if (k > 0) text += ' ';
        if (k % 2 == 0) {
          text += "the";
        } else if (k % 20 == 1) {
          text += "rare" + std::to_string(rare++);
        } else {
          text += "w" + std::to_string(pick(rng));
        }
      }
      text += '\n';
    }
    return text;
  }

  // `text` in `files` files of a folder, listed in about `partitions`
  // partitions.
  std::vector<PartitionSpec> Partitions(const std::string& text, size_t files, size_t partitions) {
    const fs::path corpus = fs::path(dir_) / "corpus";
    fs::remove_all(corpus);
    fs::create_directory(corpus);
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    for (size_t f = 0; f < files; ++f) {
      std::string part;
      for (size_t l = f; l < lines.size(); l += files) part += lines[l] + "\n";
      Write("corpus/part-" + std::to_string(f), part);
    }
    PartitionOptions popts;
    popts.target_partitions = partitions;
    popts.split_on = SplitOn::kWords;
    Result<std::vector<PartitionSpec>> parts = ListPartitions({corpus.string()}, popts);
    EXPECT_TRUE(parts.ok()) << parts.status().ToString();
    return parts.ok() ? *parts : std::vector<PartitionSpec>();
  }

  // The partitions' text one after another, as one thread reads them (in
  // order), so that its pruning is the reference's on this text.
  static std::string InOrder(const std::vector<PartitionSpec>& parts) {
    std::string text;
    for (const PartitionSpec& p : parts) {
      Result<std::unique_ptr<PartitionReader>> reader = PartitionReader::Open(p);
      EXPECT_TRUE(reader.ok()) << reader.status().ToString();
      if (!reader.ok()) return text;
      const Status read = (*reader)->ForEachChunk([&](std::string_view chunk) {
        text += chunk;
        text += '\n';  // A chunk ends at a word boundary; the newline keeps it one.
      });
      EXPECT_TRUE(read.ok()) << read.ToString();
    }
    return text;
  }
};

// Small texts whose pruning is worked out by hand.
TEST_F(VocabularyPruneTest, PrunesAsReduceVocabOnKnownCounts) {
  struct Case {
    std::string text;
    size_t bound;
    std::map<std::string, uint64_t> expected;
    uint64_t prunes;
    uint64_t threshold;
  };
  const std::vector<Case> cases = {
      // d finds a, b, c: r = 1 drops b and c.
      {"a a b c d a e", 3, {{"a", 3}, {"d", 1}, {"e", 1}}, 1, 1},
      // c finds a and b at 3: r = 1 and 2 drop nothing, r = 3 drops both.
      {"a a a b b b c", 2, {{"c", 1}}, 3, 3},
      // Never full: exact.
      {"x y x z x", 3, {{"x", 3}, {"y", 1}, {"z", 1}}, 0, 0},
      // e finds a:2 b:1 c:1 d:1 (r = 1 leaves a); then f and g fit, h finds
      // a:3 e:1 f:1 g:1 (r = 2 leaves a).
      {"a b a c d e a f g h", 4, {{"a", 3}, {"h", 1}}, 2, 2},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text + " / " + std::to_string(c.bound));
    const std::string path = Write("small.txt", c.text);
    PartitionSpec spec;
    spec.path = path;
    spec.end = c.text.size();
    spec.size_hint = c.text.size();
    Result<WordCounts> counts = Vocabulary::CountWords({spec}, 1, c.bound);
    ASSERT_TRUE(counts.ok()) << counts.status().ToString();
    EXPECT_EQ(AsMap(*counts), c.expected);
    EXPECT_EQ(counts->prunes, c.prunes);
    EXPECT_EQ(counts->prune_threshold, c.threshold);
    EXPECT_LE(counts->peak_entries, c.bound);
    PrunedReference ref;
    ref.bound = c.bound;
    ref.Add(c.text);
    EXPECT_EQ(ref.counts, c.expected) << "the reference itself";
    EXPECT_EQ(ref.tokens, counts->tokens);
  }
}

// One thread over several partitions, at several bounds: the reference's
// counts, prunings and threshold exactly.
TEST_F(VocabularyPruneTest, OneThreadMatchesReference) {
  const std::vector<PartitionSpec> parts = Partitions(ZipfText(300, 400, 7), 2, 4);
  ASSERT_GE(parts.size(), 3u);
  const std::string text = InOrder(parts);
  for (size_t bound : {1, 2, 5, 17, 64, 150, 300, 100000}) {
    SCOPED_TRACE("bound " + std::to_string(bound));
    Result<WordCounts> counts = Vocabulary::CountWords(parts, 1, bound);
    ASSERT_TRUE(counts.ok()) << counts.status().ToString();
    PrunedReference ref;
    ref.bound = bound;
    ref.Add(text);
    EXPECT_EQ(AsMap(*counts), ref.counts);
    EXPECT_EQ(counts->tokens, ref.tokens);
    EXPECT_EQ(counts->prunes, ref.prunes);
    EXPECT_EQ(counts->prune_threshold, ref.threshold);
    EXPECT_EQ(counts->peak_entries, ref.peak);
    EXPECT_LE(counts->peak_entries, bound);
  }
}

// A bound of 0, or one no table reaches, changes nothing, whatever the
// number of threads.
TEST_F(VocabularyPruneTest, ExactWhenTheBoundIsNotReached) {
  const std::string text = ZipfText(200, 300, 11);
  const std::vector<PartitionSpec> parts = Partitions(text, 3, 8);
  PrunedReference exact;
  exact.Add(text);
  for (size_t threads = 1; threads <= 4; ++threads) {
    // Each thread's share (bound / threads) holds every word.
    for (size_t bound : {size_t{0}, threads * exact.counts.size(), size_t{10000000}}) {
      SCOPED_TRACE(std::to_string(threads) + " threads, bound " + std::to_string(bound));
      Result<WordCounts> counts = Vocabulary::CountWords(parts, threads, bound);
      ASSERT_TRUE(counts.ok()) << counts.status().ToString();
      EXPECT_EQ(AsMap(*counts), exact.counts);
      EXPECT_EQ(counts->tokens, exact.tokens);
      EXPECT_EQ(counts->prunes, 0u);
      EXPECT_EQ(counts->prune_threshold, 0u);
    }
  }
}

// However many threads, the tables together never hold more than the
// bound, every token is counted, and a frequent word survives with its
// exact count.
TEST_F(VocabularyPruneTest, TablesNeverExceedTheBoundAndFrequentWordsSurvive) {
  const std::string text = ZipfText(400, 2000, 13);
  const std::vector<PartitionSpec> parts = Partitions(text, 2, 8);
  PrunedReference exact;
  exact.Add(text);
  ASSERT_GT(exact.counts.size(), 400u);
  for (size_t threads = 1; threads <= 4; ++threads) {
    for (size_t bound : {40, 100, 400}) {
      SCOPED_TRACE(std::to_string(threads) + " threads, bound " + std::to_string(bound));
      Result<WordCounts> counts = Vocabulary::CountWords(parts, threads, bound);
      ASSERT_TRUE(counts.ok()) << counts.status().ToString();
      EXPECT_LE(counts->peak_entries, bound);
      EXPECT_LE(counts->words.size(), bound);
      EXPECT_GT(counts->prunes, 0u);
      EXPECT_GT(counts->prune_threshold, 0u);
      EXPECT_EQ(counts->tokens, exact.tokens);
      const std::map<std::string, uint64_t> got = AsMap(*counts);
      ASSERT_EQ(got.count("the"), 1u);
      EXPECT_EQ(got.at("the"), exact.counts.at("the"));
      // Pruning only ever loses counts.
      for (const auto& [w, c] : got) EXPECT_LE(c, exact.counts.at(w)) << w;
    }
  }
}

// Vocabulary::Count takes the bound from its options; the filters apply
// after it.
TEST_F(VocabularyPruneTest, CountAppliesTheBound) {
  const std::vector<PartitionSpec> parts = Partitions(ZipfText(200, 1000, 17), 1, 2);
  VocabularyOptions options;
  options.min_count = 1;
  options.threads = 2;
  Result<Vocabulary> unbounded = Vocabulary::Count(parts, options);
  ASSERT_TRUE(unbounded.ok()) << unbounded.status().ToString();
  options.max_entries = 50;
  Result<Vocabulary> bounded = Vocabulary::Count(parts, options);
  ASSERT_TRUE(bounded.ok()) << bounded.status().ToString();
  EXPECT_LE(bounded->size(), 50u);
  EXPECT_LT(bounded->size(), unbounded->size());
  EXPECT_EQ(bounded->word(0), "the");
  EXPECT_EQ(bounded->count(0), unbounded->count(0));
  EXPECT_EQ(bounded->corpus_words(), unbounded->corpus_words());
}

// Merging counts (the ranks' reduceByKey) prunes the result back to the
// bound by the same rule, and the same inputs merge to the same result.
TEST_F(VocabularyPruneTest, MergePrunesToTheBound) {
  WordCounts a;
  a.tokens = 12;
  a.words = {{"the", 6}, {"x", 1}, {"y", 2}, {"z", 3}};
  WordCounts b;
  b.tokens = 9;
  b.words = {{"the", 4}, {"u", 1}, {"v", 1}, {"x", 1}, {"w", 2}};
  WordCounts merged = a;
  merged.Merge(b, 4);
  // the:10 x:2 y:2 z:3 u:1 v:1 w:2 is 7 words: r = 1 drops u and v, r = 2
  // drops x, y and w.
  EXPECT_EQ(merged.words, (std::vector<std::pair<std::string, uint64_t>>{{"the", 10}, {"z", 3}}));
  EXPECT_EQ(merged.tokens, 21u);
  EXPECT_EQ(merged.prunes, 2u);
  EXPECT_EQ(merged.prune_threshold, 2u);
  WordCounts again = a;
  again.Merge(b, 4);
  EXPECT_EQ(again.words, merged.words);
  // Unbounded, or under the bound: every word, exactly.
  for (size_t bound : {0, 7}) {
    WordCounts all = a;
    all.Merge(b, bound);
    EXPECT_EQ(all.words.size(), 7u);
    EXPECT_EQ(all.prunes, 0u);
  }
  // Prune alone, going on from the last threshold.
  WordCounts more = merged;
  more.Prune(1);
  EXPECT_EQ(more.words, (std::vector<std::pair<std::string, uint64_t>>{{"the", 10}}));
  EXPECT_EQ(more.prune_threshold, 3u);
  EXPECT_EQ(more.prunes, 3u);
}

// --vocab-entries on the train command: validated, reported in the JSON
// summary, and kept in a checkpoint (a resume with another value is an
// error).
TEST_F(VocabularyPruneTest, TrainFlag) {
  const fs::path logs = dir_;
  const std::string corpus = Write("train.txt", ZipfText(100, 500, 19));
  const std::string output = dir_ + "/vectors.txt";
  auto train = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {"word2vec", "train", "--input", corpus, "--output", output};
    args.insert(args.end(), {"--dim", "8", "--min-count", "1", "--threads", "2", "--quiet"});
    args.insert(args.end(), extra.begin(), extra.end());
    return RunDeepdist(args, logs);
  };
  CommandResult r = train({"--vocab-entries", "-1"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err, "deepdist: --vocab-entries: must not be negative\n");
  EXPECT_FALSE(fs::exists(output));

  r = train({"--vocab-entries", "60", "--epochs", "1", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json j = nlohmann::json::parse(r.out.substr(r.out.rfind('{')));
  EXPECT_LE(j.at("vocab_peak_entries").get<size_t>(), 60u);
  EXPECT_LE(j.at("vocab_counted").get<size_t>(), 60u);
  EXPECT_GT(j.at("vocab_prune_threshold").get<uint64_t>(), 0u);
  EXPECT_LE(j.at("vocab_size").get<size_t>(), 60u);

  r = train({"--epochs", "1", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json unbounded = nlohmann::json::parse(r.out.substr(r.out.rfind('{')));
  EXPECT_EQ(unbounded.at("vocab_prune_threshold").get<uint64_t>(), 0u);
  EXPECT_EQ(unbounded.at("vocab_counted").get<size_t>(), unbounded.at("vocab_size").get<size_t>());

  const std::string saved = dir_ + "/saved";
  r = train({"--vocab-entries", "60", "--epochs", "300", "--resume", saved, "--checkpoint-every",
             "0.01"});
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_TRUE(fs::exists(saved + "/checkpoint.ddc"));
  r = train({"--vocab-entries", "70", "--epochs", "300", "--resume", saved});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--vocab-entries: conflicts with the checkpoint's \"60\""),
            std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace deepdist::word2vec
