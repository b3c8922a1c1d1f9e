// AtomicFile: a file appears whole or not at all; a device named as the
// target is written, never replaced.
#include "src/core/atomic_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace deepdist {
namespace {

namespace fs = std::filesystem;

class AtomicFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("atomic_file_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  static std::string Read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  fs::path dir_;
};

TEST_F(AtomicFileTest, CommitPutsTheWholeFileInPlaceAndAbandonLeavesNothing) {
  const fs::path path = dir_ / "out.txt";
  {
    AtomicFile f(path.string());
    ASSERT_TRUE(f.Open().ok());
    std::fputs("first", f.stream());
    EXPECT_FALSE(fs::exists(path));  // Not before the commit.
    ASSERT_TRUE(f.Commit().ok());
  }
  EXPECT_EQ(Read(path), "first");
  {
    AtomicFile f(path.string());
    ASSERT_TRUE(f.Open().ok());
    std::fputs("second, abandoned", f.stream());
  }
  EXPECT_EQ(Read(path), "first");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

// Rename over a device would replace it, for every user of the machine
// when run as root: the device is written instead, and stays a device.
TEST_F(AtomicFileTest, ACharacterDeviceIsWrittenNotReplaced) {
  {
    AtomicFile f("/dev/null");
    ASSERT_TRUE(f.Open().ok());
    std::fputs("discarded", f.stream());
    EXPECT_TRUE(f.Commit().ok());
  }
  struct stat st;
  ASSERT_EQ(::stat("/dev/null", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  if (::stat("/dev/full", &st) == 0 && S_ISCHR(st.st_mode)) {
    AtomicFile f("/dev/full");
    ASSERT_TRUE(f.Open().ok());
    std::fputs("no room", f.stream());
    const Status s = f.Commit();
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.message().find("/dev/full: write failed"), std::string::npos) << s.message();
    ASSERT_EQ(::stat("/dev/full", &st), 0);
    EXPECT_TRUE(S_ISCHR(st.st_mode)) << "/dev/full was replaced";
  }
}

TEST_F(AtomicFileTest, AFifoOrAFolderIsRefused) {
  const fs::path fifo = dir_ / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  AtomicFile f(fifo.string());
  const Status s = f.Open();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("not a regular file"), std::string::npos) << s.message();
  AtomicFile d(dir_.string());
  EXPECT_NE(d.Open().message().find("is a directory"), std::string::npos);
}

}  // namespace
}  // namespace deepdist
