// Sparse logistic regression: the libsvm reader's checks, the gradient
// against finite differences, the model file, and `deepdist logreg train |
// predict` on data generated from a known sparse weight vector over 10^6
// features.
#include "deepdist/logreg.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "tests/test_support.h"

namespace deepdist::logreg {
namespace {

namespace fs = std::filesystem;
using testing_support::CommandResult;
using testing_support::ReadFile;
using testing_support::TempDirTest;

TEST(LogregParseTest, ReadsLabelsIndicesAndValues) {
  Example e;
  ASSERT_TRUE(ParseLine("+1 3:0.5 7:2 1000000:-1 # a comment", &e).ok());
  EXPECT_TRUE(e.positive);
  EXPECT_EQ(e.index, (std::vector<uint32_t>{3, 7, 1000000}));
  EXPECT_EQ(e.value, (std::vector<float>{0.5f, 2.0f, -1.0f}));
  ASSERT_TRUE(ParseLine("0 1:1", &e).ok());
  EXPECT_FALSE(e.positive);
  ASSERT_TRUE(ParseLine("-1\t2:1\r", &e).ok());
  EXPECT_FALSE(e.positive);
  EXPECT_EQ(e.index, (std::vector<uint32_t>{2}));
  ASSERT_TRUE(ParseLine("1", &e).ok());  // No features: only the bias.
  EXPECT_TRUE(e.index.empty());
  for (const char* bad :
       {"x 1:1", "1 1:1 1:2", "1 5:1 3:1", "1 0:1", "1 3", "1 3:x", "1 -3:1", "1 4294967297:1"}) {
    EXPECT_FALSE(ParseLine(bad, &e).ok()) << bad;
  }
}

class LogregFilesTest : public TempDirTest {
 protected:
  LogregFilesTest() : TempDirTest("deepdist-logreg-") {}
};

TEST_F(LogregFilesTest, ScanNamesTheBadLine) {
  Result<Scan> good = ScanFile(Write("good.svm", "# header\n1 2:1 9:1\n\n-1 4:2\n"));
  ASSERT_TRUE(good.ok()) << good.status().message();
  EXPECT_EQ(good->examples, 2u);
  EXPECT_EQ(good->max_index, 9u);
  const std::string bad = Write("bad.svm", "1 2:1\n1 2:1 2:3\n");
  Result<Scan> r = ScanFile(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message().rfind(bad + ":2: ", 0), 0u) << r.status().message();
  EXPECT_NE(r.status().message().find("increase"), std::string::npos);
  EXPECT_FALSE(ScanFile(Write("empty.svm", "\n# nothing\n")).ok());
  EXPECT_FALSE(ScanFile(dir_ + "/missing.svm").ok());
}

TEST(LogregGradientTest, MatchesFiniteDifferences) {
  std::vector<Example> examples(5);
  std::mt19937 rng(4);
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  for (size_t i = 0; i < examples.size(); ++i) {
    examples[i].positive = i % 2 == 0;
    for (uint32_t j : {1u, 5u + static_cast<uint32_t>(i), 17u, 40u}) {
      examples[i].index.push_back(j);
      examples[i].value.push_back(value(rng));
    }
  }
  Model model = NewModel(40);
  Table& w = model.table(0);
  for (RowId r = 0; r < w.rows(); ++r) {
    for (size_t k = 0; k < kWeightsPerRow; ++k) w.row(r)[k] = value(rng);
  }
  const std::vector<RowId> rows = RowsOf(examples);
  EXPECT_EQ(rows, (std::vector<RowId>{0, 1, 2}));
  auto weight = [&](uint64_t j) { return static_cast<double>(w.row(RowOf(j))[ColumnOf(j)]); };
  std::vector<float> gradient, unused;
  LossAndGradient(examples, rows, weight, &gradient);
  const float h = 1e-3f;
  std::set<uint64_t> seen = {0};
  for (const Example& e : examples) seen.insert(e.index.begin(), e.index.end());
  for (uint64_t j = 0; j <= 40; ++j) {
    float& v = w.row(RowOf(j))[ColumnOf(j)];
    const float saved = v;
    v = saved + h;
    const double up = LossAndGradient(examples, rows, weight, &unused);
    v = saved - h;
    const double down = LossAndGradient(examples, rows, weight, &unused);
    v = saved;
    const size_t at =
        static_cast<size_t>(std::lower_bound(rows.begin(), rows.end(), RowOf(j)) - rows.begin());
    const double analytic = at < rows.size() && rows[at] == RowOf(j)
                                ? gradient[at * kWeightsPerRow + ColumnOf(j)]
                                : 0.0;
    EXPECT_NEAR(analytic, (up - down) / (2.0 * h), 1e-3) << "weight " << j;
    if (!seen.count(j)) EXPECT_EQ(analytic, 0.0) << "weight " << j << " has no feature";
  }
}

TEST_F(LogregFilesTest, ModelFileRoundTripsAndRejectsDamage) {
  Model model = NewModel(100);
  model.table(0).row(0)[0] = -0.25f;  // The bias.
  model.table(0).row(RowOf(37))[ColumnOf(37)] = 1.0f / 3.0f;
  model.table(0).row(RowOf(100))[ColumnOf(100)] = -7e-9f;
  const std::string path = dir_ + "/model.txt";
  ASSERT_TRUE(Save(path, model).ok());
  const std::string text = ReadFile(path);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 4) << "a header and the 3 weights not 0";
  Result<Model> back = Load(path);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(FeaturesOf(*back), FeaturesOf(model));
  for (RowId r = 0; r < model.table(0).rows(); ++r) {
    for (size_t k = 0; k < kWeightsPerRow; ++k) {
      ASSERT_EQ(back->table(0).row(r)[k], model.table(0).row(r)[k]);
    }
  }
  EXPECT_FALSE(Load(Write("header.txt", "deepdist-mlp 1 5\n")).ok());
  EXPECT_FALSE(Load(Write("index.txt", "deepdist-logreg 1 100\n101 1\n")).ok());
  EXPECT_FALSE(Load(Write("value.txt", "deepdist-logreg 1 100\n5 x\n")).ok());
  EXPECT_FALSE(Load(Write("version.txt", "deepdist-logreg 2 100\n")).ok());
}

// Data from a known sparse weight vector: 100 of 10^6 weights not 0, each
// example 10 of those features and 10 others, its label drawn from the
// logistic of 2 w.x.
class LogregCliTest : public TempDirTest {
 protected:
  LogregCliTest() : TempDirTest("deepdist-logreg-cli-") {}

