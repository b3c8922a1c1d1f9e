// deepdist corpus prepare, the command line: the lines and the --json
// summary it writes, --threads 1 and 4 giving the same bytes on a
// multistream .bz2, --keep-case and --keep-digits, and the error contract
// (one line on stderr naming the file, exit code, no output left behind).
#include <bzlib.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/test_support.h"

namespace deepdist {
namespace {

namespace fs = std::filesystem;
using testing_support::CommandResult;
using testing_support::ReadFile;
using testing_support::TempDirTest;

std::string Page(const std::string& title, int ns, const std::string& xml_text) {
  return "<page><title>" + title + "</title><ns>" + std::to_string(ns) +
         "</ns><revision><text xml:space=\"preserve\">" + xml_text + "</text></revision></page>\n";
}

std::string Bz2(const std::string& data) {
  unsigned int size = static_cast<unsigned int>(data.size() + data.size() / 100 + 1024);
  std::string out(size, '\0');
  const int rc = BZ2_bzBuffToBuffCompress(out.data(), &size, const_cast<char*>(data.data()),
                                          static_cast<unsigned int>(data.size()), 9, 0, 0);
  EXPECT_EQ(rc, BZ_OK);
  out.resize(size);
  return out;
}

class CorpusPrepareCliTest : public TempDirTest {
 protected:
  CorpusPrepareCliTest() : TempDirTest("deepdist_cli_corpus_prepare_test_") {}

  void SetUp() override {
    TempDirTest::SetUp();
    fs::create_directories(dir_ + "/logs");
  }

  CommandResult Prepare(std::vector<std::string> args) const {
    args.insert(args.begin(), {"corpus", "prepare"});
    return testing_support::RunDeepdist(std::move(args), dir_ + "/logs");
  }

