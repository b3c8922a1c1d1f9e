#include "deepdist/word2vec/vocabulary.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "src/core/atomic_file.h"
#include "src/core/input_file.h"
#include "src/word2vec/word_table.h"

namespace deepdist::word2vec {

Vocabulary::Vocabulary() : table_(std::make_unique<WordTable>()) {}
Vocabulary::~Vocabulary() = default;
Vocabulary::Vocabulary(Vocabulary&&) noexcept = default;
Vocabulary& Vocabulary::operator=(Vocabulary&&) noexcept = default;

const std::string& Vocabulary::word(int32_t id) const { return table_->word(id); }
int32_t Vocabulary::Find(std::string_view w) const { return table_->Find(w); }

Vocabulary Vocabulary::FromCounts(const std::vector<std::pair<std::string, uint64_t>>& counts,
                                  uint64_t corpus_words, const VocabularyOptions& options) {
  std::unordered_set<std::string> keep(options.keep_only.begin(), options.keep_only.end());
  std::vector<const std::pair<std::string, uint64_t>*> kept;
  for (const auto& wc : counts) {
    if (wc.second < options.min_count) continue;
    if (!keep.empty() && keep.count(wc.first) == 0) continue;
    kept.push_back(&wc);
  }
  std::sort(kept.begin(), kept.end(), [](const auto* a, const auto* b) {
    return a->second != b->second ? a->second > b->second : a->first < b->first;
  });
  if (options.max_vocab > 0 && kept.size() > options.max_vocab) kept.resize(options.max_vocab);
  Vocabulary v;
  v.corpus_words_ = corpus_words;
  v.counts_.reserve(kept.size());
  for (const auto* wc : kept) {
    v.table_->Insert(wc->first);
    v.counts_.push_back(wc->second);
    v.train_words_ += wc->second;
  }
  return v;
}

void WordCounts::Merge(const WordCounts& other) {
  std::unordered_map<std::string_view, size_t> index;
  index.reserve(words.size() + other.words.size());
  for (size_t i = 0; i < words.size(); ++i) index.emplace(words[i].first, i);
  std::vector<std::pair<std::string, uint64_t>> added;
  for (const auto& [word, count] : other.words) {
    auto it = index.find(word);
    if (it != index.end()) {
      words[it->second].second += count;
    } else {
      added.emplace_back(word, count);
    }
  }
  // Appended after the lookups: growing `words` would move the keys' strings.
  for (auto& wc : added) words.push_back(std::move(wc));
  tokens += other.tokens;
}

std::string WordCounts::Serialize() const {
  std::string out = std::to_string(tokens) + "\n";
  for (const auto& [word, count] : words) {
    out += word;
    out += ' ';
    out += std::to_string(count);
    out += '\n';
  }
  return out;
}

Result<WordCounts> WordCounts::Parse(std::string_view text) {
  WordCounts counts;
  auto bad = [] { return Status::Corruption("vocabulary: malformed word counts from a rank"); };
  auto number = [](std::string_view digits, uint64_t* value) {
    if (digits.empty()) return false;
    uint64_t v = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return false;
      v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    *value = v;
    return true;
  };
  size_t pos = text.find('\n');
  if (pos == std::string_view::npos || !number(text.substr(0, pos), &counts.tokens)) return bad();
  ++pos;
  while (pos < text.size()) {
    const size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) return bad();
    const std::string_view line = text.substr(pos, nl - pos);
    const size_t space = line.rfind(' ');
    uint64_t count = 0;
    if (space == std::string_view::npos || space == 0 || !number(line.substr(space + 1), &count)) {
      return bad();
    }
    counts.words.emplace_back(std::string(line.substr(0, space)), count);
    pos = nl + 1;
  }
  return counts;
}

Result<Vocabulary> Vocabulary::Count(const std::vector<PartitionSpec>& partitions,
                                     const VocabularyOptions& options) {
  Result<WordCounts> counts = CountWords(partitions, options.threads);
  if (!counts.ok()) return counts.status();
  return FromCounts(counts->words, counts->tokens, options);
}

