#include "src/corpus/wiki_markup.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "src/corpus/wiki_entities.h"

namespace deepdist::corpus {

namespace {

constexpr size_t kNpos = std::string_view::npos;
// A '<' with no '>' within this many bytes starts no tag (it is text).
constexpr size_t kMaxTagBytes = 4096;
constexpr size_t kMaxTagName = 32;
// Links nested deeper than this (only a crafted page has them) are dropped
// rather than followed, which bounds the recursion.
constexpr int kMaxLinkDepth = 32;

bool IsAsciiAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAsciiAlnum(char c) { return IsAsciiAlpha(c) || IsAsciiDigit(c); }
bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f'; }
char ToLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string Lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ToLower(c);
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsBlank(s.back())) s.remove_suffix(1);
  return s;
}

// Whether s[pos..] starts with `lower_prefix`, ignoring ASCII case.
bool StartsWithNoCase(std::string_view s, size_t pos, std::string_view lower_prefix) {
  if (s.size() - pos < lower_prefix.size()) return false;
  for (size_t k = 0; k < lower_prefix.size(); ++k) {
    if (ToLower(s[pos + k]) != lower_prefix[k]) return false;
  }
  return true;
}

// A matched pair of openers and closers: [begin, end) covers both.
struct Span {
  size_t begin;
  size_t end;
};

// Pairs the two-character tokens open+open and close+close of `s` as a
// stack does, left to right: a closer with no opener left, and an opener
// never closed, pair with nothing (and stay text). The pairs come sorted
// by their start; any two are nested or disjoint.
std::vector<Span> PairTokens(std::string_view s, char open, char close) {
  std::vector<size_t> openers;
  std::vector<Span> pairs;
  for (size_t i = 0; i + 1 < s.size();) {
    if (s[i] == open && s[i + 1] == open) {
      openers.push_back(i);
      i += 2;
    } else if (s[i] == close && s[i + 1] == close && !openers.empty()) {
      pairs.push_back({openers.back(), i + 2});
      openers.pop_back();
      i += 2;
    } else {
      ++i;
    }
  }
  std::sort(pairs.begin(), pairs.end(),
            [](const Span& a, const Span& b) { return a.begin < b.begin; });
  return pairs;
}

// ---------------------------------------------------------------------------
// 1. Comments and tags.

enum class TagKind {
  kUnknown,  // Not a tag MediaWiki knows: the '<' is text.
  kInline,   // Removed, content kept, nothing in its place (<b>, <span>).
  kBlock,    // Removed, content kept, a line break in its place (<br>, <div>).
  kDrop,     // Removed with its content (<ref>, <math>, <gallery>).
  kNowiki,   // Removed, content kept as plain text.
};

TagKind ClassifyTag(std::string_view name) {
  static const std::unordered_map<std::string_view, TagKind> kTags = [] {
    std::unordered_map<std::string_view, TagKind> tags;
    // Not prose: footnotes, formulas, code, image lists, charts, maps and
    // the like, and what only a transcluding page shows (includeonly).
    for (std::string_view t :
         {"ref",         "references", "math",       "chem",         "ce",
          "gallery",     "timeline",   "score",      "graph",        "syntaxhighlight",
          "source",      "pre",        "imagemap",   "templatedata", "templatestyles",
          "mapframe",    "maplink",    "inputbox",   "categorytree", "hiero",
          "includeonly", "indicator",  "charinsert", "section",      "table",
          "style",       "script"}) {
      tags.emplace(t, TagKind::kDrop);
    }
    for (std::string_view t :
         {"b",    "i",    "u",   "s",         "small",       "big",  "sub",   "sup",
          "span", "font", "em",  "strong",    "abbr",        "code", "tt",    "var",
          "kbd",  "samp", "del", "ins",       "strike",      "mark", "q",     "dfn",
          "cite", "bdi",  "bdo", "ruby",      "rb",          "rt",   "rtc",   "rp",
          "data", "time", "wbr", "noinclude", "onlyinclude", "a",    "nowrap"}) {
      tags.emplace(t, TagKind::kInline);
    }
    for (std::string_view t :
         {"br", "p",  "div",   "center", "blockquote", "hr",      "li",
          "ul", "ol", "dl",    "dt",     "dd",         "h1",      "h2",
          "h3", "h4", "h5",    "h6",     "poem",       "caption", "tr",
          "td", "th", "thead", "tbody",  "tfoot",      "figure",  "figcaption"}) {
      tags.emplace(t, TagKind::kBlock);
    }
    tags.emplace("nowiki", TagKind::kNowiki);
    return tags;
  }();
  const auto it = kTags.find(name);
  return it == kTags.end() ? TagKind::kUnknown : it->second;
}

