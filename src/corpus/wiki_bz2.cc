#include "src/corpus/wiki_bz2.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

namespace deepdist::corpus {

namespace {

constexpr size_t kInputBytes = size_t{1} << 20;
// The scan for stream starts reads this much at a time.
constexpr size_t kScanBytes = size_t{64} << 10;
// The output buffer starts this small and doubles up to kDumpPieceBytes, so
// that a run of tiny streams does not cost a megabyte each.
constexpr size_t kFirstOutputBytes = size_t{64} << 10;
// Where no stream starts for this long, the parallel source stops looking
// and decodes the rest of the file as one run (a file of one big stream).
constexpr uint64_t kMaxScanGap = uint64_t{64} << 20;
// A decoding thread runs at most this many pieces ahead of the reader.
constexpr size_t kMaxQueuedPieces = 4;
// The stream header: "BZh", a level digit, then one of the two magics.
constexpr size_t kHeaderBytes = 10;
constexpr unsigned char kBlockMagic[6] = {0x31, 0x41, 0x59, 0x26, 0x53, 0x59};
constexpr unsigned char kEndMagic[6] = {0x17, 0x72, 0x45, 0x38, 0x50, 0x90};

bool IsStreamHeader(const char* p) {
  return p[0] == 'B' && p[1] == 'Z' && p[2] == 'h' && p[3] >= '1' && p[3] <= '9' &&
         (std::memcmp(p + 4, kBlockMagic, 6) == 0 || std::memcmp(p + 4, kEndMagic, 6) == 0);
}

// pread until `n` bytes or the end of the file; the bytes read.
Result<size_t> ReadAt(int fd, const std::string& path, char* buf, size_t n, uint64_t offset) {
  size_t got = 0;
  while (got < n) {
    const ssize_t r = ::pread(fd, buf + got, n - got, static_cast<off_t>(offset + got));
    if (r < 0) {
      if (errno == EINTR) continue;
      return Status::IOError(path + ": read failed: " + std::strerror(errno));
    }
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  return got;
}

class FileDescriptor {
 public:
  FileDescriptor() = default;
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;

  Status Open(const std::string& path) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0)
      return Status::IOError(path + ": cannot open for reading: " + std::strerror(errno));
    return Status::OK();
  }
  int get() const { return fd_; }

 private:
  int fd_ = -1;
};

// --threads 1: the whole file is one range, decoded as Next is called.
class SequentialBz2Source : public DumpSource {
 public:
  SequentialBz2Source(std::unique_ptr<FileDescriptor> fd, const DumpFile& file)
      : fd_(std::move(fd)), decoder_(fd_->get(), file.path, file.size, 0, file.size) {}

  Status Next(std::string* piece) override { return decoder_.Next(piece); }
  uint64_t input_offset() const override { return decoder_.position(); }
  uint64_t streams() const override { return decoder_.streams(); }
  uint64_t runs() const override { return 1; }

 private:
  std::unique_ptr<FileDescriptor> fd_;
  Bz2RangeDecoder decoder_;
};

// Several threads: a scanning thread cuts the file into runs of whole
// streams ("chunks"), decoding threads take the chunks in file order and
// queue their output, and Next returns the oldest chunk's output first.
// At most threads + 2 chunks are cut ahead of the reader and each queues
// at most kMaxQueuedPieces pieces, which bounds the memory. The chunk the
// reader waits on always has a thread (chunks are taken in order), so the
// pipeline cannot stall.
class ParallelBz2Source : public DumpSource {
 public:
  ParallelBz2Source(std::unique_ptr<FileDescriptor> fd, DumpFile file, int threads,
                    uint64_t chunk_bytes)
      : fd_(std::move(fd)),
        file_(std::move(file)),
        chunk_bytes_(std::max<uint64_t>(chunk_bytes, 1)),
        max_chunks_(static_cast<size_t>(threads) + 2) {
    scanner_ = std::thread([this] { Scan(); });
    for (int t = 0; t < threads; ++t) decoders_.emplace_back([this] { Decode(); });
  }

  ~ParallelBz2Source() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    scanner_.join();
    for (std::thread& t : decoders_) t.join();
  }

