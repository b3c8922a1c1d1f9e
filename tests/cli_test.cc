// The deepdist command line, run as a separate process: its error contract
// (one "deepdist: <file or flag>: <problem>" line on stderr, exit code 2 for
// usage errors and 1 for file errors, no output or temporary file left
// behind) and its happy paths (--json summaries, vector formats, vocabulary
// files, determinism, --help).
//
// DEEPDIST_BIN names the binary and DEEPDIST_SOURCE the source root (ctest
// sets both). Every test works in its own mkdtemp folder on a small synthetic
// corpus: 30,000 tokens over 200 words in 10 topics of 20 words, each
// sentence drawn from one topic.
#include <gtest/gtest.h>
#include <sys/mount.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "deepdist/checkpoint.h"
#include "deepdist/word2vec/vectors.h"
#include "tests/test_support.h"

namespace {

namespace fs = std::filesystem;
using deepdist::testing_support::CommandResult;
using deepdist::testing_support::ReadFile;
using deepdist::testing_support::RunCommand;
using deepdist::testing_support::ShellQuote;
using deepdist::testing_support::TempDir;
using deepdist::testing_support::WriteFile;
using nlohmann::json;

constexpr int kTopics = 10;
constexpr int kWordsPerTopic = 20;
constexpr int kSentenceLength = 10;
constexpr int kSentences = 3000;
constexpr uint64_t kTokens = uint64_t{kSentences} * kSentenceLength;  // 30,000.
constexpr size_t kVocab = kTopics * kWordsPerTopic;                   // 200.
constexpr int kDim = 16;

std::string Word(int topic, int k) { return "t" + std::to_string(topic) + "w" + std::to_string(k); }

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::stringstream ss(text);
  std::string line;
  while (std::getline(ss, line)) lines.push_back(line);
  return lines;
}

std::vector<std::string> Fields(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream ss(line);
  std::string f;
  while (ss >> f) out.push_back(f);
  return out;
}

// One temporary root per test process, removed at exit unless
// DEEPDIST_KEEP_TEST_FILES is set.
class CliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const char* bin = std::getenv("DEEPDIST_BIN");
    ASSERT_NE(bin, nullptr) << "DEEPDIST_BIN is not set (run through ctest)";
    bin_ = bin;
    ASSERT_TRUE(fs::exists(bin_)) << bin_;
    root_ = new TempDir("deepdist_cli_test.");
    ASSERT_TRUE(root_->ok());
    fs::create_directories(root_->path() / "logs");
    corpus_ = root_->path() / "corpus.txt";
    WriteFile(corpus_, CorpusText(1));
  }

  static void TearDownTestSuite() {
    delete root_;
    root_ = nullptr;
  }

  void SetUp() override {
    ASSERT_TRUE(root_ != nullptr && root_->ok());
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = root_->path() / info->name();
    fs::create_directories(dir_);
  }

  // 3,000 ten-word sentences, each from one topic.
  static std::string CorpusText(uint32_t seed) {
    std::mt19937 rng(seed);
    std::string text;
    for (int s = 0; s < kSentences; ++s) {
      const int topic = static_cast<int>(rng() % kTopics);
      for (int i = 0; i < kSentenceLength; ++i) {
        if (i > 0) text += ' ';
        text += Word(topic, static_cast<int>(rng() % kWordsPerTopic));
      }
      text += '\n';
    }
    return text;
  }

  // Runs `deepdist args...` with stdin from /dev/null.
  static CommandResult Deepdist(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {bin_};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv, root_->path() / "logs");
  }

  // `word2vec train` on `input` with the small settings and any extra flags.
  static CommandResult Train(const std::string& input, const std::string& output,
                             const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"word2vec", "train", "--input", input, "--output", output};
    std::map<std::string, std::string> defaults = {{"--epochs", "1"},
                                                   {"--threads", "2"},
                                                   {"--dim", std::to_string(kDim)},
                                                   {"--min-count", "1"}};
    for (size_t i = 0; i < extra.size(); ++i) {
      if (defaults.count(extra[i])) defaults.erase(extra[i]);  // CLI11 refuses a repeated flag.
    }
    for (const auto& [flag, value] : defaults) {
      args.push_back(flag);
      args.push_back(value);
    }
    args.insert(args.end(), extra.begin(), extra.end());
    return Deepdist(args);
  }

  // Vectors trained on the corpus, written in text and binary form once per
  // test process.
  static const fs::path& TextVectors() {
    EnsureVectors();
    return text_vectors_;
  }
  static const fs::path& BinVectors() {
    EnsureVectors();
    return bin_vectors_;
  }
  static void EnsureVectors() {
    if (!text_vectors_.empty()) return;
    const fs::path text = root_->path() / "vectors.txt";
    const fs::path bin = root_->path() / "vectors.bin";
    CommandResult r = Train(corpus_.string(), text.string(), {"--seed", "3", "--quiet"});
    ASSERT_EQ(r.code, 0) << r.err;
    r = Train(corpus_.string(), bin.string(), {"--seed", "3", "--quiet"});
    ASSERT_EQ(r.code, 0) << r.err;
    text_vectors_ = text;
    bin_vectors_ = bin;
  }

  // The last line of stdout, parsed as JSON.
  static json LastJson(const CommandResult& r) {
    std::vector<std::string> lines = Lines(r.out);
    while (!lines.empty() && lines.back().empty()) lines.pop_back();
    if (lines.empty()) {
      ADD_FAILURE() << "no stdout; stderr: " << r.err;
      return json::object();
    }
    json j = json::parse(lines.back(), nullptr, /*allow_exceptions=*/false);
    EXPECT_TRUE(j.is_object()) << "last stdout line is not a JSON object: " << lines.back();
    return j.is_object() ? j : json::object();
  }

  // The error contract: exit `code`, stderr one line "deepdist: ..." naming
  // `names`.
  static void ExpectError(const CommandResult& r, int code, const std::string& names) {
    EXPECT_EQ(r.code, code) << "stderr: " << r.err;
    ASSERT_FALSE(r.err.empty()) << "no message on stderr";
    EXPECT_EQ(r.err.back(), '\n') << "stderr: " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "stderr: " << r.err;
    EXPECT_EQ(r.err.rfind("deepdist: ", 0), 0u) << "stderr: " << r.err;
    EXPECT_NE(r.err.find(names), std::string::npos)
        << "stderr does not name \"" << names << "\": " << r.err;
  }

  // Nothing named `output` and no "*.tmp.*" file anywhere under `folder`.
  static void ExpectNothingLeft(const fs::path& folder, const fs::path& output) {
    EXPECT_FALSE(fs::exists(output)) << output << " was left behind";
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(folder, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      const std::string name = it->path().filename().string();
      EXPECT_EQ(name.find(".tmp."), std::string::npos) << "temporary file left: " << it->path();
    }
  }

  // A train error: the contract, and neither the output nor a temporary file.
  void ExpectTrainError(const CommandResult& r, int code, const std::string& names,
                        const fs::path& output) {
    ExpectError(r, code, names);
    ExpectNothingLeft(dir_, output);
  }

  // Training on `input` fails as a file problem naming it, and leaves nothing.
  void ExpectInputFileError(const fs::path& input) {
    const fs::path output = dir_ / "out.bin";
    ExpectTrainError(Train(input.string(), output.string()), 1, input.string(), output);
  }

  // Training on the corpus with `flag file` fails as a file problem naming
  // `file`, and leaves nothing.
  void ExpectFlagFileError(const std::string& flag, const fs::path& file) {
    const fs::path output = dir_ / "out.bin";
    ExpectTrainError(Train(corpus_.string(), output.string(), {flag, file.string()}), 1,
                     file.string(), output);
  }

  // Writes the corpus gzip-compressed (by the gzip tool) to `gz`.
  static void WriteGzipCorpus(const fs::path& gz) {
    const std::string command =
        "gzip -c " + ShellQuote(corpus_.string()) + " > " + ShellQuote(gz.string());
    ASSERT_EQ(std::system(command.c_str()), 0);
  }

  // Writes to `cut` the first keep(size) bytes of the gzip-compressed corpus.
  void WriteCutGzipCorpus(const fs::path& cut, size_t (*keep)(size_t size)) {
    const fs::path gz = dir_ / "corpus.txt.gz";
    ASSERT_NO_FATAL_FAILURE(WriteGzipCorpus(gz));
    const std::string whole = ReadFile(gz);
    WriteFile(cut, whole.substr(0, keep(whole.size())));
  }

  // Vectors files broken in the ways loading must catch.
  static std::map<std::string, fs::path> BrokenVectors(const fs::path& dir) {
    std::map<std::string, fs::path> files;
    const std::string bin = ReadFile(BinVectors());
    const std::string text = ReadFile(TextVectors());
    files["truncated binary"] = dir / "truncated.bin";
    WriteFile(files["truncated binary"], bin.substr(0, bin.size() / 2));
    files["truncated text"] = dir / "truncated.txt";
    WriteFile(files["truncated text"], text.substr(0, text.size() / 2));
    files["truncated in a binary row"] = dir / "cut_in_row.bin";
    WriteFile(files["truncated in a binary row"], bin.substr(0, bin.size() - 7));
    files["absurd header"] = dir / "absurd.txt";
    WriteFile(files["absurd header"], "2000000000 100000\nthe 0.1 0.2\n");
    files["absurd word count"] = dir / "absurd_words.bin";
    WriteFile(files["absurd word count"], "2000000000 16\n" + bin.substr(bin.find('\n') + 1));
    files["bad header"] = dir / "bad_header.txt";
    WriteFile(files["bad header"], "two hundred\nt0w0 0.1\n");
    files["empty"] = dir / "empty.txt";
    WriteFile(files["empty"], "");
    // Row 6 holds a word where a number should be.
    std::vector<std::string> lines = Lines(text);
    std::vector<std::string> row = Fields(lines[6]);
    row[8] = "abc";
    std::string joined;
    for (const std::string& f : row) joined += (joined.empty() ? "" : " ") + f;
    lines[6] = joined;
    std::string malformed;
    for (const std::string& l : lines) malformed += l + "\n";
    files["malformed row"] = dir / "malformed.txt";
    WriteFile(files["malformed row"], malformed);
    // Row 9 one number short.
    lines = Lines(text);
    lines[9] = lines[9].substr(0, lines[9].rfind(' '));
    std::string short_row;
    for (const std::string& l : lines) short_row += l + "\n";
    files["short row"] = dir / "short_row.txt";
    WriteFile(files["short row"], short_row);
    files["missing"] = dir / "no_such_vectors.bin";
    return files;
  }

  // "a b c d" questions over the corpus words, in two sections, plus one
  // with an unknown word.
  static std::string QuestionsText() {
    std::string q = ": topics-a\n";
    for (int k = 0; k < 5; ++k) {
      q += Word(0, k) + " " + Word(1, k) + " " + Word(0, k + 5) + " " + Word(1, k + 5) + "\n";
    }
    q += ": topics-b\n";
    for (int k = 0; k < 4; ++k) {
      q += Word(2, k) + " " + Word(3, k) + " " + Word(2, k + 5) + " " + Word(3, k + 5) + "\n";
    }
    q += "T2W1 t3w1 t2w2 notaword\n";
    return q;
  }

  static std::vector<std::string> VectorWords(const fs::path& text_vectors) {
    std::vector<std::string> words;
    std::vector<std::string> lines = Lines(ReadFile(text_vectors));
    for (size_t i = 1; i < lines.size(); ++i) words.push_back(Fields(lines[i]).at(0));
    return words;
  }

  static std::string bin_;
  static TempDir* root_;
  static fs::path corpus_;
  static fs::path text_vectors_;
  static fs::path bin_vectors_;
  fs::path dir_;
};

