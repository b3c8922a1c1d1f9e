// Vocabulary counting, filtering, ordering, Save/Load and ReadWordList against
// a plain reference count.
#include "deepdist/word2vec/vocabulary.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "deepdist/partition.h"
#include "tests/test_support.h"

namespace deepdist::word2vec {
namespace {

namespace fs = std::filesystem;

using WordCounts = std::vector<std::pair<std::string, uint64_t>>;

// Byte order: compares as unsigned char, whatever the sign of char.
bool ByteLess(const std::string& a, const std::string& b) {
  const size_t n = std::min(a.size(), b.size());
  const int c = std::memcmp(a.data(), b.data(), n);
  return c != 0 ? c < 0 : a.size() < b.size();
}

// The reference: a std::map over whitespace-split words.
struct Reference {
  std::map<std::string, uint64_t> counts;
  uint64_t tokens = 0;

  void Add(const std::string& text) {
    std::istringstream in(text);  // operator>> splits on isspace: " \t\n\v\f\r".
    std::string w;
    while (in >> w) {
      ++counts[w];
      ++tokens;
    }
  }

  // Kept words in the expected order: descending count, ties in byte order.
  WordCounts Expected(uint64_t min_count, size_t max_vocab = 0,
                      const std::vector<std::string>& keep_only = {}) const {
    WordCounts out;
    for (const auto& [w, c] : counts) {
      if (c < min_count) continue;
      if (!keep_only.empty() &&
          std::find(keep_only.begin(), keep_only.end(), w) == keep_only.end()) {
        continue;
      }
      out.emplace_back(w, c);
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
      return a.second != b.second ? a.second > b.second : ByteLess(a.first, b.first);
    });
    if (max_vocab > 0 && out.size() > max_vocab) out.resize(max_vocab);
    return out;
  }
};

WordCounts Contents(const Vocabulary& v) {
  WordCounts out;
  for (int32_t id = 0; id < static_cast<int32_t>(v.size()); ++id) {
    out.emplace_back(v.word(id), v.count(id));
  }
  return out;
}

uint64_t Sum(const WordCounts& wc) {
  uint64_t s = 0;
  for (const auto& p : wc) s += p.second;
  return s;
}

class VocabularyTest : public testing_support::TempDirTest {
 protected:
  VocabularyTest() : TempDirTest("deepdist_vocab_test_") {}

  // A Zipf-like corpus with mixed whitespace (spaces, tabs, CRLF, blank lines),
  // UTF-8 words and counts of 1 that min_count filters; split over two files
  // of a directory. Adds every file's text to the reference.
  std::string WriteCorpus(Reference* ref) {
    std::mt19937_64 rng(12345);
    std::vector<std::string> words;
    for (int i = 0; i < 80; ++i) words.push_back("w" + std::to_string(i));
    words.push_back("caf\xc3\xa9");        // café
    words.push_back("\xc3\xa9t\xc3\xa9");  // été
    words.push_back("Apple");
    words.push_back("apple");
    std::vector<double> weights;
    for (size_t i = 0; i < words.size(); ++i) weights.push_back(1.0 / (1.0 + i));
    std::discrete_distribution<size_t> pick(weights.begin(), weights.end());
    const char* seps[] = {" ", "  ", "\t", " \t "};
    const fs::path corpus = fs::path(dir_) / "corpus";
    fs::create_directory(corpus);
    for (int file = 0; file < 2; ++file) {
      std::string text;
      for (int line = 0; line < 400; ++line) {
        const int len = static_cast<int>(rng() % 25);
        if (rng() % 3 == 0) text += " ";
        for (int k = 0; k < len; ++k) {
          if (k > 0) text += seps[rng() % 4];
          text += words[pick(rng)];
        }
        text += rng() % 5 == 0 ? "\r\n" : "\n";
      }
      // Words that occur once, and a last word with no newline after it.
      text += "once" + std::to_string(file) + " rare" + std::to_string(file) + "\n\nlastword" +
              std::to_string(file);
      Write("corpus/part-" + std::to_string(file), text);
      ref->Add(text);
    }
    return corpus.string();
  }