  Status Next(std::string* piece) override {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      if (chunks_.empty()) {
        if (scan_done_) {
          piece->clear();
          return scan_status_;
        }
        cv_.wait(lock);
        continue;
      }
      Chunk& front = *chunks_.front();
      if (!front.pieces.empty()) {
        *piece = std::move(front.pieces.front().first);
        input_offset_ = front.pieces.front().second;
        front.pieces.pop_front();
        cv_.notify_all();
        return Status::OK();
      }
      if (front.finished) {
        if (!front.status.ok()) return front.status;
        streams_ += front.streams;
        ++runs_;
        input_offset_ = front.end;
        chunks_.pop_front();
        cv_.notify_all();
        continue;
      }
      cv_.wait(lock);
    }
  }

  uint64_t input_offset() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return input_offset_;
  }
  uint64_t streams() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return streams_;
  }
  uint64_t runs() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return runs_;
  }
  bool parallel() const override { return true; }

 private:
  struct Chunk {
    uint64_t begin = 0;
    uint64_t end = 0;
    bool taken = false;
    bool finished = false;
    Status status;
    uint64_t streams = 0;
    // Decompressed pieces, each with the file offset its decoder had reached.
    std::deque<std::pair<std::string, uint64_t>> pieces;
  };

  // Adds the chunk [begin, end); false when stopped.
  bool AddChunk(uint64_t begin, uint64_t end) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return stop_ || chunks_.size() < max_chunks_; });
    if (stop_) return false;
    auto chunk = std::make_shared<Chunk>();
    chunk->begin = begin;
    chunk->end = end;
    chunks_.push_back(std::move(chunk));
    cv_.notify_all();
    return true;
  }

  void FinishScan(Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    scan_done_ = true;
    scan_status_ = std::move(status);
    cv_.notify_all();
  }

  // A chunk is cut at the first stream start at least chunk_bytes_ past its
  // beginning; the bytes before that point need not be searched.
  void Scan() {
    uint64_t begin = 0;
    while (begin < file_.size) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (stop_) return;
      }
      const uint64_t from = std::min(file_.size, begin + chunk_bytes_);
      const uint64_t limit = std::min(file_.size, from + kMaxScanGap);
      Result<uint64_t> cut = FindBz2StreamStart(fd_->get(), file_.path, file_.size, from, limit);
      if (!cut.ok()) return FinishScan(cut.status());
      // None within the gap: one run to the end of the file.
      const uint64_t end = *cut == limit ? file_.size : *cut;
      if (!AddChunk(begin, end)) return;
      begin = end;
    }
    FinishScan(Status::OK());
  }

  void Decode() {
    for (;;) {
      std::shared_ptr<Chunk> chunk;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] {
          if (stop_ || NextUntaken() != nullptr) return true;
          return scan_done_;
        });
        if (stop_) return;
        chunk = NextUntaken();
        if (chunk == nullptr) return;  // Scanning is over and every chunk taken.
        chunk->taken = true;
      }
      DecodeChunk(chunk.get());
    }
  }

  std::shared_ptr<Chunk> NextUntaken() const {
    for (const std::shared_ptr<Chunk>& c : chunks_) {
      if (!c->taken) return c;
    }
    return nullptr;
  }

  void DecodeChunk(Chunk* chunk) {
    Bz2RangeDecoder decoder(fd_->get(), file_.path, file_.size, chunk->begin, chunk->end);
    for (;;) {
      std::string piece;
      const Status status = decoder.Next(&piece);
      std::unique_lock<std::mutex> lock(mu_);
      if (!status.ok() || piece.empty()) {
        chunk->finished = true;
        chunk->status = status;
        chunk->streams = decoder.streams();
        cv_.notify_all();
        return;
      }
      cv_.wait(lock, [&] { return stop_ || chunk->pieces.size() < kMaxQueuedPieces; });
      if (stop_) return;
      chunk->pieces.emplace_back(std::move(piece), decoder.position());
      cv_.notify_all();
    }
  }

  std::unique_ptr<FileDescriptor> fd_;
  const DumpFile file_;
  const uint64_t chunk_bytes_;
  const size_t max_chunks_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool scan_done_ = false;
  Status scan_status_;
  std::deque<std::shared_ptr<Chunk>> chunks_;  // Not yet read to the end, in file order.
  uint64_t input_offset_ = 0;
  uint64_t streams_ = 0;
  uint64_t runs_ = 0;

  std::thread scanner_;
  std::vector<std::thread> decoders_;
};

}  // namespace

Result<uint64_t> FindBz2StreamStart(int fd, const std::string& path, uint64_t size, uint64_t from,
                                    uint64_t limit) {
  std::vector<char> buf(kScanBytes + kHeaderBytes);
  for (uint64_t at = from; at < limit;) {
    // Starts are looked for in [at, at + kScanBytes); a header may run past.
    const size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), size - at));
    Result<size_t> got = ReadAt(fd, path, buf.data(), want, at);
    if (!got.ok()) return got.status();
    if (*got < want) {
      return Status::IOError(path + ": shorter than it was (" + std::to_string(at + *got) +
                             " bytes)");
    }
    const size_t starts = static_cast<size_t>(std::min<uint64_t>({*got, kScanBytes, limit - at}));
    for (size_t k = 0; k < starts; ++k) {
      const void* b = std::memchr(buf.data() + k, 'B', starts - k);
      if (b == nullptr) break;
      k = static_cast<size_t>(static_cast<const char*>(b) - buf.data());
      if (k + kHeaderBytes <= *got && IsStreamHeader(buf.data() + k)) return at + k;
    }
    at += starts;
  }
  return limit;
}

