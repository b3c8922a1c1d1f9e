// Phrase detection (deepdist corpus phrases) against a plain reference: the
// score formula and the phrases it picks on a small hand-made text, the
// left-to-right joins, the min-count and threshold edges, a second pass,
// pruning, counts split over threads (exact wherever the splits fall), and
// the command line's error contract and --json summary.
#include "src/corpus/phrases.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "tests/test_support.h"

namespace deepdist::corpus {
namespace {

namespace fs = std::filesystem;
using testing_support::CommandResult;
using testing_support::ReadFile;
using testing_support::TempDirTest;

// The reference: std::maps over the lines of a text, each split on
// whitespace by operator>> (" \t\n\v\f\r", as the library splits).
struct Reference {
  std::map<std::string, uint64_t> words;
  std::map<std::pair<std::string, std::string>, uint64_t> pairs;
  uint64_t total = 0;

  explicit Reference(const std::string& text) {
    for (const std::vector<std::string>& line : Lines(text)) {
      for (size_t i = 0; i < line.size(); ++i) {
        ++words[line[i]];
        ++total;
        if (i > 0) ++pairs[{line[i - 1], line[i]}];
      }
    }
  }

  static std::vector<std::vector<std::string>> Lines(const std::string& text) {
    std::vector<std::vector<std::string>> lines;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream split(line);
      std::vector<std::string> words;
      std::string w;
      while (split >> w) words.push_back(w);
      lines.push_back(words);
    }
    return lines;
  }

  uint64_t Word(const std::string& w) const {
    auto it = words.find(w);
    return it == words.end() ? 0 : it->second;
  }

  uint64_t Pair(const std::string& a, const std::string& b) const {
    auto it = pairs.find({a, b});
    return it == pairs.end() ? 0 : it->second;
  }

  // Eq. 6 of Mikolov et al. (2013), with word2phrase's rule for rare words.
  double Score(const std::string& a, const std::string& b, uint64_t min_count) const {
    const uint64_t ca = Word(a);
    const uint64_t cb = Word(b);
    if (ca < min_count || cb < min_count) return 0;
    return (static_cast<double>(Pair(a, b)) - static_cast<double>(min_count)) /
           (static_cast<double>(ca) * static_cast<double>(cb)) * static_cast<double>(total);
  }