struct Tag {
  std::string name;  // Lowercase.
  size_t end = 0;    // Just past the '>'.
  bool closing = false;
  bool self_closing = false;
};

// Reads the tag that starts at s[i] == '<': a name of letters and digits
// (a letter first), then attributes up to the '>'. False when what starts
// there is no tag: no name, or no '>' before the next '<' or soon enough.
bool ParseTag(std::string_view s, size_t i, Tag* tag) {
  size_t j = i + 1;
  tag->closing = j < s.size() && s[j] == '/';
  if (tag->closing) ++j;
  const size_t name_begin = j;
  while (j < s.size() && IsAsciiAlnum(s[j]) && j - name_begin <= kMaxTagName) ++j;
  if (j == name_begin || j >= s.size() || !IsAsciiAlpha(s[name_begin])) return false;
  if (s[j] != '>' && s[j] != '/' && !IsBlank(s[j])) return false;
  const size_t limit = std::min(s.size(), i + kMaxTagBytes);
  for (size_t k = j; k < limit; ++k) {
    if (s[k] == '<') return false;
    if (s[k] == '>') {
      tag->name = Lowercase(s.substr(name_begin, j - name_begin));
      tag->end = k + 1;
      tag->self_closing = s[k - 1] == '/';
      return true;
    }
  }
  return false;
}

// Finds closing tags "</name>" in one text. It remembers its last answer
// per name, so that a page full of unclosed <ref>s is read once, not once
// per <ref>.
class CloseTagFinder {
 public:
  explicit CloseTagFinder(std::string_view s) : s_(s) {}

  // The first "</name ...>" at or after `from`: its start, and its end in
  // *end; kNpos when there is none.
  size_t Find(const std::string& name, size_t from, size_t* end) {
    Memo& memo = memo_[name];
    if (memo.valid && from >= memo.from && (memo.found == kNpos || from <= memo.found)) {
      *end = memo.end;
      return memo.found;
    }
    memo = Memo{true, from, kNpos, 0};
    for (size_t k = s_.find("</", from); k != kNpos; k = s_.find("</", k + 2)) {
      Tag tag;
      if (ParseTag(s_, k, &tag) && tag.name == name) {
        memo.found = k;
        memo.end = tag.end;
        break;
      }
    }
    *end = memo.end;
    return memo.found;
  }

 private:
  struct Memo {
    bool valid = false;
    size_t from = 0;
    size_t found = kNpos;
    size_t end = 0;
  };
  std::string_view s_;
  std::unordered_map<std::string, Memo> memo_;
};

// <nowiki> content is shown as written. The later steps would read markup
// in it, so its markup characters become spaces: the text8 rules turn them
// into spaces in the end anyway. '&', '#' and ';' stay, as MediaWiki
// decodes character references inside <nowiki> too.
void AppendNowiki(std::string_view content, std::string* out) {
  for (char c : content) {
    switch (c) {
      case '[':
      case ']':
      case '{':
      case '}':
      case '|':
      case '\'':
      case '=':
      case '<':
      case '>':
      case '_':
      case ':':
        out->push_back(' ');
        break;
      default:
        out->push_back(c);
    }
  }
}