Bz2RangeDecoder::Bz2RangeDecoder(int fd, std::string path, uint64_t file_size, uint64_t begin,
                                 uint64_t end)
    : fd_(fd),
      path_(std::move(path)),
      file_size_(file_size),
      end_(end),
      read_pos_(begin),
      in_(static_cast<size_t>(std::min<uint64_t>(kInputBytes, end - begin))) {}

Bz2RangeDecoder::~Bz2RangeDecoder() {
  if (active_) BZ2_bzDecompressEnd(&stream_);
}

Status Bz2RangeDecoder::Next(std::string* piece) {
  if (out_.empty()) out_.resize(kFirstOutputBytes);
  size_t produced = 0;
  while (!done_) {
    if (produced == out_.size()) {
      if (out_.size() >= kDumpPieceBytes) break;
      out_.resize(std::min(kDumpPieceBytes, 2 * out_.size()));
    }
    if (!active_) {
      if (position() == end_) {
        done_ = true;
        break;
      }
      // Init resets the counters, not the input pointers.
      char* next_in = stream_.next_in;
      const unsigned avail_in = stream_.avail_in;
      if (BZ2_bzDecompressInit(&stream_, 0, 0) != BZ_OK) {
        return Status::IOError(path_ + ": out of memory for bz2 decompression");
      }
      stream_.next_in = next_in;
      stream_.avail_in = avail_in;
      active_ = true;
      stream_begin_ = position();
    }
    if (stream_.avail_in == 0 && read_pos_ < end_) {
      const size_t want = static_cast<size_t>(std::min<uint64_t>(in_.size(), end_ - read_pos_));
      Result<size_t> got = ReadAt(fd_, path_, in_.data(), want, read_pos_);
      if (!got.ok()) return got.status();
      if (*got == 0) {
        return Status::IOError(path_ + ": shorter than it was (" + std::to_string(read_pos_) +
                               " bytes)");
      }
      read_pos_ += *got;
      stream_.next_in = in_.data();
      stream_.avail_in = static_cast<unsigned>(*got);
    }
    const unsigned in_before = stream_.avail_in;
    const size_t room = out_.size() - produced;
    stream_.next_out = out_.data() + produced;
    stream_.avail_out = static_cast<unsigned>(room);
    const int ret = BZ2_bzDecompress(&stream_);
    produced += room - stream_.avail_out;
    if (ret == BZ_STREAM_END) {
      BZ2_bzDecompressEnd(&stream_);
      active_ = false;
      ++streams_;
      continue;
    }
    if (ret == BZ_DATA_ERROR_MAGIC) {
      return Status::Corruption(path_ + ": byte " + std::to_string(stream_begin_) +
                                ": not the start of a bz2 stream (data after the last stream?)");
    }
    if (ret == BZ_DATA_ERROR) {
      return Status::Corruption(
          path_ + ": damaged bz2 data near byte " + std::to_string(position()) +
          " (in the stream that starts at byte " + std::to_string(stream_begin_) + ")");
    }
    if (ret != BZ_OK) {
      return Status::IOError(path_ + ": bz2 decompression failed (code " + std::to_string(ret) +
                             ")");
    }
    const bool stalled = stream_.avail_in == 0 && in_before == 0 && room == stream_.avail_out;
    if (stalled && read_pos_ == end_) {
      if (end_ == file_size_) {
        return Status::Corruption(path_ + ": truncated bz2 data: the stream that starts at byte " +
                                  std::to_string(stream_begin_) + " breaks off at byte " +
                                  std::to_string(end_) + ", the end of the file");
      }
      return Status::Corruption(path_ + ": byte " + std::to_string(end_) +
                                ": what looks like a bz2 stream header lies inside the stream "
                                "that starts at byte " +
                                std::to_string(stream_begin_) +
                                "; decode this file on one thread (--threads 1)");
    }
  }
  piece->assign(out_.data(), produced);
  return Status::OK();
}

Result<std::unique_ptr<DumpSource>> OpenBz2Source(const DumpFile& file, int threads,
                                                  uint64_t chunk_bytes) {
  auto fd = std::make_unique<FileDescriptor>();
  DD_RETURN_IF_ERROR(fd->Open(file.path));
  if (threads <= 1) {
    return std::unique_ptr<DumpSource>(std::make_unique<SequentialBz2Source>(std::move(fd), file));
  }
  return std::unique_ptr<DumpSource>(
      std::make_unique<ParallelBz2Source>(std::move(fd), file, threads, chunk_bytes));
}

}  // namespace deepdist::corpus
