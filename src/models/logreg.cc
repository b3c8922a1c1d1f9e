#include "deepdist/logreg.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>

#include "src/core/atomic_file.h"
#include "src/core/input_file.h"

namespace deepdist::logreg {
namespace {

constexpr const char* kMagic = "deepdist-logreg";
constexpr int kVersion = 1;

bool Blank(std::string_view line) {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

bool Comment(std::string_view line) {
  const size_t at = line.find_first_not_of(" \t");
  return at != std::string_view::npos && line[at] == '#';
}

// The next whitespace-separated token of `line`, consumed.
std::string_view NextToken(std::string_view* line) {
  const size_t start = line->find_first_not_of(" \t\r");
  if (start == std::string_view::npos) {
    *line = {};
    return {};
  }
  const size_t end = line->find_first_of(" \t\r", start);
  const std::string_view token = line->substr(start, end - start);
  *line = end == std::string_view::npos ? std::string_view() : line->substr(end);
  return token;
}

// "token", quoted, for messages.
std::string Quoted(std::string_view token) {
  std::string q(1, '"');
  q.append(token);
  q.push_back('"');
  return q;
}

bool ParseNumber(std::string_view s, float* out) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size() && std::isfinite(*out);
}

}  // namespace

Status ParseLine(std::string_view line, Example* out) {
  out->index.clear();
  out->value.clear();
  // A trailing comment is libsvm's too.
  if (const size_t hash = line.find('#'); hash != std::string_view::npos) {
    line = line.substr(0, hash);
  }
  const std::string_view label = NextToken(&line);
  float y = 0;
  if (!ParseNumber(label, &y)) {
    return Status::InvalidArgument("label " + Quoted(label) + " is not a number");
  }
  out->positive = y > 0;
  uint64_t last = 0;
  for (std::string_view token = NextToken(&line); !token.empty(); token = NextToken(&line)) {
    const size_t colon = token.find(':');
    if (colon == std::string_view::npos) {
      return Status::InvalidArgument(Quoted(token) + " is not INDEX:VALUE");
    }
    uint64_t index = 0;
    const std::string_view digits = token.substr(0, colon);
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
    if (ec != std::errc() || end != digits.data() + digits.size() || index == 0 ||
        index > kMaxFeatures) {
      return Status::InvalidArgument(Quoted(token) +
                                     ": the index must be a whole number from 1 to 2^31");
    }
    if (index <= last) {
      return Status::InvalidArgument(Quoted(token) + ": indices must increase along the line");
    }
    last = index;
    float v = 0;
    if (!ParseNumber(token.substr(colon + 1), &v)) {
      return Status::InvalidArgument(Quoted(token) + ": the value is not a number");
    }
    out->index.push_back(static_cast<uint32_t>(index));
    out->value.push_back(v);
  }
  return Status::OK();
}

Result<Scan> ScanFile(const std::string& path) {
  if (Status s = CheckInputFile(path); !s.ok()) return s;
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError(path + ": cannot open for reading");
  Scan scan;
  std::string line;
  uint64_t number = 0;
  Example e;
  while (std::getline(in, line)) {
    ++number;
    if (line.find('\0') != std::string::npos) {
      return Status::Corruption(path + ":" + std::to_string(number) +
                                ": binary data, not libsvm text");
    }
    if (Blank(line) || Comment(line)) continue;
    if (Status s = ParseLine(line, &e); !s.ok()) {
      return Status::Corruption(path + ":" + std::to_string(number) + ": " + s.message());
    }
    if (!e.index.empty()) scan.max_index = std::max<uint64_t>(scan.max_index, e.index.back());
    ++scan.examples;
  }
  if (in.bad()) return Status::IOError(path + ": read error");
  if (scan.examples == 0) return Status::Corruption(path + ": no examples (empty file)");
  return scan;
}

Model NewModel(uint64_t features) {
  Model model;
  model.AddTable("w", RowOf(features) + 1, kWeightsPerRow);
  return model;
}

uint64_t FeaturesOf(const Model& model) { return model.table(0).rows() * kWeightsPerRow - 1; }

double Probability(const Model& model, const Example& example) {
  const Table& w = model.table(0);
  const uint64_t features = FeaturesOf(model);
  double z = w.row(0)[0];
  for (size_t k = 0; k < example.index.size(); ++k) {
    const uint64_t j = example.index[k];
    if (j <= features) z += w.row(RowOf(j))[ColumnOf(j)] * example.value[k];
  }
  return 1.0 / (1.0 + std::exp(-z));
}

std::vector<RowId> RowsOf(const std::vector<Example>& examples) {
  std::vector<RowId> rows = {0};
  for (const Example& e : examples) {
    for (uint32_t j : e.index) rows.push_back(RowOf(j));
  }
  std::sort(rows.begin(), rows.end());
  rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
  return rows;
}

Status Save(const std::string& path, const Model& model) {
  AtomicFile file(path);
  if (Status s = file.Open(); !s.ok()) return s;
  std::FILE* f = file.stream();
  const Table& w = model.table(0);
  const uint64_t features = FeaturesOf(model);
  std::fprintf(f, "%s %d %llu\n", kMagic, kVersion, static_cast<unsigned long long>(features));
  for (uint64_t j = 0; j <= features; ++j) {
    const float v = w.row(RowOf(j))[ColumnOf(j)];
    if (v != 0.0f) {
      std::fprintf(f, "%llu %.9g\n", static_cast<unsigned long long>(j), static_cast<double>(v));
    }
  }
  return file.Commit();
}

Result<Model> Load(const std::string& path) {
  if (Status s = CheckInputFile(path); !s.ok()) return s;
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError(path + ": cannot open for reading");
  std::string header;
  std::getline(in, header);
  std::istringstream h(header);
  std::string magic;
  int version = 0;
  uint64_t features = 0;
  if (!(h >> magic >> version >> features) || magic != kMagic) {
    return Status::Corruption(path + ": not a deepdist logistic regression model (bad header)");
  }
  if (version != kVersion) {
    return Status::Corruption(path + ": model file version " + std::to_string(version) +
                              ", this deepdist reads " + std::to_string(kVersion));
  }
  if (features > kMaxFeatures) return Status::Corruption(path + ": too many features");
  Model model = NewModel(features);
  Table& w = model.table(0);
  std::string line;
  uint64_t number = 1;
  while (std::getline(in, line)) {
    ++number;
    if (Blank(line)) continue;
    std::istringstream fields(line);
    uint64_t j = 0;
    std::string value;
    float v = 0;
    std::string rest;
    if (!(fields >> j >> value) || (fields >> rest) || j > features || !ParseNumber(value, &v)) {
      return Status::Corruption(path + ":" + std::to_string(number) +
                                ": expected INDEX WEIGHT, the index at most " +
                                std::to_string(features));
    }
    w.row(RowOf(j))[ColumnOf(j)] = v;
  }
  if (in.bad()) return Status::IOError(path + ": read error");
  return model;
}

}  // namespace deepdist::logreg
