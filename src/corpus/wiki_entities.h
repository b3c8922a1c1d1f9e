// DecodeHtmlEntities: the character references of wikitext (&nbsp;
// &eacute; &#233;) as the characters they stand for, as a browser shows
// them on the rendered page. Stateless and thread-safe.
#ifndef DEEPDIST_SRC_CORPUS_WIKI_ENTITIES_H_
#define DEEPDIST_SRC_CORPUS_WIKI_ENTITIES_H_

#include <string>
#include <string_view>

namespace deepdist::corpus {

// `text` with its character references decoded: &#65; &#x41; and the
// common named ones (&nbsp; &amp; &quot; &ndash; &eacute; ...), as UTF-8.
// A named reference the table does not know becomes a space (every HTML
// named reference stands for punctuation or a non-ASCII character, which the
// text8 rules turn into a space anyway). "&amp;" directly followed by
// another reference ("&amp;quot;", an entity escaped twice) decodes both.
// Anything that is not a well-formed reference stays as it is.
std::string DecodeHtmlEntities(std::string_view text);

}  // namespace deepdist::corpus

#endif  // DEEPDIST_SRC_CORPUS_WIKI_ENTITIES_H_
