// deepdist corpus prepare, the library side: the markup stripper on each
// construct it handles (exact text expected), the text8 rules, the XML
// reader's choice of pages, errors with their positions, and bz2 input in
// one stream, in many (multistream, and streams cut anywhere as parallel
// compressors cut them), truncated and damaged; --threads 1 and 4 write
// the same bytes. Dumps are written by the tests, bz2 with libbz2.
#include "src/corpus/wiki_dump.h"

#include <bzlib.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "src/corpus/wiki_bz2.h"
#include "src/corpus/wiki_entities.h"
#include "src/corpus/wiki_markup.h"
#include "src/corpus/wiki_text8.h"
#include "tests/test_support.h"

namespace deepdist::corpus {
namespace {

namespace fs = std::filesystem;
using testing_support::ReadFile;
using testing_support::TempDirTest;

// The words of `wikitext` once cleaned, by the default text8 rules.
std::string Words(std::string_view wikitext) {
  std::string line;
  AppendText8Words(StripWikiMarkup(wikitext), Text8Options(), &line);
  return line;
}

// ---------------------------------------------------------------------------
// Markup.

TEST(WikiMarkupTest, NestedTemplatesAreDroppedWhole) {
  EXPECT_EQ(Words("a {{outer|x={{inner|{{deep|y={{deeper}}}}}}|z}} b {{one}}{{two}} c"), "a b c");
  EXPECT_EQ(Words("{{{{{{x}}}}}}left {{a|b={{c|d}}|e}}right"), "left right");
  // A stray closer is text.
  EXPECT_EQ(Words("a }} b"), "a b");
}

TEST(WikiMarkupTest, TablesInsideTemplatesAndTemplatesInsideTables) {
  EXPECT_EQ(Words("intro\n{{Infobox\n| data = \n{| class=\"wikitable\"\n| cell one\n|}\n}}\n"
                  "middle\n{|\n|-\n| {{flag|France}} || text in table\n|}\nend"),
            "intro middle end");
  // "|}}" ends the template, not a table.
  EXPECT_EQ(Words("x {{foo\n|bar\n|}}\nafter"), "x after");
  // Nested tables, an indented one, and the text after the closing "|}".
  EXPECT_EQ(Words("{|\n|a\n{|\n|b\n|}\n|c\n|}\nd\n:{| class=x\n|e\n|} f"), "d f");
}

TEST(WikiMarkupTest, LinksKeepTheirText) {
  EXPECT_EQ(Words("[[Paris]] and [[Paris, Texas|the other Paris]] and [[Mercury (planet)|]] and "
                  "[[Paris, Texas|]] and [[apple]]s and [[:Category:Cats|cat list]] and "
                  "[[Media:Anthem.ogg|the anthem]] and [[wikt:tower|tower]] and [[a|b|c]]"),
            "paris and the other paris and mercury and paris and apples and cat list and the "
            "anthem and tower and b c");
}

TEST(WikiMarkupTest, FileCategoryAndInterlanguageLinksAreDropped) {
  EXPECT_EQ(Words("Text[[File:Eiffel.jpg|thumb|The [[Eiffel Tower]] at [[night|dusk]]]] more "
                  "[[Image:x.png|[[a|[[b]]]]]] [[ file : y.svg ]] [[Category:Towers|Eiffel]] "
                  "[[fr:Tour Eiffel]] [[zh-min-nan:Eiffel]] [[simple:Tower]] end"),
            "text more end");
}

TEST(WikiMarkupTest, ExternalLinksKeepTheirTextAndBareUrlsGo) {
  EXPECT_EQ(Words("See [http://example.org/a?b=c the example site] and [https://x.org] or "
                  "http://bare.example.com/path?q=1 and [//proto.example.org relative] end"),
            "see the example site and or and relative end");
}

TEST(WikiMarkupTest, RefsAreDropped) {
  EXPECT_EQ(Words("Fact.<ref>{{cite web|url=http://x|title=Source one}}</ref> Next<ref "
                  "name=\"a\" /> fact<REF name=b>Second [[source]]</Ref>.\n<references />\n"
                  "<references>\n<ref name=c>Third</ref>\n</references>\nAfter"),
            "fact next fact after");
}

TEST(WikiMarkupTest, CommentsAreDropped) {
  EXPECT_EQ(Words("Keep<!-- drop this [[link]] {{t}} -->ing this <!--\nmulti\nline\n-->text"),
            "keeping this text");
  // A comment hides a closer: the template runs on to the next one.
  EXPECT_EQ(Words("a {{t|<!-- }} -->b}} c"), "a c");
}

TEST(WikiMarkupTest, EntitiesAreDecoded) {
  EXPECT_EQ(DecodeHtmlEntities("A&amp;B &lt;x&gt; &#65;&#x42; &amp;quot;q&amp;quot; &eacute; "
                               "&bogus; &#0; & &copy"),
            "A&B <x> AB \"q\" \xC3\xA9     & &copy");
  EXPECT_EQ(DecodeHtmlEntities("x&nbsp;y&ndash;z&#8212;w"), "x\xC2\xA0y\xE2\x80\x93z\xE2\x80\x94w");
  EXPECT_EQ(Words("caf&eacute; A&amp;B x&nbsp;y &#65;&#x42;C &amp;nbsp;z &unknown; &copy"),
            "caf a b x y abc z copy");
}

TEST(WikiMarkupTest, HtmlTagsGoContentStaysExceptDroppedBlocks) {
  EXPECT_EQ(Words("<b>Bold</b> and <span style=\"color:red\">span</span> text<br/>next"
                  "<div>block</div> <math>x^2 + y</math> <gallery>\nA.jpg|caption\n</gallery> "
                  "<nowiki>[[not a link]] {{not a template}}</nowiki> <code>code</code> "
                  "<pre>pre text</pre> <timeline>t</timeline> <score>s</score> "
                  "<syntaxhighlight lang=c>int x;</syntaxhighlight> x < y and y > z <foo>"),
            "bold and span text next block not a link not a template code x y and y z foo");
}

TEST(WikiMarkupTest, BoldItalicHeadingsListsAndSwitches) {
  EXPECT_EQ(StripWikiMarkup("'''Bold''' and ''italic'' and '''''both''''' don't\n"
                            "== Heading Two ==\n=== Sub ===\n* item one\n# item two\n----\n"
                            "__NOTOC__ end"),
            "Bold and italic and both don't\n Heading Two \n Sub \n item one\n item two\n\n end");
}

TEST(WikiMarkupTest, UnterminatedMarkupStopsAtThePage) {
  EXPECT_EQ(Words("a {{unclosed template b {{closed}} [[link]] c"), "a unclosed template b link c");
  EXPECT_EQ(Words("a [[unclosed link b"), "a unclosed link b");
  EXPECT_EQ(Words("a <ref>unclosed ref b"), "a unclosed ref b");
  EXPECT_EQ(Words("a <nowiki>unclosed nowiki b"), "a unclosed nowiki b");
  EXPECT_EQ(Words("a [http://x.org unclosed external link\nb"), "a unclosed external link b");
  // As in MediaWiki, an unclosed comment or table hides the rest of the page.
  EXPECT_EQ(Words("a <!-- unclosed comment b"), "a");
  EXPECT_EQ(Words("a\n{|\n| unclosed table\nb"), "a");
}

TEST(WikiMarkupTest, ManyUnclosedTagsAndDeepNestingStayCheap) {
  std::string page;
  for (int i = 0; i < 20000; ++i) page += "<ref>w ";
  EXPECT_EQ(Words(page).size(), 20000u * 2 - 1);
  std::string deep(200000, '[');
  deep += "x";
  deep += std::string(200000, ']');
  deep += " tail";
  EXPECT_EQ(Words(deep), "tail");
}

// ---------------------------------------------------------------------------
// The text8 rules.

TEST(Text8Test, LowercaseLettersDigitsSpelledOutEverythingElseABreak) {
  std::string line;
  EXPECT_EQ(AppendText8Words("Hello, World! 1984 mp3 3D Qu\xC3\xA9"
                             "bec x2y  tab\tnew\nline",
                             Text8Options(), &line),
            18u);
  EXPECT_EQ(line, "hello world one nine eight four mp three three d qu bec x two y tab new line");
  EXPECT_EQ(AppendText8Words("  More 0 ", Text8Options(), &line), 2u);
  EXPECT_EQ(line.substr(line.size() - 10), " more zero");
  line.clear();
  EXPECT_EQ(AppendText8Words("!!! ... ", Text8Options(), &line), 0u);
  EXPECT_EQ(line, "");
}

TEST(Text8Test, KeepCaseAndKeepDigits) {
  const std::string text =
      "Hello, World! 1984 mp3 3D Qu\xC3\xA9"
      "bec x2y";
  std::string line;
  AppendText8Words(text, Text8Options{.keep_case = true}, &line);
  EXPECT_EQ(line, "Hello World one nine eight four mp three three D Qu bec x two y");
  line.clear();
  AppendText8Words(text, Text8Options{.keep_digits = true}, &line);
  EXPECT_EQ(line, "hello world 1984 mp3 3d qu bec x2y");
  line.clear();
  EXPECT_EQ(AppendText8Words(text, Text8Options{.keep_case = true, .keep_digits = true}, &line),
            8u);
  EXPECT_EQ(line, "Hello World 1984 mp3 3D Qu bec x2y");
}

// ---------------------------------------------------------------------------
// Dumps.

std::string XmlEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

const char kDumpHead[] =
    "<mediawiki xmlns=\"http://www.mediawiki.org/xml/export-0.10/\" version=\"0.10\" "
    "xml:lang=\"en\">\n"
    "  <siteinfo>\n"
    "    <sitename>Wikipedia</sitename>\n"
    "    <namespaces>\n"
    "      <namespace key=\"-1\" case=\"first-letter\">Special</namespace>\n"
    "      <namespace key=\"0\" case=\"first-letter\" />\n"
    "      <namespace key=\"1\" case=\"first-letter\">Talk</namespace>\n"
    "      <namespace key=\"6\" case=\"first-letter\">File</namespace>\n"
    "    </namespaces>\n"
    "  </siteinfo>\n";
const char kDumpTail[] = "</mediawiki>\n";

// A <page> with one revision; ns < 0 leaves <ns> out (dumps before 2010).
std::string Page(std::string_view title, int ns, std::string_view wikitext,
                 bool redirect_element = false) {
  static int id = 0;
  ++id;
  std::string page = "  <page>\n    <title>" + XmlEscape(title) + "</title>\n";
  if (ns >= 0) page += "    <ns>" + std::to_string(ns) + "</ns>\n";
  page += "    <id>" + std::to_string(id) + "</id>\n";
  if (redirect_element) page += "    <redirect title=\"Elsewhere\" />\n";
  page += "    <revision>\n      <id>" + std::to_string(1000 + id) +
          "</id>\n      <model>wikitext</model>\n      <text bytes=\"" +
          std::to_string(wikitext.size()) + "\" xml:space=\"preserve\">" + XmlEscape(wikitext) +
          "</text>\n    </revision>\n  </page>\n";
  return page;
}

std::string Dump(const std::vector<std::string>& pages) {
  std::string dump = kDumpHead;
  for (const std::string& p : pages) dump += p;
  return dump + kDumpTail;
}

// One bz2 stream holding `data`, compressed in blocks of `level` x 100 kB.
std::string Bz2(std::string_view data, int level = 9) {
  unsigned int size = static_cast<unsigned int>(data.size() + data.size() / 100 + 1024);
  std::string out(size, '\0');
  const int rc = BZ2_bzBuffToBuffCompress(out.data(), &size, const_cast<char*>(data.data()),
                                          static_cast<unsigned int>(data.size()), level, 0, 0);
  EXPECT_EQ(rc, BZ_OK);
  out.resize(size);
  return out;
}

// The dump's head, every `per_stream` pages and the tail, each compressed
// as a bz2 stream of its own, one after another: a multistream dump.
std::string Multistream(const std::vector<std::string>& pages, size_t per_stream,
                        std::vector<size_t>* stream_starts = nullptr) {
  std::vector<std::string> parts = {kDumpHead};
  for (size_t i = 0; i < pages.size(); i += per_stream) {
    std::string part;
    for (size_t j = i; j < std::min(pages.size(), i + per_stream); ++j) part += pages[j];
    parts.push_back(part);
  }
  parts.push_back(kDumpTail);
  std::string out;
  for (const std::string& part : parts) {
    if (stream_starts != nullptr) stream_starts->push_back(out.size());
    out += Bz2(part);
  }
  return out;
}

// `xml` cut every `every` bytes (through pages, tags and characters), each
// piece its own bz2 stream, as pbzip2 and lbzip2 cut it (level 1: small
// blocks make many streams cheap to write and read).
std::string CutIntoStreams(std::string_view xml, size_t every) {
  std::string out;
  for (size_t i = 0; i < xml.size(); i += every) out += Bz2(xml.substr(i, every), 1);
  return out;
}

// Pages of generated wikitext with every kind of markup, varying by `seed`.
std::vector<std::string> GeneratedPages(int count, unsigned seed) {
  std::mt19937 rng(seed);
  const std::vector<std::string> words = {"river", "Stone",  "1848", "empire", "caf\xC3\xA9",
                                          "Ode",   "signal", "x2",   "north",  "quartz"};
  auto word = [&] { return words[rng() % words.size()]; };
  std::vector<std::string> pages;
  for (int i = 0; i < count; ++i) {
    std::string text;
    const int parts = 5 + static_cast<int>(rng() % 30);
    for (int p = 0; p < parts; ++p) {
      switch (rng() % 12) {
        case 0:
          text += "{{Infobox|a=" + word() + "|b={{nested|" + word() + "}}}} ";
          break;
        case 1:
          text += "[[" + word() + "|" + word() + "]] ";
          break;
        case 2:
          text += "<ref>{{cite|" + word() + "}}</ref> ";
          break;
        case 3:
          text += "\n{| class=wikitable\n| " + word() + "\n|}\n";
          break;
        case 4:
          text += "[[File:" + word() + ".jpg|thumb|[[" + word() + "]]]] ";
          break;
        case 5:
          text += "&amp;nbsp;&#233;'''" + word() + "''' ";
          break;
        case 6:
          text += "\n== " + word() + " ==\n";
          break;
        case 7:
          text += "[http://example.org/" + word() + " " + word() + "] ";
          break;
        default:
          text += word() + " " + word() + ". ";
      }
    }
    const int kind = static_cast<int>(rng() % 10);
    if (kind == 0) {
      pages.push_back(Page("Talk:Page " + std::to_string(i), 1, text));
    } else if (kind == 1) {
      pages.push_back(Page("Redirect " + std::to_string(i), 0, "#REDIRECT [[Elsewhere]]", true));
    } else {
      pages.push_back(Page("Page " + std::to_string(i), 0, text));
    }
  }
  return pages;
}

class PrepareCorpusTest : public TempDirTest {
 protected:
  PrepareCorpusTest() : TempDirTest("deepdist_wiki_dump_test_") {}