  // The text rewritten: left to right, a word joined to the one before
  // starts no pair.
  std::string Join(const std::string& text, uint64_t min_count, double threshold) const {
    std::string out;
    for (const std::vector<std::string>& line : Lines(text)) {
      bool free = false;  // May the word before start a pair?
      for (size_t i = 0; i < line.size(); ++i) {
        const bool join = free && Score(line[i - 1], line[i], min_count) > threshold;
        if (i > 0) out += join ? '_' : ' ';
        out += line[i];
        free = !join;
      }
      out += '\n';
    }
    return out;
  }
};

// Every count of `counts` is the reference's: the same totals, the same
// number of entries, and each reference entry with its count.
void ExpectCountsAre(const PhraseCounts& counts, const Reference& ref) {
  EXPECT_EQ(counts.total_words(), ref.total);
  EXPECT_EQ(counts.unique_words(), ref.words.size());
  EXPECT_EQ(counts.unique_bigrams(), ref.pairs.size());
  EXPECT_EQ(counts.prune_threshold(), 0u);
  size_t wrong = 0;
  for (const auto& [w, c] : ref.words) {
    if (counts.Count(w) != c) {
      ADD_FAILURE() << w << ": " << counts.Count(w) << ", not " << c;
      if (++wrong > 5) return;
    }
  }
  for (const auto& [ab, c] : ref.pairs) {
    if (counts.Count(ab.first, ab.second) != c) {
      ADD_FAILURE() << ab.first << " " << ab.second << ": " << counts.Count(ab.first, ab.second)
                    << ", not " << c;
      if (++wrong > 5) return;
    }
  }
}

// Ten hand-made lines: with min-count 2 over 72 words, "los angeles"
// scores (4 - 2) / (4 * 4) * 72 = 9, "new york" (6 - 2) / (8 * 6) * 72 = 6
// and "big city" (3 - 2) / (4 * 5) * 72 = 3.6; every other pair 0 or less.
constexpr char kHandText[] =
    "new york is a big city\n"
    "she moved to new york in may\n"
    "the new york subway runs all night\n"
    "los angeles is a big city too\n"
    "he flew from new york to los angeles\n"
    "los angeles has no subway at night\n"
    "the big city never sleeps\n"
    "a new city in the new world\n"
    "she is in new york and he is in los angeles\n"
    "the city of new york is big\n";

// `line` words from a vocabulary of `vocab` ("v0", "v1", ...), with "new
// york", "san francisco" and "new york times" every few words: text on
// which phrases exist, of two words and (on a second pass) of three.
std::string RandomLine(std::mt19937& rng, size_t words, size_t vocab) {
  std::string line;
  for (size_t i = 0; i < words; ++i) {
    if (!line.empty()) line += ' ';
    switch (rng() % 12) {
      case 0:
        line += "new york";
        break;
      case 1:
        line += "san francisco";
        break;
      case 2:
        line += "new york times";
        break;
      default:
        line += "v" + std::to_string(rng() % vocab);
    }
  }
  return line;
}

// Lines of random lengths (some empty, some with extra blanks), about
// `bytes` in all.
std::string RandomText(uint32_t seed, size_t bytes, size_t vocab) {
  std::mt19937 rng(seed);
  std::string text;
  while (text.size() < bytes) {
    const size_t kind = rng() % 10;
    if (kind == 0) {
      text += "\n";
    } else if (kind == 1) {
      text += "  \t" + RandomLine(rng, 1 + rng() % 30, vocab) + " \r\n";
    } else {
      text += RandomLine(rng, 1 + rng() % 30, vocab) + "\n";
    }
  }
  return text;
}

class PhrasesTest : public TempDirTest {
 protected:
  PhrasesTest() : TempDirTest("deepdist_phrases_test_") {}

  static PhraseOptions Options(int64_t min_count, double threshold, int64_t passes = 1,
                               int64_t threads = 1) {
    PhraseOptions o;
    o.min_count = min_count;
    o.threshold = threshold;
    o.passes = passes;
    o.threads = threads;
    return o;
  }

  PhraseCounts Count(const std::string& text, const PhraseOptions& options) const {
    Result<PhraseCounts> counts = CountPhrases(Write("text.txt", text), options);
    EXPECT_TRUE(counts.ok()) << counts.status().message();
    return std::move(counts).value();
  }

