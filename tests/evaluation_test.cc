// Analogy, similarity and nearest-neighbour evaluation on hand-made vectors
// whose answers are known, and against brute-force references.
#include "deepdist/word2vec/evaluation.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "deepdist/word2vec/vectors.h"
#include "tests/test_support.h"

namespace deepdist::word2vec {
namespace {

constexpr double kPi = 3.14159265358979323846;

class EvaluationTest : public testing_support::TempDirTest {
 protected:
  EvaluationTest() : TempDirTest("deepdist_eval_test_") {}

  // Unit vectors for `words` with the given rows (normalised after loading).
  Vectors MakeVectors(const std::vector<std::string>& words,
                      const std::vector<std::vector<double>>& rows) {
    std::string text = std::to_string(words.size()) + " " + std::to_string(rows[0].size()) + "\n";
    char buf[64];
    for (size_t i = 0; i < words.size(); ++i) {
      text += words[i];
      for (double x : rows[i]) {
        std::snprintf(buf, sizeof(buf), " %.9g", x);
        text += buf;
      }
      text += "\n";
    }
    const std::string path = Write("vectors" + std::to_string(++files_) + ".txt", text);
    Result<Vectors> v = Vectors::Load(path);
    EXPECT_TRUE(v.ok()) << v.status().ToString();
    if (!v.ok()) return Vectors();
    v->Normalize();
    return std::move(v).value();
  }

  // Vectors for the words "w0" ... "w<n-1>" (also put in `words`), each row
  // `dim` normal values drawn from `rng`.
  Vectors RandomVectors(size_t n, size_t dim, std::mt19937_64* rng,
                        std::vector<std::string>* words) {
    std::normal_distribution<double> normal;
    std::vector<std::vector<double>> rows(n, std::vector<double>(dim));
    for (size_t i = 0; i < n; ++i) {
      words->push_back("w" + std::to_string(i));
      for (double& x : rows[i]) x = normal(*rng);
    }
    return MakeVectors(*words, rows);
  }

  QuestionSet Questions(const std::string& text) {
    const std::string path = Write("questions" + std::to_string(++files_) + ".txt", text);
    Result<QuestionSet> q = ReadQuestions(path);
    EXPECT_TRUE(q.ok()) << q.status().ToString();
    return q.ok() ? std::move(q).value() : QuestionSet();
  }

  int files_ = 0;
};

std::vector<double> Angle(double degrees) {
  return {std::cos(degrees * kPi / 180.0), std::sin(degrees * kPi / 180.0)};
}

// ---------------------------------------------------------------------------
// ReadQuestions

TEST_F(EvaluationTest, ReadQuestionsSectionsAndLowercasing) {
  const std::string path = Write("q.txt",
                                 ": capital-common-countries\n"
                                 "Athens Greece Baghdad Iraq\n"
                                 "athens  greece\tBANGKOK Thailand\r\n"
                                 "\n"
                                 ": family\n"
                                 "boy girl Brother SISTER\n"
                                 ":gram1-adjective-to-adverb\n"
                                 "calm calmly quick quickly\n");
  Result<QuestionSet> q = ReadQuestions(path);
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_EQ(q->sections, (std::vector<std::string>{"capital-common-countries", "family",
                                                   "gram1-adjective-to-adverb"}));
  ASSERT_EQ(q->questions.size(), 4u);
  const Question& q0 = q->questions[0];
  EXPECT_EQ(q0.section, 0u);
  EXPECT_EQ(q0.a, "athens");
  EXPECT_EQ(q0.b, "greece");
  EXPECT_EQ(q0.c, "baghdad");
  EXPECT_EQ(q0.expected, "iraq");
  EXPECT_EQ(q->questions[1].c, "bangkok");
  EXPECT_EQ(q->questions[1].expected, "thailand");  // No '\r' left over.
  EXPECT_EQ(q->questions[1].section, 0u);
  EXPECT_EQ(q->questions[2].section, 1u);
  EXPECT_EQ(q->questions[2].c, "brother");
  EXPECT_EQ(q->questions[2].expected, "sister");
  EXPECT_EQ(q->questions[3].section, 2u);
  EXPECT_EQ(q->questions[3].a, "calm");
}

TEST_F(EvaluationTest, ReadQuestionsBeforeAnySectionGetADefaultSection) {
  const QuestionSet q = Questions("a b c d\n: named\ne f g h\n");
  ASSERT_EQ(q.sections.size(), 2u);
  EXPECT_EQ(q.sections[1], "named");
  ASSERT_EQ(q.questions.size(), 2u);
  EXPECT_EQ(q.questions[0].section, 0u);
  EXPECT_EQ(q.questions[1].section, 1u);
}

TEST_F(EvaluationTest, ReadQuestionsErrorsNameFileAndLine) {
  const std::string three = Write("three.txt", ": s\na b c d\ne f g\nh i j k\n");
  Result<QuestionSet> r = ReadQuestions(three);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(three), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("line 3"), std::string::npos) << r.status().message();

