#include "src/corpus/phrases.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <thread>
#include <unordered_map>
#include <utility>

#include "deepdist/partition.h"
#include "src/core/atomic_file.h"
#include "src/core/input_file.h"
#include "src/word2vec/word_table.h"

namespace deepdist::corpus {

namespace {

constexpr int64_t kMinMaxEntries = 1000;
// Word ids are int32 and two of them make a pair's key.
constexpr int64_t kMaxMaxEntries = int64_t{1} << 31;
constexpr int64_t kMaxPasses = 10;
constexpr int64_t kMaxThreads = 4096;
// Each counting thread reads at least this much, and may hold at least this
// many entries: small inputs and small --max-entries use fewer threads.
constexpr uint64_t kMinBytesPerThread = 4096;
constexpr uint64_t kMinEntriesPerThread = 256;
// How much of the input is sniffed for binary data.
constexpr size_t kSniffBytes = 64 * 1024;
// The rewritten text is written in pieces of about this size.
constexpr size_t kWriteBytes = 1 << 20;
// Pair lookups are prefetched this many words ahead.
constexpr size_t kPrefetchAhead = 32;
// Words are counted in batches of up to this many (fewer for a small
// --max-entries): the table is pruned before a batch could take it past
// its bound.
constexpr size_t kCountBatch = 1024;
constexpr size_t kTopPhrases = 10;

uint64_t PairKey(uint32_t a, uint32_t b) { return uint64_t{a} << 32 | b; }
uint32_t FirstOf(uint64_t key) { return static_cast<uint32_t>(key >> 32); }
uint32_t SecondOf(uint64_t key) { return static_cast<uint32_t>(key); }

// SplitMix64's finaliser: consecutive word ids make keys that differ in few
// bits, and linear probing needs them spread.
uint64_t Mix(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Open addressing from a pair key to its count, with linear probing: 16
// bytes a slot, at most 70% of the slots used. There are far more distinct
// pairs than words, and std::unordered_map would spend a node allocation and
// about 40 more bytes on each.
class PairTable {
 public:
  size_t size() const { return size_; }

  // 0 when absent.
  uint64_t Find(uint64_t key) const {
    if (slots_.empty()) return 0;
    const size_t mask = slots_.size() - 1;
    for (size_t i = Mix(key) & mask;; i = (i + 1) & mask) {
      if (slots_[i].key == key) return slots_[i].count;
      if (slots_[i].key == kEmpty) return 0;
    }
  }

  // Starts loading the slot where `key`'s probe begins: a lookup in a table
  // of millions of pairs is a cache miss, and the next few are independent.
  void Prefetch(uint64_t key) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[Mix(key) & (slots_.size() - 1)]);
  }

  void Add(uint64_t key, uint64_t n) {
    if ((size_ + 1) * 10 > slots_.size() * 7) Resize(std::max<size_t>(1024, slots_.size() * 2));
    const size_t mask = slots_.size() - 1;
    for (size_t i = Mix(key) & mask;; i = (i + 1) & mask) {
      Slot& s = slots_[i];
      if (s.key == key) {
        s.count += n;
        return;
      }
      if (s.key == kEmpty) {
        s = {key, n};
        ++size_;
        return;
      }
    }
  }

  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (const Slot& s : slots_) {
      if (s.key != kEmpty) fn(s.key, s.count);
    }
  }

  // Keeps the pairs keep(key, count) accepts, under the keys rekey(key)
  // gives (distinct keys must stay distinct), in a table sized for them.
  template <typename Keep, typename Rekey>
  void Rebuild(Keep&& keep, Rekey&& rekey) {
    size_t kept = 0;
    for (Slot& s : slots_) {
      if (s.key == kEmpty) continue;
      if (keep(s.key, s.count)) {
        s.key = rekey(s.key);
        ++kept;
      } else {
        s.key = kEmpty;
      }
    }
    size_t capacity = 1024;
    while (kept * 10 > capacity * 7) capacity *= 2;
    Resize(capacity);
  }

 private:
  // A word id is below 2^31, so no pair has this key.
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  struct Slot {
    uint64_t key;
    uint64_t count;
  };

