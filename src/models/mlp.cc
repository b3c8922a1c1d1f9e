#include "deepdist/mlp.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "deepdist/partition.h"
#include "src/core/atomic_file.h"
#include "src/core/input_file.h"

namespace deepdist::mlp {
namespace {

constexpr const char* kMagic = "deepdist-mlp";
constexpr int kVersion = 1;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

bool ParseFloat(std::string_view s, float* out) {
  s = Trim(s);
  if (s.empty()) return false;
  if (s.front() == '+') s.remove_prefix(1);
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size() && std::isfinite(*out);
}

// SplitMix64: a seeded hash of the line, for the split.
uint64_t Mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

size_t ColumnsOf(std::string_view line) {
  return static_cast<size_t>(std::count(line.begin(), line.end(), ',')) + 1;
}

bool Blank(std::string_view line) { return Trim(line).empty(); }

}  // namespace

Status ParseLine(std::string_view line, const Csv& csv, size_t columns, std::vector<float>* x,
                 int32_t* label) {
  line = Trim(line);
  if (ColumnsOf(line) != columns) {
    return Status::InvalidArgument(std::to_string(ColumnsOf(line)) + " columns, expected " +
                                   std::to_string(columns));
  }
  const size_t label_at =
      csv.label_column < 0 ? columns - 1 : static_cast<size_t>(csv.label_column);
  x->clear();
  size_t column = 0;
  while (true) {
    const size_t comma = line.find(',');
    const std::string_view field = line.substr(0, comma);
    float v = 0;
    if (!ParseFloat(field, &v)) {
      return Status::InvalidArgument("column " + std::to_string(column + 1) + ": \"" +
                                     std::string(Trim(field)) + "\" is not a number");
    }
    if (column == label_at) {
      if (v < 0 || v > 1e6f || v != std::floor(v)) {
        return Status::InvalidArgument("column " + std::to_string(column + 1) + ": label \"" +
                                       std::string(Trim(field)) +
                                       "\" is not a class number (0, 1, 2, ...)");
      }
      *label = static_cast<int32_t>(v);
    } else {
      x->push_back(v);
    }
    ++column;
    if (comma == std::string_view::npos) break;
    line.remove_prefix(comma + 1);
  }
  return Status::OK();
}

bool IsTestLine(std::string_view line, uint64_t seed, double test_fraction) {
  return IsHeldOutLine(line, seed, test_fraction);
}

Result<Examples> ReadCsv(const std::string& path, const ReadOptions& options) {
  if (Status s = CheckInputFile(path); !s.ok()) return s;
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError(path + ": cannot open for reading");
  Examples out;
  std::string line;
  size_t columns = 0;
  uint64_t number = 0;
  std::vector<float> x;
  while (std::getline(in, line)) {
    ++number;
    if (line.find('\0') != std::string::npos) {
      return Status::Corruption(path + ":" + std::to_string(number) +
                                ": binary data, not CSV text");
    }
    if (Blank(line)) continue;
    if (columns == 0) {
      columns = ColumnsOf(Trim(line));
      if (columns < 2) {
        return Status::Corruption(path + ":" + std::to_string(number) +
                                  ": one column; a feature and a label are needed");
      }
      if (options.csv.label_column >= static_cast<int64_t>(columns)) {
        return Status::InvalidArgument(
            "--label-column: " + std::to_string(options.csv.label_column) + " is past the " +
            std::to_string(columns) + " columns of " + path);
      }
      out.features = columns - 1;
    }
    int32_t label = 0;
    if (Status s = ParseLine(line, options.csv, columns, &x, &label); !s.ok()) {
      return Status::Corruption(path + ":" + std::to_string(number) + ": " + s.message());
    }
    if (options.split &&
        IsTestLine(line, options.seed, options.test_fraction) != options.test_side) {
      continue;
    }
    out.x.insert(out.x.end(), x.begin(), x.end());
    out.y.push_back(label);
  }
  if (in.bad()) return Status::IOError(path + ": read error");
  if (columns == 0) return Status::Corruption(path + ": no examples (empty file)");
  return out;
}

Model NewModel(const Architecture& arch, uint64_t seed) {
  Model model;
  uint64_t state = Mix(seed ^ 0x6D6C70ull);
  for (size_t l = 0; l < arch.layers(); ++l) {
    const size_t in = arch.inputs_of(l), out = arch.units_of(l);
    Table& t = model.table(model.AddTable("layer" + std::to_string(l), out, in + 1));
    const double limit = std::sqrt(6.0 / static_cast<double>(in + out));
    for (size_t r = 0; r < out; ++r) {
      for (size_t k = 0; k < in; ++k) {
        state = Mix(state);
        const double u = static_cast<double>(state >> 11) * 0x1.0p-53;  // [0, 1)
        t.row(r)[k] = static_cast<float>((2.0 * u - 1.0) * limit);
      }
    }
  }
  return model;
}

bool Fits(const Model& model, const Architecture& arch) {
  if (model.num_tables() != arch.layers()) return false;
  for (size_t l = 0; l < arch.layers(); ++l) {
    const Table& t = model.table(l);
    if (t.rows() != arch.units_of(l) || t.dim() != arch.inputs_of(l) + 1) return false;
  }
  return true;
}

namespace {

// Activations of every layer for one example: acts[0] the input, acts[l + 1]
// layer l's output (ReLU, or the softmax for the last).
void Forward(const Model& model, const Architecture& arch, const float* x,
             std::vector<std::vector<float>>* acts) {
  acts->resize(arch.layers() + 1);
  (*acts)[0].assign(x, x + arch.inputs);
  for (size_t l = 0; l < arch.layers(); ++l) {
    const Table& t = model.table(l);
    const std::vector<float>& in = (*acts)[l];
    std::vector<float>& out = (*acts)[l + 1];
    const size_t n = in.size();
    out.resize(t.rows());
    for (size_t r = 0; r < t.rows(); ++r) {
      const float* w = t.row(r);
      double z = w[n];
      for (size_t k = 0; k < n; ++k) z += static_cast<double>(w[k]) * in[k];
      out[r] = static_cast<float>(z);
    }
    if (l + 1 < arch.layers()) {
      for (float& v : out) v = std::max(v, 0.0f);
    } else {
      const float top = *std::max_element(out.begin(), out.end());
      double sum = 0;
      for (float& v : out) sum += (v = std::exp(v - top));
      for (float& v : out) v = static_cast<float>(v / sum);
    }
  }
}

}  // namespace

void Predict(const Model& model, const Architecture& arch, const float* x, float* probabilities) {
  std::vector<std::vector<float>> acts;
  Forward(model, arch, x, &acts);
  std::copy(acts.back().begin(), acts.back().end(), probabilities);
}

int32_t Classify(const Model& model, const Architecture& arch, const float* x) {
  std::vector<std::vector<float>> acts;
  Forward(model, arch, x, &acts);
  const std::vector<float>& p = acts.back();
  return static_cast<int32_t>(std::max_element(p.begin(), p.end()) - p.begin());
}

double Accuracy(const Model& model, const Architecture& arch, const Examples& examples) {
  if (examples.rows() == 0) return 0;
  size_t right = 0;
  for (size_t i = 0; i < examples.rows(); ++i) {
    right += Classify(model, arch, &examples.x[i * examples.features]) == examples.y[i];
  }
  return static_cast<double>(right) / static_cast<double>(examples.rows());
}

double LossAndGradient(const Model& model, const Architecture& arch, const float* x,
                       const int32_t* y, size_t n, std::vector<Table>* gradient) {
  if (gradient != nullptr) {
    gradient->clear();
    for (size_t l = 0; l < arch.layers(); ++l) {
      gradient->emplace_back(model.table(l).name(), model.table(l).rows(), model.table(l).dim());
    }
  }
  if (n == 0) return 0;
  std::vector<std::vector<float>> acts;
  std::vector<float> delta, below;
  double loss = 0;
  const float scale = 1.0f / static_cast<float>(n);
  for (size_t i = 0; i < n; ++i) {
    Forward(model, arch, x + i * arch.inputs, &acts);
    const std::vector<float>& p = acts.back();
    const size_t label = static_cast<size_t>(y[i]);
    loss -= std::log(std::max(p[label], 1e-30f));
    if (gradient == nullptr) continue;
    // d loss / d logits = p - onehot(label); then back through the layers.
    delta = p;
    delta[label] -= 1.0f;
    for (size_t l = arch.layers(); l-- > 0;) {
      const Table& t = model.table(l);
      Table& g = (*gradient)[l];
      const std::vector<float>& in = acts[l];
      const size_t m = in.size();
      for (size_t r = 0; r < t.rows(); ++r) {
        const float d = delta[r] * scale;
        if (d == 0) continue;
        float* gr = g.row(r);
        for (size_t k = 0; k < m; ++k) gr[k] += d * in[k];
        gr[m] += d;
      }
      if (l == 0) break;
      // The error of the layer below, through its ReLU.
      below.assign(m, 0.0f);
      for (size_t r = 0; r < t.rows(); ++r) {
        const float* w = t.row(r);
        for (size_t k = 0; k < m; ++k) below[k] += delta[r] * w[k];
      }
      for (size_t k = 0; k < m; ++k) {
        if (in[k] <= 0) below[k] = 0;
      }
      delta.swap(below);
    }
  }
  return loss / static_cast<double>(n);
}

Status Save(const std::string& path, const Model& model, const Architecture& arch) {
  if (!Fits(model, arch)) return Status::Internal(path + ": the model does not fit its layers");
  AtomicFile file(path);
  if (Status s = file.Open(); !s.ok()) return s;
  std::FILE* f = file.stream();
  std::fprintf(f, "%s %d %zu ", kMagic, kVersion, arch.inputs);
  for (size_t h = 0; h < arch.hidden.size(); ++h) {
    std::fprintf(f, h == 0 ? "%zu" : ",%zu", arch.hidden[h]);
  }
  std::fprintf(f, "%s %zu\n", arch.hidden.empty() ? "-" : "", arch.classes);
  for (size_t l = 0; l < arch.layers(); ++l) {
    const Table& t = model.table(l);
    for (size_t r = 0; r < t.rows(); ++r) {
      for (size_t k = 0; k < t.dim(); ++k) {
        // 9 significant digits read back as the same float.
        std::fprintf(f, k == 0 ? "%.9g" : " %.9g", static_cast<double>(t.row(r)[k]));
      }
      std::fputc('\n', f);
    }
  }
  return file.Commit();
}

Result<Loaded> Load(const std::string& path) {
  if (Status s = CheckInputFile(path); !s.ok()) return s;
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError(path + ": cannot open for reading");
  std::string header;
  std::getline(in, header);
  std::istringstream h(header);
  std::string magic, hidden;
  int version = 0;
  Loaded out;
  if (!(h >> magic >> version >> out.arch.inputs >> hidden >> out.arch.classes) ||
      magic != kMagic) {
    return Status::Corruption(path + ": not a deepdist MLP model file (bad header)");
  }
  if (version != kVersion) {
    return Status::Corruption(path + ": model file version " + std::to_string(version) +
                              ", this deepdist reads " + std::to_string(kVersion));
  }
  constexpr size_t kMaxUnits = size_t{1} << 20;
  if (hidden != "-") {
    std::istringstream units(hidden);
    std::string u;
    while (std::getline(units, u, ',')) {
      size_t v = 0;
      const auto [end, ec] = std::from_chars(u.data(), u.data() + u.size(), v);
      if (ec != std::errc() || end != u.data() + u.size() || v == 0 || v > kMaxUnits) {
        return Status::Corruption(path + ": bad hidden layer size \"" + u + "\"");
      }
      out.arch.hidden.push_back(v);
    }
  }
  if (out.arch.inputs == 0 || out.arch.inputs > kMaxUnits || out.arch.classes < 2 ||
      out.arch.classes > kMaxUnits) {
    return Status::Corruption(path + ": bad layer sizes in the header");
  }
  out.model = NewModel(out.arch, 0);
  size_t line_number = 1;
  std::string line;
  for (size_t l = 0; l < out.arch.layers(); ++l) {
    Table& t = out.model.table(l);
    for (size_t r = 0; r < t.rows(); ++r) {
      ++line_number;
      if (!std::getline(in, line)) {
        return Status::Corruption(path + ": truncated (line " + std::to_string(line_number) +
                                  " missing)");
      }
      std::string_view rest = line;
      for (size_t k = 0; k < t.dim(); ++k) {
        rest = Trim(rest);
        const size_t space = rest.find(' ');
        float v = 0;
        if (!ParseFloat(rest.substr(0, space), &v)) {
          return Status::Corruption(path + ":" + std::to_string(line_number) + ": expected " +
                                    std::to_string(t.dim()) + " numbers");
        }
        t.row(r)[k] = v;
        rest = space == std::string_view::npos ? std::string_view() : rest.substr(space);
      }
      if (!Trim(rest).empty()) {
        return Status::Corruption(path + ":" + std::to_string(line_number) + ": expected " +
                                  std::to_string(t.dim()) + " numbers");
      }
    }
  }
  if (std::getline(in, line) && !Blank(line)) {
    return Status::Corruption(path + ": unexpected data after the last layer");
  }
  return out;
}

}  // namespace deepdist::mlp
