// DumpSource: the XML of a MediaWiki dump, in order and in pieces, read
// from a plain .xml file or decompressed from a .bz2 one. The format is
// told by the file's first bytes, not its name. Each source is used by one
// thread (a bz2 source may decompress on threads of its own behind Next).
#ifndef DEEPDIST_SRC_CORPUS_WIKI_SOURCE_H_
#define DEEPDIST_SRC_CORPUS_WIKI_SOURCE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "deepdist/status.h"

namespace deepdist::corpus {

// Decompressed or read bytes come in pieces of at most this size.
inline constexpr size_t kDumpPieceBytes = size_t{1} << 20;

class DumpSource {
 public:
  virtual ~DumpSource() = default;

  // Replaces *piece with the next bytes of XML; an empty piece means the
  // end. Errors name the file and, for bz2 data, the byte offset.
  [[nodiscard]] virtual Status Next(std::string* piece) = 0;
  // How far into the file the pieces returned so far reach, in bytes.
  virtual uint64_t input_offset() const = 0;
  // bz2 streams decoded to the end so far (0 for plain XML).
  virtual uint64_t streams() const { return 0; }
  // Runs of whole bz2 streams decoded so far, each by one thread (1 when
  // the file is decoded in one pass, 0 for plain XML).
  virtual uint64_t runs() const { return 0; }
  // Whether decompression runs on threads of its own.
  virtual bool parallel() const { return false; }
};

enum class DumpFormat { kXml, kBz2 };

struct DumpFile {
  std::string path;
  uint64_t size = 0;
  DumpFormat format = DumpFormat::kXml;
};

// Checks that `path` is a readable, non-empty file and tells its format.
// NotFound or IOError for a missing or unreadable file or a folder;
// Corruption for an empty or gzip-compressed one.
[[nodiscard]] Result<DumpFile> InspectDump(const std::string& path);

// The source for `file`: plain XML as it is; bz2 decoded on the caller's
// thread when `threads` is 1, else on `threads` threads, each taking runs
// of whole bz2 streams of at least `chunk_bytes` compressed bytes.
[[nodiscard]] Result<std::unique_ptr<DumpSource>> OpenDumpSource(const DumpFile& file, int threads,
                                                                 uint64_t chunk_bytes);

}  // namespace deepdist::corpus

#endif  // DEEPDIST_SRC_CORPUS_WIKI_SOURCE_H_
