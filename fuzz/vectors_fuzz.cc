// The vectors loader (word2vec's binary and text formats), on any bytes: it
// must return a vectors set or an error, never crash or allocate what the
// file cannot hold.
#include <cstdint>

#include "deepdist/word2vec/vectors.h"
#include "fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = deepdist::fuzz::WriteInput("vectors", data, size);
  auto vectors = deepdist::word2vec::Vectors::Load(path);
  if (vectors.ok() && vectors->size() > 0) {
    // What a loaded set promises: a row of dim() floats per word.
    volatile float first = vectors->row(0)[0];
    (void)first;
  }
  return 0;
}
