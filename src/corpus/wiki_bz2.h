// bz2 dumps: the decoder of a byte range of whole bz2 streams, and the
// sources that decode a file on one thread or on several.
//
// A .bz2 file may be many bz2 streams one after another: Wikimedia's
// "multistream" dumps put 100 pages in each, and parallel compressors
// (pbzip2, lbzip2) cut the text anywhere. Every stream starts on a byte
// boundary with "BZh", the block size digit and either a block's magic
// number 0x314159265359 or, for an empty stream, the end-of-stream magic
// 0x177245385090. The parallel source finds these starts, hands runs of
// whole streams to its threads and returns their output in file order, so
// that it is byte for byte the output of one thread, wherever the pages
// cross streams. Should a start it found lie inside a stream (those ten
// bytes can occur in compressed data by chance, about once in 2^77
// positions), the range before it fails to end with a stream's end, and
// decoding stops with an error saying so, rather than guessing.
#ifndef DEEPDIST_SRC_CORPUS_WIKI_BZ2_H_
#define DEEPDIST_SRC_CORPUS_WIKI_BZ2_H_

#include <bzlib.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "deepdist/status.h"
#include "src/corpus/wiki_source.h"

namespace deepdist::corpus {

// The first offset in [from, limit) of `fd` (a file of `size` bytes) where
// a bz2 stream may start, or `limit` when there is none there. IOError on
// a failed read.
[[nodiscard]] Result<uint64_t> FindBz2StreamStart(int fd, const std::string& path, uint64_t size,
                                                  uint64_t from, uint64_t limit);

// Decodes the bz2 streams that exactly fill bytes [begin, end) of a file of
// `file_size` bytes, in order. Reads with pread: several decoders may share
// one descriptor, which they do not own. Thread-compatible.
class Bz2RangeDecoder {
 public:
  Bz2RangeDecoder(int fd, std::string path, uint64_t file_size, uint64_t begin, uint64_t end);
  ~Bz2RangeDecoder();
  Bz2RangeDecoder(const Bz2RangeDecoder&) = delete;
  Bz2RangeDecoder& operator=(const Bz2RangeDecoder&) = delete;

  // Replaces *piece with up to kDumpPieceBytes of decompressed data; an
  // empty piece at the end of the range. Corruption when the data is not
  // bz2 or damaged, when the file's last stream is cut off (naming where),
  // and when a stream runs past `end`.
  [[nodiscard]] Status Next(std::string* piece);

  // The file offset up to which input was consumed.
  uint64_t position() const { return read_pos_ - stream_.avail_in; }
  uint64_t streams() const { return streams_; }

 private:
  int fd_;
  std::string path_;
  uint64_t file_size_;
  uint64_t end_;
  uint64_t read_pos_;  // The next offset to read.
  std::vector<char> in_;
  std::vector<char> out_;  // Grows to kDumpPieceBytes as the output needs.
  bz_stream stream_{};
  bool active_ = false;  // stream_ is initialised, within a stream.
  uint64_t stream_begin_ = 0;
  uint64_t streams_ = 0;
  bool done_ = false;
};

// A bz2 file decoded on the calling thread (threads == 1), or by `threads`
// threads, each taking a run of whole streams of at least `chunk_bytes`
// compressed bytes; a run is cut only where a stream starts, and the rest
// of the file after 64 MiB without one is a single run. The file is opened
// here; errors name it.
[[nodiscard]] Result<std::unique_ptr<DumpSource>> OpenBz2Source(const DumpFile& file, int threads,
                                                                uint64_t chunk_bytes);

}  // namespace deepdist::corpus

#endif  // DEEPDIST_SRC_CORPUS_WIKI_BZ2_H_
