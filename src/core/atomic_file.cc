#include "src/core/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <vector>

namespace deepdist {

namespace {
std::string TempPattern(const std::string& path) { return path + ".tmp.XXXXXX"; }
}  // namespace

AtomicFile::~AtomicFile() {
  if (file_ != nullptr) std::fclose(file_);
  if (!committed_ && !temp_path_.empty()) ::unlink(temp_path_.c_str());
}

Status AtomicFile::Open() {
  struct stat st;
  if (::stat(path_.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return Status::IOError(path_ + ": is a directory");
    if (S_ISCHR(st.st_mode)) {
      // A character device (/dev/null, /dev/stdout, /dev/full) is written
      // as it is: renaming a file over it would replace the device itself
      // (as root, for everyone), and there is no half-written state to hide.
      file_ = std::fopen(path_.c_str(), "wb");
      if (file_ == nullptr) {
        return Status::IOError(path_ + ": cannot write: " + std::strerror(errno));
      }
      direct_ = true;
      return Status::OK();
    }
    if (!S_ISREG(st.st_mode)) {
      return Status::IOError(path_ + ": not a regular file or a character device");
    }
  }
  std::string pattern = TempPattern(path_);
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  int fd = ::mkstemp(buf.data());
  if (fd < 0) return Status::IOError(path_ + ": cannot write: " + std::strerror(errno));
  ::fchmod(fd, 0644);
  temp_path_ = buf.data();
  file_ = ::fdopen(fd, "wb");
  if (file_ == nullptr) {
    ::close(fd);
    return Status::IOError(path_ + ": cannot write: " + std::strerror(errno));
  }
  std::setvbuf(file_, nullptr, _IOFBF, 1 << 20);
  return Status::OK();
}

Status AtomicFile::Commit() {
  DD_CHECK(file_ != nullptr);
  // Flushed to the disk before the rename, so that a crash just after it
  // cannot leave the new name on a file whose bytes never landed.
  // (A device has nothing to sync, and may refuse the call.)
  const bool write_failed = std::fflush(file_) != 0 || std::ferror(file_) != 0 ||
                            (!direct_ && ::fsync(::fileno(file_)) != 0);
  const int write_errno = errno;
  const bool close_failed = std::fclose(file_) != 0;
  file_ = nullptr;
  if (write_failed || close_failed) {
    return Status::IOError(path_ +
                           ": write failed: " + std::strerror(write_failed ? write_errno : errno));
  }
  if (direct_) {
    committed_ = true;
    return Status::OK();
  }
  if (std::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    return Status::IOError(path_ + ": cannot rename into place: " + std::strerror(errno));
  }
  committed_ = true;
  return Status::OK();
}

Status AtomicFile::CheckWritable(const std::string& path) {
  if (path.empty()) return Status::InvalidArgument("--output: is empty");
  AtomicFile probe(path);
  return probe.Open();  // The destructor removes the probe file.
}

}  // namespace deepdist
