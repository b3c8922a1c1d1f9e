// The checkpoint file: sections round-trip exactly, tables keep their
// values, and anything short of a whole file is refused by name.
#include "deepdist/checkpoint.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "tests/test_support.h"

namespace deepdist {
namespace {

using testing_support::ReadFile;
using testing_support::TempDir;
using testing_support::WriteFile;

Checkpoint Sample() {
  Checkpoint c;
  c.Put("settings", "{\"dim\":\"3\"}");
  c.Put("empty", "");
  c.Put("binary", std::string("\0\1\2\xff", 4));
  Table t("in", 5, 3);
  for (RowId r = 0; r < 5; ++r) {
    for (size_t k = 0; k < 3; ++k)
      t.row(r)[k] = static_cast<float>(r) * 0.5f - static_cast<float>(k) / 3.0f;
  }
  c.PutTable("table/0", t);
  return c;
}

TEST(CheckpointTest, SectionsAndTablesRoundTripExactly) {
  const Checkpoint c = Sample();
  Result<Checkpoint> back = Checkpoint::Parse(c.Serialize(), "mem");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->sections(), c.sections());
  Table t("in", 5, 3);
  ASSERT_TRUE(back->GetTable("table/0", &t).ok());
  for (RowId r = 0; r < 5; ++r) {
    for (size_t k = 0; k < 3; ++k) {
      EXPECT_EQ(t.row(r)[k], static_cast<float>(r) * 0.5f - static_cast<float>(k) / 3.0f);
    }
  }
  EXPECT_EQ(back->Get("missing"), nullptr);
}

TEST(CheckpointTest, ATableOfAnotherShapeIsRefused) {
  const Checkpoint c = Sample();
  Table wide("in", 5, 4);
  const Status s = c.GetTable("table/0", &wide);
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.message().find("5 x 3"), std::string::npos) << s.message();
  Table t("in", 5, 3);
  EXPECT_EQ(c.GetTable("table/9", &t).code(), Status::Code::kCorruption);
}

// Every prefix of the file, and every single changed byte, is refused (the
// checksum or the lengths catch it), naming the source.
TEST(CheckpointTest, EveryTruncationAndChangedByteIsRefused) {
  const std::string bytes = Sample().Serialize();
  for (size_t n = 0; n < bytes.size(); ++n) {
    Result<Checkpoint> cut = Checkpoint::Parse(std::string_view(bytes).substr(0, n), "cut.ddc");
    ASSERT_FALSE(cut.ok()) << "prefix of " << n << " bytes accepted";
    EXPECT_EQ(cut.status().code(), Status::Code::kCorruption);
    EXPECT_EQ(cut.status().message().rfind("cut.ddc: ", 0), 0u) << cut.status().message();
  }
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::string changed = bytes;
    changed[i] = static_cast<char>(changed[i] ^ 0x01);
    EXPECT_FALSE(Checkpoint::Parse(changed, "x").ok()) << "byte " << i << " changed, accepted";
  }
}

// Save replaces the file whole, and a failed save leaves the previous one
// as it was, with no temporary file beside it.
TEST(CheckpointTest, SaveIsAtomic) {
  TempDir dir("deepdist_checkpoint_test.");
  ASSERT_TRUE(dir.ok());
  const std::string path = (dir.path() / "checkpoint.ddc").string();
  Checkpoint first = Sample();
  ASSERT_TRUE(first.Save(path).ok());
  EXPECT_EQ(ReadFile(path), first.Serialize());  // Written as Serialize lays it out.
  Result<Checkpoint> loaded = Checkpoint::Load(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(loaded->sections(), first.sections());
  EXPECT_EQ(loaded->source(), path);

  const std::string before = ReadFile(path);
  // A directory in the way of the temporary file's rename target.
  const std::string blocked = (dir.path() / "blocked").string();
  std::filesystem::create_directories(blocked);
  EXPECT_FALSE(first.Save(blocked).ok());
  EXPECT_EQ(ReadFile(path), before);
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    (void)entry;
    ++files;
  }
  EXPECT_EQ(files, 2u);  // The checkpoint and the directory.

  EXPECT_EQ(Checkpoint::Load((dir.path() / "none.ddc").string()).status().code(),
            Status::Code::kNotFound);
}

}  // namespace
}  // namespace deepdist