  Result<Vocabulary> CountDir(const std::string& input, const VocabularyOptions& options,
                              size_t target_partitions) {
    PartitionOptions popts;
    popts.target_partitions = target_partitions;
    popts.split_on = SplitOn::kWords;
    Result<std::vector<PartitionSpec>> parts = ListPartitions({input}, popts);
    EXPECT_TRUE(parts.ok()) << parts.status().ToString();
    if (!parts.ok()) return parts.status();
    if (target_partitions > 2) EXPECT_GE(parts->size(), target_partitions - 1);
    return Vocabulary::Count(*parts, options);
  }
};

TEST_F(VocabularyTest, CountMatchesReference) {
  Reference ref;
  const std::string corpus = WriteCorpus(&ref);
  VocabularyOptions options;
  options.min_count = 1;
  Result<Vocabulary> v = CountDir(corpus, options, 3);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  const WordCounts expected = ref.Expected(1);
  ASSERT_EQ(v->size(), ref.counts.size());
  EXPECT_EQ(Contents(*v), expected);
  EXPECT_EQ(v->corpus_words(), ref.tokens);
  EXPECT_EQ(v->train_words(), ref.tokens);
  for (const auto& [w, c] : ref.counts) {
    const int32_t id = v->Find(w);
    ASSERT_GE(id, 0) << w;
    EXPECT_EQ(v->word(id), w);
    EXPECT_EQ(v->count(id), c) << w;
  }
  EXPECT_EQ(v->Find("not-in-corpus"), -1);
  EXPECT_EQ(v->Find(""), -1);
  // Case is kept: "Apple" and "apple" are two words.
  EXPECT_NE(v->Find("Apple"), v->Find("apple"));
}

TEST_F(VocabularyTest, MinCountDropsRareWordsButCountsAllTokens) {
  Reference ref;
  const std::string corpus = WriteCorpus(&ref);
  for (uint64_t min_count : {2u, 5u, 40u}) {
    VocabularyOptions options;
    options.min_count = min_count;
    Result<Vocabulary> v = CountDir(corpus, options, 2);
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    const WordCounts expected = ref.Expected(min_count);
    ASSERT_LT(expected.size(), ref.counts.size()) << "min_count " << min_count << " drops nothing";
    EXPECT_EQ(Contents(*v), expected) << "min_count " << min_count;
    EXPECT_EQ(v->corpus_words(), ref.tokens);
    EXPECT_EQ(v->train_words(), Sum(expected));
    EXPECT_EQ(v->Find("rare0"), -1);
    EXPECT_EQ(v->Find("lastword1"), -1);
    for (int32_t id = 0; id < static_cast<int32_t>(v->size()); ++id) {
      EXPECT_GE(v->count(id), min_count);
    }
  }
}

TEST_F(VocabularyTest, OrderIsDescendingCountWithTiesInByteOrder) {
  // Counts: b 3, a 3, "\xc3\xa9" 3, Z 3, c 5, d 1, e 2.
  // Byte order among the 3s: "Z" (0x5A) < "a" < "b" < "\xc3\xa9" (0xC3).
  const std::string path =
      Write("ties.txt", "b a \xc3\xa9 Z c\nc b a \xc3\xa9 Z\nc c d e e\nb a \xc3\xa9 Z c\n");
  VocabularyOptions options;
  options.min_count = 1;
  Result<Vocabulary> v = CountDir(path, options, 1);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  const WordCounts expected = {{"c", 5},        {"Z", 3}, {"a", 3}, {"b", 3},
                               {"\xc3\xa9", 3}, {"e", 2}, {"d", 1}};
  EXPECT_EQ(Contents(*v), expected);
  for (int32_t id = 0; id < static_cast<int32_t>(v->size()); ++id)
    EXPECT_EQ(v->Find(v->word(id)), id);
}

TEST_F(VocabularyTest, MaxVocabKeepsTheMostFrequent) {
  Reference ref;
  const std::string corpus = WriteCorpus(&ref);
  for (size_t max_vocab : {1u, 3u, 17u}) {
    VocabularyOptions options;
    options.min_count = 2;
    options.max_vocab = max_vocab;
    Result<Vocabulary> v = CountDir(corpus, options, 4);
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    const WordCounts expected = ref.Expected(2, max_vocab);
    ASSERT_EQ(expected.size(), max_vocab);
    EXPECT_EQ(Contents(*v), expected);
    EXPECT_EQ(v->train_words(), Sum(expected));
    EXPECT_EQ(v->corpus_words(), ref.tokens);
    // Every dropped word is no more frequent than the least frequent kept one.
    const uint64_t least = v->count(static_cast<int32_t>(v->size() - 1));
    for (const auto& [w, c] : ref.counts) {
      if (v->Find(w) < 0) {
        EXPECT_LE(c, least) << w;
      }
    }
  }
  // A limit above the vocabulary size keeps everything.
  VocabularyOptions options;
  options.min_count = 1;
  options.max_vocab = 100000;
  Result<Vocabulary> v = CountDir(corpus, options, 1);
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(Contents(*v), ref.Expected(1));
}

TEST_F(VocabularyTest, KeepOnlyRestrictsTheWords) {
  Reference ref;
  const std::string corpus = WriteCorpus(&ref);
  // w3 and w40 are in the corpus; "rare1" is below min_count; "absent" is not
  // in the corpus; "APPLE" differs from "Apple" and "apple" in case.
  const std::vector<std::string> keep = {"w40", "rare1", "absent", "w3", "apple", "APPLE"};
  VocabularyOptions options;
  options.min_count = 2;
  options.keep_only = keep;
  Result<Vocabulary> v = CountDir(corpus, options, 7);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  const WordCounts expected = ref.Expected(2, 0, keep);
  ASSERT_EQ(expected.size(), 3u);
  EXPECT_EQ(Contents(*v), expected);
  EXPECT_EQ(v->Find("rare1"), -1);
  EXPECT_EQ(v->Find("absent"), -1);
  EXPECT_EQ(v->Find("Apple"), -1);
  EXPECT_EQ(v->Find("w0"), -1);
  EXPECT_EQ(v->train_words(), Sum(expected));
  EXPECT_EQ(v->corpus_words(), ref.tokens);

  // keep_only and max_vocab together: the most frequent of the kept words.
  options.max_vocab = 2;
  Result<Vocabulary> top = CountDir(corpus, options, 7);
  ASSERT_TRUE(top.ok());
  EXPECT_EQ(Contents(*top), ref.Expected(2, 2, keep));
}

// Threads and partitioning must not change the result.
class VocabularyParallelTest : public VocabularyTest,
                               public ::testing::WithParamInterface<std::tuple<size_t, size_t>> {};

TEST_P(VocabularyParallelTest, SameResultForAnyThreadsAndPartitions) {
  const auto [threads, target_partitions] = GetParam();
  Reference ref;
  const std::string corpus = WriteCorpus(&ref);
  // A single file too, so that one file is split into byte ranges.
  std::string whole;
  for (const char* part : {"part-0", "part-1"}) {
    whole += testing_support::ReadFile(corpus + "/" + part) + "\n";
  }
  const std::string single = Write("single.txt", whole);
  for (const std::string& input : {corpus, single}) {
    VocabularyOptions options;
    options.min_count = 2;
    options.threads = threads;
    Result<Vocabulary> v = CountDir(input, options, target_partitions);
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    EXPECT_EQ(Contents(*v), ref.Expected(2)) << input;
    EXPECT_EQ(v->corpus_words(), ref.tokens) << input;
    EXPECT_EQ(v->train_words(), Sum(ref.Expected(2))) << input;
  }
}

INSTANTIATE_TEST_SUITE_P(ThreadsAndPartitions, VocabularyParallelTest,
                         ::testing::Combine(::testing::Values(size_t{1}, size_t{4}),
                                            ::testing::Values(size_t{1}, size_t{7})));

TEST_F(VocabularyTest, FromCountsAppliesTheSameFilters) {
  const WordCounts counts = {{"x", 4}, {"y", 9}, {"z", 4}, {"w", 1}, {"v", 4}};
  VocabularyOptions options;
  options.min_count = 2;
  options.max_vocab = 3;
  const Vocabulary v = Vocabulary::FromCounts(counts, 123, options);
  const WordCounts expected = {{"y", 9}, {"v", 4}, {"x", 4}};
  EXPECT_EQ(Contents(v), expected);
  EXPECT_EQ(v.corpus_words(), 123u);
  EXPECT_EQ(v.train_words(), 17u);
}

TEST_F(VocabularyTest, SaveThenLoadRoundTrips) {
  Reference ref;
  const std::string corpus = WriteCorpus(&ref);
  VocabularyOptions options;
  options.min_count = 1;
  Result<Vocabulary> v = CountDir(corpus, options, 3);
  ASSERT_TRUE(v.ok());
  const std::string path = dir_ + "/vocab.txt";
  ASSERT_TRUE(v->Save(path).ok());

  // The file is "word count" lines in id order.
  std::ifstream in(path, std::ios::binary);
  std::string line;
  int32_t id = 0;
  while (std::getline(in, line)) {
    ASSERT_LT(id, static_cast<int32_t>(v->size()));
    EXPECT_EQ(line, v->word(id) + " " + std::to_string(v->count(id)));
    ++id;
  }
  EXPECT_EQ(id, static_cast<int32_t>(v->size()));

  Result<Vocabulary> loaded = Vocabulary::Load(path, options);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(Contents(*loaded), Contents(*v));
  EXPECT_EQ(loaded->train_words(), v->train_words());
  for (const auto& [w, c] : ref.counts) EXPECT_EQ(loaded->Find(w), v->Find(w)) << w;

  // Loading applies the filters too.
  VocabularyOptions strict;
  strict.min_count = 3;
  strict.max_vocab = 10;
  Result<Vocabulary> filtered = Vocabulary::Load(path, strict);
  ASSERT_TRUE(filtered.ok());
  EXPECT_EQ(Contents(*filtered), ref.Expected(3, 10));

  // Saving over an existing file replaces it and leaves no temporary file.
  ASSERT_TRUE(filtered->Save(path).ok());
  Result<Vocabulary> again = Vocabulary::Load(path, options);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(Contents(*again), ref.Expected(3, 10));
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir_)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"corpus", "vocab.txt"}));
}

