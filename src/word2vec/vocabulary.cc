#include "deepdist/word2vec/vocabulary.h"

#include <algorithm>
#include <atomic>
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

namespace {

// The threshold of the next pruning by word2vec.c's ReduceVocab rule: one
// more than the last one's (`threshold`, 0 before any). Rounds that would
// drop nothing (every count above their r) still count as prunings, as in
// word2vec.c, where each takes one new word; here they are passed over in
// one step to the smallest count, since a small table of frequent words
// would otherwise take one round per unit of their counts.
uint64_t NextThreshold(uint64_t smallest, uint64_t* prunes, uint64_t* threshold) {
  uint64_t r = *threshold + 1;
  if (smallest > r) {
    *prunes += smallest - r;
    r = smallest;
  }
  ++*prunes;
  *threshold = r;
  return r;
}

// One table of counts: a counting thread's, or the merged one. Never holds
// more than `bound` words (0: no limit): a new word that would not fit
// first prunes the table until it does.
struct Tally {
  WordTable table;
  std::vector<uint64_t> counts;  // By word id.
  uint64_t tokens = 0;
  size_t bound = 0;
  uint64_t prunes = 0;
  uint64_t prune_threshold = 0;  // The last pruning's r; 0: none.
  size_t peak = 0;               // The most words held.

  void Add(std::string_view w, uint64_t n) {
    int32_t id = table.Find(w);
    if (id < 0) {
      if (bound > 0 && table.size() >= bound) MakeRoom();
      id = table.Insert(w);
      counts.push_back(0);
      peak = std::max(peak, table.size());
    }
    counts[id] += n;
  }

  // word2vec.c's ReduceVocab, repeated with the next r until one more word
  // fits; in place, so that pruning needs no memory beyond the table's.
  void MakeRoom() {
    while (table.size() >= bound) {
      const uint64_t r =
          NextThreshold(*std::min_element(counts.begin(), counts.end()), &prunes, &prune_threshold);
      table.Retain([&](int32_t id) { return counts[id] > r; });
      counts.erase(std::remove_if(counts.begin(), counts.end(), [r](uint64_t c) { return c <= r; }),
                   counts.end());
    }
  }
};

}  // namespace

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

void WordCounts::Merge(const WordCounts& other, size_t max_entries) {
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
  prunes += other.prunes;
  prune_threshold = std::max(prune_threshold, other.prune_threshold);
  // Each side's peak was held by its own tables (another rank's, under
  // MPI), not together with this one's.
  peak_entries = std::max(peak_entries, other.peak_entries);
  // Pruned once merged, not while: both sides are in memory already, and
  // the same rule as counting's keeps the result independent of anything
  // but the counts and their order.
  Prune(max_entries);
}

void WordCounts::Prune(size_t max_entries) {
  if (max_entries == 0) return;
  while (words.size() > max_entries) {
    uint64_t smallest = words.front().second;
    for (const auto& wc : words) smallest = std::min(smallest, wc.second);
    const uint64_t r = NextThreshold(smallest, &prunes, &prune_threshold);
    words.erase(
        std::remove_if(words.begin(), words.end(), [r](const auto& wc) { return wc.second <= r; }),
        words.end());
  }
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
  Result<WordCounts> counts = CountWords(partitions, options.threads, options.max_entries);
  if (!counts.ok()) return counts.status();
  return FromCounts(counts->words, counts->tokens, options);
}

Result<WordCounts> Vocabulary::CountWords(const std::vector<PartitionSpec>& partitions,
                                          size_t threads_wanted, size_t max_entries) {
  const size_t threads = std::max<size_t>(1, std::min(threads_wanted, partitions.size()));
  std::vector<Tally> tallies(threads);
  // The bound is shared out, so that it holds for all threads together (as
  // `corpus phrases --max-entries` does): it is a bound on memory.
  if (max_entries > 0) {
    for (Tally& t : tallies) t.bound = std::max<size_t>(1, max_entries / threads);
  }
  std::mutex error_mu;
  Status error;
  std::atomic<size_t> next{0};
  auto work = [&](Tally& tally) {
    for (;;) {
      const size_t p = next.fetch_add(1);
      if (p >= partitions.size()) return;
      Result<std::unique_ptr<PartitionReader>> reader = PartitionReader::Open(partitions[p]);
      Status s = reader.ok() ? (*reader)->ForEachChunk([&](std::string_view chunk) {
        Tokenize(
            chunk,
            [&](std::string_view w) {
              tally.Add(w, 1);
              ++tally.tokens;
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
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(work, std::ref(tallies[t]));
  work(tallies[0]);
  for (std::thread& t : pool) t.join();
  if (!error.ok()) return error;

  // Merge: reduce by key into the first table, under the whole bound. Its
  // prunings go on from the highest r any thread used.
  Tally& total = tallies[0];
  size_t peak = total.peak;
  total.bound = max_entries;
  for (size_t t = 1; t < threads; ++t) {
    Tally& other = tallies[t];
    peak += other.peak;
    total.prunes += other.prunes;
    total.prune_threshold = std::max(total.prune_threshold, other.prune_threshold);
    for (int32_t id = 0; id < static_cast<int32_t>(other.table.size()); ++id) {
      total.Add(other.table.word(id), other.counts[id]);
    }
    total.tokens += other.tokens;
    other = Tally();
  }
  WordCounts counts;
  counts.tokens = total.tokens;
  counts.prunes = total.prunes;
  counts.prune_threshold = total.prune_threshold;
  counts.peak_entries = std::max(peak, total.peak);
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