  const std::string five = Write("five.txt", "a b c d\na b c d e\n");
  r = ReadQuestions(five);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(five), std::string::npos);
  EXPECT_NE(r.status().message().find("line 2"), std::string::npos) << r.status().message();

  const std::string empty = Write("empty.txt", "");
  r = ReadQuestions(empty);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(empty), std::string::npos) << r.status().message();

  const std::string sections_only = Write("sections.txt", ": a\n: b\n\n");
  r = ReadQuestions(sections_only);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(sections_only), std::string::npos);

  const std::string missing = dir_ + "/missing.txt";
  r = ReadQuestions(missing);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(missing), std::string::npos);
}

// ---------------------------------------------------------------------------
// EvaluateAnalogies on hand-made vectors
//
// With a = e1, b = e2, c = e3 the query b - a + c is (-1, 1, 1, 0): b and c
// score 1, d = (0, .5, 0, .866) scores .5, e = e4 scores 0, and
// f = (0, .707, .707, 0) scores 1.414.

const std::vector<std::vector<double>> kRows = {{1, 0, 0, 0},        {0, 1, 0, 0},
                                                {0, 0, 1, 0},        {0, 0.5, 0, 0.8660254},
                                                {0, 0, 0, 1},        {0, 0.70710678, 0.70710678, 0},
                                                {0.5, 0.5, 0.5, 0.5}};
const std::vector<std::string> kWords = {"a", "b", "c", "d", "e", "f", "g"};

TEST_F(EvaluationTest, QuestionWordsAreNeverAnswers) {
  // Without f, d is the best row that is not a question word, though b and c
  // score higher.
  const Vectors v =
      MakeVectors({"a", "b", "c", "d", "e"}, {kRows[0], kRows[1], kRows[2], kRows[3], kRows[4]});
  const QuestionSet q = Questions(
      ": s\n"
      "a b c d\n"
      "a b c b\n"
      "a b c c\n"
      "A B C E\n");
  for (size_t threads : {1u, 3u}) {
    const AnalogyResult r = EvaluateAnalogies(v, q, 0, threads);
    EXPECT_EQ(r.total, 4u);
    EXPECT_EQ(r.skipped, 0u);
    EXPECT_EQ(r.correct, 1u) << "only \"a b c d\" is right";
    EXPECT_DOUBLE_EQ(r.accuracy(), 0.25);
  }
  // A question asking for one of its own words is never right.
  const AnalogyResult own = EvaluateAnalogies(v, Questions("a b c b\nb a c a\n"), 0, 1);
  EXPECT_EQ(own.total, 2u);
  EXPECT_EQ(own.correct, 0u);
}

