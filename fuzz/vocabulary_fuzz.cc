// The vocabulary readers: a --read-vocab file ("word count" lines), a
// --vocab-words list, and the counts one rank sends the others while the
// vocabulary is merged (WordCounts::Parse, the decoder of that message).
#include <cstdint>
#include <string_view>

#include "deepdist/word2vec/vocabulary.h"
#include "fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace deepdist::word2vec;
  const std::string path = deepdist::fuzz::WriteInput("vocabulary", data, size);
  VocabularyOptions options;
  options.min_count = 1;
  (void)Vocabulary::Load(path, options);
  (void)ReadWordList(path);
  (void)WordCounts::Parse(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
