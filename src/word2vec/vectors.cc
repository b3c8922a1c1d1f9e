#include "deepdist/word2vec/vectors.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <vector>

#include "deepdist/status.h"
#include "deepdist/word2vec/vocabulary.h"
#include "src/core/atomic_file.h"

namespace deepdist::word2vec {

namespace {

constexpr uint64_t kMaxDim = 1u << 16;
constexpr uint64_t kMaxWords = 1ull << 32;

bool EndsWith(const std::string& s, const char* suffix) {
  const size_t n = std::strlen(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

std::string Lower(std::string_view w) {
  std::string out(w);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

}  // namespace

VectorFormat FormatForPath(const std::string& path) {
  return EndsWith(path, ".txt") || EndsWith(path, ".vec") ? VectorFormat::kText
                                                          : VectorFormat::kBinary;
}

Status SaveVectors(const std::string& path, VectorFormat format, const Vocabulary& vocab,
                   const Table& table) {
  DD_CHECK(table.rows() == vocab.size());
  AtomicFile out(path);
  DD_RETURN_IF_ERROR(out.Open());
  std::FILE* f = out.stream();
  const size_t dim = table.dim();
  std::fprintf(f, "%zu %zu\n", vocab.size(), dim);
  for (size_t i = 0; i < vocab.size(); ++i) {
    const std::string& w = vocab.word(static_cast<int32_t>(i));
    std::fwrite(w.data(), 1, w.size(), f);
    const float* row = table.row(i);
    if (format == VectorFormat::kBinary) {
      std::fputc(' ', f);
      std::fwrite(row, sizeof(float), dim, f);  // Little-endian hosts only (x86, ARM).
    } else {
      for (size_t k = 0; k < dim; ++k) std::fprintf(f, " %.7g", static_cast<double>(row[k]));
    }
    std::fputc('\n', f);
  }
  return out.Commit();
}

Result<Vectors> Vectors::Load(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return Status::NotFound(path + ": no such file");
  if (S_ISDIR(st.st_mode)) return Status::IOError(path + ": is a directory");
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (!file) return Status::IOError(path + ": cannot open for reading");
  std::FILE* f = file.get();
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  if (file_size == 0) return Status::Corruption(path + ": is empty");

  // Header: "V D\n".
  char header[128];
  if (std::fgets(header, sizeof(header), f) == nullptr || std::strchr(header, '\n') == nullptr) {
    return Status::Corruption(path + ": bad header: expected \"<words> <dimensions>\"");
  }
  unsigned long long words = 0, dim = 0;
  char extra = 0;
  if (std::sscanf(header, "%llu %llu %c", &words, &dim, &extra) != 2) {
    return Status::Corruption(path + ": bad header: expected \"<words> <dimensions>\"");
  }
  if (words == 0 || dim == 0 || dim > kMaxDim || words > kMaxWords) {
    return Status::Corruption(path + ": header claims " + std::to_string(words) + " words of " +
                              std::to_string(dim) + " dimensions: out of range");
  }
  const uint64_t body = file_size - static_cast<uint64_t>(std::ftell(f));

  // The first record tells the format. Text: its line is the word and D
  // numbers. Binary: the byte after the word and its 4 * D bytes of floats is
  // the record's '\n'. Anything else is read as text, whose reader then
  // names the fault.
  const long record_start = std::ftell(f);
  bool text = true;
  {
    std::string line;
    int c;
    while ((c = std::fgetc(f)) != EOF && c != '\n' && line.size() < 64 * (dim + 2)) {
      line.push_back(static_cast<char>(c));
    }
    bool text_line = false;
    if (c == '\n') {
      const char* p = line.c_str();
      while (*p != 0 && *p != ' ') ++p;
      size_t numbers = 0;
      char* end = nullptr;
      for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\r') ++p;
        if (*p == 0) break;
        std::strtof(p, &end);
        if (end == p) break;
        ++numbers;
        p = end;
      }
      text_line = numbers == dim && *p == 0;
    }
    if (!text_line) {
      std::fseek(f, record_start, SEEK_SET);
      while ((c = std::fgetc(f)) != EOF && c != ' ' && c != '\n') {
      }
      std::vector<char> bytes(4 * dim + 1);
      if (c == ' ' && std::fread(bytes.data(), 1, bytes.size(), f) == bytes.size() &&
          bytes.back() == '\n') {
        text = false;
      }
    }
    std::fseek(f, record_start, SEEK_SET);
  }
  // Each record takes at least: a 1-byte word, a separator, the numbers.
  const uint64_t min_record = text ? 2 + 2 * dim : 2 + 4 * dim;
  if (words > body / min_record) {
    return Status::Corruption(path + ": truncated: header claims " + std::to_string(words) +
                              " words but the file is too short for them");
  }

  Vectors v;
  v.dim_ = dim;
  v.words_.reserve(words);
  v.data_.resize(words * dim);
  std::string word;
  for (uint64_t i = 0; i < words; ++i) {
    word.clear();
    int c;
    while ((c = std::fgetc(f)) == '\n' || c == '\r') {
    }
    while (c != EOF && c != ' ' && c != '\t') {
      if (c == '\n') {
        return Status::Corruption(path + ": word " + std::to_string(i + 1) + " has no vector");
      }
      word.push_back(static_cast<char>(c));
      if (word.size() > 10000)
        return Status::Corruption(path + ": word " + std::to_string(i + 1) + " is too long");
      c = std::fgetc(f);
    }
    if (c == EOF || word.empty()) {
      return Status::Corruption(path + ": truncated at word " + std::to_string(i + 1) + " of " +
                                std::to_string(words));
    }
    float* row = v.data_.data() + i * dim;
    if (!text) {
      if (std::fread(row, sizeof(float), dim, f) != dim) {
        return Status::Corruption(path + ": truncated at word " + std::to_string(i + 1) + " of " +
                                  std::to_string(words));
      }
    } else {
      for (uint64_t k = 0; k < dim; ++k) {
        if (std::fscanf(f, "%f", &row[k]) != 1) {
          return Status::Corruption(path + ": word " + std::to_string(i + 1) + " (\"" + word +
                                    "\"): expected " + std::to_string(dim) + " numbers");
        }
      }
      while ((c = std::fgetc(f)) == ' ' || c == '\t' || c == '\r') {
      }
      if (c != '\n' && c != EOF) {
        return Status::Corruption(path + ": word " + std::to_string(i + 1) + " (\"" + word +
                                  "\"): more than " + std::to_string(dim) + " numbers");
      }
    }
    for (uint64_t k = 0; k < dim; ++k) {
      if (!std::isfinite(row[k])) {
        return Status::Corruption(path + ": word " + std::to_string(i + 1) + " (\"" + word +
                                  "\"): not a finite number");
      }
    }
    v.index_.emplace(word, i);  // A repeated word keeps its first row.
    v.words_.push_back(word);
  }
  return v;
}

int64_t Vectors::Find(std::string_view word) const {
  auto it = index_.find(std::string(word));
  return it == index_.end() ? -1 : static_cast<int64_t>(it->second);
}

std::unordered_map<std::string, size_t> Vectors::LowercaseIndex(size_t limit) const {
  std::unordered_map<std::string, size_t> index;
  const size_t n = std::min(limit, words_.size());
  for (size_t i = 0; i < n; ++i) index.emplace(Lower(words_[i]), i);
  return index;
}

Vectors Vectors::FromTable(const Vocabulary& vocab, const Table& table, size_t limit) {
  DD_CHECK(table.rows() <= vocab.size());
  const size_t n = limit > 0 ? std::min(limit, table.rows()) : table.rows();
  Vectors v;
  v.dim_ = table.dim();
  v.words_.reserve(n);
  v.data_.resize(n * v.dim_);
  for (size_t i = 0; i < n; ++i) {
    const std::string& word = vocab.word(static_cast<int32_t>(i));
    v.index_.emplace(word, i);
    v.words_.push_back(word);
    std::copy_n(table.row(i), v.dim_, v.data_.data() + i * v.dim_);
  }
  return v;
}

void Vectors::Normalize() {
  for (size_t i = 0; i < words_.size(); ++i) {
    float* row = data_.data() + i * dim_;
    double sum = 0;
    for (size_t k = 0; k < dim_; ++k) sum += static_cast<double>(row[k]) * row[k];
    if (sum <= 0) continue;
    const float inv = static_cast<float>(1.0 / std::sqrt(sum));
    for (size_t k = 0; k < dim_; ++k) row[k] *= inv;
  }
}

}  // namespace deepdist::word2vec