TEST_F(EvaluationTest, RestrictExcludesRowsBeyondTheLimit) {
  const Vectors v = MakeVectors(kWords, kRows);
  const QuestionSet q = Questions(
      ": first\n"
      "a b c d\n"
      "a b c f\n"
      ": second\n"
      "g b c d\n"
      "a b c zzz\n");
  // All rows: f beats d.
  AnalogyResult r = EvaluateAnalogies(v, q, 0, 1);
  EXPECT_EQ(r.total, 3u);
  EXPECT_EQ(r.skipped, 1u);  // zzz is not a word.
  EXPECT_EQ(r.correct, 1u);  // "a b c f".
  ASSERT_EQ(r.sections.size(), 2u);
  EXPECT_EQ(r.sections[0].name, "first");
  EXPECT_EQ(r.sections[0].total, 2u);
  EXPECT_EQ(r.sections[0].correct, 1u);
  EXPECT_EQ(r.sections[1].name, "second");
  EXPECT_EQ(r.sections[1].total, 1u);
  EXPECT_EQ(r.sections[1].correct, 0u);

  // A limit above the row count is no limit.
  const AnalogyResult all = EvaluateAnalogies(v, q, 1000, 2);
  EXPECT_EQ(all.total, r.total);
  EXPECT_EQ(all.correct, r.correct);
  EXPECT_EQ(all.skipped, r.skipped);

  // The first 5 rows: f is neither searched nor asked for; g is out.
  r = EvaluateAnalogies(v, q, 5, 1);
  EXPECT_EQ(r.total, 1u);
  EXPECT_EQ(r.skipped, 3u);
  EXPECT_EQ(r.correct, 1u);  // "a b c d": f is no longer searched.
  EXPECT_EQ(r.sections[0].total, 1u);
  EXPECT_EQ(r.sections[0].correct, 1u);
  EXPECT_EQ(r.sections[1].total, 0u);
  EXPECT_EQ(r.sections[1].correct, 0u);

  // The first 3 rows hold no whole question.
  r = EvaluateAnalogies(v, q, 3, 1);
  EXPECT_EQ(r.total, 0u);
  EXPECT_EQ(r.skipped, 4u);
  EXPECT_EQ(r.correct, 0u);
  EXPECT_EQ(r.accuracy(), 0.0);
}

TEST_F(EvaluationTest, QuestionsMatchWordsCaseInsensitively) {
  // "D" and "d" share a lowercase form: the earlier row ("D", the answer) is
  // the one the question's "d" means; row "d" scores 0.
  const Vectors v =
      MakeVectors({"A", "B", "C", "D", "d"}, {kRows[0], kRows[1], kRows[2], kRows[3], kRows[4]});
  const AnalogyResult r = EvaluateAnalogies(v, Questions("a b c d\n"), 0, 1);
  EXPECT_EQ(r.total, 1u);
  EXPECT_EQ(r.skipped, 0u);
  EXPECT_EQ(r.correct, 1u);
}

// Brute force: for each question, the best row (in double) outside a, b, c.
struct ReferenceResult {
  size_t correct = 0, total = 0, skipped = 0;
  std::vector<size_t> section_correct, section_total;
};

// The best row for b - a + c among the first `rows` rows, and the margin to
// the runner-up.
std::pair<size_t, double> BestRow(const Vectors& v, size_t a, size_t b, size_t c, size_t rows) {
  double best = -std::numeric_limits<double>::infinity(), second = best;
  size_t best_row = rows;
  for (size_t r = 0; r < rows; ++r) {
    if (r == a || r == b || r == c) continue;
    double s = 0;
    for (size_t k = 0; k < v.dim(); ++k) {
      s += static_cast<double>(v.row(r)[k]) *
           (static_cast<double>(v.row(b)[k]) - v.row(a)[k] + v.row(c)[k]);
    }
    if (s > best) {
      second = best;
      best = s;
      best_row = r;
    } else if (s > second) {
      second = s;
    }
  }
  return {best_row, best - second};
}

