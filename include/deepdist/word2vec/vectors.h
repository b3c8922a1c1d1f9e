// Vectors: word vectors in memory, read from and written to the word2vec
// formats that word2vec.c, gensim and fastText read.
//
// Binary: a "V D\n" header, then per word "word " + D little-endian float32 +
// "\n". Text: the same header, then "word v1 ... vD\n" per word. Writes go to
// a temporary file renamed into place. Loading validates the header against
// the file's size before allocating, and reports truncated or malformed files
// with the file's name. Immutable after loading except Normalize; reads are
// thread-safe.
#ifndef DEEPDIST_WORD2VEC_VECTORS_H_
#define DEEPDIST_WORD2VEC_VECTORS_H_

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "deepdist/model.h"
#include "deepdist/status.h"

namespace deepdist::word2vec {

class Vocabulary;

enum class VectorFormat { kBinary, kText };

// kText when the path ends in ".txt" or ".vec", else kBinary.
VectorFormat FormatForPath(const std::string& path);

// Writes row i of `table` as the vector of vocab.word(i).
[[nodiscard]] Status SaveVectors(const std::string& path, VectorFormat format,
                                 const Vocabulary& vocab, const Table& table);

class Vectors {
 public:
  Vectors() = default;

  // Reads either format (told apart by the first record).
  [[nodiscard]] static Result<Vectors> Load(const std::string& path);
  // Row i of `table` as the vector of vocab.word(i), for the first `limit`
  // rows (0: all): a model in memory, evaluated without a file.
  static Vectors FromTable(const Vocabulary& vocab, const Table& table, size_t limit = 0);

  size_t size() const { return words_.size(); }
  size_t dim() const { return dim_; }
  const std::string& word(size_t i) const { return words_[i]; }
  const float* row(size_t i) const { return data_.data() + i * dim_; }
  // The row of `word`, or -1.
  int64_t Find(std::string_view word) const;
  // Lowercased word -> row over the first `limit` rows; where two words share
  // a lowercase form the earlier (more frequent) row wins, as in gensim.
  std::unordered_map<std::string, size_t> LowercaseIndex(size_t limit) const;
  // Scales every row to unit length (zero rows stay zero).
  void Normalize();

 private:
  std::vector<std::string> words_;
  std::unordered_map<std::string, size_t> index_;
  std::vector<float> data_;
  size_t dim_ = 0;
};

}  // namespace deepdist::word2vec

#endif  // DEEPDIST_WORD2VEC_VECTORS_H_