  // The output of FindPhrases on `text`; its stats in *stats.
  std::string Find(const std::string& text, const PhraseOptions& options,
                   PhraseStats* stats = nullptr) const {
    const std::string output = dir_ + "/out.txt";
    Result<PhraseStats> found = FindPhrases(options, Write("in.txt", text), output);
    EXPECT_TRUE(found.ok()) << found.status().message();
    if (found.ok() && stats != nullptr) *stats = *found;
    return ReadFile(output);
  }
};

TEST_F(PhrasesTest, ScoreIsEquationSix) {
  EXPECT_DOUBLE_EQ(PhraseScore(8, 6, 6, 72, 2), (6.0 - 2.0) / (8.0 * 6.0) * 72.0);
  EXPECT_EQ(PhraseScore(4, 4, 4, 72, 2), 9.0);
  EXPECT_EQ(PhraseScore(1000, 10, 5, 1000000, 5), 0.0);  // count(ab) == min_count.
  EXPECT_LT(PhraseScore(1000, 10, 4, 1000000, 5), 0.0);
  // A word below min_count scores 0, whatever its pair's count says.
  EXPECT_EQ(PhraseScore(4, 100, 50, 1000, 5), 0.0);
  EXPECT_EQ(PhraseScore(100, 4, 50, 1000, 5), 0.0);
  EXPECT_GT(PhraseScore(5, 100, 50, 1000, 5), 0.0);
  EXPECT_EQ(PhraseScore(0, 0, 0, 1000, 1), 0.0);
}

TEST_F(PhrasesTest, CountsAreThePlainCounts) {
  const Reference ref(kHandText);
  ExpectCountsAre(Count(kHandText, Options(2, 4)), ref);
  const PhraseCounts counts = Count(kHandText, Options(2, 4));
  EXPECT_EQ(counts.total_words(), 72u);
  EXPECT_EQ(counts.Count("new", "york"), 6u);
  // Pairs do not span lines: "big" ends line 1 and "she" starts line 2.
  EXPECT_EQ(counts.Count("city", "she"), 0u);
  EXPECT_EQ(counts.Count("no-such-word"), 0u);
}

TEST_F(PhrasesTest, JoinsExactlyThePairsAboveTheThreshold) {
  const Reference ref(kHandText);
  EXPECT_EQ(ref.Score("los", "angeles", 2), 9.0);
  EXPECT_EQ(ref.Score("big", "city", 2), 3.6);
  struct Case {
    double threshold;
    std::set<std::string> phrases;
  };
  for (const Case& c :
       {Case{4, {"los_angeles", "new_york"}}, Case{3, {"big_city", "los_angeles", "new_york"}},
        Case{8.5, {"los_angeles"}}, Case{10, {}}}) {
    SCOPED_TRACE(c.threshold);
    PhraseStats stats;
    const std::string out = Find(kHandText, Options(2, c.threshold), &stats);
    EXPECT_EQ(out, ref.Join(kHandText, 2, c.threshold));
    std::set<std::string> phrases;
    for (const Phrase& p : stats.top) {
      phrases.insert(p.text);
      const size_t cut = p.text.find('_');
      EXPECT_EQ(p.score, ref.Score(p.text.substr(0, cut), p.text.substr(cut + 1), 2)) << p.text;
    }
    EXPECT_EQ(phrases, c.phrases);
  }
  PhraseStats stats;
  EXPECT_EQ(Find(kHandText, Options(2, 4), &stats),
            "new_york is a big city\n"
            "she moved to new_york in may\n"
            "the new_york subway runs all night\n"
            "los_angeles is a big city too\n"
            "he flew from new_york to los_angeles\n"
            "los_angeles has no subway at night\n"
            "the big city never sleeps\n"
            "a new city in the new world\n"
            "she is in new_york and he is in los_angeles\n"
            "the city of new_york is big\n");
  ASSERT_EQ(stats.passes.size(), 1u);
  EXPECT_EQ(stats.passes[0].words, 72u);
  EXPECT_EQ(stats.passes[0].phrases_joined, 10u);
  EXPECT_EQ(stats.passes[0].distinct_phrases, 2u);
  ASSERT_EQ(stats.top.size(), 2u);
  EXPECT_EQ(stats.top[0].text, "los_angeles");
  EXPECT_EQ(stats.top[0].score, 9.0);
  EXPECT_EQ(stats.top[0].count, 4u);
  EXPECT_EQ(stats.top[0].joined, 4u);
  EXPECT_EQ(stats.top[1].text, "new_york");
  EXPECT_EQ(stats.top[1].count, 6u);
}

// "a b c d" with all three pairs strong: "a_b c_d", never "a_b_c".
TEST_F(PhrasesTest, JoinsDoNotOverlap) {
  std::string text;
  for (int i = 0; i < 10; ++i) text += "a b c d\nx y z\n";
  for (int i = 0; i < 40; ++i) text += "filler" + std::to_string(i) + "\n";
  const PhraseOptions options = Options(2, 1);
  const PhraseCounts counts = Count(text, options);
  const Reference ref(text);
  for (const auto& [a, b] : std::vector<std::pair<std::string, std::string>>{
           {"a", "b"}, {"b", "c"}, {"c", "d"}, {"x", "y"}, {"y", "z"}}) {
    EXPECT_GT(ref.Score(a, b, 2), 1.0) << a << " " << b;
  }
  EXPECT_EQ(JoinLine("a b c d", counts, options), "a_b c_d");
  EXPECT_EQ(JoinLine("x y z", counts, options), "x_y z");
  EXPECT_EQ(JoinLine("b c", counts, options), "b_c");
  EXPECT_EQ(JoinLine("y z", counts, options), "y_z");
  EXPECT_EQ(JoinLine("  b   c d ", counts, options), "b_c d");
  EXPECT_EQ(JoinLine("filler1 a b", counts, options), "filler1 a_b");
}

// A pair is joined only when seen more than min_count times (its score is
// 0 at min_count), and only when its score is strictly above the threshold.
TEST_F(PhrasesTest, MinCountAndThresholdEdges) {
  std::string text;
  for (int i = 0; i < 5; ++i) text += "five times\n";
  for (int i = 0; i < 6; ++i) text += "six times\n";
  for (int i = 0; i < 30; ++i) text += "filler" + std::to_string(i) + " words\n";
  const Reference ref(text);
  PhraseOptions options = Options(5, 0.001);
  const PhraseCounts counts = Count(text, options);
  EXPECT_EQ(ref.Score("five", "times", 5), 0.0);
  EXPECT_EQ(JoinLine("five times", counts, options), "five times");
  EXPECT_EQ(JoinLine("six times", counts, options), "six_times");
  options.min_count = 6;  // "five" is now below min_count, "six" just at it.
  const PhraseCounts at_six = Count(text, options);
  EXPECT_EQ(JoinLine("six times", at_six, options), "six times");  // Score (6 - 6) = 0.

  options.min_count = 5;
  const double score = ref.Score("six", "times", 5);
  EXPECT_GT(score, 0.0);
  options.threshold = score;
  EXPECT_EQ(JoinLine("six times", counts, options), "six times");
  options.threshold = std::nextafter(score, 0.0);
  EXPECT_EQ(JoinLine("six times", counts, options), "six_times");
}

// Pass 1 joins "new york"; pass 2 reads "new_york times" and joins that.
TEST_F(PhrasesTest, SecondPassMakesAThreeWordPhrase) {
  std::string text;
  for (int i = 0; i < 20; ++i) {
    text += "new york times\n";
    text += "f" + std::to_string(i) + " g" + std::to_string(i) + " h" + std::to_string(i) + "\n";
  }
  std::string one = "new_york times\n";
  std::string two = "new_york_times\n";
  std::string once;
  std::string twice;
  for (int i = 0; i < 20; ++i) {
    const std::string filler =
        "f" + std::to_string(i) + " g" + std::to_string(i) + " h" + std::to_string(i) + "\n";
    once += one + filler;
    twice += two + filler;
  }
  EXPECT_EQ(Find(text, Options(5, 1, 1)), once);
  PhraseStats stats;
  EXPECT_EQ(Find(text, Options(5, 1, 2), &stats), twice);
  ASSERT_EQ(stats.passes.size(), 2u);
  EXPECT_EQ(stats.passes[0].words, 120u);
  EXPECT_EQ(stats.passes[1].words, 100u);
  EXPECT_EQ(stats.passes[1].phrases_joined, 20u);
  ASSERT_EQ(stats.top.size(), 1u);
  EXPECT_EQ(stats.top[0].text, "new_york_times");
  // Nothing but the output is left in the folder (the first pass's text
  // was a temporary file).
  std::vector<std::string> left;
  for (const auto& entry : fs::directory_iterator(dir_)) {
    left.push_back(entry.path().filename().string());
  }
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{"in.txt", "out.txt"}));
}

