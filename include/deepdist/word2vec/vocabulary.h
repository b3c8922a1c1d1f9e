// Vocabulary: the words a word2vec model has rows for, most frequent first.
//
// Counted in parallel, one table per partition, then merged (the way the
// DeepDist seed ran reduceByKey over its partitions). Words below min_count
// are dropped, an optional keep-list restricts the words further, and
// max_vocab keeps only the most frequent. Ids follow descending count (ties in
// byte order), so row i of the model is the i-th most frequent word and
// vectors files come out in the order that "the first 30,000 rows" relies on.
// Immutable once built; Find is thread-safe.
#ifndef DEEPDIST_WORD2VEC_VOCABULARY_H_
#define DEEPDIST_WORD2VEC_VOCABULARY_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "deepdist/partition.h"
#include "deepdist/status.h"

namespace deepdist::word2vec {

class WordTable;

struct VocabularyOptions {
  uint64_t min_count = 5;
  size_t max_vocab = 0;  // 0: no limit.
  // When non-empty, only these words are kept (the --vocab-words list).
  std::vector<std::string> keep_only;
  size_t threads = 1;
};

// Raw word counts of some partitions, before any filter: what each rank
// counts of its share of the input before the counts are merged (the seed's
// reduceByKey across ranks).
struct WordCounts {
  std::vector<std::pair<std::string, uint64_t>> words;
  uint64_t tokens = 0;  // Every token counted.

  // Adds `other`'s counts into these.
  void Merge(const WordCounts& other);
  // A compact text form ("tokens\nword count\n..."): words never hold
  // whitespace, so the form is unambiguous.
  std::string Serialize() const;
  [[nodiscard]] static Result<WordCounts> Parse(std::string_view text);
};

class Vocabulary {
 public:
  Vocabulary();
  ~Vocabulary();
  Vocabulary(Vocabulary&&) noexcept;
  Vocabulary& operator=(Vocabulary&&) noexcept;

  // Counts the words of `partitions` (listed with SplitOn::kWords).
  [[nodiscard]] static Result<Vocabulary> Count(const std::vector<PartitionSpec>& partitions,
                                                const VocabularyOptions& options);
  // Counts the words of `partitions`, unfiltered, with `threads` threads.
  [[nodiscard]] static Result<WordCounts> CountWords(const std::vector<PartitionSpec>& partitions,
                                                     size_t threads);
  // Builds from (word, count) pairs, applying the same filters as Count.
  static Vocabulary FromCounts(const std::vector<std::pair<std::string, uint64_t>>& counts,
                               uint64_t corpus_words, const VocabularyOptions& options);
  // Reads "word count" lines (word2vec.c's -save-vocab format), then filters.
  [[nodiscard]] static Result<Vocabulary> Load(const std::string& path,
                                               const VocabularyOptions& options);
  // Writes "word count" lines, atomically.
  [[nodiscard]] Status Save(const std::string& path) const;

  size_t size() const { return counts_.size(); }
  const std::string& word(int32_t id) const;
  uint64_t count(int32_t id) const { return counts_[id]; }
  const std::vector<uint64_t>& counts() const { return counts_; }
  // The id of `w`, or -1.
  int32_t Find(std::string_view w) const;
  // Tokens counted in one pass over the corpus, kept or not (when loaded:
  // the sum of the file's counts, before filtering).
  uint64_t corpus_words() const { return corpus_words_; }
  // Sum of the counts of the kept words.
  uint64_t train_words() const { return train_words_; }

 private:
  std::unique_ptr<WordTable> table_;
  std::vector<uint64_t> counts_;
  uint64_t corpus_words_ = 0;
  uint64_t train_words_ = 0;
};

// Reads a --vocab-words file: whitespace-separated words; lines starting with
// ':' (analogy section headers) are skipped; each word is kept as written and
// lowercased.
[[nodiscard]] Result<std::vector<std::string>> ReadWordList(const std::string& path);

}  // namespace deepdist::word2vec

#endif  // DEEPDIST_WORD2VEC_VOCABULARY_H_
