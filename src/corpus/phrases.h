// Phrase detection as word2vec's word2phrase does it (Mikolov et al. 2013,
// "Distributed Representations of Words and Phrases and their
// Compositionality", eq. 6): two adjacent words a b of a line become one token
// "a_b" when
//
//   score(a, b) = (count(ab) - min_count) / (count(a) * count(b)) * total_words
//
// is above a threshold, counts taken over the text being rewritten and both
// words seen at least min_count times. Lines are read left to right, and a
// word joined to the one before it does not start a pair of its own ("a b c"
// gives "a_b c" even when "b c" scores high too). Each pass counts its input
// and rewrites it; a later pass reads the earlier one's output, so that
// "new_york times" can become "new_york_times".
//
// Counting is split over threads by byte ranges of the input, the pair that
// straddles two ranges counted once when the ranges are merged: the counts
// are those of one thread. The table of word and pair counts is bounded by
// max_entries: past it, as word2phrase's ReduceVocab, the entries seen at
// most r times are dropped, r growing by one at each pruning. Pruned counts
// are approximations (and depend on how the input was split, hence on the
// number of threads); PhraseCounts::prune_threshold() says whether it
// happened. Everything here is thread-compatible: one caller per object.
#ifndef DEEPDIST_SRC_CORPUS_PHRASES_H_
#define DEEPDIST_SRC_CORPUS_PHRASES_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "deepdist/status.h"

namespace deepdist::corpus {

// Words and word pairs kept at once, all threads together, by default:
// about 1.7 to 2.6 GiB for an input that fills the table (docs/CORPUS.md).
inline constexpr int64_t kDefaultMaxEntries = 40'000'000;

// Signed, so that a negative value from the command line is reported as given.
struct PhraseOptions {
  int64_t min_count = 5;
  double threshold = 100;  // The same on every pass.
  int64_t passes = 2;
  int64_t threads = 1;
  int64_t max_entries = kDefaultMaxEntries;
};

// InvalidArgument naming the flag (--min-count, --threshold, --passes,
// --threads, --max-entries) of the first value out of range.
[[nodiscard]] Status ValidatePhraseOptions(const PhraseOptions& options);

// The score of the pair a b from the counts of a, b and the pair, or 0 when
// a or b was seen fewer than min_count times (word2phrase's rule).
double PhraseScore(uint64_t count_a, uint64_t count_b, uint64_t count_ab, uint64_t total_words,
                   uint64_t min_count);

// The word and word-pair counts of one text. Pairs are adjacent words of a
// line.
class PhraseCounts {
 public:
  struct Tables;  // Defined in phrases.cc.

  explicit PhraseCounts(std::unique_ptr<Tables> tables);
  ~PhraseCounts();
  PhraseCounts(PhraseCounts&&) noexcept;
  PhraseCounts& operator=(PhraseCounts&&) noexcept;

  uint64_t total_words() const;
  // Entries kept after any pruning.
  size_t unique_words() const;
  size_t unique_bigrams() const;
  // 0 when every count is exact; else the highest count at or below which
  // pruning dropped entries.
  uint64_t prune_threshold() const;
  // The most entries (words and pairs, all threads together) held at once.
  uint64_t peak_entries() const;

  // 0 for a word or pair not counted (or pruned).
  uint64_t Count(std::string_view word) const;
  uint64_t Count(std::string_view a, std::string_view b) const;

  const Tables& tables() const { return *tables_; }

 private:
  std::unique_ptr<Tables> tables_;
};

// Counts the words and pairs of the text file at `path` with
// options.threads threads, pruning past options.max_entries. Errors name
// the file: missing, a directory, unreadable, empty, binary, no words.
[[nodiscard]] Result<PhraseCounts> CountPhrases(const std::string& path,
                                                const PhraseOptions& options);

// `line` (whitespace-separated words, no '\n') with its phrases joined,
// words separated by one space.
std::string JoinLine(std::string_view line, const PhraseCounts& counts,
                     const PhraseOptions& options);

struct Phrase {
  std::string text;  // "a_b"
  double score = 0;
  uint64_t count = 0;   // Of the pair "a b" in the pass's input.
  uint64_t joined = 0;  // Times the pass's output joined it.
};

struct PassStats {
  uint64_t words = 0;  // In the pass's input.
  size_t unique_words = 0;
  size_t unique_bigrams = 0;
  uint64_t prune_threshold = 0;
  uint64_t phrases_joined = 0;
  size_t distinct_phrases = 0;
  double seconds = 0;
};

struct PhraseStats {
  std::vector<PassStats> passes;
  // The last pass's highest-scoring phrases (at most ten), best first.
  std::vector<Phrase> top;
};

// Runs options.passes passes over `input` and writes the last one's text to
// `output` atomically: lines as in the input, words separated by one space,
// every line ending in '\n'. Passes before the last write their text to a
// temporary file beside `output`, removed once read. On an error nothing is
// left at `output` (a file there before is kept as it was).
[[nodiscard]] Result<PhraseStats> FindPhrases(const PhraseOptions& options,
                                              const std::string& input, const std::string& output);

}  // namespace deepdist::corpus

#endif  // DEEPDIST_SRC_CORPUS_PHRASES_H_
