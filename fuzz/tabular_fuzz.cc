// The MLP's CSV line parser and logistic regression's libsvm line parser,
// one line at a time as the readers call them.
#include <cstdint>
#include <string_view>
#include <vector>

#include "deepdist/logreg.h"
#include "deepdist/mlp.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  std::vector<float> x;
  int32_t label = 0;
  deepdist::mlp::Csv csv;
  (void)deepdist::mlp::ParseLine(line, csv, 5, &x, &label);
  csv.label_column = 0;
  (void)deepdist::mlp::ParseLine(line, csv, 3, &x, &label);
  deepdist::logreg::Example example;
  (void)deepdist::logreg::ParseLine(line, &example);
  return 0;
}