Result<WordCounts> Vocabulary::CountWords(const std::vector<PartitionSpec>& partitions,
                                          size_t threads_wanted) {
  struct Local {
    WordTable table;
    std::vector<uint64_t> counts;
    uint64_t tokens = 0;
  };
  const size_t threads = std::max<size_t>(1, std::min(threads_wanted, partitions.size()));
  std::vector<Local> locals(threads);
  std::mutex error_mu;
  Status error;
  std::atomic<size_t> next{0};
  auto work = [&](Local& local) {
    for (;;) {
      const size_t p = next.fetch_add(1);
      if (p >= partitions.size()) return;
      Result<std::unique_ptr<PartitionReader>> reader = PartitionReader::Open(partitions[p]);
      Status s = reader.ok() ? (*reader)->ForEachChunk([&](std::string_view chunk) {
        Tokenize(
            chunk,
            [&](std::string_view w) {
              const int32_t id = local.table.Insert(w);
              if (static_cast<size_t>(id) == local.counts.size()) local.counts.push_back(0);
              ++local.counts[id];
              ++local.tokens;
            },
            [] {});
      })
                             : reader.status();
      if (!s.ok()) {
        std::lock_guard<std::mutex> lock(error_mu);
        if (error.ok()) error = s;
        return;
      }
    }
  };
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(work, std::ref(locals[t]));
  work(locals[0]);
  for (std::thread& t : pool) t.join();
  if (!error.ok()) return error;

  // Merge: reduce by key into the first table.
  Local& total = locals[0];
  for (size_t t = 1; t < threads; ++t) {
    Local& other = locals[t];
    for (int32_t id = 0; id < static_cast<int32_t>(other.table.size()); ++id) {
      const int32_t into = total.table.Insert(other.table.word(id));
      if (static_cast<size_t>(into) == total.counts.size()) total.counts.push_back(0);
      total.counts[into] += other.counts[id];
    }
    total.tokens += other.tokens;
    other = Local();
  }
  WordCounts counts;
  counts.tokens = total.tokens;
  counts.words.reserve(total.table.size());
  for (int32_t id = 0; id < static_cast<int32_t>(total.table.size()); ++id) {
    counts.words.emplace_back(std::move(total.table.words()[id]), total.counts[id]);
  }
  return counts;
}

Result<Vocabulary> Vocabulary::Load(const std::string& path, const VocabularyOptions& options) {
  DD_RETURN_IF_ERROR(CheckInputFile(path));
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError(path + ": cannot open for reading");
  std::vector<std::pair<std::string, uint64_t>> counts;
  std::unordered_set<std::string> seen;
  std::string line;
  size_t line_no = 0;
  uint64_t total = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find('\0') != std::string::npos)
      return Status::Corruption(path + ": is a binary file");
    std::istringstream fields(line);
    std::string word, count_text, extra;
    if (!(fields >> word)) continue;  // Blank line.
    char* end = nullptr;
    if (!(fields >> count_text) || (fields >> extra)) {
      return Status::Corruption(path + ": line " + std::to_string(line_no) +
                                ": expected \"word count\"");
    }
    errno = 0;
    const unsigned long long count = std::strtoull(count_text.c_str(), &end, 10);
    if (errno != 0 || *end != '\0' || count_text[0] == '-') {
      return Status::Corruption(path + ": line " + std::to_string(line_no) + ": bad count \"" +
                                count_text + "\"");
    }
    if (!seen.insert(word).second) {
      return Status::Corruption(path + ": line " + std::to_string(line_no) + ": word \"" + word +
                                "\" listed twice");
    }
    total += count;
    counts.emplace_back(std::move(word), count);
  }
  if (counts.empty()) return Status::Corruption(path + ": vocabulary file has no words");
  Vocabulary v = FromCounts(counts, 0, options);
  v.corpus_words_ = total;
  return v;
}

Status Vocabulary::Save(const std::string& path) const {
  AtomicFile out(path);
  DD_RETURN_IF_ERROR(out.Open());
  for (int32_t id = 0; id < static_cast<int32_t>(size()); ++id) {
    std::fprintf(out.stream(), "%s %llu\n", word(id).c_str(),
                 static_cast<unsigned long long>(counts_[id]));
  }
  return out.Commit();
}

Result<std::vector<std::string>> ReadWordList(const std::string& path) {
  DD_RETURN_IF_ERROR(CheckInputFile(path));
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError(path + ": cannot open for reading");
  std::vector<std::string> words;
  std::string line;
  while (std::getline(in, line)) {
    if (line.find('\0') != std::string::npos)
      return Status::Corruption(path + ": is a binary file");
    if (!line.empty() && line[0] == ':') continue;
    std::istringstream fields(line);
    std::string w;
    while (fields >> w) {
      std::string lower = w;
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      words.push_back(w);
      if (lower != w) words.push_back(lower);
    }
  }
  if (words.empty()) return Status::Corruption(path + ": word list is empty");
  return words;
}

}  // namespace deepdist::word2vec
