// End to end through the deepdist binary: skip-gram with the default settings
// (dim 100, window 5, negative 5, sample 1e-4, min-count 5) for 5 epochs on 2
// threads over data/small.txt (the first 10^7 bytes of the corpus that
// scripts/get-data.sh puts in data/), then analogy accuracy on
// questions-words.txt and the nearest neighbours of a few frequent words.
//
// Measured on enwiki-clean-1e8 (data/corpus.source), Release build, 2 shared
// cores, with
//   deepdist word2vec train --input data/small.txt --output v.bin --epochs 5
//       --threads 2 --seed S --quiet --json
//   deepdist word2vec analogy --vectors v.bin --questions data/questions-words.txt --json
// (1,690,878 tokens, 19,232 words in the vocabulary, training about 5 s with
// the default batched kernel, analogy 1.5-3.7 s):
//   seed 1 (the default), two runs: 407, 419 of 7833 (5.20%, 5.35%)
//   seed 2: 380/7833 = 4.85%
//   seed 3: 439/7833 = 5.60%
//   seed 4: 403/7833 = 5.14%
// mean 409.6/7833 = 5.23%, and 11,711 questions skipped (a word outside the
// first 30,000 rows) in every run. (The per-pair kernel, --kernel pair, gave
// 4.14-4.76% over six runs.) The test runs seed 1 and
// asks for 80% of the mean. Neighbours in every per-pair run (the batched
// runs met the same thresholds): "two" had 9 number words
// in its top 10, "france" 9-10 countries, "london" 7-10 cities, "music" 8-9
// music words, "king" 3-6 royal words; the thresholds below leave room.
// text8 (the fallback download) is another snapshot: its figures differ a
// little.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "tests/test_support.h"

namespace {

namespace fs = std::filesystem;
using deepdist::testing_support::CommandResult;
using deepdist::testing_support::RunCommand;
using deepdist::testing_support::TempDir;
using nlohmann::json;

// Mean measured accuracy (see above) and the share of it the test demands.
constexpr double kMeasuredAccuracy = (407 + 419 + 380 + 439 + 403) / (5.0 * 7833);
constexpr double kRequiredShare = 0.8;

json LastJson(const CommandResult& r) {
  std::stringstream ss(r.out);
  std::string line, last;
  while (std::getline(ss, line)) {
    if (!line.empty()) last = line;
  }
  json j = json::parse(last, nullptr, /*allow_exceptions=*/false);
  EXPECT_TRUE(j.is_object()) << "last stdout line is not a JSON object: " << last;
  return j.is_object() ? j : json::object();
}

class Word2VecE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* bin = std::getenv("DEEPDIST_BIN");
    ASSERT_NE(bin, nullptr) << "DEEPDIST_BIN is not set (run through ctest)";
    bin_ = bin;
    // The source root: DEEPDIST_SOURCE, else two levels above this file.
    const char* source = std::getenv("DEEPDIST_SOURCE");
    const fs::path root = source != nullptr && *source != '\0'
                              ? fs::path(source)
                              : fs::path(__FILE__).parent_path().parent_path();
    corpus_ = root / "data" / "small.txt";
    questions_ = root / "data" / "questions-words.txt";
    if (!fs::exists(corpus_) || !fs::exists(questions_)) {
      GTEST_SKIP() << corpus_ << " or " << questions_ << " missing: run scripts/get-data.sh";
    }
    tmp_ = std::make_unique<TempDir>("deepdist_e2e_test.");
    ASSERT_TRUE(tmp_->ok());
    dir_ = tmp_->path();
  }

  CommandResult Deepdist(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {bin_};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, dir_);
  }

  // How many of the top 10 neighbours of `word` are in `family`.
  size_t Overlap(const fs::path& vectors, const std::string& word,
                 const std::set<std::string>& family, std::string* shown) {
    const CommandResult r = Deepdist(
        {"word2vec", "similar", "--vectors", vectors.string(), word, "--topn", "10", "--json"});
    EXPECT_EQ(r.code, 0) << r.err;
    const json j = LastJson(r);
    size_t hits = 0;
    if (!j.contains("results")) return 0;
    EXPECT_EQ(j["results"].size(), 10u);
    for (const json& n : j["results"]) {
      const std::string w = n.value("word", "");
      *shown += w + " ";
      hits += family.count(w);
    }
    return hits;
  }

  std::string bin_;
  fs::path corpus_;
  fs::path questions_;
  std::unique_ptr<TempDir> tmp_;  // Made only when the data is there.
  fs::path dir_;
};