  void SetUp() override {
    TempDirTest::SetUp();
    fs::create_directories(dir_ + "/logs");
    std::mt19937_64 rng(3);
    std::uniform_int_distribution<uint32_t> any(1, kFeatures);
    while (truth_.size() < 100) {
      std::uniform_real_distribution<double> mag(0.5, 2.0);
      truth_[any(rng)] = (rng() % 2 ? 1.0 : -1.0) * mag(rng);
    }
    std::vector<uint32_t> informative;
    for (const auto& [j, v] : truth_) informative.push_back(j);
    std::string text;
    std::uniform_real_distribution<double> u(0.0, 1.0);
    for (int i = 0; i < 8000; ++i) {
      std::set<uint32_t> features;
      while (features.size() < 10) features.insert(informative[rng() % informative.size()]);
      for (int k = 0; k < 10; ++k) features.insert(any(rng));
      double z = 0;
      for (uint32_t j : features) z += truth_.count(j) ? truth_[j] : 0.0;
      text += u(rng) < 1.0 / (1.0 + std::exp(-2.0 * z)) ? "+1" : "-1";
      for (uint32_t j : features) text += " " + std::to_string(j) + ":1";
      text += "\n";
    }
    data_ = Write("data.svm", text);
  }

  CommandResult Deepdist(std::vector<std::string> args) const {
    return testing_support::RunDeepdist(std::move(args), dir_ + "/logs");
  }

  static constexpr uint32_t kFeatures = 1000000;
  std::map<uint32_t, double> truth_;
  std::string data_;
};

TEST_F(LogregCliTest, RecoversTheSignsOfTheGeneratingWeights) {
  for (const std::string mode : {"async", "sync"}) {
    SCOPED_TRACE(mode);
    const std::string model = dir_ + "/model-" + mode + ".txt";
    const CommandResult r =
        Deepdist({"logreg", "train", "--input", data_, "--features", std::to_string(kFeatures),
                  "--output", model, "--json", "--threads", "2", "--mode", mode});
    ASSERT_EQ(r.code, 0) << r.err;
    const nlohmann::json j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["features"].get<uint64_t>(), kFeatures);
    EXPECT_GE(j["test_accuracy"].get<double>(), 0.85);
    // Sparse pulls: far fewer rows than every partition fetching the model.
    const uint64_t whole = (kFeatures / kWeightsPerRow + 1) * j["updates"].get<uint64_t>();
    EXPECT_LT(j["rows_pulled"].get<uint64_t>(), whole / 20);
    Result<Model> learned = Load(model);
    ASSERT_TRUE(learned.ok()) << learned.status().message();
    size_t right = 0;
    for (const auto& [index, want] : truth_) {
      const float got = learned->table(0).row(RowOf(index))[ColumnOf(index)];
      right += (got > 0) == (want > 0) && got != 0;
    }
    EXPECT_GE(right, 95u) << "signs recovered of " << truth_.size();
    const CommandResult p = Deepdist({"logreg", "predict", "--model", model, "--input", data_,
                                      "--json", "--output", dir_ + "/p.txt"});
    ASSERT_EQ(p.code, 0) << p.err;
    EXPECT_EQ(nlohmann::json::parse(p.out)["examples"].get<int>(), 8000);
    EXPECT_GE(nlohmann::json::parse(p.out)["accuracy"].get<double>(), 0.85);
  }
}