  // Prepares `input` into dir_/out.txt; *text gets what was written.
  Result<PrepareStats> Prepare(const std::string& input, int threads = 1,
                               uint64_t chunk_bytes = kDefaultBz2ChunkBytes,
                               Text8Options text8 = Text8Options(), std::string* text = nullptr) {
    PrepareOptions options;
    options.threads = threads;
    options.bz2_chunk_bytes = chunk_bytes;
    options.text8 = text8;
    const std::string output = dir_ + "/out.txt";
    fs::remove(output);
    Result<PrepareStats> stats = PrepareCorpus(input, output, options);
    if (text != nullptr) *text = ReadFile(output);
    return stats;
  }

  // The text written for `input`, which must succeed.
  std::string Text(const std::string& input, int threads = 1,
                   uint64_t chunk_bytes = kDefaultBz2ChunkBytes,
                   Text8Options text8 = Text8Options()) {
    std::string text;
    Result<PrepareStats> stats = Prepare(input, threads, chunk_bytes, text8, &text);
    EXPECT_TRUE(stats.ok()) << stats.status().message();
    return text;
  }

  // The error `input` fails with; nothing may be left at the output.
  std::string Error(const std::string& input, int threads = 1,
                    uint64_t chunk_bytes = kDefaultBz2ChunkBytes) {
    Result<PrepareStats> stats = Prepare(input, threads, chunk_bytes);
    EXPECT_FALSE(stats.ok());
    EXPECT_FALSE(fs::exists(dir_ + "/out.txt"));
    for (const auto& entry : fs::directory_iterator(dir_)) {
      EXPECT_EQ(entry.path().string().find(".tmp."), std::string::npos) << entry.path();
    }
    return stats.ok() ? "" : stats.status().message();
  }
};

// The article docs/CORPUS.md shows before and after.
constexpr std::string_view kArticle =
    "{{Short description|Political philosophy and movement}}\n"
    "{{Infobox philosophy\n"
    "| name = Anarchism\n"
    "| image = Anarchy-symbol.svg\n"
    "| era = {{nowrap|19th century}}&ndash;present\n"
    "}}\n"
    "'''Anarchism''' is a [[political philosophy]] and [[Political movement|movement]] that is "
    "skeptical of all justifications for [[authority]].<ref name=\"McLaughlin\">{{cite book "
    "|last=McLaughlin |first=Paul |year=2007 |title=Anarchism and Authority}}</ref> It became "
    "prominent in the 1840s with [[Pierre-Joseph Proudhon|Proudhon]]'s ''What Is "
    "Property?''.<ref>{{harvnb|Marshall|1993|p=4}}</ref>\n"
    "[[File:Pierre-Joseph Proudhon.jpg|thumb|upright|[[Pierre-Joseph Proudhon]], the first "
    "self-declared anarchist]]\n"
    "\n"
    "== Etymology ==\n"
    "The word derives from the [[Ancient Greek]] ''anarkhia'' (&quot;without a "
    "ruler&quot;).<!-- see talk page -->\n"
    "{| class=\"wikitable\"\n"
    "! Year !! Event\n"
    "|-\n"
    "| 1840 || ''What Is Property?''\n"
    "|}\n"
    "\n"
    "== See also ==\n"
    "* [[Anarchism and Marxism]]\n"
    "* [https://www.example.org/anarchism Anarchist FAQ]\n"
    "\n"
    "[[Category:Anarchism| ]]\n"
    "[[de:Anarchismus]]\n";

constexpr std::string_view kArticleLine =
    "anarchism is a political philosophy and movement that is skeptical of all justifications "
    "for authority it became prominent in the one eight four zero s with proudhon s what is "
    "property etymology the word derives from the ancient greek anarkhia without a ruler see "
    "also anarchism and marxism anarchist faq\n";

TEST_F(PrepareCorpusTest, RealLookingArticle) {
  const std::string input = Write("dump.xml", Dump({Page("Anarchism", 0, kArticle)}));
  EXPECT_EQ(Text(input), kArticleLine);
}

TEST_F(PrepareCorpusTest, RedirectsAndOtherNamespacesAreSkipped) {
  const std::string input = Write(
      "dump.xml",
      Dump({Page("First", 0, "First article."),
            Page("Gone", 0, "#REDIRECT [[First]]", /*redirect_element=*/true),
            Page("Also gone", 0, "  #redirect [[First]]"), Page("Talk:First", 1, "Talk text."),
            Page("File:X.jpg", 6, "File text."), Page("Talk:Old style", -1, "Old talk text."),
            Page("Old style: a subtitle", -1, "Old article."),
            Page("Empty", 0, "{{stub}} [[Category:Stubs]]"), Page("Last", 0, "Last article.")}));
  std::string text;
  Result<PrepareStats> stats = Prepare(input, 1, kDefaultBz2ChunkBytes, Text8Options(), &text);
  ASSERT_TRUE(stats.ok()) << stats.status().message();
  EXPECT_EQ(text, "first article\nold article\nlast article\n");
  EXPECT_EQ(stats->pages, 9u);
  EXPECT_EQ(stats->articles, 3u);
  EXPECT_EQ(stats->redirects, 2u);
  EXPECT_EQ(stats->other_namespaces, 3u);
  EXPECT_EQ(stats->empty_articles, 1u);
  EXPECT_EQ(stats->tokens, 6u);
  EXPECT_EQ(stats->format, "xml");
  EXPECT_EQ(stats->xml_bytes, fs::file_size(input));
}

TEST_F(PrepareCorpusTest, TheLastRevisionIsTheText) {
  const std::string page =
      "<page><title>P</title><ns>0</ns><revision><text>old words</text></revision>"
      "<revision><text>new words</text></revision></page>";
  const std::string input = Write("dump.xml", "<mediawiki>" + page + "</mediawiki>");
  EXPECT_EQ(Text(input), "new words\n");
}

TEST_F(PrepareCorpusTest, UnterminatedMarkupDoesNotReachTheNextPage) {
  const std::string input =
      Write("dump.xml",
            Dump({Page("A", 0, "alpha {{ beta [[ gamma <ref> delta <nowiki> eta <!-- epsilon"),
                  Page("B", 0, "second page"), Page("C", 0, "third\n{|\n| table never closed"),
                  Page("D", 0, "fourth [[page]]")}));
  EXPECT_EQ(Text(input), "alpha beta gamma delta eta\nsecond page\nthird\nfourth page\n");
}

TEST_F(PrepareCorpusTest, KeepCaseAndKeepDigits) {
  const std::string input =
      Write("dump.xml", Dump({Page("A", 0, "The [[Apollo 11|Apollo&nbsp;11]] landing, 1969.")}));
  EXPECT_EQ(Text(input), "the apollo one one landing one nine six nine\n");
  EXPECT_EQ(Text(input, 1, kDefaultBz2ChunkBytes, {.keep_case = true}),
            "The Apollo one one landing one nine six nine\n");
  EXPECT_EQ(Text(input, 1, kDefaultBz2ChunkBytes, {.keep_digits = true}),
            "the apollo 11 landing 1969\n");
  EXPECT_EQ(Text(input, 1, kDefaultBz2ChunkBytes, {.keep_case = true, .keep_digits = true}),
            "The Apollo 11 landing 1969\n");
}

TEST_F(PrepareCorpusTest, MalformedXmlNamesThePositionAndThePage) {
  const std::string input = Write("dump.xml",
                                  "<mediawiki>\n"
                                  "  <page>\n"
                                  "    <title>Broken page</title>\n"
                                  "    <ns>0</ns>\n"
                                  "    <revision><text>x</revison>\n"
                                  "  </page>\n"
                                  "</mediawiki>\n");
  // Expat points at the end tag's name: on line 5 after "    <revision><text>x</"
  // (23 bytes), column 24, byte 12 + 9 + 31 + 15 + 23 = 90.
  EXPECT_EQ(Error(input), input +
                              ": malformed XML at line 5, column 24 (byte 90): mismatched tag "
                              "(in page \"Broken page\")");
}

TEST_F(PrepareCorpusTest, MalformedXmlInBz2CountsDecompressedBytes) {
  const std::string input = Write("dump.xml.bz2", Bz2("<mediawiki>\n<page><title>T</title>&bad"));
  // The '&' that starts a reference the data never ends: byte 12 + 22.
  EXPECT_EQ(Error(input), input +
                              ": malformed XML at line 2, column 23 (byte 34 of the decompressed "
                              "XML): unclosed token (in page \"T\")");
}

TEST_F(PrepareCorpusTest, TruncatedXmlIsAnError) {
  const std::string full = Dump({Page("A", 0, "alpha")});
  const std::string input = Write("dump.xml", full.substr(0, full.size() / 2));
  EXPECT_EQ(Error(input).rfind(input + ": malformed XML at line ", 0), 0u);
}

TEST_F(PrepareCorpusTest, EmptyAndNonDumpInputs) {
  const std::string empty = Write("empty.xml", "");
  EXPECT_EQ(Error(empty), empty + ": is empty");
  const std::string empty_bz2 = Write("empty.xml.bz2", Bz2(""));
  EXPECT_EQ(Error(empty_bz2), empty_bz2 + ": is empty (its bz2 data holds no XML)");
  const std::string no_pages = Write("nopages.xml", "<mediawiki><siteinfo/></mediawiki>");
  EXPECT_EQ(Error(no_pages), no_pages + ": has no <page> elements: not a MediaWiki XML dump");
  const std::string redirects =
      Write("redirects.xml", Dump({Page("R", 0, "#REDIRECT [[X]]"), Page("T:x", 1, "talk")}));
  EXPECT_EQ(Error(redirects),
            redirects +
                ": no article to write: of 2 pages, 1 are redirects, 1 outside the main "
                "namespace and 0 without words once cleaned");
  const std::string gz = Write("dump.xml.gz", std::string("\x1f\x8b\x08\x00", 4));
  EXPECT_EQ(Error(gz), gz + ": is gzip-compressed; corpus prepare reads .xml and .xml.bz2 dumps "
                            "(gunzip it first)");
  const std::string missing = dir_ + "/missing.xml";
  EXPECT_EQ(Error(missing), missing + ": no such file");
}

TEST_F(PrepareCorpusTest, UnwritableOutputIsAnError) {
  const std::string input = Write("dump.xml", Dump({Page("A", 0, "alpha")}));
  PrepareOptions options;
  const std::string output = dir_ + "/no_such_dir/out.txt";
  Result<PrepareStats> stats = PrepareCorpus(input, output, options);
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.status().message().rfind(output + ": cannot write", 0), 0u)
      << stats.status().message();
  options.threads = 0;
  EXPECT_EQ(PrepareCorpus(input, dir_ + "/out.txt", options).status().code(),
            Status::Code::kInvalidArgument);
}

TEST_F(PrepareCorpusTest, Bz2OfOneStreamMatchesPlainXml) {
  const std::vector<std::string> pages = GeneratedPages(300, 1);
  const std::string xml = Dump(pages);
  const std::string plain = Write("dump.xml", xml);
  const std::string bz2 = Write("dump.xml.bz2", Bz2(xml));
  const std::string expected = Text(plain);
  ASSERT_GT(expected.size(), 1000u);
  for (int threads : {1, 4}) {
    std::string text;
    Result<PrepareStats> stats = Prepare(bz2, threads, 1, Text8Options(), &text);
    ASSERT_TRUE(stats.ok()) << stats.status().message();
    EXPECT_EQ(text, expected) << threads;
    EXPECT_EQ(stats->bz2_streams, 1u);
    EXPECT_EQ(stats->xml_bytes, xml.size());
    EXPECT_EQ(stats->format, "bz2");
  }
}

TEST_F(PrepareCorpusTest, MultistreamBz2OnOneAndFourThreads) {
  const std::vector<std::string> pages = GeneratedPages(1000, 2);
  const std::string plain = Write("dump.xml", Dump(pages));
  std::vector<size_t> starts;
  const std::string multistream = Write("dump.xml.bz2", Multistream(pages, 25, &starts));
  const std::string expected = Text(plain);
  ASSERT_GT(expected.size(), 10000u);
  for (int threads : {1, 2, 4}) {
    // Chunk sizes: every stream a chunk of its own, a few streams, all of them.
    for (uint64_t chunk_bytes : {uint64_t{1}, uint64_t{10000}, kDefaultBz2ChunkBytes}) {
      SCOPED_TRACE(std::to_string(threads) + " threads, chunks of " + std::to_string(chunk_bytes));
      std::string text;
      Result<PrepareStats> stats =
          Prepare(multistream, threads, chunk_bytes, Text8Options(), &text);
      ASSERT_TRUE(stats.ok()) << stats.status().message();
      EXPECT_EQ(text, expected);
      EXPECT_EQ(stats->bz2_streams, starts.size());
      EXPECT_EQ(stats->pages, 1000u);
      EXPECT_EQ(stats->parallel_decompression, threads > 1);
      // One run a stream, a few streams a run, or the whole file in one.
      if (threads == 1 || chunk_bytes == kDefaultBz2ChunkBytes) {
        EXPECT_EQ(stats->bz2_runs, 1u);
      } else if (chunk_bytes == 1) {
        EXPECT_EQ(stats->bz2_runs, starts.size());
      } else {
        EXPECT_GT(stats->bz2_runs, 2u);
        EXPECT_LT(stats->bz2_runs, starts.size());
      }
    }
  }
}

TEST_F(PrepareCorpusTest, PagesCutAcrossStreamsAreNeitherLostNorDoubled) {
  const std::vector<std::string> pages = GeneratedPages(200, 3);
  const std::string xml = Dump(pages);
  const std::string plain = Write("dump.xml", xml);
  const std::string expected = Text(plain);
  for (size_t every : {size_t{37}, size_t{1000}, size_t{4096}}) {
    const std::string cut = Write("cut.xml.bz2", CutIntoStreams(xml, every));
    for (int threads : {1, 4}) {
      SCOPED_TRACE(std::to_string(every) + "-byte streams, " + std::to_string(threads) +
                   " threads");
      std::string text;
      Result<PrepareStats> stats = Prepare(cut, threads, 1, Text8Options(), &text);
      ASSERT_TRUE(stats.ok()) << stats.status().message();
      EXPECT_EQ(text, expected);
      EXPECT_EQ(stats->bz2_streams, (xml.size() + every - 1) / every);
    }
  }
}

TEST_F(PrepareCorpusTest, EmptyStreamsInAMultistreamFile) {
  const std::string xml = Dump({Page("A", 0, "alpha"), Page("B", 0, "beta")});
  const size_t half = xml.size() / 2;
  const std::string input =
      Write("dump.xml.bz2", Bz2("") + Bz2(xml.substr(0, half)) + Bz2("") + Bz2(xml.substr(half)));
  for (int threads : {1, 4}) EXPECT_EQ(Text(input, threads, 1), "alpha\nbeta\n");
}

TEST_F(PrepareCorpusTest, TruncatedBz2NamesTheOffset) {
  const std::vector<std::string> pages = GeneratedPages(200, 4);
  const std::string one = Bz2(Dump(pages));
  const std::string cut_one = Write("one.xml.bz2", one.substr(0, one.size() / 2));
  const std::string size = std::to_string(one.size() / 2);
  for (int threads : {1, 4}) {
    EXPECT_EQ(Error(cut_one, threads, 1), cut_one +
                                              ": truncated bz2 data: the stream that starts at "
                                              "byte 0 breaks off at byte " +
                                              size + ", the end of the file");
  }
  std::vector<size_t> starts;
  const std::string multi = Multistream(pages, 20, &starts);
  // Cut inside the last stream but one.
  const size_t cut_at = starts[starts.size() - 2] + 10;
  const std::string cut_multi = Write("multi.xml.bz2", multi.substr(0, cut_at));
  for (int threads : {1, 4}) {
    EXPECT_EQ(Error(cut_multi, threads, 1),
              cut_multi + ": truncated bz2 data: the stream that starts at byte " +
                  std::to_string(starts[starts.size() - 2]) + " breaks off at byte " +
                  std::to_string(cut_at) + ", the end of the file");
  }
}

TEST_F(PrepareCorpusTest, DamagedBz2AndTrailingDataAreErrors) {
  const std::string data = Bz2(Dump(GeneratedPages(200, 5)));
  std::string damaged = data;
  for (size_t k = data.size() / 2; k < data.size() / 2 + 16; ++k) damaged[k] ^= 0x5A;
  const std::string damaged_path = Write("damaged.xml.bz2", damaged);
  for (int threads : {1, 4}) {
    const std::string error = Error(damaged_path, threads);
    EXPECT_EQ(error.rfind(damaged_path + ": damaged bz2 data near byte ", 0), 0u) << error;
    EXPECT_NE(error.find("(in the stream that starts at byte 0)"), std::string::npos) << error;
  }
  const std::string trailing = Write("trailing.xml.bz2", data + "garbage after the stream");
  for (int threads : {1, 4}) {
    EXPECT_EQ(Error(trailing, threads), trailing + ": byte " + std::to_string(data.size()) +
                                            ": not the start of a bz2 stream (data after the "
                                            "last stream?)");
  }
}

// ---------------------------------------------------------------------------
// The bz2 pieces on their own.

class Bz2Test : public TempDirTest {
 protected:
  Bz2Test() : TempDirTest("deepdist_wiki_bz2_test_") {}

