// SaveVectors and Vectors::Load: round trips in both formats, gensim reading
// what we write, and malformed files reported with their path.
#include "deepdist/word2vec/vectors.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "deepdist/model.h"
#include "deepdist/word2vec/vocabulary.h"
#include "tests/test_support.h"

namespace deepdist::word2vec {
namespace {

namespace fs = std::filesystem;

using testing_support::ReadFile;

class VectorsTest : public testing_support::TempDirTest {
 protected:
  VectorsTest() : TempDirTest("deepdist_vectors_test_") {}

  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(TempDirTest::SetUp());
    // Words in descending count: FromCounts keeps this order.
    words_ = {"the", "king", "queen", "caf\xc3\xa9", "Paris", "x", "a-b_c", "12"};
    std::vector<std::pair<std::string, uint64_t>> counts;
    for (size_t i = 0; i < words_.size(); ++i) counts.emplace_back(words_[i], 100 - i);
    VocabularyOptions options;
    options.min_count = 1;
    vocab_ = Vocabulary::FromCounts(counts, 1000, options);
    for (size_t i = 0; i < words_.size(); ++i) {
      EXPECT_EQ(vocab_.word(static_cast<int32_t>(i)), words_[i]);
    }
  }
  // Values over many magnitudes and both signs; dim 7 leaves row padding.
  Table MakeTable(size_t dim) const {
    Table t("in", words_.size(), dim);
    std::mt19937_64 rng(5);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::uniform_int_distribution<int> e(-30, 30);
    for (size_t r = 0; r < words_.size(); ++r) {
      for (size_t k = 0; k < dim; ++k) t.row(r)[k] = std::ldexp(u(rng), e(rng));
    }
    t.row(0)[0] = 0.1f;
    t.row(0)[1] = -0.0f;
    t.row(1)[0] = 0.0f;
    t.row(1)[1] = 3.4028235e38f;    // FLT_MAX.
    t.row(1)[2] = -1.1754944e-38f;  // -FLT_MIN.
    return t;
  }

  std::vector<std::string> ListDir() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_))
      names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

  // Loads `path` and expects a non-OK Status naming it.
  void ExpectLoadFails(const std::string& path, const std::string& what) {
    const auto start = std::chrono::steady_clock::now();
    Result<Vectors> v = Vectors::Load(path);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_FALSE(v.ok()) << what << ": loaded " << (v.ok() ? v->size() : 0) << " words";
    EXPECT_NE(v.status().message().find(path), std::string::npos)
        << what << ": " << v.status().message();
    EXPECT_LT(seconds, 1.0) << what;
  }

  std::vector<std::string> words_;
  Vocabulary vocab_;
};

TEST_F(VectorsTest, FormatForPath) {
  EXPECT_EQ(FormatForPath("v.txt"), VectorFormat::kText);
  EXPECT_EQ(FormatForPath("/a/b/wiki.en.vec"), VectorFormat::kText);
  EXPECT_EQ(FormatForPath("v.bin"), VectorFormat::kBinary);
  EXPECT_EQ(FormatForPath("vectors"), VectorFormat::kBinary);
  EXPECT_EQ(FormatForPath("v.txt.bin"), VectorFormat::kBinary);
  EXPECT_EQ(FormatForPath("v.txt.gz"), VectorFormat::kBinary);
  EXPECT_EQ(FormatForPath("txt"), VectorFormat::kBinary);
  EXPECT_EQ(FormatForPath("vec"), VectorFormat::kBinary);
}

