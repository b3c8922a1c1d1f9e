// corpus prepare's readers on hostile dumps: the first byte picks what the
// rest is fed to.
//  - even: the markup stripper and the text8 rules on the bytes as wikitext;
//    the line must hold only a-z words, one space apart;
//  - odd: the whole pipeline (format sniffing, bz2, expat, pages, cleaning,
//    the atomic output) on the bytes as a dump file, on one thread or two;
//    a failure must be an error, leave no output, and not crash.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fuzz/fuzz_input.h"
#include "src/corpus/wiki_dump.h"
#include "src/corpus/wiki_markup.h"
#include "src/corpus/wiki_text8.h"

namespace {

void CheckLine(const std::string& line) {
  if (!line.empty() && (line.front() == ' ' || line.back() == ' ')) std::abort();
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (c == ' ') {
      if (i > 0 && line[i - 1] == ' ') std::abort();
    } else if (c < 'a' || c > 'z') {
      std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  if (mode % 2 == 0) {
    std::string line;
    deepdist::corpus::AppendText8Words(deepdist::corpus::StripWikiMarkup(rest), {}, &line);
    CheckLine(line);
    return 0;
  }
  const std::string input = deepdist::fuzz::WriteInput("dump", data + 1, size - 1);
  const std::string output = input + ".out";
  deepdist::corpus::PrepareOptions options;
  options.threads = (mode & 2) != 0 ? 2 : 1;
  options.bz2_chunk_bytes = 64;  // Several runs of streams even in a small input.
  auto stats = deepdist::corpus::PrepareCorpus(input, output, options);
  if (!stats.ok() && ::access(output.c_str(), F_OK) == 0) std::abort();  // Half-written.
  ::unlink(output.c_str());
  return 0;
}
