// The MLP: its gradient against finite differences, the CSV reader's checks,
// the split, the model file, and the command line's bad input (training on
// the digits: mlp_e2e_test.cc).
#include "deepdist/mlp.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <vector>

#include "tests/mlp_digits.h"
#include "tests/test_support.h"

namespace deepdist::mlp {
namespace {

namespace fs = std::filesystem;
using testing_support::CommandResult;
using testing_support::ReadFile;
using testing_support::TempDirTest;

constexpr const char* kDigits =
    "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz";

// Small random examples for the gradient checks.
void RandomExamples(size_t n, size_t inputs, size_t classes, uint64_t seed, std::vector<float>* x,
                    std::vector<int32_t>* y) {
  for (size_t i = 0; i < n * inputs; ++i) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    x->push_back(static_cast<float>(seed >> 40) / 16777216.0f * 2.0f - 1.0f);
  }
  for (size_t i = 0; i < n; ++i) y->push_back(static_cast<int32_t>(i % classes));
}

// Every weight and bias: the analytic gradient against central differences
// of the loss (in double, so the step can be small).
TEST(MlpGradientTest, MatchesFiniteDifferences) {
  for (const std::vector<size_t>& hidden :
       {std::vector<size_t>{}, std::vector<size_t>{5}, std::vector<size_t>{6, 4}}) {
    SCOPED_TRACE(hidden.size());
    const Architecture arch{3, hidden, 4};
    Model model = NewModel(arch, 7);
    // Biases away from 0, so that the ReLUs sit on both sides.
    for (size_t l = 0; l < arch.layers(); ++l) {
      Table& t = model.table(l);
      for (size_t r = 0; r < t.rows(); ++r) t.row(r)[t.dim() - 1] = 0.1f * (r % 3 ? 1.0f : -1.0f);
    }
    std::vector<float> x;
    std::vector<int32_t> y;
    RandomExamples(6, arch.inputs, arch.classes, 3, &x, &y);
    std::vector<Table> gradient;
    LossAndGradient(model, arch, x.data(), y.data(), y.size(), &gradient);
    ASSERT_EQ(gradient.size(), arch.layers());
    const float h = 1e-3f;
    size_t checked = 0;
    for (size_t l = 0; l < arch.layers(); ++l) {
      for (size_t r = 0; r < model.table(l).rows(); ++r) {
        for (size_t k = 0; k < model.table(l).dim(); ++k) {
          float& w = model.table(l).row(r)[k];
          const float saved = w;
          w = saved + h;
          const double up = LossAndGradient(model, arch, x.data(), y.data(), y.size(), nullptr);
          w = saved - h;
          const double down = LossAndGradient(model, arch, x.data(), y.data(), y.size(), nullptr);
          w = saved;
          const double numeric = (up - down) / (2.0 * h);
          EXPECT_NEAR(gradient[l].row(r)[k], numeric, 2e-3 + 2e-2 * std::fabs(numeric))
              << "layer " << l << " row " << r << " col " << k;
          ++checked;
        }
      }
    }
    EXPECT_GT(checked, 10u);
  }
}

TEST(MlpGradientTest, SoftmaxRegressionStepLowersTheLoss) {
  const Architecture arch{2, {}, 3};
  Model model = NewModel(arch, 1);
  std::vector<float> x = {1, 0, 0, 1, -1, -1};
  std::vector<int32_t> y = {0, 1, 2};
  std::vector<Table> g;
  const double before = LossAndGradient(model, arch, x.data(), y.data(), 3, &g);
  for (size_t r = 0; r < 3; ++r) {
    for (size_t k = 0; k < 3; ++k) model.table(0).row(r)[k] -= 0.5f * g[0].row(r)[k];
  }
  EXPECT_LT(LossAndGradient(model, arch, x.data(), y.data(), 3, nullptr), before);
}

class MlpFilesTest : public TempDirTest {
 protected:
  MlpFilesTest() : TempDirTest("deepdist-mlp-") {}
};

TEST_F(MlpFilesTest, ReadsCsvAndNamesTheBadLine) {
  const std::string good = Write("good.csv", "1,2,0\n\n3, 4.5 ,1\r\n0,-1,2\n");
  Result<Examples> e = ReadCsv(good, {});
  ASSERT_TRUE(e.ok()) << e.status().message();
  EXPECT_EQ(e->features, 2u);
  EXPECT_EQ(e->y, (std::vector<int32_t>{0, 1, 2}));
  EXPECT_EQ(e->x, (std::vector<float>{1, 2, 3, 4.5f, 0, -1}));
  ReadOptions first;
  first.csv.label_column = 0;
  Result<Examples> f = ReadCsv(good, first);
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ(f->y, (std::vector<int32_t>{1, 3, 0}));
  EXPECT_EQ(f->x, (std::vector<float>{2, 0, 4.5f, 1, -1, 2}));

  struct Bad {
    const char* text;
    const char* says;
  };
  for (const Bad& bad : {Bad{"1,2,0\n1,x,1\n", ":2: column 2: \"x\" is not a number"},
                         Bad{"1,2,0\n1,2\n", ":2: 2 columns, expected 3"},
                         Bad{"1,2,0.5\n", ":1: column 3: label \"0.5\" is not a class number"},
                         Bad{"1,2,-1\n", ":1: column 3: label \"-1\" is not a class number"},
                         Bad{"7\n", ":1: one column"},
                         Bad{"1,2,0\n1,2,inf\n", ":2: column 3: \"inf\" is not a number"},
                         Bad{"\n\n", ": no examples"}}) {
    SCOPED_TRACE(bad.text);
    const std::string path = Write("bad.csv", bad.text);
    Result<Examples> r = ReadCsv(path, {});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().message().rfind(path, 0), 0u) << r.status().message();
    EXPECT_NE(r.status().message().find(bad.says), std::string::npos) << r.status().message();
  }
  EXPECT_FALSE(ReadCsv(dir_ + "/missing.csv", {}).ok());
  const std::string binary = Write("binary.csv", std::string("1,2,0\n\0\0\x01", 9));
  EXPECT_NE(ReadCsv(binary, {}).status().message().find("binary"), std::string::npos);
}

