// The analogy questions parser (": section" lines, then "a b c d").
#include <cstdint>

#include "deepdist/word2vec/evaluation.h"
#include "fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = deepdist::fuzz::WriteInput("questions", data, size);
  (void)deepdist::word2vec::ReadQuestions(path);
  return 0;
}
