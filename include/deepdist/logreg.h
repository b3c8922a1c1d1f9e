// Sparse logistic regression on the DeepDist engine, for data with many
// features of which each example has few (text, clicks): libsvm's format,
// "LABEL INDEX:VALUE INDEX:VALUE ...", indices from 1, a label > 0 positive
// and any other negative.
//
// The weights are one table "w" of 16 weights a row: weight j (j = 0 the
// bias, j >= 1 feature j) is value j % 16 of row j / 16. A worker pulls only
// the rows its partition's features fall in (the row-level gradient form:
// Replica::Require, then Row) and pushes the gradient of those rows, so a
// model of millions of features trains at the cost of the features seen.
#ifndef DEEPDIST_LOGREG_H_
#define DEEPDIST_LOGREG_H_

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "deepdist/model.h"
#include "deepdist/status.h"

namespace deepdist::logreg {

inline constexpr size_t kWeightsPerRow = 16;
inline constexpr uint64_t kMaxFeatures = uint64_t{1} << 31;

struct Example {
  bool positive = false;
  std::vector<uint32_t> index;  // Feature ids, from 1.
  std::vector<float> value;
};

// One libsvm line. Errors say what is wrong (the caller names file and line).
[[nodiscard]] Status ParseLine(std::string_view line, Example* out);

// Checks every line of a libsvm file (blank lines and '#' comments skipped)
// and returns the largest feature index in it; errors name the file and line.
struct Scan {
  uint64_t max_index = 0;
  uint64_t examples = 0;
};
[[nodiscard]] Result<Scan> ScanFile(const std::string& path);

// The model for features 1..features (and the bias), all weights 0.
Model NewModel(uint64_t features);
uint64_t FeaturesOf(const Model& model);
inline RowId RowOf(uint64_t weight) { return weight / kWeightsPerRow; }
inline size_t ColumnOf(uint64_t weight) { return weight % kWeightsPerRow; }

// P(positive) of one example; features beyond the model's count 0.
double Probability(const Model& model, const Example& example);

// The rows the examples' features (and the bias) fall in, sorted, unique.
std::vector<RowId> RowsOf(const std::vector<Example>& examples);

// Mean log-loss of `examples` and its gradient, one vector of 16 per row of
// `rows` (RowsOf(examples)); `weight(j)` reads weight j.
template <typename WeightFn>
double LossAndGradient(const std::vector<Example>& examples, const std::vector<RowId>& rows,
                       const WeightFn& weight, std::vector<float>* gradient);

// The model file: "deepdist-logreg 1 FEATURES", then "INDEX WEIGHT" for every
// weight that is not 0 (index 0 the bias), decimals that read back exactly.
// Written atomically.
[[nodiscard]] Status Save(const std::string& path, const Model& model);
[[nodiscard]] Result<Model> Load(const std::string& path);

// ---------------------------------------------------------------------------

template <typename WeightFn>
double LossAndGradient(const std::vector<Example>& examples, const std::vector<RowId>& rows,
                       const WeightFn& weight, std::vector<float>* gradient) {
  gradient->assign(rows.size() * kWeightsPerRow, 0.0f);
  if (examples.empty()) return 0;
  auto slot = [&](uint64_t j) {
    const auto it = std::lower_bound(rows.begin(), rows.end(), static_cast<RowId>(RowOf(j)));
    return static_cast<size_t>(it - rows.begin()) * kWeightsPerRow + ColumnOf(j);
  };
  const size_t bias = slot(0);
  const double scale = 1.0 / static_cast<double>(examples.size());
  double loss = 0;
  for (const Example& e : examples) {
    double z = weight(0);
    for (size_t k = 0; k < e.index.size(); ++k) z += weight(e.index[k]) * e.value[k];
    // log(1 + exp(-z)) for a positive, log(1 + exp(z)) for a negative, stably.
    const double m = e.positive ? -z : z;
    loss += m > 0 ? m + std::log1p(std::exp(-m)) : std::log1p(std::exp(m));
    const double p = 1.0 / (1.0 + std::exp(-z));
    const double error = (p - (e.positive ? 1.0 : 0.0)) * scale;
    (*gradient)[bias] += static_cast<float>(error);
    for (size_t k = 0; k < e.index.size(); ++k) {
      (*gradient)[slot(e.index[k])] += static_cast<float>(error * e.value[k]);
    }
  }
  return loss * scale;
}

}  // namespace deepdist::logreg

#endif  // DEEPDIST_LOGREG_H_
