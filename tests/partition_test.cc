// ListPartitions, PartitionReader and Tokenize: every word (or line) of the
// input lands in exactly one partition, in order, and none is cut in two;
// directories, .gz files and bad inputs are handled as partition.h says.
#include "deepdist/partition.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "tests/test_support.h"

namespace deepdist {
namespace {

namespace fs = std::filesystem;
using testing_support::ReadFile;
using testing_support::ShellQuote;

// Words of `text` split on the six whitespace characters, written out
// independently of Tokenize.
std::vector<std::string> Words(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  for (char c : text) {
    if (c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\v' || c == '\f') {
      if (!word.empty()) words.push_back(word);
      word.clear();
    } else {
      word.push_back(c);
    }
  }
  if (!word.empty()) words.push_back(word);
  return words;
}

// Lines of `text` without their '\n'; a last line without '\n' counts, an
// empty remainder after the last '\n' does not.
std::vector<std::string> Lines(std::string_view text) {
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    lines.emplace_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return lines;
}

// Random text: words of 1 to 80 bytes (some in Greek, Chinese or emoji),
// separated by runs of spaces, tabs, newlines and empty lines.
std::string MakeWordText(uint32_t seed, size_t approx_bytes) {
  std::mt19937 rng(seed);
  static const char* const kSeparators[] = {" ",   "  ", "     ", "\t", "\n",     "\n\n",
                                            " \n", " ",  "\r\n",  " ",  " \t  \n"};
  static const char* const kUnicode[] = {"λόγος", "汉字", "😀ok", "naïve", "Ωmega"};
  std::string text;
  if (rng() % 2) text += "   ";
  while (text.size() < approx_bytes) {
    const uint32_t kind = rng() % 20;
    if (kind == 0) {
      text += kUnicode[rng() % 5];
    } else {
      const size_t len = kind == 1 ? 40 + rng() % 41 : 1 + rng() % 12;
      for (size_t i = 0; i < len; ++i) text.push_back(static_cast<char>('a' + rng() % 26));
    }
    text += kSeparators[rng() % (sizeof(kSeparators) / sizeof(kSeparators[0]))];
  }
  text += "last";  // No trailing separator: the file ends inside a word.
  return text;
}

// Random lines of 0 to 150 bytes with words and runs of spaces in them.
std::string MakeLineText(uint32_t seed, size_t approx_bytes) {
  std::mt19937 rng(seed);
  std::string text;
  size_t line = 0;
  while (text.size() < approx_bytes) {
    const uint32_t kind = rng() % 10;
    if (kind == 0) {
      // Empty line.
    } else {
      text += "L" + std::to_string(line);
      const size_t len = kind == 1 ? 100 + rng() % 50 : rng() % 30;
      for (size_t i = 0; i < len; ++i) {
        text.push_back(rng() % 5 == 0 ? ' ' : static_cast<char>('a' + rng() % 26));
      }
    }
    text.push_back('\n');
    ++line;
  }
  return text;
}

struct ReadResult {
  Status status;
  std::string text;
  std::vector<std::string> chunks;
};

ReadResult ReadPartition(const PartitionSpec& spec, SplitOn split_on) {
  ReadResult r;
  Result<std::unique_ptr<PartitionReader>> reader = PartitionReader::Open(spec, split_on);
  if (!reader.ok()) {
    r.status = reader.status();
    return r;
  }
  r.status = (*reader)->ForEachChunk([&](std::string_view chunk) {
    r.chunks.emplace_back(chunk);
    r.text.append(chunk);
  });
  return r;
}

// Lists `inputs` and reads every partition; the first error of either.
struct ReadAllResult {
  Status status;
  std::vector<PartitionSpec> parts;
  std::vector<ReadResult> reads;
  std::string text;  // All partitions' text, in order.
};

ReadAllResult ReadAll(const std::vector<std::string>& inputs, const PartitionOptions& options) {
  ReadAllResult all;
  Result<std::vector<PartitionSpec>> parts = ListPartitions(inputs, options);
  if (!parts.ok()) {
    all.status = parts.status();
    return all;
  }
  all.parts = *parts;
  for (const PartitionSpec& spec : all.parts) {
    ReadResult r = ReadPartition(spec, options.split_on);
    if (!r.status.ok()) {
      all.status = r.status;
      return all;
    }
    all.text += r.text;
    all.reads.push_back(std::move(r));
  }
  return all;
}

// The words of each partition, split on their own and put in order: a word
// cut between two partitions shows as two.
std::vector<std::string> WordsOfEachPartition(const ReadAllResult& all) {
  std::vector<std::string> words;
  for (const ReadResult& r : all.reads) {
    for (std::string& w : Words(r.text)) words.push_back(std::move(w));
  }
  return words;
}

// `text` with its newlines written as \n, for failure messages.
std::string Escaped(std::string_view text) {
  std::string out;
  for (char c : text) out += c == '\n' ? std::string("\\n") : std::string(1, c);
  return out;
}

// Where two lists of lines first differ, for failure messages.
std::string FirstDifference(const std::vector<std::string>& got,
                            const std::vector<std::string>& want) {
  size_t i = 0;
  while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
  if (i == got.size() && i == want.size()) return "equal";
  auto show = [](const std::vector<std::string>& v, size_t k) {
    return k < v.size() ? "\"" + v[k] + "\"" : std::string("(none)");
  };
  return "first difference at line " + std::to_string(i) + ": got " + show(got, i) + ", want " +
         show(want, i) + " (got " + std::to_string(got.size()) + " lines, want " +
         std::to_string(want.size()) + ")";
}

class PartitionTest : public testing_support::TempDirTest {
 protected:
  PartitionTest() : TempDirTest("deepdist_partition_test_") {}

  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(TempDirTest::SetUp());
    fs::create_directory(dir_ + "/scratch");
  }

  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