TEST(MlpSplitTest, SeededAndNearTheFraction) {
  size_t test = 0;
  const size_t n = 20000;
  for (size_t i = 0; i < n; ++i) {
    const std::string line = std::to_string(i) + ",1,0";
    const bool a = IsTestLine(line, 5, 0.2);
    EXPECT_EQ(a, IsTestLine(line + "\r", 5, 0.2)) << "a line's end does not move it";
    test += a;
  }
  // Binomial(20000, 0.2): sd 57; 5 sd either way.
  EXPECT_NEAR(static_cast<double>(test), 0.2 * n, 285.0);
  size_t moved = 0;
  for (size_t i = 0; i < 1000; ++i) {
    const std::string line = std::to_string(i) + ",1,0";
    moved += IsTestLine(line, 5, 0.2) != IsTestLine(line, 6, 0.2);
  }
  EXPECT_GT(moved, 200u) << "another seed, another split";
  EXPECT_FALSE(IsTestLine("1,2,0", 5, 0.0));
}

TEST_F(MlpFilesTest, ModelFileRoundTripsExactlyAndRejectsDamage) {
  const Architecture arch{5, {4, 3}, 6};
  const Model model = NewModel(arch, 11);
  const std::string path = dir_ + "/model.txt";
  ASSERT_TRUE(Save(path, model, arch).ok());
  Result<Loaded> back = Load(path);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->arch.inputs, 5u);
  EXPECT_EQ(back->arch.hidden, (std::vector<size_t>{4, 3}));
  EXPECT_EQ(back->arch.classes, 6u);
  for (size_t l = 0; l < arch.layers(); ++l) {
    for (size_t r = 0; r < model.table(l).rows(); ++r) {
      for (size_t k = 0; k < model.table(l).dim(); ++k) {
        ASSERT_EQ(back->model.table(l).row(r)[k], model.table(l).row(r)[k]);
      }
    }
  }
  const std::string whole = ReadFile(path);
  const std::string truncated = Write("truncated.txt", whole.substr(0, whole.size() / 2));
  EXPECT_NE(Load(truncated).status().message().find(truncated), std::string::npos);
  EXPECT_FALSE(Load(truncated).ok());
  EXPECT_FALSE(Load(Write("header.txt", "deepdist-mlp 1 5\n")).ok());
  EXPECT_FALSE(Load(Write("other.txt", "hello world\n")).ok());
  EXPECT_FALSE(Load(Write("version.txt", "deepdist-mlp 9 5 4 6\n")).ok());
  EXPECT_FALSE(Load(Write("extra.txt", whole + "1 2 3\n")).ok());
  // A table with no hidden layer: "-".
  const Architecture plain{3, {}, 2};
  ASSERT_TRUE(Save(path, NewModel(plain, 1), plain).ok());
  Result<Loaded> flat = Load(path);
  ASSERT_TRUE(flat.ok()) << flat.status().message();
  EXPECT_TRUE(flat->arch.hidden.empty());
}

