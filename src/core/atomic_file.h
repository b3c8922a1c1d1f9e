// AtomicFile: write a file under a temporary name, then rename it into place,
// so that readers never see half a file and a failed write leaves nothing.
// A character device named as the target (/dev/null) is written directly;
// any other existing target that is not a regular file is refused.
// Not thread-safe; one writer per object.
#ifndef DEEPDIST_SRC_CORE_ATOMIC_FILE_H_
#define DEEPDIST_SRC_CORE_ATOMIC_FILE_H_

#include <cstdio>
#include <string>

#include "deepdist/status.h"

namespace deepdist {

class AtomicFile {
 public:
  explicit AtomicFile(std::string path) : path_(std::move(path)) {}
  ~AtomicFile();  // Removes the temporary file unless Commit succeeded.
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // Creates the temporary file beside the target.
  [[nodiscard]] Status Open();
  std::FILE* stream() { return file_; }
  // Flushes, closes and renames into place.
  [[nodiscard]] Status Commit();

  // Checks that `path` can be created: its folder exists and takes a new file.
  [[nodiscard]] static Status CheckWritable(const std::string& path);

 private:
  std::string path_;
  std::string temp_path_;
  std::FILE* file_ = nullptr;
  bool committed_ = false;
  bool direct_ = false;  // Writing a character device in place.
};

}  // namespace deepdist

#endif  // DEEPDIST_SRC_CORE_ATOMIC_FILE_H_