// Past max_entries the table is pruned: it never holds more, and the
// strong phrases survive.
TEST_F(PhrasesTest, PruningBoundsTheTableAndKeepsStrongPhrases) {
  const std::string text = RandomText(7, 200000, 20000);
  const Reference ref(text);
  ASSERT_GT(ref.words.size() + ref.pairs.size(), 20000u);
  for (int64_t threads : {1, 2}) {
    SCOPED_TRACE(threads);
    PhraseOptions options = Options(5, 5, 1, threads);
    options.max_entries = 2000;
    const PhraseCounts counts = Count(text, options);
    EXPECT_GT(counts.prune_threshold(), 0u);
    EXPECT_LE(counts.peak_entries(), 2000u);
    EXPECT_LE(counts.unique_words() + counts.unique_bigrams(), 2000u);
    EXPECT_EQ(counts.total_words(), ref.total);
    // Counts lose what pruning dropped, never gain.
    EXPECT_LE(counts.Count("new", "york"), ref.Pair("new", "york"));
    EXPECT_GT(counts.Count("new", "york"), ref.Pair("new", "york") * 9 / 10);
    PhraseStats stats;
    Find(text, options, &stats);
    std::set<std::string> phrases;
    for (const Phrase& p : stats.top) phrases.insert(p.text);
    EXPECT_TRUE(phrases.count("new_york")) << "not found with pruning";
    EXPECT_TRUE(phrases.count("san_francisco")) << "not found with pruning";
    EXPECT_GT(stats.passes[0].prune_threshold, 0u);
  }
}

