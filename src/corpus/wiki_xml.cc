#include "src/corpus/wiki_xml.h"

#include <expat.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <string>
#include <utility>

namespace deepdist::corpus {

namespace {

char ToLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t k = 0; k < a.size(); ++k) {
    if (ToLower(a[k]) != ToLower(b[k])) return false;
  }
  return true;
}

std::string_view TrimBlanks(std::string_view s) {
  const size_t begin = s.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return {};
  const size_t end = s.find_last_not_of(" \t\r\n");
  return s.substr(begin, end - begin + 1);
}

bool IsRedirectText(std::string_view text) {
  text = TrimBlanks(text);
  return text.size() >= 9 && EqualsNoCase(text.substr(0, 9), "#redirect");
}

// Which element's characters are being collected.
enum class Field { kNone, kTitle, kNs, kText, kNamespaceName };

}  // namespace

// Depths: the root is 1, a <page> 2, its <title>, <ns>, <redirect> and
// <revision> 3, a revision's <text> 4; <siteinfo> 2, <namespaces> 3,
// <namespace> 4.
struct WikiXmlParser::State {
  XML_Parser parser = nullptr;
  int depth = 0;
  bool in_page = false;
  bool in_siteinfo = false;
  bool in_revision = false;
  Field field = Field::kNone;
  bool keep_text = false;  // Whether the current <text> is read.
  WikiPage page;
  bool has_ns = false;
  std::string ns;
  // Namespace names other than the main one's, from <siteinfo>, for dumps
  // whose pages have no <ns>.
  std::vector<std::string> namespace_names;
  std::string namespace_name;
  bool namespace_is_main = false;
  std::vector<WikiPage>* pages = nullptr;  // Where finished pages go.

  // Whether the page is known to be outside the main namespace or a redirect.
  bool SkipsText() const {
    if (page.redirect) return true;
    if (has_ns) return TrimBlanks(ns) != "0";
    return TitleNamesNamespace();
  }

  bool TitleNamesNamespace() const {
    const size_t colon = page.title.find(':');
    if (colon == std::string::npos) return false;
    const std::string_view prefix = TrimBlanks(std::string_view(page.title).substr(0, colon));
    return std::any_of(namespace_names.begin(), namespace_names.end(),
                       [&](const std::string& n) { return EqualsNoCase(n, prefix); });
  }

  void Start(const char* name, const char** atts) {
    ++depth;
    if (depth == 2) {
      in_page = std::strcmp(name, "page") == 0;
      in_siteinfo = std::strcmp(name, "siteinfo") == 0;
      if (in_page) {
        page = WikiPage();
        has_ns = false;
        ns.clear();
      }
      return;
    }
    if (in_page) {
      if (depth == 3) {
        if (std::strcmp(name, "title") == 0) {
          field = Field::kTitle;
        } else if (std::strcmp(name, "ns") == 0) {
          field = Field::kNs;
          has_ns = true;
        } else if (std::strcmp(name, "redirect") == 0) {
          page.redirect = true;
        } else if (std::strcmp(name, "revision") == 0) {
          in_revision = true;
        }
      } else if (depth == 4 && in_revision && std::strcmp(name, "text") == 0) {
        field = Field::kText;
        // A later revision replaces an earlier one: the last one is current.
        page.text.clear();
        page.truncated = false;
        keep_text = !SkipsText();
      }
      return;
    }
    if (in_siteinfo && depth == 4 && std::strcmp(name, "namespace") == 0) {
      field = Field::kNamespaceName;
      namespace_name.clear();
      namespace_is_main = false;
      for (const char** a = atts; a[0] != nullptr; a += 2) {
        if (std::strcmp(a[0], "key") == 0) namespace_is_main = TrimBlanks(a[1]) == "0";
      }
    }
  }

  void End(const char* name) {
    if (field == Field::kNamespaceName && !namespace_is_main && !namespace_name.empty()) {
      namespace_names.push_back(namespace_name);
    }
    field = Field::kNone;
    if (depth == 3 && in_page && std::strcmp(name, "revision") == 0) in_revision = false;
    if (depth == 2 && in_page) {
      if (!page.redirect && IsRedirectText(page.text)) page.redirect = true;
      page.main_namespace = has_ns ? TrimBlanks(ns) == "0" : !TitleNamesNamespace();
      if (!page.main_namespace || page.redirect) page.text.clear();
      pages->push_back(std::move(page));
      page = WikiPage();
      in_page = false;
    }
    if (depth == 2) in_siteinfo = false;
    --depth;
  }

  void Characters(const char* s, int len) {
    const size_t n = static_cast<size_t>(len);
    switch (field) {
      case Field::kTitle:
        page.title.append(s, n);
        break;
      case Field::kNs:
        ns.append(s, n);
        break;
      case Field::kNamespaceName:
        namespace_name.append(s, n);
        break;
      case Field::kText:
        if (!keep_text) break;
        if (page.text.size() + n > kMaxPageTextBytes) {
          page.text.append(s, kMaxPageTextBytes - page.text.size());
          page.truncated = true;
          keep_text = false;
          break;
        }
        page.text.append(s, n);
        break;
      case Field::kNone:
        break;
    }
  }
};

namespace {

void XMLCALL OnStart(void* user, const XML_Char* name, const XML_Char** atts) {
  static_cast<WikiXmlParser::State*>(user)->Start(name, atts);
}

void XMLCALL OnEnd(void* user, const XML_Char* name) {
  static_cast<WikiXmlParser::State*>(user)->End(name);
}

void XMLCALL OnCharacters(void* user, const XML_Char* s, int len) {
  static_cast<WikiXmlParser::State*>(user)->Characters(s, len);
}

}  // namespace

WikiXmlParser::WikiXmlParser(std::string source, bool decompressed)
    : source_(std::move(source)), decompressed_(decompressed), state_(std::make_unique<State>()) {
  state_->parser = XML_ParserCreate(nullptr);
  DD_CHECK(state_->parser != nullptr);
  XML_SetUserData(state_->parser, state_.get());
  XML_SetElementHandler(state_->parser, OnStart, OnEnd);
  XML_SetCharacterDataHandler(state_->parser, OnCharacters);
}

WikiXmlParser::~WikiXmlParser() { XML_ParserFree(state_->parser); }

Status WikiXmlParser::Parse(std::string_view bytes, bool last, std::vector<WikiPage>* pages) {
  state_->pages = pages;
  // XML_Parse takes an int length.
  constexpr size_t kMaxPiece = size_t{1} << 30;
  do {
    const size_t n = std::min(bytes.size(), kMaxPiece);
    const bool final_piece = last && n == bytes.size();
    if (XML_Parse(state_->parser, bytes.data(), static_cast<int>(n), final_piece ? 1 : 0) ==
        XML_STATUS_ERROR) {
      XML_Parser p = state_->parser;
      const long long offset = XML_GetCurrentByteIndex(p);
      std::string message =
          source_ + ": malformed XML at line " + std::to_string(XML_GetCurrentLineNumber(p)) +
          ", column " + std::to_string(XML_GetCurrentColumnNumber(p) + 1) + " (byte " +
          std::to_string(offset) + (decompressed_ ? " of the decompressed XML" : "") +
          "): " + XML_ErrorString(XML_GetErrorCode(p));
      if (state_->in_page && !state_->page.title.empty()) {
        message += " (in page \"" + state_->page.title + "\")";
      }
      return Status::Corruption(message);
    }
    bytes_ += n;
    bytes.remove_prefix(n);
  } while (!bytes.empty());
  return Status::OK();
}

}  // namespace deepdist::corpus