  void ExpectError(const CommandResult& r, int code, const std::string& names,
                   const std::string& output) const {
    testing_support::ExpectOneLineError(r, code, names, output, dir_);
  }
};

TEST_F(CorpusPrepareCliTest, WritesOneArticleALineAndAJsonSummary) {
  const std::string input = Write(
      "dump.xml", "<mediawiki>\n" + Page("Moon", 0, "The '''Moon''' orbits [[Earth]] in 27 days.") +
                      Page("Luna", 0, "#REDIRECT [[Moon]]") + Page("Talk:Moon", 1, "Talk.") +
                      Page("Sun", 0, "The [[Sun|sun]] &amp;amp; stars.&lt;ref&gt;x&lt;/ref&gt;") +
                      "</mediawiki>\n");
  const std::string output = dir_ + "/corpus.txt";
  const CommandResult r = Prepare({"--input", input, "--output", output, "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(ReadFile(output), "the moon orbits earth in two seven days\nthe sun stars\n");
  EXPECT_EQ(r.err, "");  // A run this short prints no progress line.
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["input"], input);
  EXPECT_EQ(j["output"], output);
  EXPECT_EQ(j["format"], "xml");
  EXPECT_EQ(j["pages"], 4);
  EXPECT_EQ(j["articles"], 2);
  EXPECT_EQ(j["redirects"], 1);
  EXPECT_EQ(j["other_namespaces"], 1);
  EXPECT_EQ(j["empty_articles"], 0);
  EXPECT_EQ(j["tokens"], 11);
  EXPECT_EQ(j["input_bytes"], fs::file_size(input));
  EXPECT_EQ(j["xml_bytes"], fs::file_size(input));
  for (const char* key : {"seconds", "input_mb_per_second", "xml_mb_per_second", "pages_per_second",
                          "threads", "bz2_streams", "bz2_runs", "parallel_decompression",
                          "keep_case", "keep_digits", "truncated_pages"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }

  const CommandResult text = Prepare({"--input", input, "--output", output});
  ASSERT_EQ(text.code, 0) << text.err;
  EXPECT_EQ(text.out,
            "read 4 pages: 2 articles written; skipped 1 redirects, 1 pages outside the main "
            "namespace and 0 articles with no words\n"
            "wrote " +
                output + ": 11 words in " + text.out.substr(text.out.find(" words in ") + 10));
}

TEST_F(CorpusPrepareCliTest, OneAndFourThreadsWriteTheSameBytes) {
  // 40 streams of 50 pages, as a multistream dump holds them.
  std::string multistream = Bz2("<mediawiki>\n");
  std::string all;
  for (int s = 0; s < 40; ++s) {
    std::string pages;
    for (int p = 0; p < 50; ++p) {
      const int n = s * 50 + p;
      pages += Page("Page " + std::to_string(n), n % 7 == 0 ? 1 : 0,
                    "Article " + std::to_string(n) + " on {{tpl|x}} [[Link|linked]] things.");
    }
    multistream += Bz2(pages);
  }
  multistream += Bz2("</mediawiki>\n");
  const std::string input = Write("dump.xml.bz2", multistream);
  const std::string one = dir_ + "/one.txt";
  const std::string four = dir_ + "/four.txt";
  CommandResult r = Prepare({"--input", input, "--output", one, "--threads", "1", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json j1 = nlohmann::json::parse(r.out);
  r = Prepare({"--input", input, "--output", four, "--threads", "4", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json j4 = nlohmann::json::parse(r.out);
  const std::string text = ReadFile(one);
  EXPECT_EQ(ReadFile(four), text);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2000 - 286);
  EXPECT_EQ(text.substr(0, 36), "article one on linked things\narticle");
  EXPECT_EQ(j1["bz2_streams"], 42);
  EXPECT_EQ(j4["bz2_streams"], 42);
  EXPECT_EQ(j1["parallel_decompression"], false);
  EXPECT_EQ(j4["parallel_decompression"], true);
  EXPECT_EQ(j1["bz2_runs"], 1);  // Under 1 MiB: one run, on one thread.
  EXPECT_EQ(j4["bz2_runs"], 1);
  EXPECT_EQ(j1["tokens"], j4["tokens"]);
  EXPECT_EQ(j4["format"], "bz2");
}

TEST_F(CorpusPrepareCliTest, KeepCaseAndKeepDigits) {
  const std::string input =
      Write("dump.xml", "<mediawiki>" + Page("A", 0, "Route 66 in 1926") + "</mediawiki>");
  const std::string output = dir_ + "/out.txt";
  ASSERT_EQ(Prepare({"--input", input, "--output", output}).code, 0);
  EXPECT_EQ(ReadFile(output), "route six six in one nine two six\n");
  ASSERT_EQ(Prepare({"--input", input, "--output", output, "--keep-case"}).code, 0);
  EXPECT_EQ(ReadFile(output), "Route six six in one nine two six\n");
  ASSERT_EQ(Prepare({"--input", input, "--output", output, "--keep-digits"}).code, 0);
  EXPECT_EQ(ReadFile(output), "route 66 in 1926\n");
  ASSERT_EQ(Prepare({"--input", input, "--output", output, "--keep-case", "--keep-digits"}).code,
            0);
  EXPECT_EQ(ReadFile(output), "Route 66 in 1926\n");
}

TEST_F(CorpusPrepareCliTest, FileErrors) {
  const std::string output = dir_ + "/out.txt";
  const std::string missing = dir_ + "/missing.xml";
  ExpectError(Prepare({"--input", missing, "--output", output}), 1, missing, output);
  const std::string empty = Write("empty.xml", "");
  ExpectError(Prepare({"--input", empty, "--output", output}), 1, empty, output);
  const std::string malformed =
      Write("bad.xml", "<mediawiki><page><title>Bad</title><ns>0</ns></pag></mediawiki>");
  const CommandResult r = Prepare({"--input", malformed, "--output", output});
  ExpectError(r, 1, malformed, output);
  // Expat points at the name of the end tag "</pag>", after 47 bytes.
  EXPECT_EQ(r.err, "deepdist: " + malformed +
                       ": malformed XML at line 1, column 48 (byte 47): mismatched tag (in page "
                       "\"Bad\")\n");
  std::string words;
  for (int i = 0; i < 20000; ++i) words += "word " + std::to_string(i) + " ";
  const std::string data = Bz2("<mediawiki>" + Page("A", 0, words) + "</mediawiki>");
  const std::string truncated = Write("cut.xml.bz2", data.substr(0, data.size() - 20));
  for (const char* threads : {"1", "2"}) {
    const CommandResult t =
        Prepare({"--input", truncated, "--output", output, "--threads", threads});
    ExpectError(t, 1, truncated, output);
    EXPECT_NE(t.err.find(": truncated bz2 data: the stream that starts at byte 0 breaks off at "
                         "byte " +
                         std::to_string(data.size() - 20) + ", the end of the file"),
              std::string::npos)
        << t.err;
  }
}

// Tests may run as root: unwritable by a missing folder, by a file where
// the folder should be, and by a directory where the file should be.
TEST_F(CorpusPrepareCliTest, UnwritableOutputAndBadFlags) {
  const std::string input =
      Write("dump.xml", "<mediawiki>" + Page("A", 0, "alpha") + "</mediawiki>");
  const std::string file = Write("file", "x");
  for (const std::string& output :
       {dir_ + "/no_such_dir/out.txt", file + "/out.txt", dir_ + "/logs"}) {
    SCOPED_TRACE(output);
    const CommandResult r = Prepare({"--input", input, "--output", output});
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(r.err.rfind("deepdist: " + output + ": ", 0), 0u) << r.err;
  }
  const std::string output = dir_ + "/out.txt";
  ExpectError(Prepare({"--input", input, "--output", output, "--threads", "-1"}), 2, "--threads",
              output);
  ExpectError(Prepare({"--input", input, "--output", output, "--threads", "5000"}), 2, "--threads",
              output);
  ExpectError(Prepare({"--input", input}), 2, "--output", output);
  ExpectError(Prepare({"--input", input, "--output", output, "--frob", "1"}), 2, "--frob", output);
}

}  // namespace
}  // namespace deepdist
