// WikiXmlParser: the pages of a MediaWiki XML export (the <mediawiki> dumps
// of dumps.wikimedia.org), parsed by expat from pieces fed in order, so
// that a dump of any size streams through a bounded amount of memory.
//
// A page is a <page> child of the document's root. Its namespace is its
// <ns>, or, in old dumps without one, the prefix of its title when that
// names a namespace listed in <siteinfo>. A page is a redirect when it has
// a <redirect/> element or its text starts with "#REDIRECT" (any case).
// The text kept is that of the page's last <revision>, and only for
// main-namespace pages that are not redirects (the others are counted, not
// read). Not thread-safe: one caller feeds one parser.
#ifndef DEEPDIST_SRC_CORPUS_WIKI_XML_H_
#define DEEPDIST_SRC_CORPUS_WIKI_XML_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "deepdist/status.h"

namespace deepdist::corpus {

// A page's text past this many bytes is dropped (MediaWiki refuses pages
// over 2 MiB; this bounds the memory a damaged dump can take).
inline constexpr size_t kMaxPageTextBytes = size_t{64} << 20;

struct WikiPage {
  std::string title;
  bool main_namespace = false;
  bool redirect = false;
  bool truncated = false;  // Its text was longer than kMaxPageTextBytes.
  std::string text;        // Wikitext; empty unless main_namespace && !redirect.
};

class WikiXmlParser {
 public:
  // `source` names the input in error messages; `decompressed` says that
  // byte offsets count bytes of decompressed XML, not of the file.
  WikiXmlParser(std::string source, bool decompressed);
  ~WikiXmlParser();
  WikiXmlParser(const WikiXmlParser&) = delete;
  WikiXmlParser& operator=(const WikiXmlParser&) = delete;

  // Parses the next bytes of the document (`last`: nothing follows them)
  // and appends the pages they complete to *pages. Corruption for malformed
  // XML, naming the line, column and byte offset and the page's title when
  // known; once it failed, the parser takes no more input.
  [[nodiscard]] Status Parse(std::string_view bytes, bool last, std::vector<WikiPage>* pages);

  // Bytes of XML parsed so far.
  uint64_t bytes() const { return bytes_; }

  struct State;  // The expat handlers' state, in wiki_xml.cc.

 private:
  std::string source_;
  bool decompressed_;
  uint64_t bytes_ = 0;
  std::unique_ptr<State> state_;
};

}  // namespace deepdist::corpus

#endif  // DEEPDIST_SRC_CORPUS_WIKI_XML_H_
