#include "deepdist/word2vec/evaluation.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <numeric>
#include <sstream>
#include <thread>

#include "src/core/input_file.h"

namespace deepdist::word2vec {

namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Questions scored together: the inner loop runs across them, so it
// vectorises without reassociating a dot product.
constexpr size_t kBlock = 32;

}  // namespace

Result<QuestionSet> ReadQuestions(const std::string& path) {
  DD_RETURN_IF_ERROR(CheckInputFile(path));
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError(path + ": cannot open for reading");
  QuestionSet set;
  std::string line;
  size_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find('\0') != std::string::npos)
      return Status::Corruption(path + ": is a binary file");
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::istringstream fields(line);
    std::string first;
    if (!(fields >> first)) continue;
    if (first[0] == ':') {
      std::string name = first.size() > 1 ? first.substr(1) : "";
      if (name.empty()) fields >> name;
      set.sections.push_back(name);
      continue;
    }
    Question q;
    q.a = Lower(first);
    std::string extra;
    if (!(fields >> q.b >> q.c >> q.expected) || (fields >> extra)) {
      return Status::Corruption(path + ": line " + std::to_string(line_no) +
                                ": expected 4 words or a \": section\" line");
    }
    q.b = Lower(q.b);
    q.c = Lower(q.c);
    q.expected = Lower(q.expected);
    if (set.sections.empty()) set.sections.push_back("questions");
    q.section = set.sections.size() - 1;
    set.questions.push_back(std::move(q));
  }
  if (set.questions.empty()) return Status::Corruption(path + ": has no questions");
  return set;
}

AnalogyResult EvaluateAnalogies(const Vectors& unit, const QuestionSet& set, size_t restrict,
                                size_t threads) {
  const size_t rows = restrict == 0 ? unit.size() : std::min(restrict, unit.size());
  const size_t dim = unit.dim();
  const auto index = unit.LowercaseIndex(rows);
  struct Job {
    size_t q;
    size_t a, b, c, d;
  };
  std::vector<Job> jobs;
  AnalogyResult result;
  for (const std::string& name : set.sections) result.sections.push_back({name, 0, 0});
  for (size_t i = 0; i < set.questions.size(); ++i) {
    const Question& q = set.questions[i];
    auto ia = index.find(q.a), ib = index.find(q.b), ic = index.find(q.c),
         id = index.find(q.expected);
    if (ia == index.end() || ib == index.end() || ic == index.end() || id == index.end()) {
      ++result.skipped;
      continue;
    }
    jobs.push_back({i, ia->second, ib->second, ic->second, id->second});
  }
  std::vector<char> correct(jobs.size(), 0);
  std::atomic<size_t> next_block{0};
  auto work = [&] {
    std::vector<float> queries(dim * kBlock);  // Transposed: queries[k * kBlock + j].
    std::vector<float> best(kBlock);
    std::vector<size_t> best_row(kBlock);
    float scores[kBlock];
    for (;;) {
      const size_t begin = next_block.fetch_add(1) * kBlock;
      if (begin >= jobs.size()) return;
      const size_t n = std::min(kBlock, jobs.size() - begin);
      std::fill(queries.begin(), queries.end(), 0.0f);
      for (size_t j = 0; j < n; ++j) {
        const Job& job = jobs[begin + j];
        const float* a = unit.row(job.a);
        const float* b = unit.row(job.b);
        const float* c = unit.row(job.c);
        for (size_t k = 0; k < dim; ++k) queries[k * kBlock + j] = b[k] - a[k] + c[k];
        best[j] = -std::numeric_limits<float>::infinity();
        best_row[j] = rows;
      }
      // The query's length does not change which row scores highest.
      for (size_t r = 0; r < rows; ++r) {
        const float* row = unit.row(r);
        for (size_t j = 0; j < kBlock; ++j) scores[j] = 0.0f;
        for (size_t k = 0; k < dim; ++k) {
          const float v = row[k];
          const float* qk = &queries[k * kBlock];
          for (size_t j = 0; j < kBlock; ++j) scores[j] += v * qk[j];
        }
        for (size_t j = 0; j < n; ++j) {
          if (scores[j] > best[j]) {
            const Job& job = jobs[begin + j];
            if (r == job.a || r == job.b || r == job.c) continue;
            best[j] = scores[j];
            best_row[j] = r;
          }
        }
      }
      for (size_t j = 0; j < n; ++j) correct[begin + j] = best_row[j] == jobs[begin + j].d;
    }
  };
  std::vector<std::thread> pool;
  for (size_t t = 1; t < std::max<size_t>(1, threads); ++t) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();
  for (size_t i = 0; i < jobs.size(); ++i) {
    AnalogySection& s = result.sections[set.questions[jobs[i].q].section];
    ++s.total;
    ++result.total;
    if (correct[i]) {
      ++s.correct;
      ++result.correct;
    }
  }
  return result;
}