TEST_F(EvaluationTest, AnalogiesMatchBruteForceOnRandomVectors) {
  const size_t n = 20, dim = 6, sections = 3;
  std::mt19937_64 rng(77);
  std::vector<std::string> words;
  const Vectors v = RandomVectors(n, dim, &rng, &words);
  ASSERT_EQ(v.size(), n);

  // 60 questions, half asking for the brute-force answer over all rows, and
  // none close to a tie under either limit.
  std::string text;
  std::vector<std::array<size_t, 5>> qs;  // a, b, c, expected, section
  size_t section = sections;
  while (qs.size() < 60) {
    size_t a = rng() % n, b = rng() % n, c = rng() % n;
    if (a == b || b == c || a == c) continue;
    const auto [best_all, margin_all] = BestRow(v, a, b, c, n);
    const auto [best_15, margin_15] = BestRow(v, a, b, c, 15);
    if (margin_all < 1e-4 || margin_15 < 1e-4) continue;
    const size_t d = qs.size() % 2 == 0 ? best_all : rng() % n;
    const size_t s = rng() % sections;
    if (s != section) {
      text += ": sec" + std::to_string(s) + "\n";
      section = s;
    }
    qs.push_back({a, b, c, d, s});
    text += words[a] + " " + words[b] + " " + words[c] + " " + words[d] + "\n";
  }
  const QuestionSet q = Questions(text);
  ASSERT_EQ(q.questions.size(), 60u);

  for (size_t restrict : {0u, 15u}) {
    const size_t limit = restrict == 0 ? n : restrict;
    ReferenceResult ref;
    std::vector<size_t> per_section_correct(q.sections.size(), 0),
        per_section_total(q.sections.size(), 0);
    for (size_t i = 0; i < qs.size(); ++i) {
      const auto& [a, b, c, d, s] = qs[i];
      if (a >= limit || b >= limit || c >= limit || d >= limit) {
        ++ref.skipped;
        continue;
      }
      ++ref.total;
      ++per_section_total[q.questions[i].section];
      if (BestRow(v, a, b, c, limit).first == d) {
        ++ref.correct;
        ++per_section_correct[q.questions[i].section];
      }
    }
    ASSERT_GT(ref.correct, 5u);
    ASSERT_LT(ref.correct, ref.total);
    for (size_t threads : {1u, 3u}) {
      const AnalogyResult r = EvaluateAnalogies(v, q, restrict, threads);
      EXPECT_EQ(r.correct, ref.correct) << "restrict " << restrict << ", threads " << threads;
      EXPECT_EQ(r.total, ref.total);
      EXPECT_EQ(r.skipped, ref.skipped);
      ASSERT_EQ(r.sections.size(), q.sections.size());
      for (size_t s = 0; s < q.sections.size(); ++s) {
        EXPECT_EQ(r.sections[s].name, q.sections[s]);
        EXPECT_EQ(r.sections[s].correct, per_section_correct[s]) << "section " << s;
        EXPECT_EQ(r.sections[s].total, per_section_total[s]) << "section " << s;
      }
    }
  }
}

// ---------------------------------------------------------------------------
// MostSimilar

