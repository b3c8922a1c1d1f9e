#include "src/corpus/wiki_source.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "src/core/input_file.h"
#include "src/corpus/wiki_bz2.h"

namespace deepdist::corpus {

namespace {

// A plain XML file, read in pieces.
class XmlFileSource : public DumpSource {
 public:
  XmlFileSource(std::FILE* file, std::string path, uint64_t size)
      : file_(file), path_(std::move(path)), size_(size) {}
  ~XmlFileSource() override { std::fclose(file_); }
  XmlFileSource(const XmlFileSource&) = delete;
  XmlFileSource& operator=(const XmlFileSource&) = delete;

  // Pieces are sized to what is left of the file (so that a small dump does
  // not zero a whole piece per read), at least a page so that a file that
  // grew since it was measured is still read to its end.
  Status Next(std::string* piece) override {
    const uint64_t left = size_ > offset_ ? size_ - offset_ : 0;
    piece->resize(static_cast<size_t>(std::clamp<uint64_t>(left, 4096, kDumpPieceBytes)));
    const size_t got = std::fread(piece->data(), 1, piece->size(), file_);
    if (got < piece->size() && std::ferror(file_) != 0) {
      return Status::IOError(path_ + ": read failed: " + std::strerror(errno));
    }
    piece->resize(got);
    offset_ += got;
    return Status::OK();
  }

  uint64_t input_offset() const override { return offset_; }

 private:
  std::FILE* file_;
  std::string path_;
  uint64_t size_;
  uint64_t offset_ = 0;
};

}  // namespace

Result<DumpFile> InspectDump(const std::string& path) {
  DD_RETURN_IF_ERROR(CheckInputFile(path));
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return Status::IOError(path + ": not a regular file");
  }
  DumpFile file;
  file.path = path;
  file.size = static_cast<uint64_t>(st.st_size);
  if (file.size == 0) return Status::Corruption(path + ": is empty");
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr)
    return Status::IOError(path + ": cannot open for reading: " + std::strerror(errno));
  unsigned char head[4] = {0, 0, 0, 0};
  const size_t got = std::fread(head, 1, sizeof(head), f);
  std::fclose(f);
  if (got >= 2 && head[0] == 0x1f && head[1] == 0x8b) {
    return Status::Corruption(path +
                              ": is gzip-compressed; corpus prepare reads .xml and .xml.bz2 dumps "
                              "(gunzip it first)");
  }
  if (got == 4 && head[0] == 'B' && head[1] == 'Z' && head[2] == 'h' && head[3] >= '1' &&
      head[3] <= '9') {
    file.format = DumpFormat::kBz2;
  }
  return file;
}

Result<std::unique_ptr<DumpSource>> OpenDumpSource(const DumpFile& file, int threads,
                                                   uint64_t chunk_bytes) {
  if (file.format == DumpFormat::kBz2) return OpenBz2Source(file, threads, chunk_bytes);
  std::FILE* f = std::fopen(file.path.c_str(), "rb");
  if (f == nullptr) {
    return Status::IOError(file.path + ": cannot open for reading: " + std::strerror(errno));
  }
  return std::unique_ptr<DumpSource>(std::make_unique<XmlFileSource>(f, file.path, file.size));
}

}  // namespace deepdist::corpus
