// KeyedVectorsCore: word vectors held for Python (the engine side of
// deepdist.KeyedVectors): the words in row order, their vectors in a Table
// (the trained model's own table, or one loaded from a file), and, made on
// first use, their unit-length copy that queries and analogies search.
//
// Immutable once made, except for that lazily made copy, which a mutex
// guards: every method may be called from any thread.
#ifndef DEEPDIST_PYTHON_SRC_KEYED_VECTORS_H_
#define DEEPDIST_PYTHON_SRC_KEYED_VECTORS_H_

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "deepdist/model.h"
#include "deepdist/status.h"
#include "deepdist/word2vec/evaluation.h"
#include "deepdist/word2vec/vectors.h"
#include "deepdist/word2vec/vocabulary.h"

namespace deepdist::python {

// One analogy question and how it went.
struct QuestionOutcome {
  size_t section = 0;
  std::string a, b, c, expected;  // Lowercased, as the engine reads them.
  enum Kind { kSkipped, kIncorrect, kCorrect } kind = kSkipped;
};

struct AnalogyOutcomes {
  std::vector<std::string> sections;
  std::vector<QuestionOutcome> questions;  // In the file's order.
};

class KeyedVectorsCore {
 public:
  // Words and counts from `vocab` (row i is vocab.word(i)), vectors from
  // `table`; with_counts says whether the counts are real (a trained
  // vocabulary) or only stand for the order (loaded vectors).
  KeyedVectorsCore(word2vec::Vocabulary vocab, Table table, bool with_counts);

  // Reads a word2vec binary or text file (the engine tells them apart); only
  // its first `limit` vectors when limit > 0.
  [[nodiscard]] static Result<std::shared_ptr<KeyedVectorsCore>> Load(const std::string& path,
                                                                      size_t limit);

  size_t size() const { return vocab_.size(); }
  size_t dim() const { return table_.dim(); }
  const std::string& word(size_t i) const { return vocab_.word(static_cast<int32_t>(i)); }
  uint64_t count(size_t i) const { return vocab_.count(static_cast<int32_t>(i)); }
  bool with_counts() const { return with_counts_; }
  // The row of `word`, or -1.
  int64_t Find(const std::string& word) const { return vocab_.Find(word); }
  const Table& table() const { return table_; }
  // The vectors scaled to unit length (zero rows stay zero), made once.
  const word2vec::Vectors& Unit() const;

  // Writes the vectors in word2vec's binary or text format (atomically), and
  // with `vocab_path` the "word count" lines (real counts only).
  [[nodiscard]] Status Save(const std::string& path, bool binary,
                            const std::string& vocab_path) const;

  // Every question of the analogy file `path`, answered by 3CosAdd over the
  // first `restrict` rows (0: all) as word2vec::EvaluateAnalogies does.
  [[nodiscard]] Result<AnalogyOutcomes> EvaluateEach(const std::string& path, size_t restrict,
                                                     size_t threads) const;

 private:
  word2vec::Vocabulary vocab_;
  Table table_;
  bool with_counts_;
  mutable std::mutex unit_mu_;
  mutable std::optional<word2vec::Vectors> unit_;
};

}  // namespace deepdist::python

#endif  // DEEPDIST_PYTHON_SRC_KEYED_VECTORS_H_
