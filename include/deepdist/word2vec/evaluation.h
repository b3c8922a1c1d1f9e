// Evaluation of word vectors: word analogies (3CosAdd), word-pair similarity
// (Spearman's rank correlation) and nearest neighbours.
//
// All functions take unit-normalised Vectors (call Vectors::Normalize first)
// and follow gensim's KeyedVectors conventions: analogy questions are
// lowercased, only the first `restrict` rows are searched, a question counts
// only when its four words are among them, and the question's own words are
// never an answer. Thread-safe: they only read the vectors.
#ifndef DEEPDIST_WORD2VEC_EVALUATION_H_
#define DEEPDIST_WORD2VEC_EVALUATION_H_

#include <string>
#include <vector>

#include "deepdist/status.h"
#include "deepdist/word2vec/vectors.h"

namespace deepdist::word2vec {

struct AnalogySection {
  std::string name;
  size_t correct = 0;
  size_t total = 0;
};

struct AnalogyResult {
  size_t correct = 0;
  size_t total = 0;    // Questions evaluated.
  size_t skipped = 0;  // Questions with a word outside the searched rows.
  std::vector<AnalogySection> sections;
  double accuracy() const { return total > 0 ? static_cast<double>(correct) / total : 0.0; }
};

struct Question {
  size_t section;
  std::string a, b, c, expected;  // a is to b as c is to expected; lowercased.
};

struct QuestionSet {
  std::vector<std::string> sections;
  std::vector<Question> questions;
};

// Reads the word2vec questions format (": section" lines, then "a b c d").
[[nodiscard]] Result<QuestionSet> ReadQuestions(const std::string& path);

AnalogyResult EvaluateAnalogies(const Vectors& unit, const QuestionSet& questions, size_t restrict,
                                size_t threads);

struct Neighbor {
  std::string word;
  float score;
};

// The topn rows nearest by cosine to the mean of `positive` minus `negative`
// rows (unit vectors), skipping the given rows; 0 limit searches all rows.
std::vector<Neighbor> MostSimilar(const Vectors& unit, const std::vector<size_t>& positive,
                                  const std::vector<size_t>& negative, size_t topn,
                                  size_t limit = 0);

struct SimilarityResult {
  double spearman = 0;
  size_t pairs = 0;    // Pairs with both words known.
  size_t skipped = 0;  // Pairs with an unknown word.
};

// Reads "word1 word2 score" lines (whitespace, tab or comma separated; '#'
// comments; a header line whose score is not a number is skipped) and
// correlates the scores with the vectors' cosines.
[[nodiscard]] Result<SimilarityResult> EvaluateSimilarity(const Vectors& unit,
                                                          const std::string& pairs_path);

// Spearman's rho with tied values given their average rank.
double Spearman(const std::vector<double>& x, const std::vector<double>& y);

}  // namespace deepdist::word2vec

#endif  // DEEPDIST_WORD2VEC_EVALUATION_H_