  // Writes `bytes` to `name`, making its folder if needed.
  std::string Write(const std::string& name, std::string_view bytes) const {
    fs::create_directories(fs::path(Path(name)).parent_path());
    return TempDirTest::Write(name, bytes);
  }

  // Writes `text` gzip-compressed (by the gzip tool) to `name`.
  std::string WriteGzip(const std::string& name, std::string_view text) {
    const std::string plain = Write("scratch/plain" + std::to_string(scratch_++), text);
    const std::string path = Path(name);
    fs::create_directories(fs::path(path).parent_path());
    const std::string command = "gzip -c -n " + ShellQuote(plain) + " > " + ShellQuote(path);
    EXPECT_EQ(std::system(command.c_str()), 0) << command;
    return path;
  }

  int scratch_ = 0;
};

// Checks that the partitions of one plain file cover it in order.
void ExpectContiguous(const std::vector<PartitionSpec>& parts, const std::string& path,
                      uint64_t size) {
  ASSERT_FALSE(parts.empty());
  EXPECT_EQ(parts.front().begin, 0u);
  EXPECT_EQ(parts.back().end, size);
  for (size_t i = 0; i < parts.size(); ++i) {
    EXPECT_EQ(parts[i].path, path);
    EXPECT_FALSE(parts[i].gzip);
    EXPECT_LE(parts[i].begin, parts[i].end);
    EXPECT_EQ(parts[i].size_hint, parts[i].end - parts[i].begin);
    if (i > 0) EXPECT_EQ(parts[i].begin, parts[i - 1].end) << "partition " << i;
  }
}

// Each chunk ends on a boundary: after a boundary character, before one, or at
// the end of the file. `text` is the file, the chunks its pieces in order.
void ExpectChunksEndOnBoundaries(const std::vector<ReadResult>& reads, std::string_view text,
                                 SplitOn split_on) {
  auto boundary = [&](char c) { return split_on == SplitOn::kLines ? c == '\n' : IsSpace(c); };
  size_t offset = 0;
  for (size_t p = 0; p < reads.size(); ++p) {
    for (const std::string& chunk : reads[p].chunks) {
      EXPECT_FALSE(chunk.empty()) << "partition " << p;
      offset += chunk.size();
      ASSERT_LE(offset, text.size());
      const bool ok = offset == text.size() || boundary(text[offset - 1]) || boundary(text[offset]);
      EXPECT_TRUE(ok) << "partition " << p << " has a chunk that ends inside a unit at byte "
                      << offset;
    }
  }
  EXPECT_EQ(offset, text.size());
}

TEST_F(PartitionTest, EveryWordOnceForAnyNumberOfPartitions) {
  const std::string text = MakeWordText(1, 4000);
  const std::string path = Write("words.txt", text);
  const std::vector<std::string> expected = Words(text);
  ASSERT_GT(expected.size(), 300u);
  for (size_t target = 1; target <= 17; ++target) {
    SCOPED_TRACE("target_partitions " + std::to_string(target));
    ReadAllResult all = ReadAll({path}, {target, SplitOn::kWords});
    ASSERT_TRUE(all.status.ok()) << all.status.ToString();
    ExpectContiguous(all.parts, path, text.size());
    EXPECT_LE(all.parts.size(), target + 1);
    EXPECT_GE(all.parts.size() + 1, target);

    EXPECT_EQ(WordsOfEachPartition(all), expected);
    EXPECT_EQ(all.text, text);  // The partitions' texts tile the file.
    ExpectChunksEndOnBoundaries(all.reads, text, SplitOn::kWords);
  }
}

TEST_F(PartitionTest, EveryWordOnceAcrossSeeds) {
  for (uint32_t seed = 2; seed < 12; ++seed) {
    const std::string text = MakeWordText(seed, 600 + seed * 37);
    const std::string path = Write("words" + std::to_string(seed) + ".txt", text);
    for (size_t target : {3u, 7u, 13u, 40u, 200u}) {
      SCOPED_TRACE("seed " + std::to_string(seed) + " target " + std::to_string(target));
      ReadAllResult all = ReadAll({path}, {target, SplitOn::kWords});
      ASSERT_TRUE(all.status.ok()) << all.status.ToString();
      EXPECT_EQ(WordsOfEachPartition(all), Words(text));
    }
  }
}

TEST_F(PartitionTest, WordLongerThanAPartitionIsNotCut) {
  const std::string text = "a b " + std::string(700, 'x') + " c\nd " + std::string(300, 'y');
  const std::string path = Write("long.txt", text);
  for (size_t target : {2u, 5u, 17u, 100u}) {
    SCOPED_TRACE("target " + std::to_string(target));
    ReadAllResult all = ReadAll({path}, {target, SplitOn::kWords});
    ASSERT_TRUE(all.status.ok()) << all.status.ToString();
    EXPECT_EQ(WordsOfEachPartition(all), Words(text));
  }
}

TEST_F(PartitionTest, TokenizeSeesEveryNewlineOnceAcrossPartitions) {
  const std::string text = MakeWordText(21, 5000);
  const std::string path = Write("words.txt", text);
  const size_t newlines = static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
  ASSERT_GT(newlines, 10u);
  for (size_t target : {1u, 4u, 9u, 17u}) {
    ReadAllResult all = ReadAll({path}, {target, SplitOn::kWords});
    ASSERT_TRUE(all.status.ok()) << all.status.ToString();
    size_t seen = 0;
    std::vector<std::string> words;
    for (const ReadResult& r : all.reads) {
      for (const std::string& chunk : r.chunks) {
        Tokenize(
            chunk, [&](std::string_view w) { words.emplace_back(w); }, [&] { ++seen; });
      }
    }
    EXPECT_EQ(seen, newlines) << "target " << target;
    EXPECT_EQ(words, Words(text)) << "target " << target;
  }
}

TEST_F(PartitionTest, EveryLineOnceForAnyNumberOfPartitions) {
  const std::string text = MakeLineText(3, 5000);
  const std::string path = Write("lines.txt", text);
  const std::vector<std::string> expected = Lines(text);
  ASSERT_GT(expected.size(), 100u);
  for (size_t target = 1; target <= 17; ++target) {
    SCOPED_TRACE("target_partitions " + std::to_string(target));
    ReadAllResult all = ReadAll({path}, {target, SplitOn::kLines});
    ASSERT_TRUE(all.status.ok()) << all.status.ToString();
    ExpectContiguous(all.parts, path, text.size());
    EXPECT_EQ(all.text, text);
    ExpectChunksEndOnBoundaries(all.reads, text, SplitOn::kLines);

    // A partition holds the lines that start inside its range, so the lines
    // of all partitions, read one partition at a time, are the file's lines.
    std::vector<std::string> lines;
    for (const ReadResult& r : all.reads) {
      for (std::string& l : Lines(r.text)) lines.push_back(std::move(l));
    }
    EXPECT_EQ(lines.size(), expected.size());
    EXPECT_TRUE(lines == expected) << FirstDifference(lines, expected);
  }
}

// The smallest case: the range boundary falls inside the first line, so the
// first partition owns "aaa" and the second "bbb"; neither sees an empty line.
TEST_F(PartitionTest, LinesModePartitionsHoldOnlyTheirOwnLines) {
  const std::string path = Write("two.txt", "aaa\nbbb\n");
  for (uint64_t cut = 1; cut <= 3; ++cut) {
    PartitionSpec first{path, 0, cut, false, cut};
    PartitionSpec second{path, cut, 8, false, 8 - cut};
    ReadResult a = ReadPartition(first, SplitOn::kLines);
    ReadResult b = ReadPartition(second, SplitOn::kLines);
    ASSERT_TRUE(a.status.ok() && b.status.ok());
    EXPECT_EQ(Lines(a.text), (std::vector<std::string>{"aaa"})) << "cut at " << cut;
    EXPECT_EQ(Lines(b.text), (std::vector<std::string>{"bbb"}))
        << "cut at " << cut << ": second partition's text is \"" << Escaped(b.text) << "\"";
  }
}

TEST_F(PartitionTest, LinesModeKeepsLinesWithSpacesWhole) {
  const std::string text = "first line here\nsecond   line\n\nfourth\nlast line without newline";
  const std::string path = Write("lines.txt", text);
  for (size_t target = 1; target <= 12; ++target) {
    ReadAllResult all = ReadAll({path}, {target, SplitOn::kLines});
    ASSERT_TRUE(all.status.ok()) << all.status.ToString();
    EXPECT_EQ(all.text, text);
    for (const ReadResult& r : all.reads) {
      // No partition holds a piece of a line: each piece of text it holds,
      // between newlines, is a whole line of the file (or nothing).
      for (const std::string& l : Lines(r.text)) {
        if (l.empty()) continue;
        EXPECT_TRUE(l == "first line here" || l == "second   line" || l == "fourth" ||
                    l == "last line without newline")
            << "target " << target << ": a cut line \"" << l << "\"";
      }
    }
  }
}

TEST_F(PartitionTest, LargeFileIsReadInChunksOnBoundaries) {
  // Over 1 MiB so that a partition is streamed as several chunks, with one
  // word longer than a chunk.
  std::string text = MakeWordText(4, 1500000);
  text += " " + std::string(1200000, 'z') + " tail words\n";
  text += MakeWordText(5, 600000);
  const std::string path = Write("large.txt", text);
  const std::vector<std::string> expected = Words(text);
  for (size_t target : {1u, 2u, 5u}) {
    SCOPED_TRACE("target " + std::to_string(target));
    ReadAllResult all = ReadAll({path}, {target, SplitOn::kWords});
    ASSERT_TRUE(all.status.ok()) << all.status.ToString();
    size_t chunks = 0;
    for (const ReadResult& r : all.reads) chunks += r.chunks.size();
    EXPECT_GE(chunks, 3u);
    EXPECT_EQ(all.text, text);
    ExpectChunksEndOnBoundaries(all.reads, text, SplitOn::kWords);
    EXPECT_EQ(WordsOfEachPartition(all), expected);
  }
}

TEST_F(PartitionTest, LargeFileInLinesMode) {
  const std::string text = MakeLineText(6, 2500000);
  const std::string path = Write("large_lines.txt", text);
  ReadAllResult all = ReadAll({path}, {1, SplitOn::kLines});
  ASSERT_TRUE(all.status.ok()) << all.status.ToString();
  ASSERT_EQ(all.reads.size(), 1u);
  EXPECT_GE(all.reads[0].chunks.size(), 2u);
  EXPECT_EQ(all.text, text);
  ExpectChunksEndOnBoundaries(all.reads, text, SplitOn::kLines);
  for (const std::string& chunk : all.reads[0].chunks) EXPECT_EQ(chunk.back(), '\n');
}

TEST_F(PartitionTest, DirectoryOfPartFilesSkipsMarkersAndIsSorted) {
  // Twelve part files, written last first so that the directory's own order
  // is unlikely to be sorted.
  std::vector<std::string> expected_paths;
  std::vector<std::string> expected_words;
  for (int i = 0; i < 12; ++i) {
    char name[32];
    std::snprintf(name, sizeof(name), "part-%05d", i);
    expected_paths.push_back(Path("out") + "/" + name);
    expected_words.push_back("p" + std::to_string(i) + "a");
    expected_words.push_back("p" + std::to_string(i) + "b");
  }
  for (int i = 11; i >= 0; --i) {
    Write("out/" + fs::path(expected_paths[i]).filename().string(),
          "p" + std::to_string(i) + "a\n  p" + std::to_string(i) + "b\n");
  }
  Write("out/_SUCCESS", "success marker\n");
  Write("out/.part-00000.crc", std::string("\x00\x01\x02crc", 6));
  Write("out/.hidden", "hidden words\n");
  Write("out/_temporary/0/part-00099", "temporary words\n");
  Write("out/_logs", "log words\n");
  const std::string dir = Path("out");

  for (size_t target : {1u, 5u, 12u, 30u}) {
    SCOPED_TRACE("target " + std::to_string(target));
    ReadAllResult all = ReadAll({dir}, {target, SplitOn::kWords});
    ASSERT_TRUE(all.status.ok()) << all.status.ToString();
    std::vector<std::string> paths;
    for (const PartitionSpec& p : all.parts) {
      if (paths.empty() || paths.back() != p.path) paths.push_back(p.path);
    }
    EXPECT_EQ(paths, expected_paths);
    EXPECT_EQ(Words(all.text), expected_words);
  }
}

TEST_F(PartitionTest, DirectoryWithTrailingSlash) {
  Write("out/part-00001", "b\n");
  Write("out/part-00000", "a\n");
  ReadAllResult all = ReadAll({Path("out") + "/"}, {1, SplitOn::kWords});
  ASSERT_TRUE(all.status.ok()) << all.status.ToString();
  EXPECT_EQ(Words(all.text), (std::vector<std::string>{"a", "b"}));
}

TEST_F(PartitionTest, SeveralInputsKeepTheirOrder) {
  const std::string b = Write("b.txt", "b1 b2\n");
  const std::string a = Write("a.txt", "a1 a2\n");
  ReadAllResult all = ReadAll({b, a}, {1, SplitOn::kWords});
  ASSERT_TRUE(all.status.ok()) << all.status.ToString();
  ASSERT_EQ(all.parts.size(), 2u);  // At least one per file.
  EXPECT_EQ(all.parts[0].path, b);
  EXPECT_EQ(all.parts[1].path, a);
  EXPECT_EQ(Words(all.text), (std::vector<std::string>{"b1", "b2", "a1", "a2"}));
}

TEST_F(PartitionTest, GzipFileIsOneWholePartition) {
  const std::string text = MakeWordText(7, 200000);
  const std::string path = WriteGzip("words.txt.gz", text);
  const uint64_t size = fs::file_size(path);
  ASSERT_LT(size, text.size());
  for (size_t target : {1u, 8u}) {
    SCOPED_TRACE("target " + std::to_string(target));
    ReadAllResult all = ReadAll({path}, {target, SplitOn::kWords});
    ASSERT_TRUE(all.status.ok()) << all.status.ToString();
    ASSERT_EQ(all.parts.size(), 1u);
    EXPECT_TRUE(all.parts[0].gzip);
    EXPECT_EQ(all.parts[0].path, path);
    EXPECT_EQ(all.parts[0].size_hint, size);
    EXPECT_EQ(all.text, text);
    EXPECT_EQ(Words(all.text), Words(text));
    ExpectChunksEndOnBoundaries(all.reads, text, SplitOn::kWords);
  }
}

TEST_F(PartitionTest, LargeGzipWithAWordLongerThanAChunk) {
  std::string text = MakeWordText(8, 1300000);
  text += "\n" + std::string(1500000, 'q') + " after\n";
  text += MakeWordText(9, 300000);
  const std::string path = WriteGzip("large.gz", text);
  ReadAllResult all = ReadAll({path}, {4, SplitOn::kWords});
  ASSERT_TRUE(all.status.ok()) << all.status.ToString();
  ASSERT_EQ(all.reads.size(), 1u);
  EXPECT_GE(all.reads[0].chunks.size(), 2u);
  EXPECT_EQ(all.text, text);
  ExpectChunksEndOnBoundaries(all.reads, text, SplitOn::kWords);
  EXPECT_EQ(Words(all.text), Words(text));
}

TEST_F(PartitionTest, GzipInLinesMode) {
  const std::string text = MakeLineText(10, 1500000);
  const std::string path = WriteGzip("lines.gz", text);
  ReadAllResult all = ReadAll({path}, {4, SplitOn::kLines});
  ASSERT_TRUE(all.status.ok()) << all.status.ToString();
  ASSERT_EQ(all.reads.size(), 1u);
  EXPECT_EQ(all.text, text);
  for (const std::string& chunk : all.reads[0].chunks) EXPECT_EQ(chunk.back(), '\n');
  EXPECT_EQ(Lines(all.text), Lines(text));
}

TEST_F(PartitionTest, DirectoryMixingGzipAndPlainParts) {
  WriteGzip("out/part-00000.gz", "zipped words\nhere\n");
  Write("out/part-00001", "plain words\n");
  Write("out/_SUCCESS", "");
  ReadAllResult all = ReadAll({Path("out")}, {4, SplitOn::kWords});
  ASSERT_TRUE(all.status.ok()) << all.status.ToString();
  ASSERT_GE(all.parts.size(), 2u);
  EXPECT_TRUE(all.parts[0].gzip);
  EXPECT_FALSE(all.parts.back().gzip);
  EXPECT_EQ(Words(all.text),
            (std::vector<std::string>{"zipped", "words", "here", "plain", "words"}));
}

TEST_F(PartitionTest, ConcatenatedGzipMembersAreAllRead) {
  const std::string first = ReadFile(WriteGzip("scratch/first.gz", "alpha beta\ngamma "));
  const std::string second = ReadFile(WriteGzip("scratch/second.gz", "delta\nepsilon\n"));
  const std::string path = Write("both.gz", first + second);
  ReadAllResult all = ReadAll({path}, {1, SplitOn::kWords});
  ASSERT_TRUE(all.status.ok()) << all.status.ToString();
  EXPECT_EQ(Words(all.text),
            (std::vector<std::string>{"alpha", "beta", "gamma", "delta", "epsilon"}));
}

// Spark writes an empty part file for each empty partition; the input as a
// whole still has bytes, so it is not "empty (no input bytes at all)".
TEST_F(PartitionTest, DirectoryWithAnEmptyPartFileIsAccepted) {
  Write("out/part-00000", "");
  Write("out/part-00001", "some words\n");
  Write("out/part-00002", "");
  Write("out/_SUCCESS", "");
  ReadAllResult all = ReadAll({Path("out")}, {4, SplitOn::kWords});
  ASSERT_TRUE(all.status.ok()) << all.status.ToString();
  EXPECT_EQ(Words(all.text), (std::vector<std::string>{"some", "words"}));
}

// A .gz file cut short must be an error, from ListPartitions or from
// ForEachChunk: never fewer words without one.
TEST_F(PartitionTest, TruncatedGzipIsAnError) {
  for (size_t bytes : {3000u, 300000u}) {
    const std::string text = MakeWordText(11 + static_cast<uint32_t>(bytes), bytes);
    const std::string whole = ReadFile(WriteGzip("whole" + std::to_string(bytes) + ".gz", text));
    ASSERT_GT(whole.size(), 100u);
    for (size_t cut : {1u, 4u, 8u, 12u, 100u}) {
      SCOPED_TRACE("text " + std::to_string(bytes) + " bytes, cut " + std::to_string(cut));
      const std::string path =
          Write("cut" + std::to_string(bytes) + "_" + std::to_string(cut) + ".gz",
                std::string_view(whole).substr(0, whole.size() - cut));
      for (SplitOn split_on : {SplitOn::kWords, SplitOn::kLines}) {
        ReadAllResult all = ReadAll({path}, {1, split_on});
        EXPECT_FALSE(all.status.ok()) << "read " << Words(all.text).size() << " of "
                                      << Words(text).size() << " words without an error";
      }
    }
    // Half of the file.
    const std::string half =
        Write("half" + std::to_string(bytes) + ".gz", whole.substr(0, whole.size() / 2));
    ReadAllResult all = ReadAll({half}, {1, SplitOn::kWords});
    EXPECT_FALSE(all.status.ok()) << "read " << Words(all.text).size() << " words";
  }
}

TEST_F(PartitionTest, CorruptGzipIsAnError) {
  const std::string text = MakeWordText(12, 300000);
  std::string bytes = ReadFile(WriteGzip("good.gz", text));
  ASSERT_GT(bytes.size(), 1000u);
  for (size_t i = bytes.size() / 2; i < bytes.size() / 2 + 64; ++i) bytes[i] = '\xAA';
  const std::string path = Write("bad.gz", bytes);
  ReadAllResult all = ReadAll({path}, {1, SplitOn::kWords});
  EXPECT_FALSE(all.status.ok());
}

TEST_F(PartitionTest, MissingPathIsAnErrorNamingIt) {
  const std::string missing = Path("no/such/file.txt");
  Result<std::vector<PartitionSpec>> parts = ListPartitions({missing}, {});
  ASSERT_FALSE(parts.ok());
  EXPECT_NE(parts.status().message().find(missing), std::string::npos) << parts.status().message();

  // Also when it is not the first input.
  const std::string good = Write("good.txt", "words\n");
  parts = ListPartitions({good, missing}, {});
  ASSERT_FALSE(parts.ok());
  EXPECT_NE(parts.status().message().find(missing), std::string::npos);
}

TEST_F(PartitionTest, NoInputsIsAnError) { EXPECT_FALSE(ListPartitions({}, {}).ok()); }

TEST_F(PartitionTest, EmptyFileIsAnErrorNamingIt) {
  const std::string path = Write("empty.txt", "");
  Result<std::vector<PartitionSpec>> parts = ListPartitions({path}, {});
  ASSERT_FALSE(parts.ok());
  EXPECT_NE(parts.status().message().find(path), std::string::npos) << parts.status().message();
}

TEST_F(PartitionTest, EmptyGzipIsAnError) {
  const std::string path = WriteGzip("empty.gz", "");
  Result<std::vector<PartitionSpec>> parts = ListPartitions({path}, {});
  ASSERT_FALSE(parts.ok());
  EXPECT_NE(parts.status().message().find(path), std::string::npos) << parts.status().message();
}

TEST_F(PartitionTest, BinaryFileIsAnErrorNamingIt) {
  std::string bytes;
  for (int i = 0; i < 200; ++i) bytes += std::string("text\0with nul ", 14);
  const std::string path = Write("binary.dat", bytes);
  Result<std::vector<PartitionSpec>> parts = ListPartitions({path}, {});
  ASSERT_FALSE(parts.ok());
  EXPECT_NE(parts.status().message().find(path), std::string::npos) << parts.status().message();

  // Accepted when binary files are not rejected.
  PartitionOptions lenient;
  lenient.reject_binary = false;
  EXPECT_TRUE(ListPartitions({path}, lenient).ok());
}

TEST_F(PartitionTest, BinaryFileWithoutNulIsAnError) {
  std::mt19937 rng(13);
  std::string bytes;
  for (int i = 0; i < 8192; ++i) bytes.push_back(static_cast<char>(1 + rng() % 255));
  const std::string path = Write("random.bin", bytes);
  Result<std::vector<PartitionSpec>> parts = ListPartitions({path}, {});
  ASSERT_FALSE(parts.ok());
  EXPECT_NE(parts.status().message().find(path), std::string::npos);
}

TEST_F(PartitionTest, DirectoryWithoutInputFilesIsAnErrorNamingIt) {
  Write("out/_SUCCESS", "");
  Write("out/.part-00000.crc", "crc");
  Write("out/_temporary/part-00000", "words\n");
  const std::string dir = Path("out");
  Result<std::vector<PartitionSpec>> parts = ListPartitions({dir}, {});
  ASSERT_FALSE(parts.ok());
  EXPECT_NE(parts.status().message().find(dir), std::string::npos) << parts.status().message();

  fs::create_directory(Path("empty_dir"));
  parts = ListPartitions({Path("empty_dir")}, {});
  ASSERT_FALSE(parts.ok());
  EXPECT_NE(parts.status().message().find(Path("empty_dir")), std::string::npos);
}

TEST_F(PartitionTest, OpeningAMissingFileIsAnError) {
  PartitionSpec spec;
  spec.path = Path("gone.txt");
  spec.end = 10;
  EXPECT_FALSE(PartitionReader::Open(spec).ok());
  spec.gzip = true;
  EXPECT_FALSE(PartitionReader::Open(spec).ok());
}

TEST(LooksBinaryTest, TextInAnyScriptIsNotBinary) {
  std::string greek, chinese, emoji, mixed;
  for (int i = 0; i < 200; ++i) {
    greek += "Η γλώσσα είναι ελληνική και όμορφη. ";
    chinese += "中文文本不是二进制数据。";
    emoji += "😀🎉👍🏽 ";
    mixed += "word слово 単語 كلمة शब्द ";
  }
  EXPECT_FALSE(LooksBinary(greek));
  EXPECT_FALSE(LooksBinary(chinese));
  EXPECT_FALSE(LooksBinary(emoji));
  EXPECT_FALSE(LooksBinary(mixed));
  EXPECT_FALSE(LooksBinary("plain ascii text\nwith lines\tand tabs\r\n"));
  EXPECT_FALSE(LooksBinary(""));
}

TEST(LooksBinaryTest, SampleCutInsideACharacterIsNotBinary) {
  const std::string chinese = "中文文本不是二进制数据";
  for (size_t cut = 1; cut <= 3; ++cut) {
    EXPECT_FALSE(LooksBinary(std::string_view(chinese).substr(0, chinese.size() - cut)));
  }
  const std::string emoji = "ok 😀😀😀😀";
  for (size_t cut = 1; cut <= 3; ++cut) {
    EXPECT_FALSE(LooksBinary(std::string_view(emoji).substr(0, emoji.size() - cut)));
  }
}

TEST(LooksBinaryTest, RandomBytesAreBinary) {
  std::mt19937 rng(42);
  std::string with_nul, without_nul;
  for (int i = 0; i < 4096; ++i) {
    with_nul.push_back(static_cast<char>(rng() % 256));
    without_nul.push_back(static_cast<char>(1 + rng() % 255));
  }
  EXPECT_TRUE(LooksBinary(with_nul));
  EXPECT_TRUE(LooksBinary(without_nul));
}

TEST(LooksBinaryTest, AnyNulByteIsBinary) {
  EXPECT_TRUE(LooksBinary(std::string_view("abc\0def", 7)));
  EXPECT_TRUE(LooksBinary(std::string_view("\0", 1)));
}

TEST(LooksBinaryTest, AFewStrayBytesInTextAreNotBinary) {
  // Latin-1 "café" inside otherwise plain text.
  std::string text;
  for (int i = 0; i < 100; ++i) text += "the caf\xE9 is open today ";
  EXPECT_FALSE(LooksBinary(text));
}

// Records Tokenize's calls as words and "\n" for on_newline.
std::vector<std::string> Events(std::string_view text) {
  std::vector<std::string> events;
  Tokenize(
      text, [&](std::string_view w) { events.emplace_back(w); },
      [&] { events.emplace_back("\n"); });
  return events;
}

TEST(TokenizeTest, WordsAndNewlinesInOrder) {
  EXPECT_EQ(Events("a b\n\nc  d\n"),
            (std::vector<std::string>{"a", "b", "\n", "\n", "c", "d", "\n"}));
}

TEST(TokenizeTest, OneNewlineCallPerNewline) {
  EXPECT_EQ(Events("\n\n\nx"), (std::vector<std::string>{"\n", "\n", "\n", "x"}));
  EXPECT_EQ(Events("x \n \n y"), (std::vector<std::string>{"x", "\n", "\n", "y"}));
  EXPECT_EQ(Events("one\r\ntwo\r\n"), (std::vector<std::string>{"one", "\n", "two", "\n"}));
  EXPECT_EQ(Events("\n"), (std::vector<std::string>{"\n"}));
}

TEST(TokenizeTest, OtherWhitespaceSeparatesWithoutNewlines) {
  EXPECT_EQ(Events("  a\tb\v\fc\r d  "), (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_TRUE(Events("").empty());
  EXPECT_TRUE(Events(" \t\r ").empty());
  EXPECT_EQ(Events("λόγος 汉字"), (std::vector<std::string>{"λόγος", "汉字"}));
}

TEST(TokenizeTest, WindowsNeverCrossANewline) {
  // A window over the words since the last newline: with on_newline clearing
  // it, no window holds words from two lines.
  const std::string text = "the cat sat\non the mat\n\nand  slept\n";
  std::vector<std::vector<std::string>> sentences(1);
  Tokenize(
      text, [&](std::string_view w) { sentences.back().emplace_back(w); },
      [&] { sentences.emplace_back(); });
  EXPECT_EQ(sentences, (std::vector<std::vector<std::string>>{
                           {"the", "cat", "sat"}, {"on", "the", "mat"}, {}, {"and", "slept"}, {}}));
}

}  // namespace
}  // namespace deepdist