// Counts split over 1, 2 and 3 threads are the plain counts exactly, for
// split points inside a word, at a blank, at a line end, in a long line,
// and for a range holding no word start at all.
TEST_F(PhrasesTest, ThreadCountsAreExact) {
  std::mt19937 rng(11);
  // Exactly `bytes` bytes of one line of words.
  auto line_of = [&](size_t bytes) {
    std::string s = RandomLine(rng, bytes, 50);
    s.resize(bytes);
    if (s.back() == ' ') s.back() = 'q';
    return s;
  };
  struct Case {
    std::string name;
    std::string text;
  };
  // Two halves of 6200 bytes: 2 threads split between them.
  std::vector<Case> cases;
  const std::vector<std::pair<std::string, std::string>> seams = {
      {"abc", "def"},   {"abc ", "def"},    {"abc", " def"},     {"abc\n", "def"},
      {"abc", "\ndef"}, {"abc \n", " def"}, {"abc\t", "\r\ndef"}};
  for (const auto& [left, right] : seams) {
    std::string a = line_of(6200 - left.size());
    std::string b = line_of(6200 - right.size());
    cases.push_back({"seam " + left + "|" + right, a + left + right + b});
  }
  // One line of 30,000 bytes.
  cases.push_back({"one long line", line_of(30000)});
  // A word longer than a third of the text: the middle range of 3 starts
  // no word; blanks and line ends in the middle likewise.
  cases.push_back(
      {"long word", line_of(5000) + " " + std::string(6000, 'w') + " " + line_of(5000)});
  cases.push_back({"blanks", line_of(5000) + std::string(6000, ' ') + line_of(5000)});
  cases.push_back({"line end among blanks", line_of(5000) + std::string(3000, ' ') + "\n" +
                                                std::string(3000, ' ') + line_of(5000)});
  cases.push_back({"lines", RandomText(5, 40000, 300)});
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const Reference ref(c.text);
    for (int64_t threads : {1, 2, 3}) {
      SCOPED_TRACE(threads);
      ExpectCountsAre(Count(c.text, Options(5, 10, 1, threads)), ref);
    }
  }
}