std::string CliTest::bin_;
TempDir* CliTest::root_ = nullptr;
fs::path CliTest::corpus_;
fs::path CliTest::text_vectors_;
fs::path CliTest::bin_vectors_;

// ---------------------------------------------------------------------------
// train: bad inputs.

TEST_F(CliTest, MissingInputFile) {
  const fs::path input = dir_ / "no_such_corpus.txt";
  ExpectInputFileError(input);
}

// A directory is read as its part files; one with none is a file problem.
TEST_F(CliTest, InputDirectoryWithoutFiles) {
  const fs::path input = dir_ / "parts";
  fs::create_directories(input / "subdir");
  WriteFile(input / "_SUCCESS", "");
  ExpectInputFileError(input);
}

TEST_F(CliTest, EmptyInputFile) {
  const fs::path input = dir_ / "empty.txt";
  WriteFile(input, "");
  ExpectInputFileError(input);
}

TEST_F(CliTest, NoWordReachesMinCount) {
  const fs::path output = dir_ / "out.bin";
  ExpectTrainError(Train(corpus_.string(), output.string(), {"--min-count", "1000000"}), 1,
                   corpus_.string(), output);
}

TEST_F(CliTest, BinaryInputFile) {
  const fs::path input = dir_ / "random.bin";
  std::mt19937 rng(5);
  std::string bytes(100000, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    bytes[i] = i % 97 == 0 ? '\0' : static_cast<char>(rng() & 0xff);
  }
  WriteFile(input, bytes);
  ExpectInputFileError(input);
}

// Cut in the middle, past the first 64 KiB of text: found while reading.
TEST_F(CliTest, TruncatedGzipInput) {
  const fs::path input = dir_ / "cut.txt.gz";
  ASSERT_NO_FATAL_FAILURE(WriteCutGzipCorpus(input, [](size_t size) { return size / 2; }));
  ExpectInputFileError(input);
}

// Cut just after the gzip header: not a word of text comes out.
TEST_F(CliTest, GzipInputCutInItsHeader) {
  const fs::path input = dir_ / "cut.txt.gz";
  ASSERT_NO_FATAL_FAILURE(WriteCutGzipCorpus(input, [](size_t) -> size_t { return 12; }));
  ExpectInputFileError(input);
}

// A failure after the output was probed leaves an existing output as it was.
TEST_F(CliTest, FailedTrainingKeepsExistingOutput) {
  const fs::path input = dir_ / "cut.txt.gz";
  ASSERT_NO_FATAL_FAILURE(WriteCutGzipCorpus(input, [](size_t size) { return size / 2; }));
  const fs::path output = dir_ / "out.bin";
  WriteFile(output, "previous vectors");
  const CommandResult r = Train(input.string(), output.string());
  ExpectError(r, 1, input.string());
  EXPECT_EQ(ReadFile(output), "previous vectors");
  ExpectNothingLeft(dir_, dir_ / "no_such_file");
}

// A training that fails (a truncated .gz met while training, the vocabulary
// read from a file) leaves no --save-vocab behind either.
TEST_F(CliTest, FailedTrainingLeavesNoVocabulary) {
  const fs::path vocab = dir_ / "vocab.txt";
  ASSERT_EQ(Train(corpus_.string(), (dir_ / "good.bin").string(),
                  {"--epochs", "1", "--save-vocab", vocab.string()})
                .code,
            0);
  const fs::path input = dir_ / "cut.txt.gz";
  ASSERT_NO_FATAL_FAILURE(WriteCutGzipCorpus(input, [](size_t size) { return size / 2; }));
  const fs::path saved = dir_ / "saved-vocab.txt";
  const fs::path output = dir_ / "out.bin";
  const CommandResult r = Train(input.string(), output.string(),
                                {"--read-vocab", vocab.string(), "--save-vocab", saved.string()});
  ExpectTrainError(r, 1, input.string(), output);
  EXPECT_FALSE(fs::exists(saved)) << "the vocabulary of a failed training was left behind";
}

