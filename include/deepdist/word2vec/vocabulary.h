// Vocabulary: the words a word2vec model has rows for, most frequent first.
//
// Counted in parallel, one table per partition, then merged (the way the
// DeepDist seed ran reduceByKey over its partitions); max_entries bounds the
// words counting holds, as word2vec.c's ReduceVocab and gensim's
// max_vocab_size do, so that a corpus of any size counts in bounded memory.
// Words below min_count
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
  // The most distinct words counting holds at once, all threads together
  // (0: no limit, and the counts are exact). Past it the rarest words are
  // pruned (CountWords), which bounds counting's memory but makes the
  // counts of words near the pruning threshold approximate.
  size_t max_entries = 0;
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
  // What pruning did while counting (VocabularyOptions::max_entries); not
  // part of the serialized form. prune_threshold is the highest r a pruning
  // used (0: none pruned), peak_entries the most words the counting tables
  // of one process held at once (the sum of each table's own peak, so an
  // upper bound; of merged counts, the largest).
  uint64_t prunes = 0;
  uint64_t prune_threshold = 0;
  size_t peak_entries = 0;

  // Adds `other`'s counts into these; then, when max_entries > 0, prunes
  // them back to at most max_entries words (Prune). Merging the same counts
  // in the same order gives the same result, so ranks that merge every
  // rank's counts in rank order agree on the words.
  void Merge(const WordCounts& other, size_t max_entries = 0);
  // word2vec.c's ReduceVocab until at most max_entries words remain (0: no
  // limit): drops every word counted at most r times, r one more than the
  // last pruning's (1 at the first), again with r + 1 while still too many.
  void Prune(size_t max_entries);
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
  // With max_entries > 0, each of the T threads' tables holds at most
  // max_entries / T words (at least 1) and the merged table at most
  // max_entries: before a new word would take a table past its bound, the
  // table is pruned (WordCounts::Prune's rule, each table with its own r)
  // until the word fits. A pruned word that comes again starts from 0, so
  // pruned counts are approximate and depend on which thread read which
  // partition; a bound that is never reached changes nothing.
  [[nodiscard]] static Result<WordCounts> CountWords(const std::vector<PartitionSpec>& partitions,
                                                     size_t threads, size_t max_entries = 0);
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