TEST_F(Word2VecE2ETest, SkipGramOnSmallCorpus) {
  // Tokens and the words seen at least 5 times, counted here.
  uint64_t tokens = 0;
  size_t vocab = 0;
  {
    std::unordered_map<std::string, uint64_t> counts;
    std::ifstream in(corpus_, std::ios::binary);
    std::string w;
    while (in >> w) {
      ++tokens;
      ++counts[w];
    }
    for (const auto& [word, count] : counts) vocab += count >= 5;
  }
  ASSERT_GT(tokens, 1000000u);

  const fs::path vectors = dir_ / "vectors.bin";
  const CommandResult train =
      Deepdist({"word2vec", "train", "--input", corpus_.string(), "--output", vectors.string(),
                "--epochs", "5", "--threads", "2", "--quiet", "--json"});
  ASSERT_EQ(train.code, 0) << train.err;
  EXPECT_EQ(train.err, "");
  const json summary = LastJson(train);
  EXPECT_EQ(summary.value("words", uint64_t{0}), 5 * tokens) << summary.dump();
  EXPECT_EQ(summary.value("vocab_size", size_t{0}), vocab) << summary.dump();
  const double loss = summary.value("loss", -1.0);
  EXPECT_GT(loss, 0.0);
  EXPECT_LT(loss, 1.0) << "training did not bring the loss down";

  const CommandResult analogy = Deepdist({"word2vec", "analogy", "--vectors", vectors.string(),
                                          "--questions", questions_.string(), "--json"});
  ASSERT_EQ(analogy.code, 0) << analogy.err;
  const json a = LastJson(analogy);
  const double accuracy = a.value("accuracy", 0.0);
  const size_t total = a.value("total", size_t{0});
  std::printf("analogy accuracy %.4f (%zu/%zu, %zu skipped); train %.1f s\n", accuracy,
              a.value("correct", size_t{0}), total, a.value("skipped", size_t{0}),
              summary.value("seconds", 0.0));
  EXPECT_GT(total, 5000u) << a.dump();
  EXPECT_EQ(total + a.value("skipped", size_t{0}), 19544u) << "questions-words.txt has 19,544";
  EXPECT_GE(accuracy, kRequiredShare * kMeasuredAccuracy) << a.dump();

  const std::set<std::string> numbers = {"zero",    "one",      "two",     "three",  "four",
                                         "five",    "six",      "seven",   "eight",  "nine",
                                         "ten",     "eleven",   "twelve",  "twenty", "thirty",
                                         "hundred", "thousand", "million", "billion"};
  const std::set<std::string> countries = {
      "germany",    "spain",       "italy",    "portugal",  "britain",   "england", "russia",
      "austria",    "poland",      "sweden",   "norway",    "denmark",   "belgium", "netherlands",
      "holland",    "switzerland", "hungary",  "greece",    "turkey",    "ireland", "scotland",
      "finland",    "india",       "china",    "japan",     "vietnam",   "egypt",   "saudi",
      "canada",     "mexico",      "brazil",   "argentina", "australia", "prussia", "bavaria",
      "luxembourg", "romania",     "bulgaria", "serbia",    "croatia",   "czech",   "ukraine",
      "algeria",    "morocco",     "tunisia",  "iran",      "iraq",      "israel",  "korea",
      "pakistan",   "french",      "german",   "spanish",   "italian",   "british", "european",
      "europe",     "paris"};
  const std::set<std::string> cities = {
      "paris",       "berlin",     "vienna",    "rome",       "madrid",    "moscow",
      "stockholm",   "amsterdam",  "brussels",  "prague",     "dublin",    "edinburgh",
      "glasgow",     "manchester", "liverpool", "birmingham", "oxford",    "cambridge",
      "bristol",     "leeds",      "york",      "boston",     "chicago",   "philadelphia",
      "angeles",     "los",        "hollywood", "princeton",  "toronto",   "sydney",
      "melbourne",   "munich",     "hamburg",   "copenhagen", "oslo",      "lisbon",
      "athens",      "istanbul",   "tokyo",     "washington", "francisco", "san",
      "westminster", "england"};
  const std::set<std::string> music = {
      "musical",   "musicians",    "musician",   "songs",      "song",      "pop",       "rock",
      "jazz",      "folk",         "dance",      "dancing",    "artists",   "genres",    "genre",
      "blues",     "punk",         "reggae",     "hip",        "hop",       "classical", "opera",
      "orchestra", "bands",        "band",       "albums",     "album",     "singing",   "singers",
      "singer",    "guitar",       "piano",      "accordion",  "composers", "composer",  "soul",
      "melody",    "instrumental", "recordings", "electronic", "techno",    "lyrics"};
  const std::set<std::string> royalty = {
      "queen",   "prince",   "princess", "emperor",   "empress",   "throne",     "ruler",
      "monarch", "monarchy", "kings",    "sultan",    "pharaoh",   "tsar",       "czar",
      "caliph",  "reign",    "reigned",  "crown",     "crowned",   "coronation", "dynasty",
      "heir",    "regent",   "duke",     "kingdom",   "succeeded", "son",        "father",
      "royal",   "shah",     "khan",     "chieftain", "usurper",   "abdicated",  "lord"};

  struct Probe {
    std::string word;
    const std::set<std::string>* family;
    size_t at_least;
  };
  for (const Probe& p :
       {Probe{"two", &numbers, 6}, Probe{"france", &countries, 5}, Probe{"london", &cities, 4},
        Probe{"music", &music, 5}, Probe{"king", &royalty, 2}}) {
    std::string shown;
    const size_t hits = Overlap(vectors, p.word, *p.family, &shown);
    std::printf("%s: %s(%zu in the list)\n", p.word.c_str(), shown.c_str(), hits);
    EXPECT_GE(hits, p.at_least) << p.word << " -> " << shown;
  }
}

}  // namespace