  int Open(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY);
    EXPECT_GE(fd, 0);
    fds_.push_back(fd);
    return fd;
  }
  ~Bz2Test() override {
    for (int fd : fds_) ::close(fd);
  }

  std::vector<int> fds_;
};

TEST_F(Bz2Test, FindsEveryStreamStart) {
  std::vector<size_t> starts;
  const std::string data = Multistream(GeneratedPages(100, 6), 10, &starts);
  const std::string path = Write("multi.bz2", data);
  const int fd = Open(path);
  std::vector<size_t> found;
  for (uint64_t at = 0; at < data.size();) {
    Result<uint64_t> next = FindBz2StreamStart(fd, path, data.size(), at, data.size());
    ASSERT_TRUE(next.ok());
    if (*next == data.size()) break;
    found.push_back(*next);
    at = *next + 1;
  }
  EXPECT_EQ(found, starts);
  Result<uint64_t> none = FindBz2StreamStart(fd, path, data.size(), 1, starts[1]);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, starts[1]);  // The limit: no start in between.
}

// A range whose end is no stream's end: what a false stream start inside a
// stream would cause. It must fail, not return part of the stream.
TEST_F(Bz2Test, ARangeEndingInsideAStreamFails) {
  const std::string xml = Dump(GeneratedPages(100, 7));
  const std::string data = Bz2(xml);
  const std::string path = Write("one.bz2", data);
  const int fd = Open(path);
  Bz2RangeDecoder decoder(fd, path, data.size(), 0, data.size() / 2);
  std::string piece;
  Status status;
  while ((status = decoder.Next(&piece)).ok() && !piece.empty()) {
  }
  EXPECT_EQ(status.message(), path + ": byte " + std::to_string(data.size() / 2) +
                                  ": what looks like a bz2 stream header lies inside the stream "
                                  "that starts at byte 0; decode this file on one thread "
                                  "(--threads 1)");
  Bz2RangeDecoder whole(fd, path, data.size(), 0, data.size());
  std::string out;
  while ((status = whole.Next(&piece)).ok() && !piece.empty()) out += piece;
  EXPECT_TRUE(status.ok()) << status.message();
  EXPECT_EQ(out, xml);
  EXPECT_EQ(whole.streams(), 1u);
  EXPECT_EQ(whole.position(), data.size());
}

}  // namespace
}  // namespace deepdist::corpus