TEST_F(VocabularyTest, SaveIntoMissingDirectoryFails) {
  const Vocabulary v = Vocabulary::FromCounts({{"a", 3}}, 3, VocabularyOptions{});
  const std::string path = dir_ + "/no/such/dir/vocab.txt";
  const Status s = v.Save(path);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find(path), std::string::npos) << s.message();
}

TEST_F(VocabularyTest, LoadErrorsNameTheFile) {
  VocabularyOptions options;
  options.min_count = 1;
  struct Case {
    const char* name;
    const char* text;
  };
  const Case cases[] = {
      {"three_fields.txt", "the 10\nof 7 extra\n"},
      {"not_a_number.txt", "the 10\nof seven\n"},
      {"negative.txt", "the 10\nof -7\n"},
      {"trailing_junk.txt", "the 10\nof 7x\n"},
      {"one_field.txt", "the 10\nof\n"},
      {"twice.txt", "the 10\nof 7\nthe 3\n"},
      {"empty.txt", ""},
  };
  for (const Case& c : cases) {
    const std::string path = Write(c.name, c.text);
    Result<Vocabulary> v = Vocabulary::Load(path, options);
    EXPECT_FALSE(v.ok()) << c.name;
    EXPECT_NE(v.status().message().find(path), std::string::npos)
        << c.name << ": " << v.status().message();
  }
  // Errors in a line also give its number.
  Result<Vocabulary> twice = Vocabulary::Load(dir_ + "/twice.txt", options);
  EXPECT_NE(twice.status().message().find("line 3"), std::string::npos) << twice.status().message();
  Result<Vocabulary> three = Vocabulary::Load(dir_ + "/three_fields.txt", options);
  EXPECT_NE(three.status().message().find("line 2"), std::string::npos) << three.status().message();

  const std::string missing = dir_ + "/missing.txt";
  Result<Vocabulary> m = Vocabulary::Load(missing, options);
  EXPECT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find(missing), std::string::npos) << m.status().message();

  // Blank lines are allowed.
  const std::string blank = Write("blank.txt", "the 10\n\n  \nof 7\n");
  Result<Vocabulary> b = Vocabulary::Load(blank, options);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(Contents(*b), (WordCounts{{"the", 10}, {"of", 7}}));
}

