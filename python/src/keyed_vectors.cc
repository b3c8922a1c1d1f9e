#include "keyed_vectors.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace deepdist::python {

KeyedVectorsCore::KeyedVectorsCore(word2vec::Vocabulary vocab, Table table, bool with_counts)
    : vocab_(std::move(vocab)), table_(std::move(table)), with_counts_(with_counts) {}

Result<std::shared_ptr<KeyedVectorsCore>> KeyedVectorsCore::Load(const std::string& path,
                                                                 size_t limit) {
  Result<word2vec::Vectors> loaded = word2vec::Vectors::Load(path);
  if (!loaded.ok()) return loaded.status();
  const word2vec::Vectors& v = *loaded;
  const size_t rows = limit > 0 ? std::min(limit, v.size()) : v.size();
  // A vocabulary that keeps the file's order: counts falling from `rows`
  // (they stand for the order only; Save writes no counts of them).
  std::vector<std::pair<std::string, uint64_t>> counts;
  counts.reserve(rows);
  uint64_t total = 0;
  for (size_t i = 0; i < rows; ++i) {
    counts.emplace_back(v.word(i), rows - i);
    total += rows - i;
  }
  word2vec::VocabularyOptions options;
  options.min_count = 1;
  word2vec::Vocabulary vocab = word2vec::Vocabulary::FromCounts(counts, total, options);
  if (vocab.size() != rows) {
    return Status::Corruption(path + ": a word occurs more than once");
  }
  Table table("in", rows, v.dim());
  for (size_t i = 0; i < rows; ++i) std::memcpy(table.row(i), v.row(i), v.dim() * sizeof(float));
  return std::make_shared<KeyedVectorsCore>(std::move(vocab), std::move(table), false);
}

const word2vec::Vectors& KeyedVectorsCore::Unit() const {
  std::lock_guard<std::mutex> lock(unit_mu_);
  if (!unit_) {
    unit_ = word2vec::Vectors::FromTable(vocab_, table_);
    unit_->Normalize();
  }
  return *unit_;
}

Status KeyedVectorsCore::Save(const std::string& path, bool binary,
                              const std::string& vocab_path) const {
  if (!vocab_path.empty() && !with_counts_) {
    return Status::InvalidArgument(
        "fvocab: these vectors were loaded from a file and have no word counts to write");
  }
  DD_RETURN_IF_ERROR(word2vec::SaveVectors(
      path, binary ? word2vec::VectorFormat::kBinary : word2vec::VectorFormat::kText, vocab_,
      table_));
  if (!vocab_path.empty()) return vocab_.Save(vocab_path);
  return Status::OK();
}

Result<AnalogyOutcomes> KeyedVectorsCore::EvaluateEach(const std::string& path, size_t restrict,
                                                       size_t threads) const {
  Result<word2vec::QuestionSet> read = word2vec::ReadQuestions(path);
  if (!read.ok()) return read.status();
  const word2vec::QuestionSet& set = *read;
  // The engine counts per section: asked with every question in a section
  // of its own, its counts say how each question went.
  word2vec::QuestionSet each;
  each.sections.resize(set.questions.size());
  each.questions = set.questions;
  for (size_t i = 0; i < each.questions.size(); ++i) each.questions[i].section = i;
  const word2vec::AnalogyResult result =
      word2vec::EvaluateAnalogies(Unit(), each, restrict, threads);
  AnalogyOutcomes out;
  out.sections = set.sections;
  out.questions.reserve(set.questions.size());
  for (size_t i = 0; i < set.questions.size(); ++i) {
    const word2vec::Question& q = set.questions[i];
    const word2vec::AnalogySection& s = result.sections[i];
    QuestionOutcome o;
    o.section = q.section;
    o.a = q.a;
    o.b = q.b;
    o.c = q.c;
    o.expected = q.expected;
    o.kind = s.total == 0    ? QuestionOutcome::kSkipped
             : s.correct > 0 ? QuestionOutcome::kCorrect
                             : QuestionOutcome::kIncorrect;
    out.questions.push_back(std::move(o));
  }
  return out;
}

}  // namespace deepdist::python