TEST_F(MlpCliTest, BadInputAndFlagsFailWithOneLineAndNoModel) {
  const std::string model = dir_ + "/model.txt";
  const std::string bad = Write("bad.csv", "1,2,0\n3,oops,1\n");
  struct Case {
    std::vector<std::string> args;
    int code;
    std::string says;
  };
  for (const Case& c : {
           Case{{"--input", bad}, 1, bad + ":2: column 2"},
           Case{{"--input", dir_ + "/missing.csv"}, 1, "missing.csv: no such file"},
           Case{{"--input", digits_, "--hidden", "64,x"}, 2, "--hidden"},
           Case{{"--input", digits_, "--test-fraction", "1"}, 2, "--test-fraction"},
           Case{{"--input", digits_, "--optimizer", "lbfgs"}, 2, "--optimizer"},
           Case{{"--input", digits_, "--optimizer", "adam", "--momentum", "0.9"}, 2, "--momentum"},
           Case{{"--input", digits_, "--label-column", "99"}, 2, "--label-column"},
           Case{{"--input", digits_, "--mode", "eventually"}, 2, "--mode"},
           Case{{"--input", digits_, "--eval-every", "-1", "--json"}, 2, "--eval-every"},
           Case{{"--input", digits_, "--eval-every", "0.1"}, 2, "--eval-every: its series"},
       }) {
    std::vector<std::string> args = {"mlp", "train", "--output", model, "--epochs", "1"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    const CommandResult r = Deepdist(args);
    EXPECT_EQ(r.code, c.code) << c.says << ": " << r.err;
    EXPECT_EQ(r.err.rfind("deepdist: ", 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(model)) << c.says;
  }
  const CommandResult p = Deepdist({"mlp", "predict", "--model", bad, "--input", digits_});
  EXPECT_EQ(p.code, 1);
  EXPECT_NE(p.err.find("not a deepdist MLP model file"), std::string::npos) << p.err;
}

// --init-model: a run with a vanishing rate ends where the saved model
// started it; a model of another shape is a usage error naming the flag, a
// missing file a file error naming it, and neither leaves a model.
// Checkpoints: SIGTERM saves a final checkpoint (the run had saved one
// already), and --resume from it with nothing but the output given ends
// with the model an uninterrupted run writes, bit for bit on one thread.
// A flag given with another value than the checkpoint's is refused.
TEST_F(MlpCliTest, ResumedRunWritesTheUninterruptedModel) {
  testing_support::ExpectResumedRunWritesTheUninterruptedModel(
      "mlp", {"--input", digits_, "--threads", "1", "--epochs", "40", "--quiet"}, "40", dir_);
}

TEST_F(MlpCliTest, InitModelStartsFromTheSavedModel) {
  const std::string first = dir_ + "/first.txt";
  const std::string again = dir_ + "/again.txt";
  ASSERT_EQ(Deepdist({"mlp", "train", "--input", digits_, "--epochs", "2", "--output", first}).code,
            0);
  const CommandResult r = Deepdist({"mlp", "train", "--input", digits_, "--epochs", "1", "--alpha",
                                    "0.0000001", "--init-model", first, "--output", again});
  ASSERT_EQ(r.code, 0) << r.err;
  Result<Loaded> before = Load(first);
  Result<Loaded> after = Load(again);
  ASSERT_TRUE(before.ok() && after.ok());
  ASSERT_EQ(before->model.num_tables(), after->model.num_tables());
  for (size_t t = 0; t < before->model.num_tables(); ++t) {
    const Table& b = before->model.table(t);
    const Table& a = after->model.table(t);
    ASSERT_EQ(a.rows(), b.rows());
    for (size_t row = 0; row < b.rows(); ++row) {
      for (size_t k = 0; k < b.dim(); ++k) EXPECT_NEAR(a.row(row)[k], b.row(row)[k], 1e-5);
    }
  }
  const std::string model = dir_ + "/model.txt";
  for (const auto& [args, code, says] :
       std::vector<std::tuple<std::vector<std::string>, int, std::string>>{
           {{"--hidden", "32", "--init-model", first}, 2, "--init-model: " + first},
           {{"--init-model", dir_ + "/missing.txt"}, 1, "missing.txt: no such file"}}) {
    std::vector<std::string> all = {"mlp",      "train", "--input",  digits_,
                                    "--epochs", "1",     "--output", model};
    all.insert(all.end(), args.begin(), args.end());
    const CommandResult bad = Deepdist(all);
    EXPECT_EQ(bad.code, code) << bad.err;
    EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << bad.err;
    EXPECT_NE(bad.err.find(says), std::string::npos) << bad.err;
    EXPECT_FALSE(fs::exists(model)) << says;
  }
}

// --eval-every: the test accuracy of the model as it stood during training,
// in time order, ending with the trained model's.
TEST_F(MlpCliTest, EvalEveryGivesTheTestAccuracySeries) {
  const double every = 0.02;
  const CommandResult r = Deepdist({"mlp", "train", "--input", digits_, "--epochs", "4",
                                    "--eval-every", std::to_string(every), "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string line = r.out.substr(r.out.rfind('\n', r.out.size() - 2) + 1);
  const nlohmann::json j = nlohmann::json::parse(line);
  const nlohmann::json& series = j.at("test_accuracy_series");
  ASSERT_GE(series.size(), 1u);
  EXPECT_EQ(series.back().at("test_accuracy").get<double>(), j.at("test_accuracy").get<double>());
  EXPECT_EQ(series.back().at("progress").get<double>(), 1.0);
  for (size_t i = 0; i < series.size(); ++i) {
    const double a = series[i].at("test_accuracy").get<double>();
    EXPECT_GE(a, 0.0);
    EXPECT_LE(a, 1.0);
    if (i > 0) {
      EXPECT_GT(series[i].at("seconds").get<double>(), series[i - 1].at("seconds").get<double>());
    }
  }
  if (j.at("seconds").get<double>() > 10 * every) EXPECT_GE(series.size(), 2u);
}

}  // namespace
}  // namespace deepdist::mlp