  void Resize(size_t capacity) {
    std::vector<Slot> old(capacity, Slot{kEmpty, 0});
    old.swap(slots_);
    size_ = 0;
    const size_t mask = slots_.size() - 1;
    for (const Slot& s : old) {
      if (s.key == kEmpty) continue;
      size_t i = Mix(s.key) & mask;
      while (slots_[i].key != kEmpty) i = (i + 1) & mask;
      slots_[i] = s;
      ++size_;
    }
  }

  std::vector<Slot> slots_;
  size_t size_ = 0;
};

}  // namespace

// The counts of one text, or of one thread's part of it while counting.
struct PhraseCounts::Tables {
  word2vec::WordTable words;
  std::vector<uint64_t> word_counts;  // By word id.
  PairTable pairs;                    // Keys: PairKey(first word's id, second's).
  uint64_t total_words = 0;
  uint64_t prune_threshold = 0;
  uint64_t peak_entries = 0;

  uint64_t entries() const { return words.size() + pairs.size(); }

  uint32_t AddWord(std::string_view w, uint64_t n) {
    const int32_t id = words.Insert(w);
    if (static_cast<size_t>(id) == word_counts.size()) word_counts.push_back(0);
    word_counts[id] += n;
    return static_cast<uint32_t>(id);
  }

  uint64_t WordCount(int32_t id) const { return id < 0 ? 0 : word_counts[id]; }

  // word2phrase's ReduceVocab: drops the words and pairs counted at most
  // `threshold` times (and the pairs of dropped words, which would have no
  // key). Returns each old word id's new one, -1 for the dropped.
  std::vector<int32_t> Prune(uint64_t threshold) {
    std::vector<int32_t> ids(words.size(), -1);
    word2vec::WordTable kept;
    std::vector<uint64_t> kept_counts;
    for (size_t id = 0; id < words.size(); ++id) {
      if (word_counts[id] <= threshold) continue;
      ids[id] = kept.Insert(words.word(static_cast<int32_t>(id)));
      kept_counts.push_back(word_counts[id]);
    }
    words = std::move(kept);
    word_counts = std::move(kept_counts);
    pairs.Rebuild(
        [&](uint64_t key, uint64_t count) {
          return count > threshold && ids[FirstOf(key)] >= 0 && ids[SecondOf(key)] >= 0;
        },
        [&](uint64_t key) {
          return PairKey(static_cast<uint32_t>(ids[FirstOf(key)]),
                         static_cast<uint32_t>(ids[SecondOf(key)]));
        });
    return ids;
  }
};

PhraseCounts::PhraseCounts(std::unique_ptr<Tables> tables) : tables_(std::move(tables)) {}
PhraseCounts::~PhraseCounts() = default;
PhraseCounts::PhraseCounts(PhraseCounts&&) noexcept = default;
PhraseCounts& PhraseCounts::operator=(PhraseCounts&&) noexcept = default;

uint64_t PhraseCounts::total_words() const { return tables_->total_words; }
size_t PhraseCounts::unique_words() const { return tables_->words.size(); }
size_t PhraseCounts::unique_bigrams() const { return tables_->pairs.size(); }
uint64_t PhraseCounts::prune_threshold() const { return tables_->prune_threshold; }
uint64_t PhraseCounts::peak_entries() const { return tables_->peak_entries; }

uint64_t PhraseCounts::Count(std::string_view word) const {
  return tables_->WordCount(tables_->words.Find(word));
}

uint64_t PhraseCounts::Count(std::string_view a, std::string_view b) const {
  const int32_t first = tables_->words.Find(a);
  const int32_t second = tables_->words.Find(b);
  if (first < 0 || second < 0) return 0;
  return tables_->pairs.Find(PairKey(static_cast<uint32_t>(first), static_cast<uint32_t>(second)));
}

Status ValidatePhraseOptions(const PhraseOptions& o) {
  if (o.min_count < 1) {
    return Status::InvalidArgument("--min-count: must be at least 1, not " +
                                   std::to_string(o.min_count));
  }
  if (!(o.threshold > 0) || !std::isfinite(o.threshold)) {
    char value[32];
    std::snprintf(value, sizeof(value), "%g", o.threshold);
    return Status::InvalidArgument(std::string("--threshold: must be a number above 0, not ") +
                                   value);
  }
  if (o.passes < 1 || o.passes > kMaxPasses) {
    return Status::InvalidArgument("--passes: must be between 1 and " + std::to_string(kMaxPasses) +
                                   ", not " + std::to_string(o.passes));
  }
  if (o.threads < 1 || o.threads > kMaxThreads) {
    return Status::InvalidArgument("--threads: must be between 1 and " +
                                   std::to_string(kMaxThreads));
  }
  if (o.max_entries < kMinMaxEntries || o.max_entries > kMaxMaxEntries) {
    return Status::InvalidArgument("--max-entries: must be between " +
                                   std::to_string(kMinMaxEntries) + " and 2^31, not " +
                                   std::to_string(o.max_entries));
  }
  return Status::OK();
}

