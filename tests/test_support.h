// Helpers the tests share: a temporary folder that removes itself, reading
// and writing whole files, and running a command with its output captured.
#ifndef DEEPDIST_TESTS_TEST_SUPPORT_H_
#define DEEPDIST_TESTS_TEST_SUPPORT_H_

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace deepdist::testing_support {

// A fresh folder "<temp dir>/<prefix>XXXXXX" made by mkdtemp, removed with
// everything in it when the object goes, unless DEEPDIST_KEEP_TEST_FILES is
// set. ok() says whether the folder was made.
class TempDir {
 public:
  explicit TempDir(std::string_view prefix) {
    std::string pattern =
        (std::filesystem::temp_directory_path() / (std::string(prefix) + "XXXXXX")).string();
    if (::mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~TempDir() {
    if (!path_.empty() && std::getenv("DEEPDIST_KEEP_TEST_FILES") == nullptr) {
      std::error_code ec;
      std::filesystem::remove_all(path_, ec);
    }
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  bool ok() const { return !path_.empty(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Replaces the file at `path` with `bytes`; a failure fails the test.
inline void WriteFile(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  ASSERT_TRUE(out.good()) << "could not write " << path;
}

// The whole file at `path`; empty when it cannot be read.
inline std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// A fixture base giving each test a fresh temporary folder, dir_.
class TempDirTest : public ::testing::Test {
 protected:
  explicit TempDirTest(std::string_view prefix) : tmp_(prefix), dir_(tmp_.path().string()) {}

  void SetUp() override { ASSERT_TRUE(tmp_.ok()) << "mkdtemp failed"; }

  // Writes `bytes` to dir_/name and returns that path.
  std::string Write(std::string_view name, std::string_view bytes) const {
    const std::string path = dir_ + "/" + std::string(name);
    WriteFile(path, bytes);
    return path;
  }

  const TempDir tmp_;
  const std::string dir_;
};

// `s` single-quoted for /bin/sh.
inline std::string ShellQuote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

struct CommandResult {
  int code = -1;  // Exit status; 128 + signal when killed.
  std::string out;
  std::string err;
};

// Runs `argv` (argv[0] the program) through the shell with stdin from
// /dev/null; stdout and stderr go through the files "stdout" and "stderr" in
// the folder `logs`.
inline CommandResult RunCommand(const std::vector<std::string>& argv,
                                const std::filesystem::path& logs) {
  const std::filesystem::path out = logs / "stdout";
  const std::filesystem::path err = logs / "stderr";
  std::string cmd;
  for (const std::string& a : argv) cmd += (cmd.empty() ? "" : " ") + ShellQuote(a);
  cmd += " </dev/null >" + ShellQuote(out.string()) + " 2>" + ShellQuote(err.string());
  const int status = std::system(cmd.c_str());
  CommandResult r;
  if (status != -1 && WIFEXITED(status)) {
    r.code = WEXITSTATUS(status);
  } else if (status != -1 && WIFSIGNALED(status)) {
    r.code = 128 + WTERMSIG(status);
  }
  r.out = ReadFile(out);
  r.err = ReadFile(err);
  return r;
}

// Runs the deepdist binary (DEEPDIST_BIN, as ctest sets it, else "deepdist"
// on the PATH) with `args`, its output through files in `logs`.
inline CommandResult RunDeepdist(std::vector<std::string> args, const std::filesystem::path& logs) {
  const char* bin = std::getenv("DEEPDIST_BIN");
  args.insert(args.begin(), bin != nullptr ? bin : "deepdist");
  return RunCommand(args, logs);
}

// The CLI's error contract for a command writing `output` under `dir`: exit
// `code`, one line on stderr starting with "deepdist: <names>: ", nothing on
// stdout, nothing left at `output` nor any temporary file under `dir`.
inline void ExpectOneLineError(const CommandResult& r, int code, const std::string& names,
                               const std::string& output, const std::string& dir) {
  EXPECT_EQ(r.code, code) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(r.err.rfind("deepdist: " + names + ": ", 0), 0u) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_FALSE(std::filesystem::exists(output));
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    EXPECT_EQ(entry.path().string().find(".tmp."), std::string::npos) << entry.path();
  }
}

// Runs the deepdist binary with `args` in the background, sends it `signal`
// (a name such as "TERM") once the file `appears` exists (or after 30 s),
// and waits for it.
inline CommandResult RunDeepdistUntilFile(std::vector<std::string> args, const std::string& signal,
                                          const std::filesystem::path& appears,
                                          const std::filesystem::path& logs) {
  const char* bin = std::getenv("DEEPDIST_BIN");
  std::string command = ShellQuote(bin != nullptr ? bin : "deepdist");
  for (const std::string& a : args) command += " " + ShellQuote(a);
  const std::string script = command + " & pid=$!; i=0; while [ ! -f " +
                             ShellQuote(appears.string()) +
                             " ] && [ $i -lt 3000 ]; do sleep 0.01; i=$((i+1)); done; kill -" +
                             signal + " $pid; wait $pid";
  return RunCommand({"/bin/sh", "-c", script}, logs);
}

// The checkpoint contract of a gradient-form train command (`command`,
// run with `run_flags`, which include --epochs `epochs` and --threads 1):
// SIGTERM saves a final checkpoint (the run had saved one already) and says
// where; --resume from it with nothing but the output given writes the
// model an uninterrupted run writes, bit for bit; a flag given with another
// value than the checkpoint's is a usage error naming it. Files go under
// `dir`.
inline void ExpectResumedRunWritesTheUninterruptedModel(const std::string& command,
                                                        const std::vector<std::string>& run_flags,
                                                        const std::string& epochs,
                                                        const std::string& dir) {
  const std::filesystem::path logs = dir + "/logs";
  std::vector<std::string> run = {command, "train"};
  run.insert(run.end(), run_flags.begin(), run_flags.end());
  const std::string reference = dir + "/reference.txt";
  std::vector<std::string> args = run;
  args.insert(args.end(), {"--output", reference});
  ASSERT_EQ(RunDeepdist(args, logs).code, 0);
  const std::string saved = dir + "/saved";
  const std::string output = dir + "/model.txt";
  args = run;
  args.insert(args.end(),
              {"--output", output, "--checkpoint", saved, "--checkpoint-every", "0.05"});
  const CommandResult stopped = RunDeepdistUntilFile(args, "TERM", saved + "/checkpoint.ddc", logs);
  ASSERT_EQ(stopped.code, 143) << stopped.err;
  EXPECT_NE(stopped.err.find("checkpoint in " + saved + "/checkpoint.ddc"), std::string::npos)
      << stopped.err;
  EXPECT_FALSE(std::filesystem::exists(output));
  const CommandResult resumed =
      RunDeepdist({command, "train", "--output", output, "--resume", saved, "--json"}, logs);
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  EXPECT_NE(resumed.out.find("\"resumed\":true"), std::string::npos) << resumed.out;
  EXPECT_EQ(ReadFile(output), ReadFile(reference));
  const CommandResult conflict = RunDeepdist(
      {command, "train", "--output", output, "--resume", saved, "--epochs", epochs + "0"}, logs);
  EXPECT_EQ(conflict.code, 2);
  EXPECT_NE(conflict.err.find("--epochs: conflicts with the checkpoint's \"" + epochs + "\""),
            std::string::npos)
      << conflict.err;
}

}  // namespace deepdist::testing_support

#endif  // DEEPDIST_TESTS_TEST_SUPPORT_H_
