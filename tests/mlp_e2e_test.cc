// `deepdist mlp train | predict` on the handwritten digits that Debian's
// python3-sklearn ships: >= 95% test accuracy async and sync, and the model
// file predict reads holds what was trained. (Slow: Release only.)
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "deepdist/mlp.h"
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

TEST_F(MlpCliTest, LearnsTheDigitsAsyncAndSyncAndPredictReadsTheModel) {
  struct Run {
    std::vector<std::string> flags;
  };
  for (const Run& run : {Run{{"--mode", "async"}}, Run{{"--mode", "sync"}}}) {
    SCOPED_TRACE(run.flags[1]);
    const std::string model = dir_ + "/model-" + run.flags[1] + ".txt";
    std::vector<std::string> args = {
        "mlp", "train",  "--input",  digits_, "--test-fraction", "0.2", "--seed", "1", "--hidden",
        "64",  "--json", "--output", model,   "--threads",       "2"};
    args.insert(args.end(), run.flags.begin(), run.flags.end());
    const CommandResult r = Deepdist(args);
    ASSERT_EQ(r.code, 0) << r.err;
    const nlohmann::json j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["classes"].get<int>(), 10);
    EXPECT_EQ(j["features"].get<int>(), 64);
    EXPECT_EQ(j["train_examples"].get<int>() + j["test_examples"].get<int>(), 1797);
    EXPECT_NEAR(j["test_examples"].get<double>(), 0.2 * 1797, 60);
    EXPECT_GE(j["test_accuracy"].get<double>(), 0.95);
    // predict on every line: the model file holds what was trained.
    const CommandResult p = Deepdist({"mlp", "predict", "--model", model, "--input", digits_,
                                      "--json", "--output", dir_ + "/classes.txt"});
    ASSERT_EQ(p.code, 0) << p.err;
    const nlohmann::json pj = nlohmann::json::parse(p.out);
    EXPECT_EQ(pj["examples"].get<int>(), 1797);
    const double all = pj["accuracy"].get<double>();
    const double expected = (j["train_accuracy"].get<double>() * j["train_examples"].get<int>() +
                             j["test_accuracy"].get<double>() * j["test_examples"].get<int>()) /
                            1797.0;
    EXPECT_NEAR(all, expected, 1e-9);
    const std::string classes = ReadFile(dir_ + "/classes.txt");
    EXPECT_EQ(std::count(classes.begin(), classes.end(), '\n'), 1797);
  }
}

}  // namespace
}  // namespace deepdist::mlp