TEST_F(VectorsTest, BinaryRoundTripIsExact) {
  for (size_t dim : {1u, 7u, 16u, 33u}) {
    const Table table = MakeTable(dim);
    const std::string path = dir_ + "/v" + std::to_string(dim) + ".bin";
    ASSERT_EQ(FormatForPath(path), VectorFormat::kBinary);
    ASSERT_TRUE(SaveVectors(path, FormatForPath(path), vocab_, table).ok());
    // Header, then "word " + dim floats + "\n" per word.
    size_t expected_size =
        std::to_string(words_.size()).size() + 1 + std::to_string(dim).size() + 1;
    for (const std::string& w : words_) expected_size += w.size() + 1 + 4 * dim + 1;
    EXPECT_EQ(fs::file_size(path), expected_size);
    EXPECT_EQ(ReadFile(path).substr(0, 2 + std::to_string(dim).size() + 1),
              "8 " + std::to_string(dim) + "\n");

    Result<Vectors> v = Vectors::Load(path);
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    ASSERT_EQ(v->size(), words_.size());
    ASSERT_EQ(v->dim(), dim);
    for (size_t i = 0; i < words_.size(); ++i) {
      EXPECT_EQ(v->word(i), words_[i]);
      EXPECT_EQ(v->Find(words_[i]), static_cast<int64_t>(i));
      EXPECT_EQ(std::memcmp(v->row(i), table.row(i), dim * sizeof(float)), 0)
          << "row " << i << ", dim " << dim;
    }
    EXPECT_EQ(v->Find("absent"), -1);
  }
}

TEST_F(VectorsTest, TextRoundTripWithinFloatPrecision) {
  for (const char* name : {"v.txt", "v.vec"}) {
    const size_t dim = 7;
    const Table table = MakeTable(dim);
    const std::string path = dir_ + "/" + name;
    ASSERT_EQ(FormatForPath(path), VectorFormat::kText);
    ASSERT_TRUE(SaveVectors(path, FormatForPath(path), vocab_, table).ok());
    // Text: the header, then "word v1 ... vD" lines.
    std::istringstream in(ReadFile(path));
    std::string line;
    ASSERT_TRUE(std::getline(in, line));
    EXPECT_EQ(line, "8 7");
    size_t rows = 0;
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string w;
      fields >> w;
      ASSERT_LT(rows, words_.size());
      EXPECT_EQ(w, words_[rows]);
      size_t numbers = 0;
      double x;
      while (fields >> x) ++numbers;
      EXPECT_EQ(numbers, dim) << line;
      ++rows;
    }
    EXPECT_EQ(rows, words_.size());

    Result<Vectors> v = Vectors::Load(path);
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    ASSERT_EQ(v->size(), words_.size());
    ASSERT_EQ(v->dim(), dim);
    for (size_t i = 0; i < words_.size(); ++i) {
      EXPECT_EQ(v->word(i), words_[i]);
      for (size_t k = 0; k < dim; ++k) {
        const float want = table.row(i)[k];
        EXPECT_LE(std::fabs(v->row(i)[k] - want), 1e-6 * std::fabs(want))
            << words_[i] << "[" << k << "]: " << v->row(i)[k] << " vs " << want;
      }
    }
  }
}