double PhraseScore(uint64_t count_a, uint64_t count_b, uint64_t count_ab, uint64_t total_words,
                   uint64_t min_count) {
  if (count_a == 0 || count_b == 0 || count_a < min_count || count_b < min_count) return 0;
  return (static_cast<double>(count_ab) - static_cast<double>(min_count)) /
         (static_cast<double>(count_a) * static_cast<double>(count_b)) *
         static_cast<double>(total_words);
}

namespace {

using Tables = PhraseCounts::Tables;

// The checks before reading `path`; returns its size.
Result<uint64_t> CheckText(const std::string& path) {
  DD_RETURN_IF_ERROR(CheckInputFile(path));
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError(path + ": cannot open for reading");
  std::string head(kSniffBytes, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  if (head.empty()) return Status::Corruption(path + ": is empty");
  if (LooksBinary(head)) return Status::Corruption(path + ": is a binary file, not text");
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return Status::IOError(path + ": cannot stat");
  return static_cast<uint64_t>(st.st_size);
}

// One thread's byte range: its counts, and what the merge needs to count
// the pair that may straddle it and the next range.
struct RangeCount {
  std::unique_ptr<Tables> tables = std::make_unique<Tables>();
  bool has_words = false;
  std::string first_word;
  std::string last_word;
  bool newline_before_first = false;  // Or anywhere, when the range has no words.
  bool newline_after_last = false;
};

// Splits `text` into its words, an empty view standing for each line end.
void Tokens(std::string_view text, std::vector<std::string_view>* tokens) {
  tokens->clear();
  Tokenize(
      text, [&](std::string_view w) { tokens->push_back(w); }, [&] { tokens->emplace_back(); });
}

Status CountRange(const PartitionSpec& spec, uint64_t max_entries, RangeCount* out) {
  Result<std::unique_ptr<PartitionReader>> reader = PartitionReader::Open(spec);
  if (!reader.ok()) return reader.status();
  Tables& t = *out->tables;
  // A batch adds at most two entries a word.
  const size_t batch = std::clamp<size_t>(max_entries / 8, 1, kCountBatch);
  int64_t previous = -1;    // Id of the word before, on the same line.
  uint64_t next_prune = 1;  // The threshold of the next pruning.
  std::vector<std::string_view> tokens;
  std::vector<int32_t> ids;
  Status read = (*reader)->ForEachChunk([&](std::string_view chunk) {
    Tokens(chunk, &tokens);
    for (size_t begin = 0; begin < tokens.size(); begin += batch) {
      const size_t end = std::min(tokens.size(), begin + batch);
      if (t.entries() + 2 * (end - begin) > max_entries) {
        t.peak_entries = std::max(t.peak_entries, t.entries());
        do {
          const std::vector<int32_t> kept = t.Prune(next_prune);
          if (previous >= 0) previous = kept[previous];
          t.prune_threshold = next_prune++;
        } while (t.entries() + 2 * (end - begin) > max_entries);
      }
      ids.resize(end - begin);
      for (size_t i = begin; i < end; ++i) {
        ids[i - begin] = tokens[i].empty() ? -1 : static_cast<int32_t>(t.AddWord(tokens[i], 1));
      }
      for (size_t i = begin; i < end; ++i) {
        const size_t ahead = i - begin + kPrefetchAhead;
        if (ahead < ids.size() && ids[ahead - 1] >= 0 && ids[ahead] >= 0) {
          t.pairs.Prefetch(
              PairKey(static_cast<uint32_t>(ids[ahead - 1]), static_cast<uint32_t>(ids[ahead])));
        }
        const int32_t id = ids[i - begin];
        if (id < 0) {
          previous = -1;
          if (!out->has_words) out->newline_before_first = true;
          out->newline_after_last = true;
          continue;
        }
        if (previous >= 0) {
          t.pairs.Add(PairKey(static_cast<uint32_t>(previous), static_cast<uint32_t>(id)), 1);
        }
        previous = id;
        ++t.total_words;
        if (!out->has_words) {
          out->has_words = true;
          out->first_word = tokens[i];
        }
        out->newline_after_last = false;
      }
    }
    // Views into the chunk die with it: the last word is kept as a copy.
    for (auto it = tokens.rbegin(); it != tokens.rend(); ++it) {
      if (!it->empty()) {
        out->last_word = *it;
        break;
      }
    }
  });
  t.peak_entries = std::max(t.peak_entries, t.entries());
  return read;
}

// Adds the other ranges' counts into the first's, then the pairs that
// straddle two ranges, and returns the first's tables.
std::unique_ptr<Tables> Merge(std::vector<RangeCount>& ranges) {
  Tables& into = *ranges[0].tables;
  uint64_t peak = into.peak_entries;
  for (size_t r = 1; r < ranges.size(); ++r) {
    const Tables& other = *ranges[r].tables;
    peak += other.peak_entries;
    std::vector<uint32_t> ids(other.words.size());
    for (size_t id = 0; id < ids.size(); ++id) {
      ids[id] = into.AddWord(other.words.word(static_cast<int32_t>(id)), other.word_counts[id]);
    }
    other.pairs.ForEach([&](uint64_t key, uint64_t count) {
      into.pairs.Add(PairKey(ids[FirstOf(key)], ids[SecondOf(key)]), count);
    });
    into.total_words += other.total_words;
    into.prune_threshold = std::max(into.prune_threshold, other.prune_threshold);
    ranges[r].tables.reset();
  }
  // A range's last word pairs with the next words-bearing range's first
  // one when no line ends between them. Pruning may have dropped either
  // word, and with it the pair.
  const std::string* carry = nullptr;  // The last word before, on the same line.
  for (const RangeCount& range : ranges) {
    if (!range.has_words) {
      if (range.newline_before_first) carry = nullptr;
      continue;
    }
    if (carry != nullptr && !range.newline_before_first) {
      const int32_t a = into.words.Find(*carry);
      const int32_t b = into.words.Find(range.first_word);
      if (a >= 0 && b >= 0) {
        into.pairs.Add(PairKey(static_cast<uint32_t>(a), static_cast<uint32_t>(b)), 1);
      }
    }
    carry = range.newline_after_last ? nullptr : &range.last_word;
  }
  into.peak_entries = std::max(peak, into.entries());
  return std::move(ranges[0].tables);
}

// Rewrites words and line ends as they come, joining phrases with
// word2phrase's decisions.
class Joiner {
 public:
  Joiner(const Tables& tables, const PhraseOptions& options)
      : tables_(tables),
        min_count_(static_cast<uint64_t>(options.min_count)),
        threshold_(options.threshold) {}

  // Appends `tokens` (words; an empty one ends a line) to `out`, each word
  // after '_' when it joins the word before and ' ' when it does not.
  void Rewrite(const std::vector<std::string_view>& tokens, std::string* out) {
    ids_.resize(tokens.size());
    counts_.resize(tokens.size());
    for (size_t i = 0; i < tokens.size(); ++i) {
      ids_[i] = tokens[i].empty() ? -1 : tables_.words.Find(tokens[i]);
      counts_[i] = tables_.WordCount(ids_[i]);
    }
    for (size_t i = 0; i < tokens.size(); ++i) {
      const size_t ahead = i + kPrefetchAhead;
      if (ahead < tokens.size() && Frequent(ahead - 1) && Frequent(ahead)) {
        tables_.pairs.Prefetch(
            PairKey(static_cast<uint32_t>(ids_[ahead - 1]), static_cast<uint32_t>(ids_[ahead])));
      }
      if (tokens[i].empty()) {
        EndLine(out);
      } else {
        Word(tokens[i], ids_[i], counts_[i], out);
      }
    }
  }

  void EndLine(std::string* out) {
    out->push_back('\n');
    line_started_ = false;
    previous_ = -1;
  }

  bool line_started() const { return line_started_; }
  // Times each pair was joined.
  const std::unordered_map<uint64_t, uint64_t>& joined() const { return joined_; }

 private:
  bool Frequent(size_t i) const { return ids_[i] >= 0 && counts_[i] >= min_count_; }

  void Word(std::string_view w, int32_t id, uint64_t count, std::string* out) {
    const bool frequent = id >= 0 && count >= min_count_;
    bool join = false;
    if (previous_ >= 0 && frequent) {
      const uint64_t key = PairKey(static_cast<uint32_t>(previous_), static_cast<uint32_t>(id));
      join = PhraseScore(previous_count_, count, tables_.pairs.Find(key), tables_.total_words,
                         min_count_) > threshold_;
      if (join) ++joined_[key];
    }
    if (line_started_) out->push_back(join ? '_' : ' ');
    out->append(w);
    line_started_ = true;
    // A word joined to the one before starts no pair of its own; a word
    // below min_count starts none that could score.
    previous_ = !join && frequent ? id : -1;
    previous_count_ = count;
  }

  const Tables& tables_;
  const uint64_t min_count_;
  const double threshold_;
  int64_t previous_ = -1;  // The word before, when it may start a pair.
  uint64_t previous_count_ = 0;
  bool line_started_ = false;
  std::unordered_map<uint64_t, uint64_t> joined_;
  std::vector<int32_t> ids_;  // Of the tokens being rewritten; -1: none.
  std::vector<uint64_t> counts_;
};

// Writes the text of `path` through `joiner` to `out`; write errors name
// `output`.
Status RewriteFile(const std::string& path, Joiner* joiner, std::FILE* out,
                   const std::string& output) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return Status::IOError(path + ": cannot stat");
  const auto size = static_cast<uint64_t>(st.st_size);
  Result<std::unique_ptr<PartitionReader>> reader =
      PartitionReader::Open(PartitionSpec{path, 0, size, false, size});
  if (!reader.ok()) return reader.status();
  std::string text;
  std::vector<std::string_view> tokens;
  int write_error = 0;
  auto write = [&] {
    if (write_error == 0 && std::fwrite(text.data(), 1, text.size(), out) != text.size()) {
      write_error = errno != 0 ? errno : EIO;
    }
    text.clear();
  };
  DD_RETURN_IF_ERROR((*reader)->ForEachChunk([&](std::string_view chunk) {
    if (write_error != 0) return;
    Tokens(chunk, &tokens);
    joiner->Rewrite(tokens, &text);
    if (text.size() >= kWriteBytes) write();
  }));
  if (joiner->line_started()) joiner->EndLine(&text);
  write();
  if (write_error == 0 && std::fflush(out) != 0) write_error = errno;
  if (write_error != 0) {
    return Status::IOError(output + ": write failed: " + std::strerror(write_error));
  }
  return Status::OK();
}

// A pass's text before the last pass: a temporary file beside the output,
// removed when the object goes.
class ScratchFile {
 public:
  ScratchFile() = default;
  ~ScratchFile() {
    if (file_ != nullptr) std::fclose(file_);
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;

  Status Create(const std::string& output) {
    std::string pattern = output + ".pass.tmp.XXXXXX";
    const int fd = ::mkstemp(pattern.data());
    if (fd < 0) return Status::IOError(output + ": cannot write: " + std::strerror(errno));
    path_ = pattern;
    file_ = ::fdopen(fd, "wb");
    if (file_ == nullptr) {
      const int error = errno;
      ::close(fd);
      return Status::IOError(output + ": cannot write: " + std::strerror(error));
    }
    return Status::OK();
  }

  // Closes the file for writing (RewriteFile flushed it).
  Status Close(const std::string& output) {
    const bool failed = std::fclose(file_) != 0;
    file_ = nullptr;
    if (failed) return Status::IOError(output + ": write failed: " + std::strerror(errno));
    return Status::OK();
  }

  std::FILE* stream() { return file_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
};

// The best-scoring phrases `joiner` joined, best first; ties by text, so
// that the word ids (which depend on the thread count) do not matter.
std::vector<Phrase> TopPhrases(const Tables& t, const Joiner& joiner, uint64_t min_count) {
  std::vector<Phrase> all;
  all.reserve(joiner.joined().size());
  for (const auto& [key, joined] : joiner.joined()) {
    const auto a = static_cast<int32_t>(FirstOf(key));
    const auto b = static_cast<int32_t>(SecondOf(key));
    const uint64_t count = t.pairs.Find(key);
    all.push_back({t.words.word(a) + "_" + t.words.word(b),
                   PhraseScore(t.word_counts[a], t.word_counts[b], count, t.total_words, min_count),
                   count, joined});
  }
  const size_t n = std::min(kTopPhrases, all.size());
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n), all.end(),
                    [](const Phrase& x, const Phrase& y) {
                      return x.score != y.score ? x.score > y.score : x.text < y.text;
                    });
  all.resize(n);
  return all;
}

}  // namespace

