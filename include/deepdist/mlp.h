// A multilayer perceptron classifier on the DeepDist engine: ReLU hidden
// layers, a softmax output, cross-entropy loss, trained by the seed's form
// (each partition's gradient against the whole model, fetched; the descent
// rule at the model server).
//
// Data is CSV of numbers, one example a line, the label (a class 0..C-1) in
// one column. The train/test split is seeded and needs no pass over the data
// first: a line is a test line when a hash of the seed and the line's text
// falls below the test fraction, so every worker, rank and run agrees on it.
//
// The model is one table per layer, "layer0" (the first hidden layer) to the
// output layer: a row per unit, its weights over the layer's inputs followed
// by its bias.
#ifndef DEEPDIST_MLP_H_
#define DEEPDIST_MLP_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "deepdist/model.h"
#include "deepdist/status.h"

namespace deepdist::mlp {

struct Csv {
  // The label's column, 0-based; -1: the last.
  int64_t label_column = -1;
};

// Dense labelled examples.
struct Examples {
  size_t features = 0;
  std::vector<float> x;  // rows() x features, row-major.
  std::vector<int32_t> y;
  size_t rows() const { return y.size(); }
};

// One CSV line into `x` (features values, the label's column left out) and
// `label`. `columns` is the number of values the line must have. Errors say
// what is wrong with the line (the caller names file and line).
[[nodiscard]] Status ParseLine(std::string_view line, const Csv& csv, size_t columns,
                               std::vector<float>* x, int32_t* label);

// Every line of a CSV file (blank lines skipped), checked: the same number of
// columns on every line, numbers only, labels whole and in 0..1e6. Errors
// name the file and line ("data.csv:12: ..."). With `split_seed`, only the
// lines of one side of the split are kept.
struct ReadOptions {
  Csv csv;
  bool split = false;
  uint64_t seed = 1;
  double test_fraction = 0;
  bool test_side = false;  // Keep the test lines (else the training lines).
};
[[nodiscard]] Result<Examples> ReadCsv(const std::string& path, const ReadOptions& options);

// True when `line` is a test line of the split (seed, fraction).
bool IsTestLine(std::string_view line, uint64_t seed, double test_fraction);

struct Architecture {
  size_t inputs = 0;
  std::vector<size_t> hidden;  // Units per hidden layer.
  size_t classes = 0;
  size_t layers() const { return hidden.size() + 1; }
  size_t inputs_of(size_t layer) const { return layer == 0 ? inputs : hidden[layer - 1]; }
  size_t units_of(size_t layer) const { return layer < hidden.size() ? hidden[layer] : classes; }
};

// The model's tables, Glorot-uniform weights from `seed`, biases 0.
Model NewModel(const Architecture& arch, uint64_t seed);
// True when `model` has the tables of `arch`.
bool Fits(const Model& model, const Architecture& arch);

// Class scores (softmax probabilities) of one example.
void Predict(const Model& model, const Architecture& arch, const float* x, float* probabilities);
int32_t Classify(const Model& model, const Architecture& arch, const float* x);
// Fraction of `examples` classified right (0 when empty).
double Accuracy(const Model& model, const Architecture& arch, const Examples& examples);

// Mean cross-entropy of examples [0, n) (x: n x inputs), and, when
// `gradient` is set, its gradient: one Table per layer, shaped as the model's.
double LossAndGradient(const Model& model, const Architecture& arch, const float* x,
                       const int32_t* y, size_t n, std::vector<Table>* gradient);

// The model file: a header line "deepdist-mlp 1 INPUTS H1,H2,... CLASSES",
// then each layer's rows, one a line, values as decimal floats that read back
// exactly. Written atomically (temp file, then rename).
[[nodiscard]] Status Save(const std::string& path, const Model& model, const Architecture& arch);
struct Loaded {
  Architecture arch;
  Model model;
};
[[nodiscard]] Result<Loaded> Load(const std::string& path);

}  // namespace deepdist::mlp

#endif  // DEEPDIST_MLP_H_
