#include "src/corpus/wiki_entities.h"

#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>

namespace deepdist::corpus {

namespace {

constexpr size_t kNpos = std::string_view::npos;

bool IsAsciiAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAsciiAlnum(char c) { return IsAsciiAlpha(c) || IsAsciiDigit(c); }
char ToLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

void AppendUtf8(char32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

const std::unordered_map<std::string_view, char32_t>& NamedEntities() {
  static const std::unordered_map<std::string_view, char32_t> kEntities = [] {
    std::unordered_map<std::string_view, char32_t> e;
    // HTML 4's Latin-1 names, U+00A0 to U+00FF in order.
    static constexpr std::string_view kLatin1[96] = {
        "nbsp",   "iexcl",  "cent",   "pound",  "curren", "yen",    "brvbar", "sect",   "uml",
        "copy",   "ordf",   "laquo",  "not",    "shy",    "reg",    "macr",   "deg",    "plusmn",
        "sup2",   "sup3",   "acute",  "micro",  "para",   "middot", "cedil",  "sup1",   "ordm",
        "raquo",  "frac14", "frac12", "frac34", "iquest", "Agrave", "Aacute", "Acirc",  "Atilde",
        "Auml",   "Aring",  "AElig",  "Ccedil", "Egrave", "Eacute", "Ecirc",  "Euml",   "Igrave",
        "Iacute", "Icirc",  "Iuml",   "ETH",    "Ntilde", "Ograve", "Oacute", "Ocirc",  "Otilde",
        "Ouml",   "times",  "Oslash", "Ugrave", "Uacute", "Ucirc",  "Uuml",   "Yacute", "THORN",
        "szlig",  "agrave", "aacute", "acirc",  "atilde", "auml",   "aring",  "aelig",  "ccedil",
        "egrave", "eacute", "ecirc",  "euml",   "igrave", "iacute", "icirc",  "iuml",   "eth",
        "ntilde", "ograve", "oacute", "ocirc",  "otilde", "ouml",   "divide", "oslash", "ugrave",
        "uacute", "ucirc",  "uuml",   "yacute", "thorn",  "yuml"};
    for (size_t k = 0; k < 96; ++k) e.emplace(kLatin1[k], static_cast<char32_t>(0xA0 + k));
    // Greek letters (U+03A2 is unassigned; U+03C2 is the final sigma).
    static constexpr std::pair<std::string_view, char32_t> kGreekTable[] = {
        {"Alpha", 0x391},   {"Beta", 0x392},   {"Gamma", 0x393},   {"Delta", 0x394},
        {"Epsilon", 0x395}, {"Zeta", 0x396},   {"Eta", 0x397},     {"Theta", 0x398},
        {"Iota", 0x399},    {"Kappa", 0x39A},  {"Lambda", 0x39B},  {"Mu", 0x39C},
        {"Nu", 0x39D},      {"Xi", 0x39E},     {"Omicron", 0x39F}, {"Pi", 0x3A0},
        {"Rho", 0x3A1},     {"Sigma", 0x3A3},  {"Tau", 0x3A4},     {"Upsilon", 0x3A5},
        {"Phi", 0x3A6},     {"Chi", 0x3A7},    {"Psi", 0x3A8},     {"Omega", 0x3A9},
        {"alpha", 0x3B1},   {"beta", 0x3B2},   {"gamma", 0x3B3},   {"delta", 0x3B4},
        {"epsilon", 0x3B5}, {"zeta", 0x3B6},   {"eta", 0x3B7},     {"theta", 0x3B8},
        {"iota", 0x3B9},    {"kappa", 0x3BA},  {"lambda", 0x3BB},  {"mu", 0x3BC},
        {"nu", 0x3BD},      {"xi", 0x3BE},     {"omicron", 0x3BF}, {"pi", 0x3C0},
        {"rho", 0x3C1},     {"sigmaf", 0x3C2}, {"sigma", 0x3C3},   {"tau", 0x3C4},
        {"upsilon", 0x3C5}, {"phi", 0x3C6},    {"chi", 0x3C7},     {"psi", 0x3C8},
        {"omega", 0x3C9}};
    for (const auto& [name, cp] : kGreekTable) e.emplace(name, cp);
    static constexpr std::pair<std::string_view, char32_t> kOthers[] = {
        {"quot", '"'},      {"amp", '&'},       {"apos", '\''},    {"lt", '<'},
        {"gt", '>'},        {"OElig", 0x152},   {"oelig", 0x153},  {"Scaron", 0x160},
        {"scaron", 0x161},  {"Yuml", 0x178},    {"fnof", 0x192},   {"circ", 0x2C6},
        {"tilde", 0x2DC},   {"ensp", 0x2002},   {"emsp", 0x2003},  {"thinsp", 0x2009},
        {"zwnj", 0x200C},   {"zwj", 0x200D},    {"lrm", 0x200E},   {"rlm", 0x200F},
        {"ndash", 0x2013},  {"mdash", 0x2014},  {"lsquo", 0x2018}, {"rsquo", 0x2019},
        {"sbquo", 0x201A},  {"ldquo", 0x201C},  {"rdquo", 0x201D}, {"bdquo", 0x201E},
        {"dagger", 0x2020}, {"Dagger", 0x2021}, {"bull", 0x2022},  {"hellip", 0x2026},
        {"permil", 0x2030}, {"prime", 0x2032},  {"Prime", 0x2033}, {"lsaquo", 0x2039},
        {"rsaquo", 0x203A}, {"euro", 0x20AC},   {"trade", 0x2122}, {"larr", 0x2190},
        {"uarr", 0x2191},   {"rarr", 0x2192},   {"darr", 0x2193},  {"harr", 0x2194},
        {"minus", 0x2212},  {"infin", 0x221E},  {"asymp", 0x2248}, {"ne", 0x2260},
        {"le", 0x2264},     {"ge", 0x2265}};
    for (const auto& [name, cp] : kOthers) e.emplace(name, cp);
    return e;
  }();
  return kEntities;
}

// Decodes the reference whose name or number starts at s[j] (just after
// its '&'). Returns the index past its ';', or kNpos when s[j..] is not a
// well-formed reference; appends the character (a space for an unknown
// name or an invalid number) to *out.
size_t DecodeReference(std::string_view s, size_t j, std::string* out) {
  constexpr size_t kMaxName = 32;
  constexpr size_t kMaxDigits = 8;
  if (j >= s.size()) return kNpos;
  if (s[j] == '#') {
    size_t k = j + 1;
    const bool hex = k < s.size() && (s[k] == 'x' || s[k] == 'X');
    if (hex) ++k;
    const size_t digits_begin = k;
    uint32_t cp = 0;
    while (k < s.size() && k - digits_begin < kMaxDigits) {
      const char c = s[k];
      uint32_t d;
      if (IsAsciiDigit(c)) {
        d = static_cast<uint32_t>(c - '0');
      } else if (hex && ToLower(c) >= 'a' && ToLower(c) <= 'f') {
        d = static_cast<uint32_t>(ToLower(c) - 'a' + 10);
      } else {
        break;
      }
      cp = cp * (hex ? 16 : 10) + d;
      ++k;
    }
    if (k == digits_begin || k >= s.size() || s[k] != ';') return kNpos;
    const bool valid = cp > 0 && cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF);
    if (valid) {
      AppendUtf8(cp, out);
    } else {
      out->push_back(' ');
    }
    return k + 1;
  }
  if (!IsAsciiAlpha(s[j])) return kNpos;
  size_t k = j;
  while (k < s.size() && IsAsciiAlnum(s[k]) && k - j <= kMaxName) ++k;
  if (k >= s.size() || s[k] != ';') return kNpos;
  const auto& entities = NamedEntities();
  const auto it = entities.find(s.substr(j, k - j));
  if (it == entities.end()) {
    out->push_back(' ');
  } else {
    AppendUtf8(it->second, out);
  }
  return k + 1;
}

}  // namespace

std::string DecodeHtmlEntities(std::string_view s) {
  if (s.find('&') == kNpos) return std::string(s);
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const size_t amp = s.find('&', i);
    if (amp == kNpos) {
      out.append(s.substr(i));
      break;
    }
    out.append(s.substr(i, amp - i));
    size_t end = DecodeReference(s, amp + 1, &out);
    if (end == kNpos) {
      out.push_back('&');
      i = amp + 1;
      continue;
    }
    if (end - amp == 5 && s.compare(amp, 5, "&amp;") == 0) {
      // "&amp;quot;": a reference escaped twice.
      std::string again;
      const size_t end2 = DecodeReference(s, end, &again);
      if (end2 != kNpos) {
        out.back() = again[0];
        out.append(again, 1);
        end = end2;
      }
    }
    i = end;
  }
  return out;
}

}  // namespace deepdist::corpus