// --init-model: a run with a vanishing rate ends where the saved model
// started it; a model of another size than --features is a usage error
// naming the flag, and leaves no model.
// Checkpoints: SIGTERM saves a final checkpoint (the run had saved one
// already), and --resume from it with nothing but the output given ends
// with the model an uninterrupted run writes, bit for bit on one thread.
// A flag given with another value than the checkpoint's is refused.
TEST_F(LogregCliTest, ResumedRunWritesTheUninterruptedModel) {
  testing_support::ExpectResumedRunWritesTheUninterruptedModel(
      "logreg",
      {"--input", data_, "--threads", "1", "--epochs", "20", "--features",
       std::to_string(kFeatures), "--quiet"},
      "20", dir_);
}

TEST_F(LogregCliTest, InitModelStartsFromTheSavedModel) {
  const std::string first = dir_ + "/first.txt";
  const std::string again = dir_ + "/again.txt";
  ASSERT_EQ(Deepdist({"logreg", "train", "--input", data_, "--features", std::to_string(kFeatures),
                      "--epochs", "1", "--output", first})
                .code,
            0);
  const CommandResult r =
      Deepdist({"logreg", "train", "--input", data_, "--epochs", "1", "--alpha", "0.0000001",
                "--init-model", first, "--output", again, "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  Result<Model> before = Load(first);
  Result<Model> after = Load(again);
  ASSERT_TRUE(before.ok() && after.ok());
  EXPECT_EQ(FeaturesOf(*after), FeaturesOf(*before));
  const Table& b = before->table(0);
  const Table& a = after->table(0);
  ASSERT_EQ(a.rows(), b.rows());
  size_t nonzero = 0;
  for (size_t row = 0; row < b.rows(); ++row) {
    for (size_t k = 0; k < b.dim(); ++k) {
      EXPECT_NEAR(a.row(row)[k], b.row(row)[k], 1e-5);
      nonzero += b.row(row)[k] != 0;
    }
  }
  EXPECT_GT(nonzero, 100u);  // The first run learned something to start from.
  const std::string model = dir_ + "/model.txt";
  const CommandResult bad =
      Deepdist({"logreg", "train", "--input", data_, "--epochs", "1", "--features",
                std::to_string(2 * kFeatures), "--init-model", first, "--output", model});
  EXPECT_EQ(bad.code, 2) << bad.err;
  EXPECT_NE(bad.err.find("--init-model: " + first), std::string::npos) << bad.err;
  EXPECT_FALSE(fs::exists(model));
}

TEST_F(LogregCliTest, BadInputAndFlagsFailWithOneLineAndNoModel) {
  const std::string model = dir_ + "/model.txt";
  const std::string bad = Write("bad.svm", "1 2:1\n1 3:oops\n");
  struct Case {
    std::vector<std::string> args;
    int code;
    std::string says;
  };
  for (const Case& c : {
           Case{{"--input", bad}, 1, bad + ":2: \"3:oops\": the value is not a number"},
           Case{{"--input", dir_ + "/missing.svm"}, 1, "missing.svm: no such file"},
           Case{{"--input", data_, "--features", "10"}, 2, "--features"},
           Case{{"--input", data_, "--test-fraction", "-1"}, 2, "--test-fraction"},
           Case{{"--input", data_, "--optimizer", "lbfgs"}, 2, "--optimizer"},
       }) {
    std::vector<std::string> args = {"logreg", "train", "--output", model, "--epochs", "1"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    const CommandResult r = Deepdist(args);
    EXPECT_EQ(r.code, c.code) << c.says << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(model)) << c.says;
  }
}

}  // namespace
}  // namespace deepdist::logreg
