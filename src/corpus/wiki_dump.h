// PrepareCorpus (deepdist corpus prepare): a MediaWiki XML dump (.xml, or
// .xml.bz2 with one or many bz2 streams) into a training corpus, one
// article per line by the text8 rules.
//
// The dump streams through: pieces of XML (read, or decompressed on
// `threads` threads when the .bz2 has many streams; wiki_bz2.h) go to
// expat on the calling thread, which hands out the pages (wiki_xml.h); the
// main-namespace articles that are not redirects are cleaned of their
// markup (wiki_markup.h) and turned into words (wiki_text8.h) in batches,
// on `threads` threads, and the lines are written in the dump's order. So
// the output is the same bytes whatever `threads` is. Memory stays bounded
// by the threads' batches and pieces (a few MiB each), whatever the size of
// the dump.
#ifndef DEEPDIST_SRC_CORPUS_WIKI_DUMP_H_
#define DEEPDIST_SRC_CORPUS_WIKI_DUMP_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "deepdist/status.h"
#include "src/corpus/wiki_text8.h"

namespace deepdist::corpus {

// Each decompressing thread takes whole bz2 streams of about this many
// compressed bytes (a multistream dump's streams hold 100 pages each,
// about 0.2 to 1 MiB).
inline constexpr uint64_t kDefaultBz2ChunkBytes = uint64_t{1} << 20;

struct PrepareStats {
  std::string format;        // "xml" or "bz2".
  uint64_t input_bytes = 0;  // The size of the input file.
  uint64_t input_read = 0;   // How far into it the run has got.
  uint64_t xml_bytes = 0;    // XML parsed (decompressed, for bz2).
  uint64_t bz2_streams = 0;  // bz2 streams decoded.
  // Runs of whole streams, each decoded by one thread: 1 for a file decoded
  // in one pass (--threads 1, or one big stream).
  uint64_t bz2_runs = 0;
  bool parallel_decompression = false;  // On threads of its own.
  uint64_t pages = 0;                   // <page> elements read.
  uint64_t articles = 0;                // Lines written.
  uint64_t redirects = 0;               // Main-namespace redirects skipped.
  uint64_t other_namespaces = 0;        // Pages outside the main namespace skipped.
  uint64_t empty_articles = 0;          // Articles with no words left once cleaned, skipped.
  uint64_t truncated_pages = 0;         // Articles cut at kMaxPageTextBytes.
  uint64_t tokens = 0;                  // Words written.
  double seconds = 0;
};

struct PrepareOptions {
  int64_t threads = 1;  // 1 to 4096.
  Text8Options text8;
  uint64_t bz2_chunk_bytes = kDefaultBz2ChunkBytes;
  // Called on the calling thread after each piece of input (about 1 MiB of
  // XML) with the counts so far; articles and tokens lag behind the pages
  // being cleaned.
  std::function<void(const PrepareStats&)> progress;
  // When it becomes true, the run stops with Status::Internal(kInterrupted)
  // and writes nothing. Not owned; may be null.
  const std::atomic<bool>* interrupt = nullptr;
};

// InvalidArgument naming --threads when it is out of range.
[[nodiscard]] Status ValidatePrepareOptions(const PrepareOptions& options);

// Converts the dump at `input` and writes the lines to `output`
// atomically: on any error nothing is left at `output` (a file there
// before stays as it was). Errors name the file: missing, empty, gzip,
// malformed XML (line, column, byte offset, page title), damaged or
// truncated bz2 (byte offset), no pages, no articles; or the output that
// cannot be written.
[[nodiscard]] Result<PrepareStats> PrepareCorpus(const std::string& input,
                                                 const std::string& output,
                                                 const PrepareOptions& options);

}  // namespace deepdist::corpus

#endif  // DEEPDIST_SRC_CORPUS_WIKI_DUMP_H_