TEST_F(EvaluationTest, MostSimilarOrdersByCosineAndSkipsQueryRows) {
  const Vectors v =
      MakeVectors({"x", "p10", "p30", "up", "minus", "p70", "p10b"},
                  {Angle(0), Angle(10), Angle(30), Angle(90), Angle(180), Angle(70), Angle(10)});
  // Nearest to x: the two rows at 10 degrees (earlier row first), then 30, 70.
  std::vector<Neighbor> n = MostSimilar(v, {0}, {}, 4);
  ASSERT_EQ(n.size(), 4u);
  EXPECT_EQ(n[0].word, "p10");
  EXPECT_EQ(n[1].word, "p10b");
  EXPECT_EQ(n[2].word, "p30");
  EXPECT_EQ(n[3].word, "p70");
  EXPECT_NEAR(n[0].score, std::cos(10 * kPi / 180), 1e-6);
  EXPECT_NEAR(n[2].score, std::cos(30 * kPi / 180), 1e-6);
  EXPECT_NEAR(n[3].score, std::cos(70 * kPi / 180), 1e-6);

  // topn beyond the rows: every row but the query's, best first.
  n = MostSimilar(v, {0}, {}, 100);
  ASSERT_EQ(n.size(), 6u);
  EXPECT_EQ(n.back().word, "minus");
  EXPECT_NEAR(n.back().score, -1.0, 1e-6);
  for (size_t i = 1; i < n.size(); ++i) EXPECT_GE(n[i - 1].score, n[i].score);
  for (const Neighbor& m : n) EXPECT_NE(m.word, "x");

  // x - minus points the same way as x; both rows are skipped.
  n = MostSimilar(v, {0}, {4}, 100);
  ASSERT_EQ(n.size(), 5u);
  EXPECT_EQ(n[0].word, "p10");
  for (const Neighbor& m : n) {
    EXPECT_NE(m.word, "x");
    EXPECT_NE(m.word, "minus");
  }

  // The mean of two positives: x and up average to 45 degrees, 15 from p30
  // and 25 from p70.
  n = MostSimilar(v, {0, 3}, {}, 2);
  ASSERT_EQ(n.size(), 2u);
  EXPECT_EQ(n[0].word, "p30");
  EXPECT_NEAR(n[0].score, std::cos(15 * kPi / 180), 1e-6);
  EXPECT_EQ(n[1].word, "p70");
  EXPECT_NEAR(n[1].score, std::cos(25 * kPi / 180), 1e-6);

  // limit: only the first 3 rows are searched.
  n = MostSimilar(v, {0}, {}, 10, 3);
  ASSERT_EQ(n.size(), 2u);
  EXPECT_EQ(n[0].word, "p10");
  EXPECT_EQ(n[1].word, "p30");
}

TEST_F(EvaluationTest, MostSimilarMatchesBruteForce) {
  const size_t n = 40, dim = 9;
  std::mt19937_64 rng(3);
  std::vector<std::string> words;
  const Vectors v = RandomVectors(n, dim, &rng, &words);
  const std::vector<size_t> pos = {1, 7}, neg = {12};
  std::vector<double> query(dim, 0.0);
  for (size_t k = 0; k < dim; ++k) {
    query[k] = static_cast<double>(v.row(1)[k]) + v.row(7)[k] - v.row(12)[k];
  }
  double norm = 0;
  for (double x : query) norm += x * x;
  norm = std::sqrt(norm);
  std::vector<std::pair<double, size_t>> ref;
  for (size_t r = 0; r < n; ++r) {
    if (r == 1 || r == 7 || r == 12) continue;
    double s = 0;
    for (size_t k = 0; k < dim; ++k) s += v.row(r)[k] * query[k];
    ref.emplace_back(s / norm, r);
  }
  std::sort(ref.begin(), ref.end(), [](const auto& x, const auto& y) { return x.first > y.first; });
  const std::vector<Neighbor> got = MostSimilar(v, pos, neg, 10);
  ASSERT_EQ(got.size(), 10u);
  for (size_t i = 0; i < 10; ++i) {
    EXPECT_EQ(got[i].word, words[ref[i].second]) << "rank " << i;
    EXPECT_NEAR(got[i].score, ref[i].first, 1e-5) << "rank " << i;
  }
}

// ---------------------------------------------------------------------------
// Spearman