std::vector<Neighbor> MostSimilar(const Vectors& unit, const std::vector<size_t>& positive,
                                  const std::vector<size_t>& negative, size_t topn, size_t limit) {
  const size_t rows = limit == 0 ? unit.size() : std::min(limit, unit.size());
  const size_t dim = unit.dim();
  std::vector<float> query(dim, 0.0f);
  for (size_t p : positive) {
    for (size_t k = 0; k < dim; ++k) query[k] += unit.row(p)[k];
  }
  for (size_t n : negative) {
    for (size_t k = 0; k < dim; ++k) query[k] -= unit.row(n)[k];
  }
  double norm = 0;
  for (float v : query) norm += static_cast<double>(v) * v;
  const float inv = norm > 0 ? static_cast<float>(1.0 / std::sqrt(norm)) : 0.0f;
  std::vector<std::pair<float, size_t>> scored;
  scored.reserve(rows);
  for (size_t r = 0; r < rows; ++r) {
    if (std::find(positive.begin(), positive.end(), r) != positive.end() ||
        std::find(negative.begin(), negative.end(), r) != negative.end()) {
      continue;
    }
    float s = 0;
    const float* row = unit.row(r);
    for (size_t k = 0; k < dim; ++k) s += row[k] * query[k];
    scored.emplace_back(s * inv, r);
  }
  const size_t k = std::min(topn, scored.size());
  std::partial_sort(scored.begin(), scored.begin() + static_cast<std::ptrdiff_t>(k), scored.end(),
                    [](const auto& x, const auto& y) {
                      return x.first != y.first ? x.first > y.first : x.second < y.second;
                    });
  std::vector<Neighbor> out;
  for (size_t i = 0; i < k; ++i) out.push_back({unit.word(scored[i].second), scored[i].first});
  return out;
}

namespace {
std::vector<double> Ranks(const std::vector<double>& v) {
  std::vector<size_t> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> rank(v.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    const double avg = (static_cast<double>(i) + static_cast<double>(j)) / 2.0 + 1.0;
    for (size_t k = i; k <= j; ++k) rank[order[k]] = avg;
    i = j + 1;
  }
  return rank;
}
}  // namespace

double Spearman(const std::vector<double>& x, const std::vector<double>& y) {
  DD_CHECK(x.size() == y.size());
  const size_t n = x.size();
  if (n < 2) return 0.0;
  const std::vector<double> rx = Ranks(x), ry = Ranks(y);
  const double mean = (static_cast<double>(n) + 1.0) / 2.0;
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < n; ++i) {
    sxy += (rx[i] - mean) * (ry[i] - mean);
    sxx += (rx[i] - mean) * (rx[i] - mean);
    syy += (ry[i] - mean) * (ry[i] - mean);
  }
  if (sxx == 0 || syy == 0) return 0.0;
  return sxy / std::sqrt(sxx * syy);
}

Result<SimilarityResult> EvaluateSimilarity(const Vectors& unit, const std::string& pairs_path) {
  DD_RETURN_IF_ERROR(CheckInputFile(pairs_path));
  std::ifstream in(pairs_path, std::ios::binary);
  if (!in) return Status::IOError(pairs_path + ": cannot open for reading");
  const auto index = unit.LowercaseIndex(unit.size());
  std::vector<double> gold, model;
  SimilarityResult result;
  std::string line;
  size_t line_no = 0;
  bool any = false;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find('\0') != std::string::npos)
      return Status::Corruption(pairs_path + ": is a binary file");
    for (char& c : line) {
      if (c == ',' || c == '\t' || c == '\r') c = ' ';
    }
    std::istringstream fields(line);
    std::string w1, w2, score_text;
    if (!(fields >> w1) || w1[0] == '#') continue;
    if (!(fields >> w2 >> score_text)) {
      return Status::Corruption(pairs_path + ": line " + std::to_string(line_no) +
                                ": expected \"word1 word2 score\"");
    }
    char* end = nullptr;
    const double score = std::strtod(score_text.c_str(), &end);
    if (end == score_text.c_str() || *end != '\0' || !std::isfinite(score)) {
      if (!any) continue;  // A header line.
      return Status::Corruption(pairs_path + ": line " + std::to_string(line_no) + ": score \"" +
                                score_text + "\" is not a number");
    }
    any = true;
    auto i1 = index.find(Lower(w1)), i2 = index.find(Lower(w2));
    if (i1 == index.end() || i2 == index.end()) {
      ++result.skipped;
      continue;
    }
    double cos = 0;
    const float* a = unit.row(i1->second);
    const float* b = unit.row(i2->second);
    for (size_t k = 0; k < unit.dim(); ++k) cos += static_cast<double>(a[k]) * b[k];
    gold.push_back(score);
    model.push_back(cos);
  }
  if (!any) return Status::Corruption(pairs_path + ": has no word pairs");
  result.pairs = gold.size();
  result.spearman = Spearman(gold, model);
  return result;
}

}  // namespace deepdist::word2vec
