// StripWikiMarkup: the readable text of a MediaWiki page's wikitext, as a reader
// of the rendered article sees it, less what is not prose (tables,
// infoboxes, references, images, formulas).
//
// The page is cleaned in the order MediaWiki's own parser reads it, so that
// each construct hides what it hides there:
//   1. comments <!-- --> and tags: <ref>, <math>, <gallery>, <pre>, ...
//      dropped with their content, <nowiki> content kept as plain text,
//      other known HTML tags removed keeping their content;
//   2. templates {{...}}, nested to any depth, dropped (with the tables,
//      links and parameters inside them);
//   3. tables {| ... |}, nested, dropped;
//   4. internal links: [[target|text]] keeps text, [[target]] keeps target;
//      [[File:]], [[Image:]] (with the links in their captions),
//      [[Category:]] and interlanguage links ([[de:Berlin]]) dropped;
//   5. external links [http://x text] keep text; bare URLs dropped;
//   6. bold and italic quotes, heading '=' runs, list markers at a line's
//      start and behaviour switches (__NOTOC__) removed;
//   7. HTML character references decoded (wiki_entities.h).
// Unterminated constructs never reach past the page: an opening {{ or [[
// with no end stays as text, a <ref> (or other tag) with no end loses only
// the tag, and an unterminated comment or table hides the rest of the page,
// as it does in MediaWiki. Every function here is linear in its input (apart from
// bounded look-ups) and thread-safe (no shared state).
#ifndef DEEPDIST_SRC_CORPUS_WIKI_MARKUP_H_
#define DEEPDIST_SRC_CORPUS_WIKI_MARKUP_H_

#include <string>
#include <string_view>

namespace deepdist::corpus {

// The text of `wikitext` with its markup stripped as above. Lines of the
// wikitext stay lines; block tags and dropped tables leave a line break.
std::string StripWikiMarkup(std::string_view wikitext);

}  // namespace deepdist::corpus

#endif  // DEEPDIST_SRC_CORPUS_WIKI_MARKUP_H_