TEST_F(VocabularyTest, ReadWordListSkipsSectionsAndAddsLowercase) {
  const std::string path = Write("words.txt",
                                 ": capital-common-countries\n"
                                 "Athens Greece baghdad\tIraq\n"
                                 "\n"
                                 ": family\n"
                                 "boy girl  Brother\n"
                                 "  :notasection\n");
  Result<std::vector<std::string>> words = ReadWordList(path);
  ASSERT_TRUE(words.ok()) << words.status().ToString();
  const std::vector<std::string> expected = {"Athens",  "athens",  "Greece",  "greece",
                                             "baghdad", "Iraq",    "iraq",    "boy",
                                             "girl",    "Brother", "brother", ":notasection"};
  EXPECT_EQ(*words, expected);
  for (const std::string& w : *words) {
    EXPECT_NE(w, ":") << "a section header was read as words";
    EXPECT_NE(w, "capital-common-countries");
    EXPECT_NE(w, "family");
  }

  // The list restricts a vocabulary the way --vocab-words does.
  VocabularyOptions options;
  options.min_count = 1;
  options.keep_only = *words;
  const Vocabulary v = Vocabulary::FromCounts(
      {{"athens", 5}, {"Athens", 2}, {"family", 9}, {"boy", 1}, {"ATHENS", 4}}, 21, options);
  EXPECT_EQ(Contents(v), (WordCounts{{"athens", 5}, {"Athens", 2}, {"boy", 1}}));

  const std::string missing = dir_ + "/missing.txt";
  Result<std::vector<std::string>> m = ReadWordList(missing);
  EXPECT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find(missing), std::string::npos);
  const std::string only_sections = Write("sections.txt", ": a\n: b\n");
  Result<std::vector<std::string>> e = ReadWordList(only_sections);
  EXPECT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find(only_sections), std::string::npos);
}

}  // namespace
}  // namespace deepdist::word2vec