TEST_F(VectorsTest, SaveLeavesNoTemporaryFiles) {
  const Table table = MakeTable(5);
  ASSERT_TRUE(SaveVectors(dir_ + "/a.bin", VectorFormat::kBinary, vocab_, table).ok());
  ASSERT_TRUE(SaveVectors(dir_ + "/b.txt", VectorFormat::kText, vocab_, table).ok());
  // Overwriting an existing file.
  ASSERT_TRUE(SaveVectors(dir_ + "/a.bin", VectorFormat::kBinary, vocab_, table).ok());
  EXPECT_EQ(ListDir(), (std::vector<std::string>{"a.bin", "b.txt"}));
  struct stat st;
  ASSERT_EQ(::stat((dir_ + "/a.bin").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_NE(st.st_mode & S_IRUSR, 0u);
}

TEST_F(VectorsTest, SaveIntoMissingDirectoryFails) {
  const Table table = MakeTable(5);
  const std::string path = dir_ + "/missing/dir/v.bin";
  const Status s = SaveVectors(path, VectorFormat::kBinary, vocab_, table);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find(path), std::string::npos) << s.message();
  EXPECT_FALSE(fs::exists(path));
  // Saving onto a directory fails too.
  fs::create_directory(dir_ + "/adir");
  const Status d = SaveVectors(dir_ + "/adir", VectorFormat::kText, vocab_, table);
  EXPECT_FALSE(d.ok());
  EXPECT_TRUE(fs::is_directory(dir_ + "/adir"));
  EXPECT_EQ(ListDir(), (std::vector<std::string>{"adir"}));
}

bool GensimAvailable() {
  return std::system("/usr/bin/python3 -c 'import gensim' >/dev/null 2>&1") == 0;
}

// Runs gensim on `path` and returns "count dim v0 v1 v2" for `word`.
std::string GensimRead(const std::string& path, bool binary, const std::string& word) {
  const std::string cmd =
      "/usr/bin/python3 -c \"from gensim.models import KeyedVectors; "
      "kv=KeyedVectors.load_word2vec_format('" +
      path + "', binary=" + (binary ? "True" : "False") +
      "); print(len(kv), kv.vector_size, ' '.join(map(str, kv['" + word + "'][:3])))\" 2>&1";
  std::FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return "";
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  const int rc = ::pclose(p);
  EXPECT_EQ(rc, 0) << out;
  return out;
}

TEST_F(VectorsTest, GensimReadsWhatWeWrite) {
  if (!GensimAvailable()) GTEST_SKIP() << "/usr/bin/python3 cannot import gensim";
  const size_t dim = 7;
  Table table = MakeTable(dim);
  // Plain magnitudes for the queried row, so str() of float32 parses back.
  for (size_t k = 0; k < dim; ++k) table.row(2)[k] = 0.25f * static_cast<float>(k) - 0.3f;
  for (const bool binary : {true, false}) {
    const std::string path = dir_ + (binary ? "/g.bin" : "/g.txt");
    ASSERT_TRUE(SaveVectors(path, FormatForPath(path), vocab_, table).ok());
    const std::string out = GensimRead(path, binary, "queen");
    std::istringstream in(out);
    size_t count = 0, vector_size = 0;
    in >> count >> vector_size;
    ASSERT_TRUE(in) << out;
    EXPECT_EQ(count, words_.size()) << out;
    EXPECT_EQ(vector_size, dim) << out;
    for (size_t k = 0; k < 3; ++k) {
      std::string text;
      ASSERT_TRUE(in >> text) << out;
      const float got = std::strtof(text.c_str(), nullptr);
      const float want = table.row(2)[k];
      EXPECT_LE(std::fabs(got - want), 1e-6 * std::fabs(want) + 1e-12)
          << (binary ? "binary" : "text") << " [" << k << "]: " << got << " vs " << want;
    }
  }
}

TEST_F(VectorsTest, LoadReadsEitherFormatWhateverTheName) {
  const Table table = MakeTable(4);
  ASSERT_TRUE(SaveVectors(dir_ + "/text.bin", VectorFormat::kText, vocab_, table).ok());
  ASSERT_TRUE(SaveVectors(dir_ + "/binary.txt", VectorFormat::kBinary, vocab_, table).ok());
  for (const char* name : {"text.bin", "binary.txt"}) {
    Result<Vectors> v = Vectors::Load(dir_ + "/" + name);
    ASSERT_TRUE(v.ok()) << name << ": " << v.status().ToString();
    ASSERT_EQ(v->size(), words_.size());
    for (size_t i = 0; i < words_.size(); ++i) {
      EXPECT_EQ(v->word(i), words_[i]);
      for (size_t k = 0; k < 4; ++k) {
        EXPECT_LE(std::fabs(v->row(i)[k] - table.row(i)[k]), 1e-6 * std::fabs(table.row(i)[k]));
      }
    }
  }
}

TEST_F(VectorsTest, TextWithCrlfLineEndingsAndTrailingSpacesLoads) {
  const std::string path = Write("crlf.txt",
                                 "2 3\r\n"
                                 "a 0.5 -1.25 3 \r\n"
                                 "b 1e-3 2.5e+2 -0\r\n");
  Result<Vectors> v = Vectors::Load(path);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  ASSERT_EQ(v->size(), 2u);
  EXPECT_EQ(v->word(0), "a");
  EXPECT_EQ(v->word(1), "b");
  EXPECT_EQ(v->row(0)[1], -1.25f);
  EXPECT_EQ(v->row(0)[2], 3.0f);
  EXPECT_EQ(v->row(1)[0], 1e-3f);
  EXPECT_EQ(v->row(1)[1], 250.0f);
}

TEST_F(VectorsTest, LowercaseIndexAndNormalize) {
  const std::string path = Write("v.txt",
                                 "4 2\n"
                                 "Paris 3 4\n"
                                 "paris 1 0\n"
                                 "zero 0 0\n"
                                 "Berlin 0 -2\n");
  Result<Vectors> v = Vectors::Load(path);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  // The earlier row wins a shared lowercase form; rows past `limit` are out.
  const auto index = v->LowercaseIndex(3);
  EXPECT_EQ(index.size(), 2u);
  EXPECT_EQ(index.at("paris"), 0u);
  EXPECT_EQ(index.count("berlin"), 0u);
  EXPECT_EQ(v->LowercaseIndex(100).at("berlin"), 3u);
  v->Normalize();
  EXPECT_FLOAT_EQ(v->row(0)[0], 0.6f);
  EXPECT_FLOAT_EQ(v->row(0)[1], 0.8f);
  EXPECT_EQ(v->row(2)[0], 0.0f);
  EXPECT_EQ(v->row(2)[1], 0.0f);
  EXPECT_FLOAT_EQ(v->row(3)[1], -1.0f);
}

TEST_F(VectorsTest, MissingPathAndDirectory) {
  ExpectLoadFails(dir_ + "/no_such_file.bin", "missing path");
  fs::create_directory(dir_ + "/subdir");
  ExpectLoadFails(dir_ + "/subdir", "directory");
}

TEST_F(VectorsTest, MalformedHeaders) {
  ExpectLoadFails(Write("empty.bin", ""), "empty file");
  ExpectLoadFails(Write("abc.bin", "abc"), "header abc without newline");
  ExpectLoadFails(Write("abc_nl.bin", "abc\n"), "header abc");
  ExpectLoadFails(Write("one_number.txt", "5\nx 1\n"), "header with one number");
  ExpectLoadFails(Write("three_numbers.txt", "1 1 1\nx 1\n"), "header with three numbers");
  ExpectLoadFails(Write("zero_words.txt", "0 5\n"), "header 0 5");
  ExpectLoadFails(Write("zero_dim.txt", "3 0\na\nb\nc\n"), "header 3 0");
  ExpectLoadFails(Write("negative.txt", "-1 5\na 1 2 3 4 5\n"), "negative word count");
}

TEST_F(VectorsTest, HugeHeaderFailsFastWithoutAllocating) {
  // Each must fail within ExpectLoadFails' one second: allocating what the
  // header claims (up to terabytes) is not an option.
  ExpectLoadFails(Write("huge.bin", "1000000000 100000\nw 1 2 3\n"), "1e9 words of 1e5 dims");
  ExpectLoadFails(Write("huge_dim_ok.bin", "1000000000 300\nw 1 2 3\n"), "1e9 words of 300 dims");
  ExpectLoadFails(Write("huge_words.txt", "4000000000 65536\nw 1\n"), "4e9 words of 65536 dims");
  ExpectLoadFails(Write("overflow.bin", "18446744073709551615 18446744073709551615\nw 1\n"),
                  "2^64-1 words and dims");
  ExpectLoadFails(Write("max.bin", "4294967296 65536\nw 1\n"), "2^32 words of 65536 dims");
}

TEST_F(VectorsTest, TruncatedBinaryBody) {
  const Table table = MakeTable(16);
  const std::string path = dir_ + "/full.bin";
  ASSERT_TRUE(SaveVectors(path, VectorFormat::kBinary, vocab_, table).ok());
  const std::string bytes = ReadFile(path);
  // Cut inside the last row's floats, inside the last word, and mid-file.
  for (size_t cut : {size_t{5}, size_t{4 * 16 + 2}, bytes.size() / 2}) {
    const std::string p =
        Write("cut" + std::to_string(cut) + ".bin", bytes.substr(0, bytes.size() - cut));
    ExpectLoadFails(p, "binary cut by " + std::to_string(cut) + " bytes");
  }
  // A header that claims one word more than the file holds.
  std::string more = bytes;
  more.replace(0, 1, "9");
  ExpectLoadFails(Write("more.bin", more), "binary with one word fewer than its header");
}

TEST_F(VectorsTest, TruncatedText) {
  ExpectLoadFails(Write("short.txt",
                        "5 3\n"
                        "a 0.1234567 -0.7654321 0.5\n"
                        "b 0.2234567 -0.6654321 0.25\n"
                        "c 0.3234567 -0.5654321 0.125\n"),
                  "text with 3 of 5 rows");
  ExpectLoadFails(Write("short_row.txt",
                        "3 3\n"
                        "a 0.1234567 -0.7654321 0.5\n"
                        "b 0.2234567 -0.6654321 0.25\n"
                        "c 0.3234567 -0.56"),
                  "text cut inside the last row");
}

TEST_F(VectorsTest, TextRowWithTooFewNumbers) {
  // In a later row.
  ExpectLoadFails(Write("few_later.txt",
                        "3 3\n"
                        "a 0.1234567 -0.7654321 0.5\n"
                        "b 0.2234567 -0.6654321\n"
                        "c 0.3234567 -0.5654321 0.125\n"),
                  "second row has 2 of 3 numbers");
  // In the last row.
  ExpectLoadFails(Write("few_last.txt",
                        "3 3\n"
                        "a 0.1234567 -0.7654321 0.5\n"
                        "b 0.2234567 -0.6654321 0.25\n"
                        "c 0.3234567 -0.5654321\n"),
                  "last row has 2 of 3 numbers");
  // In the first row of a file long enough to hold the header's words as
  // binary records.
  ExpectLoadFails(Write("few_first.txt",
                        "3 3\n"
                        "a 0.1234567 -0.7654321\n"
                        "b 0.2234567 -0.6654321 0.2500000\n"
                        "c 0.3234567 -0.5654321 0.1250000\n"),
                  "first row has 2 of 3 numbers");
  // A row with too many numbers.
  ExpectLoadFails(Write("many.txt",
                        "2 3\n"
                        "a 0.1234567 -0.7654321 0.5\n"
                        "b 0.2234567 -0.6654321 0.25 0.125\n"),
                  "second row has 4 of 3 numbers");
}

TEST_F(VectorsTest, TextNonNumericValue) {
  ExpectLoadFails(Write("nan_later.txt",
                        "3 3\n"
                        "a 0.1234567 -0.7654321 0.5\n"
                        "b 0.2234567 abc 0.25\n"
                        "c 0.3234567 -0.5654321 0.125\n"),
                  "non-numeric value in the second row");
  ExpectLoadFails(Write("inf_later.txt",
                        "2 3\n"
                        "a 0.1234567 -0.7654321 0.5\n"
                        "b 0.2234567 inf 0.25\n"),
                  "infinite value");
  ExpectLoadFails(Write("nan_value.txt",
                        "2 3\n"
                        "a 0.1234567 -0.7654321 0.5\n"
                        "b nan 0.5 0.25\n"),
                  "NaN value");
  // In the first row of a file long enough to hold the header's words as
  // binary records.
  ExpectLoadFails(Write("nan_first.txt",
                        "3 3\n"
                        "a 0.1234567 abc 0.5000000\n"
                        "b 0.2234567 -0.6654321 0.2500000\n"
                        "c 0.3234567 -0.5654321 0.1250000\n"),
                  "non-numeric value in the first row");
}

}  // namespace
}  // namespace deepdist::word2vec