// --init-vectors: a run with a vanishing rate ends where the given vectors
// started it (every word of the vocabulary found, the --json summary says
// how many); a file of another dimension is a usage error naming the flag,
// a missing one a file error naming the file, and neither leaves anything.
TEST_F(CliTest, InitVectorsStartTrainingFromTheGivenVectors) {
  const fs::path output = dir_ / "again.txt";
  const CommandResult r = Train(corpus_.string(), output.string(),
                                {"--seed", "3", "--init-vectors", TextVectors().string(), "--alpha",
                                 "0.0000001", "--min-alpha", "0.00000001", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  deepdist::Result<deepdist::word2vec::Vectors> before =
      deepdist::word2vec::Vectors::Load(TextVectors().string());
  deepdist::Result<deepdist::word2vec::Vectors> after =
      deepdist::word2vec::Vectors::Load(output.string());
  ASSERT_TRUE(before.ok() && after.ok());
  EXPECT_EQ(LastJson(r)["init_words"], after->size());
  ASSERT_EQ(before->size(), after->size());
  for (size_t i = 0; i < after->size(); ++i) {
    const int64_t at = before->Find(after->word(i));
    ASSERT_GE(at, 0) << after->word(i);
    for (size_t k = 0; k < after->dim(); ++k) {
      EXPECT_NEAR(after->row(i)[k], before->row(static_cast<size_t>(at))[k], 1e-4)
          << after->word(i);
    }
  }

  const fs::path out = dir_ / "out.bin";
  ExpectTrainError(
      Train(corpus_.string(), out.string(),
            {"--init-vectors", TextVectors().string(), "--dim", std::to_string(kDim + 4)}),
      2, "--init-vectors", out);
  ExpectFlagFileError("--init-vectors", dir_ / "no_such_vectors.txt");
}

// SIGINT and SIGTERM while training stop it cleanly: exit 128 + the
// signal's number with one line naming the signal and the output, which is
// not written (nor any temporary file). A signal's default action would end
// the process without that line.
TEST_F(CliTest, InterruptStopsTrainingCleanly) {
  for (const auto& [name, code] :
       std::vector<std::pair<std::string, int>>{{"INT", 130}, {"TERM", 143}}) {
    SCOPED_TRACE(name);
    const fs::path output = dir_ / "interrupted.bin";
    // Far more epochs than the second the signal waits for.
    const std::string script =
        "\"$0\" word2vec train --input \"$1\" --output \"$2\" --epochs "
        "100000 --dim 16 --min-count 1 --quiet & pid=$!; sleep 1; kill -" +
        name + " $pid; wait $pid";
    const CommandResult r = RunCommand(
        {"/bin/sh", "-c", script, bin_, corpus_.string(), output.string()}, root_->path() / "logs");
    ExpectTrainError(
        r, code, "interrupted by SIG" + name + ": " + output.string() + ": not written", output);
  }
}

// A full disk: writing the vectors fails with one line naming the output
// and the reason, and the previous output is kept whole, no temporary file
// left. The disk is a tmpfs of one page, mounted for the test (root only;
// skipped where mounting is not allowed).
TEST_F(CliTest, FullDiskKeepsThePreviousOutput) {
  const fs::path small = dir_ / "small";
  fs::create_directories(small);
  if (::mount("tmpfs", small.c_str(), "tmpfs", 0, "size=4k") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs here: " << std::strerror(errno);
  }
  struct Unmount {
    fs::path at;
    ~Unmount() { ::umount(at.c_str()); }
  } unmount{small};
  const fs::path output = small / "vectors.txt";
  WriteFile(output, "previous vectors");
  const CommandResult r = Train(corpus_.string(), output.string(), {"--dim", "64"});
  ExpectError(r, 1, output.string() + ": write failed: No space left on device");
  EXPECT_EQ(ReadFile(output), "previous vectors");
  for (const auto& entry : fs::directory_iterator(small)) {
    EXPECT_EQ(entry.path(), output) << "left behind: " << entry.path();
  }
}

// Checkpoints: a run killed by SIGKILL at any moment and resumed from its
// last checkpoint, again and again, ends with vectors bit-identical to an
// uninterrupted run's (one thread, the same seed), and never leaves a
// half-written checkpoint or output behind.
TEST_F(CliTest, KilledAndResumedRunGivesBitIdenticalVectors) {
  const fs::path reference = dir_ / "reference.bin";
  const std::vector<std::string> settings = {"--threads", "1", "--epochs", "2000", "--quiet"};
  const auto began = std::chrono::steady_clock::now();
  CommandResult r = Train(corpus_.string(), reference.string(), settings);
  ASSERT_EQ(r.code, 0) << r.err;
  // Kills and checkpoints are timed by how long the whole run takes here
  // (a sanitizer build runs many times slower): a start is killed after
  // 15% to 50% of it, with checkpoints every 5%.
  const double whole = std::max(
      1.0, std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count());
  char every[32];
  std::snprintf(every, sizeof(every), "%.3f", 0.05 * whole);
  const fs::path dir = dir_ / "checkpoints";
  const fs::path output = dir_ / "resumed.bin";
  int kills = 0, starts = 0;
  for (; starts < 40; ++starts) {
    char wait[32];
    std::snprintf(wait, sizeof(wait), "%.3f", whole * (0.15 + 0.05 * (starts % 8)));
    const std::string script =
        "\"$0\" word2vec train --input \"$1\" --output \"$2\" --resume \"$3\" --checkpoint-every " +
        std::string(every) +
        " --threads 1 --epochs 2000 --dim 16 --min-count 1 --quiet & pid=$!; sleep " + wait +
        "; kill -KILL $pid 2>/dev/null; wait $pid";
    r = RunCommand({"/bin/sh", "-c", script, bin_, corpus_.string(), output.string(), dir.string()},
                   root_->path() / "logs");
    if (r.code == 0) break;
    ASSERT_EQ(r.code, 128 + 9) << r.err;
    // Killed after the vectors were renamed into place (the run was ending):
    // they are whole, and the run is done.
    if (fs::exists(output)) break;
    ++kills;
    // Whatever is there loads: the checkpoint was renamed into place whole.
    const fs::path saved = dir / "checkpoint.ddc";
    if (fs::exists(saved)) {
      EXPECT_TRUE(deepdist::Checkpoint::Load(saved.string()).ok()) << "after kill " << kills;
    }
  }
  ASSERT_TRUE(fs::exists(output)) << "no run finished in " << starts << " starts";
  EXPECT_GE(kills, 1);
  EXPECT_EQ(ReadFile(output), ReadFile(reference)) << "after " << kills << " kills";
  for (const auto& entry : fs::directory_iterator(dir)) {
    EXPECT_EQ(entry.path().filename(), "checkpoint.ddc") << "left behind: " << entry.path();
  }
}

// --resume takes the settings from the checkpoint: a flag left out is the
// checkpoint's, one given with the same value is fine, one given with
// another value is a usage error naming the flag; --threads may change. A
// folder without a checkpoint starts a fresh run (and saves there).
TEST_F(CliTest, ResumeTakesTheCheckpointsSettingsAndRefusesConflicts) {
  const fs::path dir = dir_ / "fresh";
  const fs::path output = dir_ / "vectors.txt";
  CommandResult r = Train(corpus_.string(), output.string(),
                          {"--resume", dir.string(), "--checkpoint-every", "0.01", "--epochs",
                           "300", "--dim", "12", "--json", "--quiet"});
  ASSERT_EQ(r.code, 0) << r.err;
  json j = LastJson(r);
  EXPECT_FALSE(j["resumed"].get<bool>());
  EXPECT_GE(j["checkpoints"].get<int>(), 1);
  ASSERT_TRUE(fs::exists(dir / "checkpoint.ddc"));

  // Only the output and the folder: the rest comes from the checkpoint.
  r = Deepdist({"word2vec", "train", "--output", output.string(), "--resume", dir.string(),
                "--threads", "1", "--json", "--quiet"});
  ASSERT_EQ(r.code, 0) << r.err;
  j = LastJson(r);
  EXPECT_TRUE(j["resumed"].get<bool>());
  EXPECT_EQ(j["threads"].get<int>(), 1);
  EXPECT_EQ(j["epoch_loss"].size(), 300u);
  EXPECT_EQ(Fields(Lines(ReadFile(output)).at(0)).at(1), "12");

  r = Train(corpus_.string(), output.string(),
            {"--resume", dir.string(), "--epochs", "300", "--dim", "12", "--quiet"});
  EXPECT_EQ(r.code, 0) << r.err;
  ExpectError(Train(corpus_.string(), output.string(),
                    {"--resume", dir.string(), "--epochs", "300", "--dim", "13"}),
              2, "--dim: conflicts with the checkpoint's \"12\"");
  ExpectError(Deepdist({"word2vec", "train", "--output", output.string(), "--resume", dir.string(),
                        "--model", "cbow"}),
              2, "--model: conflicts with the checkpoint's \"sg\"");
  ExpectError(Train(TextVectors().string(), output.string(), {"--resume", dir.string()}), 2,
              "--input: conflicts with the checkpoint's");
}

// A save cut short by a kill leaves its temporary file; the next run in the
// folder removes it (the checkpoint beside it, renamed into place whole, is
// kept and resumed from).
TEST_F(CliTest, TemporaryFilesOfKilledSavesAreRemoved) {
  const fs::path dir = dir_ / "saved";
  const fs::path output = dir_ / "vectors.bin";
  CommandResult r = Train(
      corpus_.string(), output.string(),
      {"--checkpoint", dir.string(), "--checkpoint-every", "0.01", "--epochs", "100", "--quiet"});
  ASSERT_EQ(r.code, 0) << r.err;
  const fs::path stale = dir / "checkpoint.ddc.tmp.Ab12Cd";
  WriteFile(stale, "half a checkpoint");
  const fs::path other = dir / "notes.txt";
  WriteFile(other, "the user's");
  r = Deepdist({"word2vec", "train", "--output", output.string(), "--resume", dir.string(),
                "--json", "--quiet"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(LastJson(r)["resumed"].get<bool>());
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(other));
}

// A damaged checkpoint (cut short, or a byte changed) is refused with one
// line naming it; the run does not start over silently.
TEST_F(CliTest, DamagedCheckpointIsRefusedNamingIt) {
  const fs::path dir = dir_ / "saved";
  const fs::path output = dir_ / "vectors.bin";
  CommandResult r = Train(
      corpus_.string(), output.string(),
      {"--checkpoint", dir.string(), "--checkpoint-every", "0.01", "--epochs", "300", "--quiet"});
  ASSERT_EQ(r.code, 0) << r.err;
  const fs::path saved = dir / "checkpoint.ddc";
  const std::string whole = ReadFile(saved);
  ASSERT_GT(whole.size(), 100u);
  std::string flipped = whole;
  flipped[whole.size() / 2] ^= 0x20;
  for (const std::string& bad : {whole.substr(0, whole.size() / 2), flipped, std::string("x")}) {
    WriteFile(saved, bad);
    fs::remove(output);
    ExpectTrainError(
        Deepdist({"word2vec", "train", "--output", output.string(), "--resume", dir.string()}), 1,
        saved.string() + ": not a whole deepdist checkpoint", output);
  }
}

// SIGTERM with --checkpoint: a final checkpoint is saved before the run
// stops, the line says where, and resuming from it finishes the run with
// the vectors an uninterrupted run gives.
TEST_F(CliTest, InterruptSavesAFinalCheckpoint) {
  const fs::path reference = dir_ / "reference.bin";
  const auto began = std::chrono::steady_clock::now();
  CommandResult r = Train(corpus_.string(), reference.string(),
                          {"--threads", "1", "--epochs", "2500", "--quiet"});
  ASSERT_EQ(r.code, 0) << r.err;
  // The signal a third of the way in (by this build's speed), and not
  // before the handlers are in place.
  const double whole =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  char wait[32];
  std::snprintf(wait, sizeof(wait), "%.3f", std::max(0.5, whole / 3));
  const fs::path dir = dir_ / "saved";
  const fs::path output = dir_ / "vectors.bin";
  // No periodic checkpoint within the run: only the final one.
  const std::string script =
      "\"$0\" word2vec train --input \"$1\" --output \"$2\" --checkpoint \"$3\" "
      "--checkpoint-every 100000 --threads 1 --epochs 2500 --dim 16 --min-count 1 --quiet & "
      "pid=$!; sleep " +
      std::string(wait) + "; kill -TERM $pid; wait $pid";
  r = RunCommand({"/bin/sh", "-c", script, bin_, corpus_.string(), output.string(), dir.string()},
                 root_->path() / "logs");
  ExpectTrainError(r, 143,
                   "interrupted by SIGTERM: " + output.string() + ": not written; checkpoint in " +
                       (dir / "checkpoint.ddc").string(),
                   output);
  r = Deepdist({"word2vec", "train", "--output", output.string(), "--resume", dir.string(),
                "--json", "--quiet"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_GT(LastJson(r)["resumed_words"].get<double>(), 0);
  EXPECT_EQ(ReadFile(output), ReadFile(reference));
}

// A full disk while checkpointing: the run ends with one line naming the
// checkpoint and the reason, and the previous checkpoint stays whole (a
// resume from it works). The disk holds one checkpoint but not two.
TEST_F(CliTest, FullDiskKeepsThePreviousCheckpoint) {
  const fs::path small = dir_ / "small";
  fs::create_directories(small);
  if (::mount("tmpfs", small.c_str(), "tmpfs", 0, "size=48k") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs here: " << std::strerror(errno);
  }
  struct Unmount {
    fs::path at;
    ~Unmount() { ::umount(at.c_str()); }
  } unmount{small};
  const fs::path output = dir_ / "vectors.bin";
  const fs::path saved = small / "checkpoint.ddc";
  const CommandResult r = Train(corpus_.string(), output.string(),
                                {"--checkpoint", small.string(), "--checkpoint-every", "0.02",
                                 "--epochs", "300", "--threads", "1", "--quiet"});
  ExpectTrainError(r, 1, saved.string() + ": write failed: No space left on device", output);
  ASSERT_TRUE(deepdist::Checkpoint::Load(saved.string()).ok());
  for (const auto& entry : fs::directory_iterator(small)) {
    EXPECT_EQ(entry.path(), saved) << "left behind: " << entry.path();
  }
  const fs::path elsewhere = dir_ / "elsewhere";
  fs::create_directories(elsewhere);
  fs::copy_file(saved, elsewhere / "checkpoint.ddc");
  const CommandResult resumed = Deepdist({"word2vec", "train", "--output", output.string(),
                                          "--resume", elsewhere.string(), "--quiet"});
  EXPECT_EQ(resumed.code, 0) << resumed.err;
  EXPECT_TRUE(fs::exists(output));
}

TEST_F(CliTest, MissingVocabularyFiles) {
  const fs::path missing = dir_ / "no_such_vocab.txt";
  ExpectFlagFileError("--read-vocab", missing);
  ExpectFlagFileError("--vocab-words", missing);
}

TEST_F(CliTest, MalformedReadVocab) {
  const fs::path vocab = dir_ / "vocab.txt";
  WriteFile(vocab, "t0w0 150\nt0w1 many\n");
  ExpectFlagFileError("--read-vocab", vocab);
}

// Files without content are file problems (exit 1), as a missing file is.
TEST_F(CliTest, EmptyVocabularyFiles) {
  const fs::path empty = dir_ / "empty.txt";
  WriteFile(empty, "\n\n");
  ExpectFlagFileError("--read-vocab", empty);
  ExpectFlagFileError("--vocab-words", empty);
}

// ---------------------------------------------------------------------------
// train: bad flags and values (exit 2).

TEST_F(CliTest, BadFlagValues) {
  const fs::path output = dir_ / "out.bin";
  const std::vector<std::vector<std::string>> cases = {
      {"--dim", "0"},
      {"--dim", "-3"},
      {"--window", "-1"},
      {"--epochs", "abc"},
      {"--epochs", "0"},
      {"--negative", "0"},
      {"--model", "foo"},
      {"--format", "xml"},
      {"--sample", "2"},
      {"--min-count", "0"},
      {"--max-vocab", "-1"},
      {"--threads", "-1"},
      {"--alpha", "0"},
      {"--optimizer", "adamw"},
      {"--momentum", "1"},
      {"--momentum", "-0.1"},
      {"--mode", "bogus"},
      {"--seed", "xyz"},
      {"--dim", "1.5"},
      {"--window", ""},
      {"--min-alpha", "0"},
      {"--min-alpha", "x"},
      {"--kernel", "gemm"},
      {"--loss", "softmax"},
      {"--push-every", "0"},
      {"--fetch-every", "-2"},
      {"--hot-rows", "-1"},
      {"--hot-every", "0"},
      {"--wire", "fp8"},
      {"--eval-every", "-1"},
      {"--eval-every", "1"},  // Without --questions.
      {"--restrict", "-5"},
      // No wire in one process: the flag would do nothing, so it is refused.
      {"--wire", "fp16"}};
  for (const auto& flag : cases) {
    SCOPED_TRACE(flag[0] + " " + flag[1]);
    ExpectTrainError(Train(corpus_.string(), output.string(), flag), 2, flag[0], output);
  }
}

// --questions: the accuracy of the trained vectors, the same as the analogy
// command finds in the written file; --eval-every adds the accuracy of the
// vectors as they stood during training, in time order, ending at the end.
TEST_F(CliTest, TrainReportsAnalogyAccuracyAsItGoes) {
  const fs::path questions = dir_ / "questions.txt";
  WriteFile(questions, QuestionsText());
  const fs::path output = dir_ / "vectors.bin";
  const double every = 0.01;
  const CommandResult r =
      Train(corpus_.string(), output.string(),
            {"--epochs", "40", "--questions", questions.string(), "--eval-every",
             std::to_string(every), "--restrict", "150", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const json j = LastJson(r);
  const CommandResult eval =
      Deepdist({"word2vec", "analogy", "--vectors", output.string(), "--questions",
                questions.string(), "--restrict", "150", "--json"});
  ASSERT_EQ(eval.code, 0) << eval.err;
  const double accuracy = j.at("accuracy").get<double>();
  EXPECT_EQ(accuracy, LastJson(eval).at("accuracy").get<double>());
  const json& series = j.at("accuracy_series");
  ASSERT_GE(series.size(), 1u);
  EXPECT_EQ(series.back().at("accuracy").get<double>(), accuracy);
  EXPECT_EQ(series.back().at("progress").get<double>(), 1.0);
  EXPECT_EQ(series.back().at("seconds").get<double>(), j.at("train_seconds").get<double>());
  for (size_t i = 1; i < series.size(); ++i) {
    EXPECT_GT(series[i].at("seconds").get<double>(), series[i - 1].at("seconds").get<double>());
    EXPECT_GE(series[i].at("progress").get<double>(), series[i - 1].at("progress").get<double>());
  }
  // A run of many intervals was watched through them (however late a busy
  // machine woke the watcher, it did before the end).
  const double train_seconds = j.at("train_seconds").get<double>();
  if (train_seconds > 10 * every) EXPECT_GE(series.size(), 2u) << train_seconds << " s";

  // Without --json, a line per point.
  const CommandResult text = Train(corpus_.string(), output.string(),
                                   {"--epochs", "1", "--questions", questions.string()});
  ASSERT_EQ(text.code, 0) << text.err;
  EXPECT_NE(text.out.find("analogy accuracy "), std::string::npos) << text.out;

  // A missing questions file fails before training, writing nothing.
  const fs::path fresh = dir_ / "fresh.bin";
  const std::string missing = (dir_ / "no_such_questions.txt").string();
  ExpectTrainError(Train(corpus_.string(), fresh.string(), {"--questions", missing}), 1, missing,
                   fresh);
}

// The rate cannot end above where it starts.
TEST_F(CliTest, MinAlphaAboveAlphaIsRefused) {
  const fs::path output = dir_ / "out.bin";
  ExpectTrainError(
      Train(corpus_.string(), output.string(), {"--alpha", "0.02", "--min-alpha", "0.03"}), 2,
      "--min-alpha", output);
}

TEST_F(CliTest, UnknownFlag) {
  const fs::path output = dir_ / "out.bin";
  ExpectTrainError(Train(corpus_.string(), output.string(), {"--frobnicate", "3"}), 2,
                   "--frobnicate: unknown flag", output);
  // Without a value CLI11 words it in the singular; the same one line.
  ExpectTrainError(Train(corpus_.string(), output.string(), {"--frobnicate"}), 2,
                   "--frobnicate: unknown flag", output);
}

TEST_F(CliTest, MissingRequiredFlags) {
  ExpectError(Deepdist({"word2vec", "train", "--input", corpus_.string(), "--epochs", "1"}), 2,
              "--output");
  const fs::path output = dir_ / "out.bin";
  ExpectTrainError(Deepdist({"word2vec", "train", "--output", output.string()}), 2, "--input",
                   output);
  ExpectTrainError(Deepdist({"word2vec", "train", "--input", corpus_.string(), "--output",
                             output.string(), "--dim"}),
                   2, "--dim", output);
}

// Sync mode trains (MLlib-like rounds) and an unknown mode is refused.
TEST_F(CliTest, SyncModeTrainsAndUnknownModeIsRefused) {
  const fs::path output = dir_ / "sync.bin";
  const CommandResult r = Train(corpus_.string(), output.string(), {"--mode", "sync", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::exists(output));
  EXPECT_GT(LastJson(r)["words"].get<uint64_t>(), 0u);
  const fs::path refused = dir_ / "refused.bin";
  ExpectTrainError(Train(corpus_.string(), refused.string(), {"--mode", "eventually"}), 2, "--mode",
                   refused);
}

// Every descent rule trains, each to other vectors than plain SGD; a
// setting the chosen rule does not have is refused, not ignored.
TEST_F(CliTest, EveryOptimizerTrainsAndMisplacedSettingsAreRefused) {
  auto train = [&](const std::string& name, const std::vector<std::string>& flags) {
    const fs::path output = dir_ / (name + ".txt");
    std::vector<std::string> all = {"--threads", "1", "--format", "text", "--json"};
    all.insert(all.end(), flags.begin(), flags.end());
    const CommandResult r = Train(corpus_.string(), output.string(), all);
    EXPECT_EQ(r.code, 0) << name << ": " << r.err;
    EXPECT_GT(LastJson(r)["loss"].get<double>(), 0.0) << name;
    return ReadFile(output);
  };
  const std::string sgd = train("sgd", {});
  EXPECT_EQ(train("sgd-again", {}), sgd);
  EXPECT_NE(train("momentum", {"--momentum", "0.5"}), sgd);
  EXPECT_NE(train("adagrad", {"--optimizer", "adagrad", "--alpha", "0.1"}), sgd);
  EXPECT_NE(train("adam", {"--optimizer", "adam", "--alpha", "0.01"}), sgd);
  const fs::path refused = dir_ / "refused.bin";
  ExpectTrainError(
      Train(corpus_.string(), refused.string(), {"--optimizer", "adagrad", "--momentum", "0.5"}), 2,
      "--momentum", refused);
  ExpectTrainError(
      Train(corpus_.string(), refused.string(), {"--optimizer", "adam", "--min-alpha", "0.001"}), 2,
      "--min-alpha", refused);
}

// Embedded, intervals put the workers on replicas: rows then travel through
// the store, and the summary says one rank and no bytes sent.
TEST_F(CliTest, IntervalsTrainOnReplicasInOneProcess) {
  const fs::path output = dir_ / "replica.bin";
  const CommandResult r = Train(corpus_.string(), output.string(),
                                {"--push-every", "5000", "--fetch-every", "20000", "--hot-rows",
                                 "50", "--hot-every", "1000", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::exists(output));
  const nlohmann::json j = LastJson(r);
  EXPECT_EQ(j["ranks"].get<int>(), 1);
  EXPECT_EQ(j["bytes_sent"].get<uint64_t>(), 0u);
  EXPECT_EQ(j["bytes_per_word"].get<double>(), 0.0);
  EXPECT_GT(j["loss"].get<double>(), 0.0);
}

// The batched skip-gram kernel trains; an unknown kernel is refused.
TEST_F(CliTest, BatchedKernelTrainsAndUnknownKernelIsRefused) {
  const fs::path output = dir_ / "batched.bin";
  const CommandResult r =
      Train(corpus_.string(), output.string(), {"--kernel", "batched", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::exists(output));
  EXPECT_GT(LastJson(r)["loss"].get<double>(), 0.0);
  const fs::path refused = dir_ / "refused.bin";
  ExpectTrainError(Train(corpus_.string(), refused.string(), {"--kernel", "matrix"}), 2, "--kernel",
                   refused);
}

// Hierarchical softmax trains, says so, and resumes as such; the flags of
// negative sampling are refused beside it, not ignored; a checkpoint saved
// before --loss existed resumes as negative sampling.
TEST_F(CliTest, HierarchicalSoftmaxTrainsAndRefusesNegativeSamplingFlags) {
  const fs::path output = dir_ / "hs.txt";
  const fs::path dir = dir_ / "hs-checkpoint";
  CommandResult r = Train(corpus_.string(), output.string(),
                          {"--loss", "hs", "--json", "--quiet", "--checkpoint", dir.string(),
                           "--checkpoint-every", "0.01", "--epochs", "100"});
  ASSERT_EQ(r.code, 0) << r.err;
  json j = LastJson(r);
  EXPECT_EQ(j["loss_function"].get<std::string>(), "hs");
  EXPECT_GT(j["loss"].get<double>(), 0.0);
  EXPECT_TRUE(fs::exists(output));
  ASSERT_TRUE(fs::exists(dir / "checkpoint.ddc"));
  r = Deepdist({"word2vec", "train", "--output", output.string(), "--resume", dir.string(),
                "--json", "--quiet"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(LastJson(r)["loss_function"].get<std::string>(), "hs");
  ExpectError(Deepdist({"word2vec", "train", "--output", output.string(), "--resume", dir.string(),
                        "--loss", "ns"}),
              2, "--loss: conflicts with the checkpoint's \"hs\"");

  const fs::path refused = dir_ / "refused.txt";
  ExpectTrainError(Train(corpus_.string(), refused.string(), {"--loss", "hs", "--negative", "5"}),
                   2, "--negative: --loss hs draws no negatives", refused);
  ExpectTrainError(
      Train(corpus_.string(), refused.string(), {"--loss", "hs", "--kernel", "batched"}), 2,
      "--kernel: batched shares negatives", refused);
  r = Train(corpus_.string(), refused.string(), {"--loss", "hs", "--kernel", "pair", "--quiet"});
  EXPECT_EQ(r.code, 0) << r.err;
}

// An empty --output cannot be named by its path, so the message names the flag.
TEST_F(CliTest, EmptyOutputPathNamesTheFlag) {
  ExpectError(Train(corpus_.string(), ""), 2, "--output");
  ExpectNothingLeft(dir_, dir_ / "no_such_file");
}

// The contract's form "deepdist: <flag>: <problem>" holds for the errors the
// argument parser reports too.
TEST_F(CliTest, ParseErrorsPutTheFlagFirst) {
  const fs::path output = dir_ / "out.bin";
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--epochs", "abc"}, "--epochs"},
      {{"--frobnicate", "3"}, "--frobnicate"},
      {{"--dim", "16", "--dim", "17"}, "--dim"}};
  for (const auto& [flags, name] : cases) {
    SCOPED_TRACE(name);
    const CommandResult r = Train(corpus_.string(), output.string(), flags);
    EXPECT_EQ(r.code, 2);
    EXPECT_EQ(r.err.rfind("deepdist: " + name + ": ", 0), 0u) << "stderr: " << r.err;
  }
  const CommandResult r = Deepdist({"word2vec", "train", "--input", corpus_.string()});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err.rfind("deepdist: --output: ", 0), 0u) << "stderr: " << r.err;
}

TEST_F(CliTest, NoCommand) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {}, {"word2vec"}, {"word2vec", "frobnicate"}, {"train"}}) {
    const CommandResult r = Deepdist(args);
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_EQ(r.err.rfind("deepdist: ", 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
}

// An unknown command is named, with the commands that would do.
TEST_F(CliTest, UnknownCommandIsNamed) {
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  for (const Case& c : {
           Case{{"frob"},
                "deepdist: frob: unknown command (deepdist takes word2vec, mlp, logreg or corpus)"},
           Case{{"word2vec", "frob"},
                "deepdist: frob: unknown command (deepdist word2vec takes train"},
           Case{{"mlp", "frob", "--input", "x"}, "deepdist: frob: unknown command (deepdist mlp"},
           Case{{"word2vec"}, "deepdist: command: missing (deepdist word2vec takes train"},
           Case{{}, "deepdist: command: missing (deepdist takes word2vec"},
       }) {
    const CommandResult r = Deepdist(c.args);
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_EQ(r.err.rfind(c.says, 0), 0u) << r.err;
  }
}

// ---------------------------------------------------------------------------
// train: unwritable outputs (tests may run as root, so by missing folders).

TEST_F(CliTest, OutputInMissingDirectory) {
  const fs::path output = dir_ / "no_such_dir" / "out.bin";
  ExpectTrainError(Train(corpus_.string(), output.string()), 1, output.string(), output);
  EXPECT_FALSE(fs::exists(dir_ / "no_such_dir"));
}

TEST_F(CliTest, OutputUnderARegularFile) {
  const fs::path file = dir_ / "file";
  WriteFile(file, "x");
  const fs::path output = file / "out.bin";
  const CommandResult r = Train(corpus_.string(), output.string());
  ExpectError(r, 1, output.string());
  EXPECT_EQ(ReadFile(file), "x");
  ExpectNothingLeft(dir_, dir_ / "no_such_file");
}

TEST_F(CliTest, OutputIsADirectory) {
  const fs::path output = dir_ / "outdir";
  fs::create_directories(output);
  ExpectError(Train(corpus_.string(), output.string()), 1, output.string());
  EXPECT_TRUE(fs::is_directory(output));
  EXPECT_TRUE(fs::is_empty(output));
  ExpectNothingLeft(dir_, dir_ / "no_such_file");
}

// An unwritable --save-vocab fails before training, and no vectors appear.
TEST_F(CliTest, SaveVocabInMissingDirectory) {
  const fs::path vocab = dir_ / "no_such_dir" / "vocab.txt";
  ExpectFlagFileError("--save-vocab", vocab);
  EXPECT_FALSE(fs::exists(vocab));
}

// ---------------------------------------------------------------------------
// analogy, similar, query, similarity: bad vectors files.

TEST_F(CliTest, BrokenVectorsFiles) {
  const fs::path questions = dir_ / "questions.txt";
  WriteFile(questions, QuestionsText());
  const fs::path pairs = dir_ / "pairs.txt";
  WriteFile(pairs, "t0w0 t0w1 9\nt0w0 t5w1 1\n");
  for (const auto& [what, path] : BrokenVectors(dir_)) {
    SCOPED_TRACE(what);
    const std::string v = path.string();
    ExpectError(Deepdist({"word2vec", "analogy", "--vectors", v, "--questions", questions.string(),
                          "--json"}),
                1, v);
    ExpectError(Deepdist({"word2vec", "similar", "--vectors", v, "t0w0", "--json"}), 1, v);
    ExpectError(Deepdist({"word2vec", "query", "--vectors", v, "--positive", "t0w0,t1w1",
                          "--negative", "t1w0", "--json"}),
                1, v);
    ExpectError(Deepdist({"word2vec", "similarity", "--vectors", v, "--pairs", pairs.string()}), 1,
                v);
  }
  ExpectNothingLeft(dir_, dir_ / "no_such_file");
}

// A directory given as a file is a file problem (exit 1).
TEST_F(CliTest, DirectoryGivenAsAFile) {
  const fs::path folder = dir_ / "folder";
  fs::create_directories(folder);
  const std::string d = folder.string();
  const std::string v = TextVectors().string();
  ExpectError(Deepdist({"word2vec", "similar", "--vectors", d, "t0w0"}), 1, d);
  ExpectError(Deepdist({"word2vec", "analogy", "--vectors", v, "--questions", d}), 1, d);
  ExpectError(Deepdist({"word2vec", "similarity", "--vectors", v, "--pairs", d}), 1, d);
  ExpectFlagFileError("--read-vocab", folder);
  ExpectFlagFileError("--vocab-words", folder);
}

TEST_F(CliTest, MalformedQuestionsFile) {
  const fs::path questions = dir_ / "questions.txt";
  WriteFile(questions, ": section\nt0w0 t1w0 t0w1 t1w1\nt0w2 t1w2 t0w3\n");
  ExpectError(Deepdist({"word2vec", "analogy", "--vectors", TextVectors().string(), "--questions",
                        questions.string(), "--json"}),
              1, questions.string());
  const fs::path missing = dir_ / "no_such_questions.txt";
  ExpectError(Deepdist({"word2vec", "analogy", "--vectors", TextVectors().string(), "--questions",
                        missing.string()}),
              1, missing.string());
}

TEST_F(CliTest, QuestionsFileWithoutQuestions) {
  const fs::path questions = dir_ / "questions.txt";
  WriteFile(questions, ": section\n\n: another\n");
  ExpectError(Deepdist({"word2vec", "analogy", "--vectors", TextVectors().string(), "--questions",
                        questions.string()}),
              1, questions.string());
}

TEST_F(CliTest, MalformedPairsFile) {
  const fs::path pairs = dir_ / "pairs.txt";
  WriteFile(pairs, "word1 word2 score\nt0w0 t0w1 9.0\nt0w0 t1w1 high\n");
  ExpectError(Deepdist({"word2vec", "similarity", "--vectors", TextVectors().string(), "--pairs",
                        pairs.string(), "--json"}),
              1, pairs.string());
  const fs::path two_words = dir_ / "two_words.txt";
  WriteFile(two_words, "t0w0 t0w1 9.0\nt0w0 t1w1\n");
  ExpectError(Deepdist({"word2vec", "similarity", "--vectors", TextVectors().string(), "--pairs",
                        two_words.string()}),
              1, two_words.string());
}

TEST_F(CliTest, QueryWordNotInVocabulary) {
  const std::string v = TextVectors().string();
  ExpectError(Deepdist({"word2vec", "similar", "--vectors", v, "notaword", "--json"}), 1,
              "notaword");
  ExpectError(Deepdist({"word2vec", "similar", "--vectors", v, "t0w0", "notaword"}), 1, "notaword");
  ExpectError(Deepdist({"word2vec", "query", "--vectors", v, "--positive", "t0w0,notaword"}), 1,
              "notaword");
  ExpectError(
      Deepdist({"word2vec", "query", "--vectors", v, "--positive", "t0w0", "--negative", "zzz"}), 1,
      "zzz");
}

TEST_F(CliTest, EvalBadFlagValues) {
  const std::string v = TextVectors().string();
  const fs::path questions = dir_ / "questions.txt";
  WriteFile(questions, QuestionsText());
  ExpectError(Deepdist({"word2vec", "analogy", "--vectors", v, "--questions", questions.string(),
                        "--restrict", "-1"}),
              2, "--restrict");
  ExpectError(Deepdist({"word2vec", "analogy", "--vectors", v}), 2, "--questions");
  ExpectError(Deepdist({"word2vec", "similar", "--vectors", v, "t0w0", "--topn", "0"}), 2,
              "--topn");
  ExpectError(Deepdist({"word2vec", "similar", "--vectors", v, "t0w0", "--topn", "ten"}), 2,
              "--topn");
  ExpectError(Deepdist({"word2vec", "similar", "--vectors", v}), 2, "words");
  ExpectError(Deepdist({"word2vec", "query", "--vectors", v}), 2, "--positive");
  ExpectError(Deepdist({"word2vec", "similarity", "--vectors", v, "--pairs", questions.string(),
                        "--frobnicate"}),
              2, "--frobnicate");
}

// ---------------------------------------------------------------------------
// Happy paths.

TEST_F(CliTest, TrainJsonSummary) {
  const fs::path output = dir_ / "vectors.bin";
  const CommandResult r = Train(corpus_.string(), output.string(), {"--epochs", "2", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const json j = LastJson(r);
  for (const char* key : {"words", "seconds", "words_per_second", "vocab_size", "loss"}) {
    EXPECT_TRUE(j.contains(key)) << key << " missing: " << j.dump();
  }
  EXPECT_EQ(j.value("words", uint64_t{0}), 2 * kTokens);
  EXPECT_EQ(j.value("vocab_size", size_t{0}), kVocab);
  const double seconds = j.value("seconds", -1.0);
  EXPECT_GT(seconds, 0);
  EXPECT_LT(seconds, 600);
  const double wps = j.value("words_per_second", -1.0);
  EXPECT_GT(wps, 0);
  EXPECT_NEAR(wps, 2 * kTokens / seconds, 0.01 * wps);
  const double loss = j.value("loss", -1.0);
  EXPECT_TRUE(std::isfinite(loss));
  EXPECT_GT(loss, 0);
  EXPECT_LT(loss, 10);
  EXPECT_TRUE(fs::exists(output));
  ExpectNothingLeft(dir_, dir_ / "no_such_file");
}

// The binary format: "V D\n", then per word "word " + D floats + "\n".
TEST_F(CliTest, BinaryFormat) {
  const fs::path output = dir_ / "vectors.bin";
  const CommandResult r = Train(corpus_.string(), output.string(), {"--quiet"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  const std::string data = ReadFile(output);
  const std::string header = std::to_string(kVocab) + " " + std::to_string(kDim) + "\n";
  ASSERT_EQ(data.rfind(header, 0), 0u) << data.substr(0, 40);
  size_t pos = header.size();
  std::set<std::string> words;
  for (size_t i = 0; i < kVocab; ++i) {
    const size_t space = data.find(' ', pos);
    ASSERT_NE(space, std::string::npos);
    words.insert(data.substr(pos, space - pos));
    pos = space + 1 + kDim * sizeof(float);
    ASSERT_LT(pos, data.size() + 1);
    ASSERT_EQ(data[pos], '\n') << "row " << i;
    ++pos;
  }
  EXPECT_EQ(pos, data.size());
  EXPECT_EQ(words.size(), kVocab);
  EXPECT_TRUE(words.count("t0w0"));
  // --format text overrides the .bin name.
  const fs::path forced = dir_ / "forced.bin";
  ASSERT_EQ(Train(corpus_.string(), forced.string(), {"--format", "text", "--quiet"}).code, 0);
  EXPECT_EQ(ReadFile(forced).rfind(header, 0), 0u);
  EXPECT_EQ(Lines(ReadFile(forced)).size(), kVocab + 1);
}

// The text format: "V D" then "word v1 ... vD" lines; .txt and .vec pick it.
TEST_F(CliTest, TextFormat) {
  for (const char* name : {"vectors.txt", "vectors.vec"}) {
    SCOPED_TRACE(name);
    const fs::path output = dir_ / name;
    const CommandResult r = Train(corpus_.string(), output.string(), {"--quiet"});
    ASSERT_EQ(r.code, 0) << r.err;
    const std::vector<std::string> lines = Lines(ReadFile(output));
    ASSERT_EQ(lines.size(), kVocab + 1);
    EXPECT_EQ(lines[0], std::to_string(kVocab) + " " + std::to_string(kDim));
    std::set<std::string> words;
    for (size_t i = 1; i < lines.size(); ++i) {
      const std::vector<std::string> fields = Fields(lines[i]);
      ASSERT_EQ(fields.size(), size_t{kDim} + 1) << lines[i];
      words.insert(fields[0]);
      for (size_t k = 1; k < fields.size(); ++k) {
        char* end = nullptr;
        const double x = std::strtod(fields[k].c_str(), &end);
        EXPECT_EQ(*end, '\0') << fields[k];
        EXPECT_TRUE(std::isfinite(x));
      }
    }
    EXPECT_EQ(words.size(), kVocab);
  }
  // --format bin overrides the .txt name.
  const fs::path forced = dir_ / "forced.txt";
  ASSERT_EQ(Train(corpus_.string(), forced.string(), {"--format", "bin", "--quiet"}).code, 0);
  const std::string data = ReadFile(forced);
  EXPECT_EQ(data.size(), ReadFile(BinVectors()).size());
}

TEST_F(CliTest, GzipAndDirectoryInputs) {
  const fs::path gz = dir_ / "corpus.txt.gz";
  ASSERT_NO_FATAL_FAILURE(WriteGzipCorpus(gz));
  CommandResult r = Train(gz.string(), (dir_ / "gz.bin").string(), {"--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  json j = LastJson(r);
  EXPECT_EQ(j.value("words", uint64_t{0}), kTokens);
  EXPECT_EQ(j.value("vocab_size", size_t{0}), kVocab);

  // Part files as Spark writes them; "_SUCCESS" and dot files are skipped.
  const fs::path parts = dir_ / "parts";
  fs::create_directories(parts);
  const std::vector<std::string> lines = Lines(ReadFile(corpus_));
  std::string a, b;
  for (size_t i = 0; i < lines.size(); ++i) (i < lines.size() / 3 ? a : b) += lines[i] + "\n";
  WriteFile(parts / "part-00000", a);
  WriteFile(parts / "part-00001", b);
  WriteFile(parts / "_SUCCESS", "");
  WriteFile(parts / ".part-00000.crc", "crc crc crc");
  r = Train(parts.string(), (dir_ / "parts.bin").string(), {"--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  j = LastJson(r);
  EXPECT_EQ(j.value("words", uint64_t{0}), kTokens);
  EXPECT_EQ(j.value("vocab_size", size_t{0}), kVocab);
}

TEST_F(CliTest, SaveAndReadVocab) {
  const fs::path vocab = dir_ / "vocab.txt";
  CommandResult r = Train(corpus_.string(), (dir_ / "a.txt").string(),
                          {"--save-vocab", vocab.string(), "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const size_t vocab_size = LastJson(r).value("vocab_size", size_t{0});
  EXPECT_EQ(vocab_size, kVocab);

  // "word count" lines, most frequent first, counts summing to the corpus.
  const std::vector<std::string> lines = Lines(ReadFile(vocab));
  ASSERT_EQ(lines.size(), kVocab);
  uint64_t total = 0;
  uint64_t previous = UINT64_MAX;
  std::vector<std::string> words;
  for (const std::string& line : lines) {
    const std::vector<std::string> fields = Fields(line);
    ASSERT_EQ(fields.size(), 2u) << line;
    const uint64_t count = std::stoull(fields[1]);
    EXPECT_LE(count, previous) << line;
    previous = count;
    total += count;
    words.push_back(fields[0]);
  }
  EXPECT_EQ(total, kTokens);
  // The vectors come in the vocabulary's order.
  EXPECT_EQ(VectorWords(dir_ / "a.txt"), words);

  r = Train(corpus_.string(), (dir_ / "b.txt").string(),
            {"--read-vocab", vocab.string(), "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(LastJson(r).value("vocab_size", size_t{0}), vocab_size);
  EXPECT_EQ(VectorWords(dir_ / "b.txt"), words);

  // --min-count filters a read vocabulary too.
  r = Train(
      corpus_.string(), (dir_ / "c.txt").string(),
      {"--read-vocab", vocab.string(), "--min-count", std::to_string(previous + 1), "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_LT(LastJson(r).value("vocab_size", size_t{0}), vocab_size);
}

TEST_F(CliTest, VocabWordsRestrictsTheVocabulary) {
  const fs::path list = dir_ / "words.txt";
  // Section lines are skipped, an uppercase word also keeps its lowercase
  // form, and a word the corpus lacks is not added.
  WriteFile(list, ": section\nt0w1 t0w2\nT3W4\n\nt9w9 notaword\n");
  const fs::path output = dir_ / "vectors.txt";
  const CommandResult r =
      Train(corpus_.string(), output.string(), {"--vocab-words", list.string(), "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(LastJson(r).value("vocab_size", size_t{0}), 4u);
  const std::vector<std::string> words = VectorWords(output);
  EXPECT_EQ(std::set<std::string>(words.begin(), words.end()),
            (std::set<std::string>{"t0w1", "t0w2", "t3w4", "t9w9"}));
  EXPECT_EQ(Lines(ReadFile(output))[0], "4 " + std::to_string(kDim));
}

TEST_F(CliTest, AnalogyJson) {
  const fs::path questions = dir_ / "questions.txt";
  WriteFile(questions, QuestionsText());
  for (const fs::path& v : {TextVectors(), BinVectors()}) {
    SCOPED_TRACE(v.string());
    const CommandResult r = Deepdist({"word2vec", "analogy", "--vectors", v.string(), "--questions",
                                      questions.string(), "--json"});
    ASSERT_EQ(r.code, 0) << r.err;
    const json j = LastJson(r);
    for (const char* key : {"accuracy", "correct", "total", "skipped", "sections"}) {
      EXPECT_TRUE(j.contains(key)) << key << " missing: " << j.dump();
    }
    const double accuracy = j.value("accuracy", -1.0);
    EXPECT_GE(accuracy, 0.0);
    EXPECT_LE(accuracy, 1.0);
    const size_t correct = j.value("correct", size_t{0});
    const size_t total = j.value("total", size_t{0});
    EXPECT_EQ(total, 9u);
    EXPECT_EQ(j.value("skipped", size_t{0}), 1u);
    EXPECT_LE(correct, total);
    EXPECT_NEAR(accuracy, static_cast<double>(correct) / total, 1e-9);
    ASSERT_TRUE(j["sections"].is_array());
    ASSERT_EQ(j["sections"].size(), 2u);
    EXPECT_EQ(j["sections"][0].value("section", ""), "topics-a");
    EXPECT_EQ(j["sections"][0].value("total", size_t{0}), 5u);
    EXPECT_EQ(j["sections"][1].value("section", ""), "topics-b");
    EXPECT_EQ(j["sections"][1].value("total", size_t{0}), 4u);
    size_t section_correct = 0;
    for (const json& s : j["sections"]) section_correct += s.value("correct", size_t{0});
    EXPECT_EQ(section_correct, correct);
  }
  // Without --json: a line per section and a total line.
  const CommandResult r = Deepdist({"word2vec", "analogy", "--vectors", TextVectors().string(),
                                    "--questions", questions.string()});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("topics-a"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("total"), std::string::npos) << r.out;
}

TEST_F(CliTest, SimilarityJson) {
  const fs::path pairs = dir_ / "pairs.csv";
  // A header, a comment, tab and comma separators, and one unknown word.
  WriteFile(pairs,
            "Word 1,Word 2,Human (mean)\n# comment\nt0w0,t0w1,9.0\nt0w0\tt5w1\t1.5\n"
            "t2w3 t2w4 8\nt1w1 notaword 3\n");
  const CommandResult r = Deepdist({"word2vec", "similarity", "--vectors", TextVectors().string(),
                                    "--pairs", pairs.string(), "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const json j = LastJson(r);
  for (const char* key : {"spearman", "pairs", "skipped"}) {
    EXPECT_TRUE(j.contains(key)) << key << " missing: " << j.dump();
  }
  EXPECT_EQ(j.value("pairs", size_t{0}), 3u);
  EXPECT_EQ(j.value("skipped", size_t{0}), 1u);
  const double rho = j.value("spearman", -2.0);
  EXPECT_GE(rho, -1.0);
  EXPECT_LE(rho, 1.0);
}

void ExpectNeighbors(const json& j, size_t topn, const std::set<std::string>& excluded) {
  ASSERT_TRUE(j.contains("results")) << j.dump();
  const json& results = j["results"];
  ASSERT_TRUE(results.is_array());
  EXPECT_EQ(results.size(), topn);
  std::set<std::string> seen;
  double previous = 2.0;
  for (const json& n : results) {
    const std::string word = n.value("word", "");
    const double score = n.value("score", -2.0);
    EXPECT_FALSE(word.empty());
    EXPECT_TRUE(seen.insert(word).second) << word << " listed twice";
    EXPECT_FALSE(excluded.count(word)) << word << " is one of the query's words";
    EXPECT_GE(score, -1.0001);
    EXPECT_LE(score, 1.0001);
    EXPECT_LE(score, previous + 1e-6) << "scores not in descending order";
    previous = score;
  }
}

TEST_F(CliTest, SimilarJson) {
  CommandResult r =
      Deepdist({"word2vec", "similar", "--vectors", BinVectors().string(), "t0w0", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  ExpectNeighbors(LastJson(r), 10, {"t0w0"});
  // Several words: their mean is the query; a word is found case-insensitively.
  r = Deepdist({"word2vec", "similar", "--vectors", TextVectors().string(), "t0w0", "T1W1",
                "--topn", "5", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  ExpectNeighbors(LastJson(r), 5, {"t0w0", "t1w1"});
  // Without --json: one "word score" line per neighbour.
  r = Deepdist({"word2vec", "similar", "--vectors", TextVectors().string(), "t0w0", "--topn", "3"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(Lines(r.out).size(), 3u) << r.out;
}

TEST_F(CliTest, QueryJson) {
  const CommandResult r =
      Deepdist({"word2vec", "query", "--vectors", TextVectors().string(), "--positive", "t0w0,t1w1",
                "--negative", "t0w1", "--topn", "7", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  ExpectNeighbors(LastJson(r), 7, {"t0w0", "t1w1", "t0w1"});
  // --topn beyond the vocabulary gives every other word.
  const CommandResult all = Deepdist({"word2vec", "query", "--vectors", TextVectors().string(),
                                      "--positive", "t0w0", "--topn", "100000", "--json"});
  ASSERT_EQ(all.code, 0) << all.err;
  ExpectNeighbors(LastJson(all), kVocab - 1, {"t0w0"});
}

// Trained long enough, a word's nearest neighbours are mostly its topic's.
TEST_F(CliTest, NeighboursShareTheTopic) {
  const fs::path output = dir_ / "vectors.bin";
  const CommandResult t =
      Train(corpus_.string(), output.string(),
            {"--epochs", "5", "--sample", "0", "--seed", "7", "--threads", "1", "--quiet"});
  ASSERT_EQ(t.code, 0) << t.err;
  for (int topic : {0, 4, 9}) {
    const std::string word = Word(topic, 3);
    const CommandResult r =
        Deepdist({"word2vec", "similar", "--vectors", output.string(), word, "--json"});
    ASSERT_EQ(r.code, 0) << r.err;
    const json j = LastJson(r);
    int same = 0;
    for (const json& n : j["results"]) {
      same += n.value("word", "").rfind("t" + std::to_string(topic) + "w", 0) == 0;
    }
    EXPECT_GE(same, 8) << word << ": " << j.dump();
  }
}

TEST_F(CliTest, HelpForEveryCommand) {
  const std::vector<std::vector<std::string>> commands = {{"--help"},
                                                          {"word2vec", "--help"},
                                                          {"word2vec", "train", "--help"},
                                                          {"word2vec", "analogy", "--help"},
                                                          {"word2vec", "similarity", "--help"},
                                                          {"word2vec", "similar", "--help"},
                                                          {"word2vec", "query", "--help"},
                                                          {"word2vec", "train", "-h"}};
  for (const auto& args : commands) {
    std::string line;
    for (const std::string& a : args) line += a + " ";
    SCOPED_TRACE(line);
    const CommandResult r = Deepdist(args);
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << r.out;
    EXPECT_EQ(r.err, "");
  }
  const CommandResult train = Deepdist({"word2vec", "train", "--help"});
  for (const char* flag : {"--input", "--output", "--dim", "--window", "--negative", "--min-count",
                           "--epochs", "--threads", "--seed", "--json", "--mode"}) {
    EXPECT_NE(train.out.find(flag), std::string::npos) << flag;
  }
  const CommandResult version = Deepdist({"--version"});
  EXPECT_EQ(version.code, 0);
  EXPECT_NE(version.out.find("deepdist"), std::string::npos);
}

TEST_F(CliTest, SameSeedOneThreadIsDeterministic) {
  const fs::path a = dir_ / "a.bin";
  const fs::path b = dir_ / "b.bin";
  const fs::path c = dir_ / "c.bin";
  const std::vector<std::string> flags = {"--seed",   "7", "--threads", "1",
                                          "--epochs", "2", "--quiet"};
  ASSERT_EQ(Train(corpus_.string(), a.string(), flags).code, 0);
  ASSERT_EQ(Train(corpus_.string(), b.string(), flags).code, 0);
  const std::string va = ReadFile(a);
  EXPECT_FALSE(va.empty());
  EXPECT_TRUE(va == ReadFile(b)) << "same seed, one thread: vectors differ";
  ASSERT_EQ(Train(corpus_.string(), c.string(),
                  {"--seed", "8", "--threads", "1", "--epochs", "2", "--quiet"})
                .code,
            0);
  EXPECT_FALSE(va == ReadFile(c)) << "another seed gave the same vectors";
}

// Without --json the summary is one line of text; the progress line (if
// any) goes to stderr.
TEST_F(CliTest, PlainSummary) {
  const fs::path output = dir_ / "vectors.bin";
  const CommandResult r = Train(corpus_.string(), output.string());
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(Lines(r.out).size(), 1u) << r.out;
  EXPECT_NE(r.out.find(output.string()), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(std::to_string(kTokens)), std::string::npos) << r.out;
}

}  // namespace
