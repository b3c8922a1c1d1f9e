#include "deepdist/status.h"

#include <cstdio>
#include <cstdlib>

namespace deepdist {

std::string Status::ToString() const { return ok() ? std::string("OK") : message_; }

void CheckFailed(const char* expr, const char* file, int line) {
  std::fprintf(stderr, "deepdist: internal error: check failed: %s at %s:%d\n", expr, file, line);
  std::abort();
}

}  // namespace deepdist
