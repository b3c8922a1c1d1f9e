// CheckInputFile: the common checks before reading a named input file, so
// that every reader reports "no such file" and "is a directory" alike
// (std::ifstream opens a directory without complaint).
#ifndef DEEPDIST_SRC_CORE_INPUT_FILE_H_
#define DEEPDIST_SRC_CORE_INPUT_FILE_H_

#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "deepdist/status.h"

namespace deepdist {

inline Status CheckInputFile(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return Status::NotFound(path + ": no such file");
  if (S_ISDIR(st.st_mode)) return Status::IOError(path + ": is a directory");
  if (::access(path.c_str(), R_OK) != 0) return Status::IOError(path + ": cannot open for reading");
  return Status::OK();
}

}  // namespace deepdist

#endif  // DEEPDIST_SRC_CORE_INPUT_FILE_H_
