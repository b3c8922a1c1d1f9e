// The fixture of the MLP's command-line tests: a fresh folder holding the
// handwritten digits that Debian's python3-sklearn ships (1,797 8x8 images,
// label last), unpacked as digits.csv.
#ifndef DEEPDIST_TESTS_MLP_DIGITS_H_
#define DEEPDIST_TESTS_MLP_DIGITS_H_

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/test_support.h"

namespace deepdist::mlp {

inline constexpr const char* kDigits =
    "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz";

class MlpCliTest : public testing_support::TempDirTest {
 protected:
  MlpCliTest() : TempDirTest("deepdist-mlp-cli-") {}

  void SetUp() override {
    TempDirTest::SetUp();
    ASSERT_TRUE(std::filesystem::exists(kDigits))
        << kDigits << ": missing (scripts/install-deps.sh installs python3-sklearn)";
    digits_ = dir_ + "/digits.csv";
    ASSERT_EQ(std::system(("gzip -dc " + std::string(kDigits) + " > " + digits_).c_str()), 0);
    std::filesystem::create_directories(dir_ + "/logs");
  }

  testing_support::CommandResult Deepdist(std::vector<std::string> args) const {
    return testing_support::RunDeepdist(std::move(args), dir_ + "/logs");
  }

  std::string digits_;
};

}  // namespace deepdist::mlp

#endif  // DEEPDIST_TESTS_MLP_DIGITS_H_