TEST_F(PhrasesTest, OutputIsTheSameWhateverTheThreads) {
  const std::string text = RandomText(3, 60000, 400);
  PhraseStats first;
  const std::string expected = Find(text, Options(5, 5, 2, 1), &first);
  ASSERT_FALSE(first.top.empty());
  EXPECT_EQ(first.top[0].text, "new_york_times");
  for (int64_t threads : {2, 3}) {
    SCOPED_TRACE(threads);
    PhraseStats stats;
    EXPECT_EQ(Find(text, Options(5, 5, 2, threads), &stats), expected);
    ASSERT_EQ(stats.passes.size(), 2u);
    for (size_t p = 0; p < 2; ++p) {
      EXPECT_EQ(stats.passes[p].phrases_joined, first.passes[p].phrases_joined);
      EXPECT_EQ(stats.passes[p].distinct_phrases, first.passes[p].distinct_phrases);
      EXPECT_EQ(stats.passes[p].unique_bigrams, first.passes[p].unique_bigrams);
    }
    ASSERT_EQ(stats.top.size(), first.top.size());
    for (size_t i = 0; i < stats.top.size(); ++i) EXPECT_EQ(stats.top[i].text, first.top[i].text);
  }
  // The first pass is word2phrase's rewrite of the reference counts.
  const Reference ref(text);
  EXPECT_EQ(Find(text, Options(5, 5, 1, 3)), ref.Join(text, 5, 5));
}

TEST_F(PhrasesTest, InputsWithoutWordsAreErrors) {
  const std::string output = dir_ + "/out.txt";
  struct Case {
    std::string name;
    std::string text;
    std::string says;
  };
  for (const Case& c :
       {Case{"empty.txt", "", "is empty"}, Case{"blank.txt", " \n\t\n", "has no words"},
        Case{"binary.txt", std::string("ab\0cd", 5), "is a binary file, not text"}}) {
    const std::string input = Write(c.name, c.text);
    Result<PhraseStats> r = FindPhrases(Options(5, 100), input, output);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().message(), input + ": " + c.says);
    EXPECT_FALSE(fs::exists(output));
  }
}

// ---------------------------------------------------------------------------
// The command line.

class PhrasesCliTest : public TempDirTest {
 protected:
  PhrasesCliTest() : TempDirTest("deepdist_phrases_cli_test_") {}

  void SetUp() override {
    TempDirTest::SetUp();
    fs::create_directories(dir_ + "/logs");
    input_ = Write("in.txt", kHandText);
  }

  CommandResult Phrases(std::vector<std::string> args) const {
    args.insert(args.begin(), {"corpus", "phrases"});
    return testing_support::RunDeepdist(std::move(args), dir_ + "/logs");
  }

  void ExpectError(const CommandResult& r, int code, const std::string& names,
                   const std::string& output) const {
    testing_support::ExpectOneLineError(r, code, names, output, dir_);
  }

  std::string input_;
};

TEST_F(PhrasesCliTest, MissingInput) {
  const std::string input = dir_ + "/no_such.txt";
  const std::string output = dir_ + "/out.txt";
  ExpectError(Phrases({"--input", input, "--output", output}), 1, input, output);
}

TEST_F(PhrasesCliTest, EmptyInput) {
  const std::string input = Write("empty.txt", "");
  const std::string output = dir_ + "/out.txt";
  const CommandResult r = Phrases({"--input", input, "--output", output});
  ExpectError(r, 1, input, output);
  EXPECT_NE(r.err.find("is empty"), std::string::npos) << r.err;
}

TEST_F(PhrasesCliTest, BadFlagValues) {
  const std::string output = dir_ + "/out.txt";
  for (const auto& [flag, value] :
       std::vector<std::pair<std::string, std::string>>{{"--min-count", "0"},
                                                        {"--min-count", "-3"},
                                                        {"--min-count", "abc"},
                                                        {"--threshold", "0"},
                                                        {"--threshold", "-1"},
                                                        {"--threshold", "nan"},
                                                        {"--passes", "0"},
                                                        {"--passes", "11"},
                                                        {"--threads", "-1"},
                                                        {"--max-entries", "999"}}) {
    SCOPED_TRACE(flag + " " + value);
    ExpectError(Phrases({"--input", input_, "--output", output, flag, value}), 2, flag, output);
  }
  ExpectError(Phrases({"--input", input_}), 2, "--output", output);
  ExpectError(Phrases({"--input", input_, "--output", output, "--frob", "1"}), 2, "--frob", output);
}