std::string StripTags(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  CloseTagFinder closes(s);
  size_t i = 0;
  while (i < s.size()) {
    const size_t lt = s.find('<', i);
    if (lt == kNpos) {
      out.append(s.substr(i));
      break;
    }
    out.append(s.substr(i, lt - i));
    i = lt;
    if (s.compare(i, 4, "<!--") == 0) {
      const size_t end = s.find("-->", i + 4);
      if (end == kNpos) break;  // MediaWiki hides the rest of the page too.
      i = end + 3;
      continue;
    }
    Tag tag;
    const TagKind kind = ParseTag(s, i, &tag) ? ClassifyTag(tag.name) : TagKind::kUnknown;
    switch (kind) {
      case TagKind::kUnknown:
        out.push_back('<');
        ++i;
        break;
      case TagKind::kInline:
        i = tag.end;
        break;
      case TagKind::kBlock:
        out.push_back('\n');
        i = tag.end;
        break;
      case TagKind::kDrop:
      case TagKind::kNowiki: {
        i = tag.end;
        if (tag.closing || tag.self_closing) {
          if (kind == TagKind::kDrop) out.push_back(' ');
          break;
        }
        size_t close_end = 0;
        const size_t close = closes.Find(tag.name, tag.end, &close_end);
        // Unclosed: only the tag goes, the text after it stays (MediaWiki
        // would show the tag as text).
        if (close == kNpos) break;
        if (kind == TagKind::kNowiki) {
          AppendNowiki(s.substr(tag.end, close - tag.end), &out);
        } else {
          out.push_back(' ');  // "word<ref>..</ref>next" reads as two words.
        }
        i = close_end;
        break;
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// 2. Templates.

// `s` less the union of `spans`, each replaced by `filler`.
std::string DropSpans(std::string_view s, const std::vector<Span>& spans, char filler) {
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  for (const Span& span : spans) {
    if (span.end <= pos) continue;  // Inside one already dropped.
    out.append(s.substr(pos, span.begin - pos));
    out.push_back(filler);
    pos = span.end;
  }
  out.append(s.substr(pos));
  return out;
}

// Every matched {{ }} goes with all it holds. A template's output is
// mostly a separator, a number or an infobox, so a space stands in for it.
std::string DropTemplates(std::string_view s) {
  if (s.find("{{") == kNpos) return std::string(s);
  return DropSpans(s, PairTokens(s, '{', '}'), ' ');
}

// ---------------------------------------------------------------------------
// 3. Tables.

// A table starts with "{|" at the start of a line (after blanks and the
// ':'s of indentation) and ends with "|}" at the start of a line; tables
// nest. Their lines go, the text after the last "|}" on its line stays.
// With no end, the table runs to the end of the page (MediaWiki closes it
// there, so everything after it is table).
std::string DropTables(std::string_view s) {
  if (s.find("{|") == kNpos) return std::string(s);
  std::string out;
  out.reserve(s.size());
  int depth = 0;
  size_t line = 0;
  while (line < s.size()) {
    size_t eol = s.find('\n', line);
    const size_t next = eol == kNpos ? s.size() : eol + 1;
    if (eol == kNpos) eol = s.size();
    size_t k = line;
    while (k < eol && (s[k] == ' ' || s[k] == '\t')) ++k;
    size_t opener = k;
    while (opener < eol && (s[opener] == ':' || s[opener] == ' ' || s[opener] == '\t')) ++opener;
    if (s.compare(opener, 2, "{|") == 0) {
      if (depth == 0) out.push_back('\n');
      ++depth;
    } else if (depth > 0 && s.compare(k, 2, "|}") == 0) {
      if (--depth == 0) out.append(s.substr(k + 2, next - (k + 2)));
    } else if (depth == 0) {
      out.append(s.substr(line, next - line));
    }
    line = next;
  }
  return out;
}

// ---------------------------------------------------------------------------
// 4. Internal links.

// Interlanguage prefixes: "de", "fr", "zh-min-nan", "simple": a language
// code in lowercase (MediaWiki knows the list; its pattern is enough here,
// as a main-namespace title is capitalised).
bool IsLanguagePrefix(std::string_view p) {
  if (p == "simple") return true;
  size_t letters = 0;
  while (letters < p.size() && p[letters] >= 'a' && p[letters] <= 'z') ++letters;
  if (letters < 2 || letters > 3) return false;
  for (size_t k = letters; k < p.size(); ++k) {
    const char c = p[k];
    if (!((c >= 'a' && c <= 'z') || (c == '-' && k + 1 < p.size() && p[k + 1] != '-'))) {
      return false;
    }
  }
  return true;
}

// Links that show nothing in the article's text: images and files (shown
// as pictures), categories (listed at the foot), interlanguage links
// (listed in the sidebar). A leading ':' makes any of them a plain link.
bool IsHiddenLink(std::string_view target) {
  target = Trim(target);
  if (target.empty() || target.front() == ':') return false;
  const size_t colon = target.find(':');
  if (colon == kNpos) return false;
  const std::string_view prefix = Trim(target.substr(0, colon));
  const std::string lower = Lowercase(prefix);
  return lower == "file" || lower == "image" || lower == "category" || IsLanguagePrefix(prefix);
}

// The pipe trick: [[Paris, Texas|]] shows "Paris", [[Mercury (planet)|]]
// shows "Mercury".
std::string_view PipeTrick(std::string_view target) {
  target = Trim(target);
  if (!target.empty() && target.front() == ':') target.remove_prefix(1);
  if (target.size() > 1 && target.back() == ')') {
    const size_t open = target.rfind(" (");
    if (open != kNpos) return Trim(target.substr(0, open));
  }
  const size_t comma = target.find(',');
  return Trim(target.substr(0, comma));
}

class LinkRenderer {
 public:
  explicit LinkRenderer(std::string_view s) : s_(s), pairs_(PairTokens(s, '[', ']')) {}

  std::string Render() {
    std::string out;
    out.reserve(s_.size());
    size_t k = 0;
    Emit(0, s_.size(), &k, 0, &out);
    return out;
  }

 private:
  // The first pair after pairs_[q] that is not inside it.
  size_t SkipPair(size_t q) const {
    size_t r = q + 1;
    while (r < pairs_.size() && pairs_[r].begin < pairs_[q].end) ++r;
    return r;
  }

  // Appends s_[begin, end) with its links rendered; *k is the first pair
  // that starts at or after `begin`, and is left past those before `end`.
  void Emit(size_t begin, size_t end, size_t* k, int depth, std::string* out) {
    size_t pos = begin;
    while (*k < pairs_.size() && pairs_[*k].begin < end) {
      const size_t link = *k;
      out->append(s_.substr(pos, pairs_[link].begin - pos));
      *k = SkipPair(link);
      RenderLink(link, depth, out);
      pos = pairs_[link].end;
    }
    out->append(s_.substr(pos, end - pos));
  }

  void RenderLink(size_t link, int depth, std::string* out) {
    if (depth >= kMaxLinkDepth) return;
    const size_t inner_begin = pairs_[link].begin + 2;
    const size_t inner_end = pairs_[link].end - 2;
    // The first '|' that is not inside a nested link.
    size_t pipe = kNpos;
    size_t child = link + 1;
    for (size_t j = inner_begin; j < inner_end; ++j) {
      if (child < pairs_.size() && pairs_[child].begin == j) {
        j = pairs_[child].end - 1;
        child = SkipPair(child);
        continue;
      }
      if (s_[j] == '|') {
        pipe = j;
        break;
      }
    }
    const std::string_view target =
        s_.substr(inner_begin, (pipe == kNpos ? inner_end : pipe) - inner_begin);
    if (IsHiddenLink(target)) return;  // With the links in a caption.
    if (pipe == kNpos) {
      size_t k = link + 1;
      Emit(inner_begin, inner_end, &k, depth + 1, out);
      return;
    }
    if (Trim(s_.substr(pipe + 1, inner_end - pipe - 1)).empty()) {
      out->append(PipeTrick(target));
      return;
    }
    size_t k = child;  // The first nested link after the pipe.
    Emit(pipe + 1, inner_end, &k, depth + 1, out);
  }

  std::string_view s_;
  std::vector<Span> pairs_;
};

std::string RenderInternalLinks(std::string_view s) {
  if (s.find("[[") == kNpos) return std::string(s);
  return LinkRenderer(s).Render();
}

// ---------------------------------------------------------------------------
// 5. External links.

// The length of the URL scheme at s[i] ("http://", "mailto:"), 0 if none.
size_t UrlSchemeAt(std::string_view s, size_t i) {
  static constexpr std::string_view kSchemes[] = {
      "http://", "https://", "ftp://",    "ftps://", "sftp://",      "//",
      "mailto:", "news:",    "irc://",    "ircs://", "gopher://",    "nntp://",
      "git://",  "svn://",   "telnet://", "mms://",  "worldwind://", "urn:",
      "xmpp:",   "sip:",     "ssh://",    "tel:"};
  for (std::string_view scheme : kSchemes) {
    if (StartsWithNoCase(s, i, scheme)) return scheme.size();
  }
  return 0;
}

// A bare URL, which MediaWiki turns into a link showing the URL itself.
bool BareUrlAt(std::string_view s, size_t i) {
  if (i > 0 && IsAsciiAlnum(s[i - 1])) return false;
  return StartsWithNoCase(s, i, "http://") || StartsWithNoCase(s, i, "https://") ||
         StartsWithNoCase(s, i, "ftp://");
}

bool EndsUrl(char c) {
  return IsBlank(c) || c == '[' || c == ']' || c == '<' || c == '>' || c == '"' || c == '|' ||
         c == '{' || c == '}';
}

// [http://x text] keeps "text"; [http://x] (shown as a number) and bare
// URLs become a space.
std::string RenderExternalLinks(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const char c = s[i];
    if (c == '[' && UrlSchemeAt(s, i + 1) > 0) {
      const size_t close = s.find_first_of("]\n", i + 1);
      if (close != kNpos && s[close] == ']') {
        const std::string_view inner = s.substr(i + 1, close - i - 1);
        const size_t space = inner.find_first_of(" \t");
        out.push_back(' ');
        if (space != kNpos) out.append(inner.substr(space + 1));
        i = close + 1;
        continue;
      }
    }
    if ((c == 'h' || c == 'H' || c == 'f' || c == 'F') && BareUrlAt(s, i)) {
      while (i < s.size() && !EndsUrl(s[i])) ++i;
      out.push_back(' ');
      continue;
    }
    out.push_back(c);
    ++i;
  }
  return out;
}

// ---------------------------------------------------------------------------
// 6. Formatting.

// One line: heading '='s, list markers and rules at its ends, bold and
// italic quote runs and behaviour switches anywhere in it.
void AppendFormattedLine(std::string_view line, std::string* out) {
  size_t begin = 0;
  size_t end = line.size();
  while (end > begin && IsBlank(line[end - 1])) --end;
  if (begin < end && line[begin] == '=') {  // "== Heading ==" keeps "Heading".
    while (begin < end && line[begin] == '=') ++begin;
    while (end > begin && line[end - 1] == '=') --end;
  } else {
    while (begin < end &&
           (line[begin] == '*' || line[begin] == '#' || line[begin] == ':' || line[begin] == ';')) {
      ++begin;
    }
    if (end - begin >= 4 && line.substr(begin, end - begin).find_first_not_of('-') == kNpos) {
      return;  // "----", a horizontal rule.
    }
  }
  for (size_t i = begin; i < end;) {
    const char c = line[i];
    if (c == '\'' && i + 1 < end && line[i + 1] == '\'') {  // '' italic, ''' bold.
      while (i < end && line[i] == '\'') ++i;
      continue;
    }
    if (c == '_' && i + 1 < end && line[i + 1] == '_') {  // __NOTOC__, __TOC__ ...
      size_t j = i + 2;
      while (j < end && line[j] >= 'A' && line[j] <= 'Z') ++j;
      if (j > i + 2 && j + 1 < end && line[j] == '_' && line[j + 1] == '_') {
        i = j + 2;
        continue;
      }
    }
    out->push_back(c);
    ++i;
  }
}

std::string RemoveFormatting(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t line = 0;
  while (line <= s.size()) {
    size_t eol = s.find('\n', line);
    if (eol == kNpos) eol = s.size();
    AppendFormattedLine(s.substr(line, eol - line), &out);
    if (eol == s.size()) break;
    out.push_back('\n');
    line = eol + 1;
  }
  return out;
}

}  // namespace

std::string StripWikiMarkup(std::string_view wikitext) {
  std::string text = StripTags(wikitext);
  text = DropTemplates(text);
  text = DropTables(text);
  text = RenderInternalLinks(text);
  text = RenderExternalLinks(text);
  text = RemoveFormatting(text);
  return DecodeHtmlEntities(text);
}

}  // namespace deepdist::corpus