Result<PhraseCounts> CountPhrases(const std::string& path, const PhraseOptions& options) {
  DD_RETURN_IF_ERROR(ValidatePhraseOptions(options));
  Result<uint64_t> size = CheckText(path);
  if (!size.ok()) return size.status();
  const uint64_t threads = std::max<uint64_t>(
      1, std::min({static_cast<uint64_t>(options.threads), *size / kMinBytesPerThread,
                   static_cast<uint64_t>(options.max_entries) / kMinEntriesPerThread}));
  // Less one for each pair that straddles two ranges, added by the merge.
  const uint64_t max_entries = static_cast<uint64_t>(options.max_entries) / threads - 1;
  std::vector<RangeCount> ranges(threads);
  std::vector<Status> read(threads);
  auto count = [&](size_t r) {
    const uint64_t begin = *size * r / threads;
    const uint64_t end = *size * (r + 1) / threads;
    read[r] =
        CountRange(PartitionSpec{path, begin, end, false, end - begin}, max_entries, &ranges[r]);
  };
  std::vector<std::thread> pool;
  for (size_t r = 1; r < threads; ++r) pool.emplace_back(count, r);
  count(0);
  for (std::thread& t : pool) t.join();
  for (const Status& s : read) DD_RETURN_IF_ERROR(s);
  std::unique_ptr<Tables> tables = Merge(ranges);
  if (tables->total_words == 0) return Status::Corruption(path + ": has no words");
  return PhraseCounts(std::move(tables));
}

