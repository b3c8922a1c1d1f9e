// Readers for the two kinds of partition: a byte range of a plain file (read
// through mmap) and a whole .gz file (streamed through zlib).
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "deepdist/partition.h"

namespace deepdist {

namespace {

constexpr size_t kChunkBytes = 1 << 20;

bool IsBoundary(char c, SplitOn split_on) {
  return split_on == SplitOn::kLines ? c == '\n' : IsSpace(c);
}

// The offset just past the last boundary character in text[0, n), or 0.
size_t LastBoundary(const char* text, size_t n, SplitOn split_on) {
  for (size_t i = n; i > 0; --i) {
    if (IsBoundary(text[i - 1], split_on)) return i;
  }
  return 0;
}

class MappedFileReader : public PartitionReader {
 public:
  MappedFileReader(PartitionSpec spec, SplitOn split_on)
      : spec_(std::move(spec)), split_on_(split_on) {}
  ~MappedFileReader() override {
    if (map_ != nullptr) munmap(map_, map_size_);
    if (fd_ >= 0) close(fd_);
  }

  Status Open() {
    fd_ = ::open(spec_.path.c_str(), O_RDONLY);
    if (fd_ < 0) return Status::IOError(spec_.path + ": cannot open: " + std::strerror(errno));
    struct stat st;
    if (fstat(fd_, &st) != 0) return Status::IOError(spec_.path + ": cannot stat");
    map_size_ = static_cast<size_t>(st.st_size);
    if (map_size_ == 0) return Status::OK();
    void* p = mmap(nullptr, map_size_, PROT_READ, MAP_PRIVATE, fd_, 0);
    if (p == MAP_FAILED)
      return Status::IOError(spec_.path + ": cannot map: " + std::strerror(errno));
    map_ = p;
    madvise(map_, map_size_, MADV_SEQUENTIAL);
    return Status::OK();
  }

  Status ForEachChunk(const std::function<void(std::string_view)>& fn) override {
    const char* data = static_cast<const char*>(map_);
    const size_t size = map_size_;
    size_t begin = std::min<uint64_t>(spec_.begin, size);
    size_t end = std::min<uint64_t>(spec_.end, size);
    // The unit (word or line) that crosses `begin` belongs to the previous range.
    if (begin > 0 && !IsBoundary(data[begin - 1], split_on_)) {
      while (begin < size && !IsBoundary(data[begin], split_on_)) ++begin;
      if (begin < size) ++begin;  // Past the boundary: it ends the other range's unit.
    }
    // The unit that crosses `end` belongs to this range: finish it.
    if (end < size && end > 0 && !IsBoundary(data[end - 1], split_on_)) {
      while (end < size && !IsBoundary(data[end], split_on_)) ++end;
      if (end < size) ++end;  // With the boundary that ends the unit.
    }
    size_t pos = begin;
    while (pos < end) {
      size_t stop = std::min(end, pos + kChunkBytes);
      if (stop < end) {
        size_t cut = LastBoundary(data + pos, stop - pos, split_on_);
        if (cut > 0) stop = pos + cut;  // Else one unit longer than a chunk: extend.
        while (stop < end && !IsBoundary(data[stop - 1], split_on_)) ++stop;
      }
      fn(std::string_view(data + pos, stop - pos));
      // Hand the pages read back to the page cache, so a pass over a large
      // file does not grow the process's resident memory by the file's size.
      const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
      const size_t drop_from = pos / page * page;
      const size_t drop_to = stop / page * page;
      if (drop_to > drop_from) {
        madvise(static_cast<char*>(map_) + drop_from, drop_to - drop_from, MADV_DONTNEED);
      }
      pos = stop;
    }
    return Status::OK();
  }

 private:
  PartitionSpec spec_;
  SplitOn split_on_;
  int fd_ = -1;
  void* map_ = nullptr;
  size_t map_size_ = 0;
};

class GzipReader : public PartitionReader {
 public:
  GzipReader(PartitionSpec spec, SplitOn split_on) : spec_(std::move(spec)), split_on_(split_on) {}
  ~GzipReader() override {
    if (file_ != nullptr) gzclose(file_);
  }

  Status Open() {
    file_ = gzopen(spec_.path.c_str(), "rb");
    if (file_ == nullptr) return Status::IOError(spec_.path + ": cannot open");
    // zlib's buffers (input, and twice that for output) sized to the file:
    // 256 KiB for a corpus, a few KiB for a small file opened many times.
    struct stat st;
    unsigned buffer = 1 << 18;
    if (stat(spec_.path.c_str(), &st) == 0 && st.st_size < buffer) {
      buffer = std::max<unsigned>(8 * 1024, static_cast<unsigned>(st.st_size));
    }
    gzbuffer(file_, buffer);
    return Status::OK();
  }

  Status ForEachChunk(const std::function<void(std::string_view)>& fn) override {
    // Reads start at 16 KiB and double up to kChunkBytes, so a small file
    // costs a small buffer; the buffer is never zero-filled, only read into.
    std::unique_ptr<char[]> buf;
    size_t capacity = 0;
    size_t chunk = 16 * 1024;
    size_t carry = 0;  // Bytes at the front of buf left from the last read.
    for (;;) {
      if (carry + chunk > capacity) {
        const size_t grown = std::max(carry + chunk, 2 * capacity);
        std::unique_ptr<char[]> bigger(new char[grown]);
        if (carry > 0) std::memcpy(bigger.get(), buf.get(), carry);
        buf = std::move(bigger);
        capacity = grown;
      }
      int n = gzread(file_, buf.get() + carry, static_cast<unsigned>(chunk));
      chunk = std::min(kChunkBytes, 2 * chunk);
      int err = 0;
      gzerror(file_, &err);
      if (n < 0 || (n == 0 && err != Z_OK)) {
        return Status::Corruption(spec_.path + ": truncated or corrupt gzip stream");
      }
      const size_t have = carry + static_cast<size_t>(n);
      if (n == 0) {
        if (have > 0) fn(std::string_view(buf.get(), have));
        return Status::OK();
      }
      size_t cut = LastBoundary(buf.get(), have, split_on_);
      if (cut == 0) {  // One unit longer than all we have: keep reading.
        carry = have;
        continue;
      }
      fn(std::string_view(buf.get(), cut));
      std::memmove(buf.get(), buf.get() + cut, have - cut);
      carry = have - cut;
    }
  }

 private:
  PartitionSpec spec_;
  SplitOn split_on_;
  gzFile file_ = nullptr;
};

}  // namespace

Result<std::unique_ptr<PartitionReader>> PartitionReader::Open(const PartitionSpec& spec,
                                                               SplitOn split_on) {
  if (spec.gzip) {
    auto r = std::make_unique<GzipReader>(spec, split_on);
    DD_RETURN_IF_ERROR(r->Open());
    return std::unique_ptr<PartitionReader>(std::move(r));
  }
  auto r = std::make_unique<MappedFileReader>(spec, split_on);
  DD_RETURN_IF_ERROR(r->Open());
  return std::unique_ptr<PartitionReader>(std::move(r));
}

}  // namespace deepdist
