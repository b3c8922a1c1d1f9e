// What a checkpoint keeps of a command's flags: ApplySettings takes the saved
// values, refuses a conflicting flag, and reads a checkpoint saved before a
// setting existed as that setting's old default where one is declared.
#include "src/cli/run_settings.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace deepdist::cli {
namespace {

struct Flags {
  long long dim = 100;
  std::string loss = "ns";
};

std::vector<Setting<Flags>> Settings(bool loss_has_absent) {
  Setting<Flags> loss = Bind<Flags>(
      "loss", [](Flags & f) -> auto& { return f.loss; });
  if (loss_has_absent) loss = WithAbsent(loss, "ns");
  return {Bind<Flags>(
              "dim", [](Flags & f) -> auto& { return f.dim; }),
          loss};
}

TEST(RunSettingsTest, TakesSavedValuesAndRefusesConflicts) {
  Flags f;
  f.loss = "hs";
  EXPECT_EQ(ApplySettings(Settings(true), R"({"dim": "12", "loss": "hs"})", "c.ddc", {}, &f), "");
  EXPECT_EQ(f.dim, 12);
  EXPECT_EQ(f.loss, "hs");
  Flags g;
  g.dim = 13;
  EXPECT_EQ(ApplySettings(Settings(true), R"({"dim": "12", "loss": "hs"})", "c.ddc", {"dim"}, &g),
            "--dim: conflicts with the checkpoint's \"12\" (c.ddc); leave it out to continue with "
            "the checkpoint's");
}

TEST(RunSettingsTest, ASettingMissingFromAnOlderCheckpointTakesItsDeclaredValue) {
  Flags f;
  f.loss = "hs";  // Not given: the checkpoint's (absent: "ns") wins.
  EXPECT_EQ(ApplySettings(Settings(true), R"({"dim": "12"})", "c.ddc", {}, &f), "");
  EXPECT_EQ(f.loss, "ns");
  Flags given;
  given.loss = "hs";
  EXPECT_EQ(ApplySettings(Settings(true), R"({"dim": "12"})", "c.ddc", {"loss"}, &given),
            "--loss: conflicts with the checkpoint's \"ns\" (c.ddc); leave it out to continue "
            "with the checkpoint's");
  // Without a declared value, the checkpoint is refused.
  Flags h;
  EXPECT_EQ(ApplySettings(Settings(false), R"({"dim": "12"})", "c.ddc", {}, &h),
            "--resume: c.ddc: no saved setting loss");
  // A saved value of the wrong type is damage, not an old checkpoint.
  EXPECT_EQ(ApplySettings(Settings(true), R"({"dim": "12", "loss": 3})", "c.ddc", {}, &h),
            "--resume: c.ddc: no saved setting loss");
}

}  // namespace
}  // namespace deepdist::cli
