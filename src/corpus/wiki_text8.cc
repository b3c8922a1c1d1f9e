#include "src/corpus/wiki_text8.h"

#include <string_view>

namespace deepdist::corpus {

uint64_t AppendText8Words(std::string_view text, const Text8Options& options, std::string* line) {
  static constexpr std::string_view kDigits[10] = {"zero", "one", "two",   "three", "four",
                                                   "five", "six", "seven", "eight", "nine"};
  uint64_t words = 0;
  bool in_word = false;
  auto start_word = [&] {
    if (!line->empty()) line->push_back(' ');
    ++words;
  };
  for (const char c : text) {
    if (c >= 'a' && c <= 'z') {
      if (!in_word) start_word();
      line->push_back(c);
      in_word = true;
    } else if (c >= 'A' && c <= 'Z') {
      if (!in_word) start_word();
      line->push_back(options.keep_case ? c : static_cast<char>(c - 'A' + 'a'));
      in_word = true;
    } else if (c >= '0' && c <= '9') {
      if (options.keep_digits) {
        if (!in_word) start_word();
        line->push_back(c);
        in_word = true;
      } else {
        // A word of its own, with breaks on both sides ("3d" is "three d").
        start_word();
        line->append(kDigits[c - '0']);
        in_word = false;
      }
    } else {
      in_word = false;
    }
  }
  return words;
}

}  // namespace deepdist::corpus