std::string JoinLine(std::string_view line, const PhraseCounts& counts,
                     const PhraseOptions& options) {
  Joiner joiner(counts.tables(), options);
  std::vector<std::string_view> tokens;
  Tokens(line, &tokens);
  std::string out;
  joiner.Rewrite(tokens, &out);
  return out;
}

Result<PhraseStats> FindPhrases(const PhraseOptions& options, const std::string& input,
                                const std::string& output) {
  DD_RETURN_IF_ERROR(ValidatePhraseOptions(options));
  if (output.empty()) return Status::InvalidArgument("--output: is empty");
  if (Result<uint64_t> size = CheckText(input); !size.ok()) return size.status();
  AtomicFile out(output);
  DD_RETURN_IF_ERROR(out.Open());
  PhraseStats stats;
  std::unique_ptr<ScratchFile> source_file;  // The text of the pass before.
  for (int64_t pass = 0; pass < options.passes; ++pass) {
    const auto start = std::chrono::steady_clock::now();
    const std::string& source = source_file ? source_file->path() : input;
    Result<PhraseCounts> counts = CountPhrases(source, options);
    if (!counts.ok()) return counts.status();
    const bool last = pass + 1 == options.passes;
    std::unique_ptr<ScratchFile> next;
    if (!last) {
      next = std::make_unique<ScratchFile>();
      DD_RETURN_IF_ERROR(next->Create(output));
    }
    Joiner joiner(counts->tables(), options);
    DD_RETURN_IF_ERROR(RewriteFile(source, &joiner, last ? out.stream() : next->stream(), output));
    if (!last) DD_RETURN_IF_ERROR(next->Close(output));
    PassStats p;
    p.words = counts->total_words();
    p.unique_words = counts->unique_words();
    p.unique_bigrams = counts->unique_bigrams();
    p.prune_threshold = counts->prune_threshold();
    for (const auto& [key, joined] : joiner.joined()) p.phrases_joined += joined;
    p.distinct_phrases = joiner.joined().size();
    p.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    stats.passes.push_back(p);
    if (last) {
      stats.top = TopPhrases(counts->tables(), joiner, static_cast<uint64_t>(options.min_count));
    }
    source_file = std::move(next);
  }
  DD_RETURN_IF_ERROR(out.Commit());
  return stats;
}

}  // namespace deepdist::corpus
