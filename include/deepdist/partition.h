// Input partitioning: turning --input paths into partitions workers can read.
//
// A path may be a plain file (split into byte ranges, as HDFS and Spark split
// text), a directory of part files (names starting with '_' or '.', such as
// _SUCCESS and .crc files, are skipped), or a .gz file (one whole partition:
// gzip streams cannot be entered in the middle). A byte range owns the words
// (or, when splitting by lines, the lines) that start inside it, so every word
// of the input lands in exactly one partition and none is cut in two.
//
// PartitionReader streams one partition as chunks of text that each end on a
// word boundary. It is not thread-safe; each worker opens its own.
#ifndef DEEPDIST_PARTITION_H_
#define DEEPDIST_PARTITION_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "deepdist/status.h"

namespace deepdist {

struct PartitionSpec {
  std::string path;
  uint64_t begin = 0;  // Byte range of the file; ignored for .gz files.
  uint64_t end = 0;
  bool gzip = false;
  uint64_t size_hint = 0;  // Bytes (compressed for .gz) for balancing and progress.
};

enum class SplitOn { kWords, kLines };

struct PartitionOptions {
  // Aim for about this many partitions in all (at least one per file).
  size_t target_partitions = 1;
  SplitOn split_on = SplitOn::kWords;
  // Reject files that look binary (NUL bytes or mostly invalid UTF-8).
  bool reject_binary = true;
};

// Expands `inputs` and splits them. Errors name the path: missing, unreadable,
// empty (no input bytes at all), binary.
[[nodiscard]] Result<std::vector<PartitionSpec>> ListPartitions(
    const std::vector<std::string>& inputs, const PartitionOptions& options);

// True when `bytes` look like binary data rather than text in any script.
bool LooksBinary(std::string_view bytes);

// A seeded train/test split that needs no pass over the data: true when a
// hash of `seed` and the line's text (without surrounding blanks or a
// trailing '\r') falls below `fraction`, so every worker, rank and run
// agrees on which lines are held out (about that fraction of them;
// identical lines land on the same side).
bool IsHeldOutLine(std::string_view line, uint64_t seed, double fraction);

inline bool IsSpace(char c) {
  return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

class PartitionReader {
 public:
  virtual ~PartitionReader() = default;
  // Opens a partition; `split_on` must match how it was listed.
  [[nodiscard]] static Result<std::unique_ptr<PartitionReader>> Open(
      const PartitionSpec& spec, SplitOn split_on = SplitOn::kWords);

  // Calls `fn` with consecutive chunks of the partition's text; each chunk
  // ends at a word boundary (lines mode: at a line end) or at the input's end.
  // Stops early and returns the error on a read failure (truncated .gz, ...).
  [[nodiscard]] virtual Status ForEachChunk(const std::function<void(std::string_view)>& fn) = 0;
};

// Calls on_word for each whitespace-separated word of `text` and on_newline
// for each '\n' (a sentence ends there).
template <typename OnWord, typename OnNewline>
void Tokenize(std::string_view text, OnWord&& on_word, OnNewline&& on_newline) {
  const char* p = text.data();
  const char* end = p + text.size();
  while (p < end) {
    while (p < end && IsSpace(*p)) {
      if (*p == '\n') on_newline();
      ++p;
    }
    const char* start = p;
    while (p < end && !IsSpace(*p)) ++p;
    if (p > start) on_word(std::string_view(start, static_cast<size_t>(p - start)));
  }
}

}  // namespace deepdist

#endif  // DEEPDIST_PARTITION_H_
