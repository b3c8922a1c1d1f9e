// The text8 rules: the words of a text as Matt Mahoney's wikifil.pl wrote
// the text8 corpus (and as the shared corpus is written): letters a-z
// lowercased, each digit spelled out as a word of its own ("1984" is "one
// nine eight four"), every other byte (punctuation, blanks, each byte of a
// non-ASCII UTF-8 character) a word break. Stateless and thread-safe.
#ifndef DEEPDIST_SRC_CORPUS_WIKI_TEXT8_H_
#define DEEPDIST_SRC_CORPUS_WIKI_TEXT8_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace deepdist::corpus {

struct Text8Options {
  bool keep_case = false;    // Keep A-Z as they are instead of lowercasing them.
  bool keep_digits = false;  // Keep 0-9 as word characters ("mp3", "1984").
};

// Appends the words of `text` to *line, each after one space unless *line
// was empty; returns how many words it appended.
uint64_t AppendText8Words(std::string_view text, const Text8Options& options, std::string* line);

}  // namespace deepdist::corpus

#endif  // DEEPDIST_SRC_CORPUS_WIKI_TEXT8_H_
