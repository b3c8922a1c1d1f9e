// Test input as a file: most of deepdist's readers take a path, as users
// give them, so a fuzz target writes its bytes to a file of its own (one per
// process and target, rewritten for every input) and hands that over.
#ifndef DEEPDIST_FUZZ_FUZZ_INPUT_H_
#define DEEPDIST_FUZZ_FUZZ_INPUT_H_

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace deepdist::fuzz {

inline std::string WriteInput(const char* target, const uint8_t* data, size_t size) {
  const char* dir = std::getenv("TMPDIR");
  std::string path = std::string(dir != nullptr ? dir : "/tmp") + "/deepdist-fuzz-" +
                     std::to_string(getpid()) + "-" + target;
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) std::abort();
  if (size > 0 && std::fwrite(data, 1, size, f) != size) std::abort();
  if (std::fclose(f) != 0) std::abort();
  return path;
}

}  // namespace deepdist::fuzz

#endif  // DEEPDIST_FUZZ_FUZZ_INPUT_H_