// Tests may run as root: unwritable by a missing folder, by a file where
// the folder should be, and by a directory where the file should be.
TEST_F(PhrasesCliTest, UnwritableOutput) {
  const std::string file = Write("file", "x");
  for (const std::string& output :
       {dir_ + "/no_such_dir/out.txt", file + "/out.txt", dir_ + "/logs"}) {
    SCOPED_TRACE(output);
    const CommandResult r = Phrases({"--input", input_, "--output", output});
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(r.err.rfind("deepdist: " + output + ": ", 0), 0u) << r.err;
  }
  EXPECT_FALSE(fs::exists(dir_ + "/no_such_dir"));
  EXPECT_EQ(ReadFile(file), "x");
  for (const auto& entry : fs::recursive_directory_iterator(dir_)) {
    EXPECT_EQ(entry.path().string().find(".tmp."), std::string::npos) << entry.path();
  }
}

TEST_F(PhrasesCliTest, JsonSummary) {
  const std::string output = dir_ + "/out.txt";
  const std::vector<std::string> flags = {"--input",     input_, "--output",    output,
                                          "--min-count", "2",    "--threshold", "4",
                                          "--threads",   "2",    "--json"};
  auto run = [&](const std::string& passes) {
    std::vector<std::string> args = flags;
    args.insert(args.end(), {"--passes", passes});
    const CommandResult r = Phrases(args);
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(r.err.empty()) << r.err;
    const size_t last = r.out.rfind('\n', r.out.size() - 2);
    return nlohmann::json::parse(r.out.substr(last == std::string::npos ? 0 : last + 1), nullptr,
                                 /*allow_exceptions=*/false);
  };
  const Reference ref(kHandText);
  nlohmann::json j = run("1");
  EXPECT_EQ(j["input"], input_);
  EXPECT_EQ(j["output"], output);
  EXPECT_EQ(j["passes"], 1);
  ASSERT_EQ(j["per_pass"].size(), 1u);
  const nlohmann::json& first = j["per_pass"][0];
  EXPECT_EQ(first["words"], 72);
  EXPECT_EQ(first["unique_words"], ref.words.size());
  EXPECT_EQ(first["unique_bigrams"], ref.pairs.size());
  EXPECT_EQ(first["phrases_joined"], 10);
  EXPECT_EQ(first["distinct_phrases"], 2);
  EXPECT_EQ(first["prune_threshold"], 0);
  EXPECT_GE(first["seconds"].get<double>(), 0.0);
  EXPECT_EQ(j["top_phrases"], nlohmann::json::parse(R"([
      {"phrase": "los_angeles", "score": 9.0, "count": 4, "joined": 4},
      {"phrase": "new_york", "score": 6.0, "count": 6, "joined": 6}])"));
  EXPECT_EQ(ReadFile(output), ref.Join(kHandText, 2, 4));

  // Pass 2 reads pass 1's text (62 words) and joins nothing more.
  j = run("2");
  EXPECT_EQ(j["passes"], 2);
  ASSERT_EQ(j["per_pass"].size(), 2u);
  EXPECT_EQ(j["per_pass"][1]["words"], 62);
  EXPECT_EQ(j["per_pass"][1]["phrases_joined"], 0);
  EXPECT_EQ(j["top_phrases"], nlohmann::json::array());
  EXPECT_EQ(ReadFile(output), ref.Join(kHandText, 2, 4));
  std::vector<std::string> left;
  for (const auto& entry : fs::directory_iterator(dir_)) {
    if (entry.is_regular_file()) left.push_back(entry.path().filename().string());
  }
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{"in.txt", "out.txt"}));

  // Without --json: a short summary naming the output.
  const CommandResult plain = Phrases({"--input", input_, "--output", output});
  ASSERT_EQ(plain.code, 0) << plain.err;
  EXPECT_NE(plain.out.find("pass 2: 72 words"), std::string::npos) << plain.out;
  EXPECT_NE(plain.out.find(output), std::string::npos) << plain.out;
}

}  // namespace
}  // namespace deepdist::corpus
