// The corpus reader and tokenizer: any bytes as a plain input and as a .gz
// one, listed and split in byte ranges as training lists them, then read
// chunk by chunk and tokenized. Every word must be non-empty and free of
// whitespace; a failure must be an error, not a crash.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "deepdist/partition.h"
#include "fuzz/fuzz_input.h"

namespace {

void ReadAll(const std::string& path, size_t partitions) {
  deepdist::PartitionOptions options;
  options.target_partitions = partitions;
  auto specs = deepdist::ListPartitions({path}, options);
  if (!specs.ok()) return;
  for (const deepdist::PartitionSpec& spec : *specs) {
    auto reader = deepdist::PartitionReader::Open(spec);
    if (!reader.ok()) continue;
    (void)(*reader)->ForEachChunk([](std::string_view chunk) {
      deepdist::Tokenize(
          chunk,
          [](std::string_view word) {
            if (word.empty()) std::abort();
            for (char c : word) {
              if (deepdist::IsSpace(c)) std::abort();
            }
          },
          [] {});
    });
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = deepdist::fuzz::WriteInput("corpus", data, size);
  ReadAll(path, 1 + (size > 0 ? data[0] % 4 : 0));
  const std::string gz = deepdist::fuzz::WriteInput("corpus.gz", data, size);
  ReadAll(gz, 1);
  return 0;
}