TEST(SpearmanTest, HandComputedValues) {
  // y ranks with average ranks for the tie: {1, 2, 3.5, 5, 3.5}; x ranks
  // {1..5}. Deviations from 3: x {-2,-1,0,1,2}, y {-2,-1,.5,2,.5}:
  // sxy = 8, sxx = 10, syy = 9.5, rho = 8 / sqrt(95).
  EXPECT_NEAR(Spearman({1, 2, 3, 4, 5}, {5, 6, 7, 8, 7}), 8.0 / std::sqrt(95.0), 1e-12);
  // Ties on both sides: ranks {1.5,1.5,3,4} and {3,1.5,1.5,4}:
  // sxy = 2.25, sxx = syy = 4.5, rho = .5.
  EXPECT_NEAR(Spearman({1, 1, 2, 3}, {2, 1, 1, 3}), 0.5, 1e-12);
  // No ties: 1 - 6 sum(d^2) / (n (n^2 - 1)) with d = {0, 1, -1, 0, 0}.
  EXPECT_NEAR(Spearman({10, 20, 30, 40, 50}, {0.1, 0.3, 0.2, 0.4, 0.5}), 0.9, 1e-12);
  // Monotone transforms do not matter; reversal flips the sign.
  EXPECT_NEAR(Spearman({1, 2, 3, 4}, {1, 8, 27, 64}), 1.0, 1e-12);
  EXPECT_NEAR(Spearman({1, 2, 3, 4}, {4, 3, 2, 1}), -1.0, 1e-12);
  // Order of the pairs does not matter.
  EXPECT_NEAR(Spearman({5, 1, 4, 2, 3}, {7, 5, 8, 6, 7}), 8.0 / std::sqrt(95.0), 1e-12);
  // Constant input and fewer than two pairs: no correlation.
  EXPECT_EQ(Spearman({1, 1, 1}, {1, 2, 3}), 0.0);
  EXPECT_EQ(Spearman({1}, {2}), 0.0);
  EXPECT_EQ(Spearman({}, {}), 0.0);
}

// ---------------------------------------------------------------------------
// EvaluateSimilarity

TEST_F(EvaluationTest, EvaluateSimilarityParsesPairsFiles) {
  // Cosines: a-b .940, a-c .643, c-d .766, a-d 0, b-d .342.
  const Vectors v = MakeVectors({"a", "b", "c", "d"}, {Angle(0), Angle(20), Angle(50), Angle(90)});
  const std::string path = Write("pairs.csv",
                                 "word1,word2,score\n"
                                 "# a comment line\n"
                                 "a b 9.0\n"
                                 "a\tc\t5.0\r\n"
                                 "\n"
                                 "c,d,4.0\n"
                                 "A D 1\n"
                                 "a zzz 3.0\n"
                                 "b, d, 2.0\n");
  Result<SimilarityResult> r = EvaluateSimilarity(v, path);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->pairs, 5u);
  EXPECT_EQ(r->skipped, 1u);
  // Gold ranks {5,4,3,1,2}, cosine ranks {5,3,4,1,2}: rho = 1 - 6*2/120.
  EXPECT_NEAR(r->spearman, 0.9, 1e-9);

  // Gold in the cosines' order correlates perfectly.
  const std::string same = Write("same.tsv", "a\tb\t10\na\tc\t6\nc\td\t8\na\td\t0\nb\td\t3\n");
  r = EvaluateSimilarity(v, same);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->pairs, 5u);
  EXPECT_EQ(r->skipped, 0u);
  EXPECT_NEAR(r->spearman, 1.0, 1e-12);
}

TEST_F(EvaluationTest, EvaluateSimilarityErrors) {
  const Vectors v = MakeVectors({"a", "b", "c"}, {Angle(0), Angle(20), Angle(50)});
  const std::string bad_score = Write("bad_score.txt", "a b 1\na c x\n");
  Result<SimilarityResult> r = EvaluateSimilarity(v, bad_score);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(bad_score), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("line 2"), std::string::npos) << r.status().message();

  const std::string no_score = Write("no_score.txt", "a b 1\na c\n");
  r = EvaluateSimilarity(v, no_score);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(no_score), std::string::npos);

  const std::string header_only = Write("header.txt", "# pairs\nword1 word2 score\n");
  r = EvaluateSimilarity(v, header_only);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(header_only), std::string::npos);

  const std::string missing = dir_ + "/missing.txt";
  r = EvaluateSimilarity(v, missing);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(missing), std::string::npos);

  // Every pair unknown: none evaluated, all skipped.
  r = EvaluateSimilarity(v, Write("oov.txt", "x y 1\ny z 2\n"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->pairs, 0u);
  EXPECT_EQ(r->skipped, 2u);
}

}  // namespace
}  // namespace deepdist::word2vec
