#include "deepdist/partition.h"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <system_error>

namespace deepdist {

namespace fs = std::filesystem;

namespace {

constexpr size_t kSniffBytes = 64 * 1024;

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Reads up to kSniffBytes of the file's text (decompressed for .gz).
Result<std::string> Sniff(const std::string& path, bool gzip) {
  // Read into an uninitialized buffer: most files checked are far shorter
  // than kSniffBytes, and zero-filling 64 KiB per file costs more than reading.
  std::unique_ptr<char[]> buf(new char[kSniffBytes]);
  if (gzip) {
    gzFile f = gzopen(path.c_str(), "rb");
    if (f == nullptr) return Status::IOError(path + ": cannot open");
    gzbuffer(f, 16 * 1024);
    int n = gzread(f, buf.get(), static_cast<unsigned>(kSniffBytes));
    int err = 0;
    gzerror(f, &err);
    gzclose(f);
    if (n < 0 || err != Z_OK)
      return Status::Corruption(path + ": truncated or corrupt gzip stream");
    return std::string(buf.get(), static_cast<size_t>(n));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError(path + ": cannot open for reading");
  in.read(buf.get(), static_cast<std::streamsize>(kSniffBytes));
  return std::string(buf.get(), static_cast<size_t>(in.gcount()));
}

bool Skipped(const fs::path& p) {
  const std::string name = p.filename().string();
  return name.empty() || name[0] == '_' || name[0] == '.';
}

}  // namespace

bool LooksBinary(std::string_view bytes) {
  if (bytes.find('\0') != std::string_view::npos) return true;
  size_t invalid = 0;
  size_t i = 0;
  const size_t n = bytes.size();
  // A sample may cut the last character; do not count that against it.
  const size_t limit = n > 3 ? n - 3 : 0;
  while (i < limit) {
    const unsigned char c = static_cast<unsigned char>(bytes[i]);
    size_t len = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0 && c >= 0xC2) {
      len = 2;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
    } else if ((c & 0xF8) == 0xF0 && c <= 0xF4) {
      len = 4;
    }
    bool ok = len > 0;
    for (size_t k = 1; ok && k < len; ++k) {
      ok = (static_cast<unsigned char>(bytes[i + k]) & 0xC0) == 0x80;
    }
    if (ok) {
      i += len;
    } else {
      ++invalid;
      ++i;
    }
  }
  return limit > 0 && invalid * 3 > limit;  // More than a third of the bytes invalid.
}

Result<std::vector<PartitionSpec>> ListPartitions(const std::vector<std::string>& inputs,
                                                  const PartitionOptions& options) {
  if (inputs.empty()) return Status::InvalidArgument("--input: no input given");
  struct FileEntry {
    std::string path;
    uint64_t size;
    bool gzip;
    bool in_directory;  // Spark writes empty part files; those are skipped.
  };
  std::vector<FileEntry> files;
  for (const std::string& input : inputs) {
    std::error_code ec;
    fs::file_status st = fs::status(input, ec);
    if (ec || !fs::exists(st)) return Status::NotFound(input + ": no such file or directory");
    std::vector<fs::path> candidates;
    if (fs::is_directory(st)) {
      for (const fs::directory_entry& e : fs::directory_iterator(input, ec)) {
        if (e.is_regular_file() && !Skipped(e.path())) candidates.push_back(e.path());
      }
      if (ec) return Status::IOError(input + ": cannot list directory: " + ec.message());
      std::sort(candidates.begin(), candidates.end());
      if (candidates.empty()) return Status::Corruption(input + ": directory has no input files");
    } else {
      candidates.emplace_back(input);
    }
    for (const fs::path& p : candidates) {
      const std::string path = p.string();
      const uint64_t size = fs::file_size(p, ec);
      if (ec) return Status::IOError(path + ": cannot read size: " + ec.message());
      files.push_back({path, size, EndsWith(path, ".gz"), candidates.size() > 1 || p != input});
    }
  }

  uint64_t total = 0;
  std::vector<FileEntry> nonempty;
  for (const FileEntry& f : files) {
    Result<std::string> head = Sniff(f.path, f.gzip);
    if (!head.ok()) return head.status();
    if (head->empty()) {
      if (f.in_directory) continue;
      return Status::Corruption(f.path + ": is empty");
    }
    if (options.reject_binary && LooksBinary(*head)) {
      return Status::Corruption(f.path + ": is a binary file, not text");
    }
    total += f.size;
    nonempty.push_back(f);
  }
  if (nonempty.empty()) return Status::Corruption(inputs.front() + ": input is empty");
  files.swap(nonempty);

  const size_t target = std::max<size_t>(1, options.target_partitions);
  const uint64_t split = std::max<uint64_t>(1, (total + target - 1) / target);
  std::vector<PartitionSpec> parts;
  for (const FileEntry& f : files) {
    if (f.gzip) {
      parts.push_back({f.path, 0, f.size, true, f.size});
      continue;
    }
    const uint64_t pieces = std::max<uint64_t>(1, (f.size + split / 2) / split);
    for (uint64_t k = 0; k < pieces; ++k) {
      const uint64_t b = f.size * k / pieces;
      const uint64_t e = f.size * (k + 1) / pieces;
      parts.push_back({f.path, b, e, false, e - b});
    }
  }
  return parts;
}

bool IsHeldOutLine(std::string_view line, uint64_t seed, double fraction) {
  if (fraction <= 0) return false;
  while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
  while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) {
    line.remove_suffix(1);
  }
  // SplitMix64's finaliser over the seed and each byte.
  auto mix = [](uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
  };
  uint64_t h = mix(seed);
  for (char c : line) h = mix(h ^ static_cast<unsigned char>(c));
  return static_cast<double>(h >> 11) * 0x1.0p-53 < fraction;
}

}  // namespace deepdist
