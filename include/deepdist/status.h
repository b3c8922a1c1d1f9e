// Status and Result<T>: errors from the world (I/O, bad input, flags) as values.
//
// A Status is either OK or carries a code and a one-line message. The message
// names the file or flag at fault first ("corpus.txt: is a binary file"), so the
// command line can print "deepdist: <message>" as is. Status and Result are
// plain values: not thread-safe to mutate concurrently, safe to copy.
#ifndef DEEPDIST_STATUS_H_
#define DEEPDIST_STATUS_H_

#include <optional>
#include <string>
#include <utility>

namespace deepdist {

class [[nodiscard]] Status {
 public:
  // kOutOfRange: a table or row id the model does not have (a caller's or a
  // peer's fault, not a usage error).
  enum class Code {
    kOk = 0,
    kInvalidArgument,
    kNotFound,
    kIOError,
    kCorruption,
    kInternal,
    kOutOfRange
  };

  Status() = default;
  static Status OK() { return Status(); }
  static Status InvalidArgument(std::string msg) {
    return Status(Code::kInvalidArgument, std::move(msg));
  }
  static Status NotFound(std::string msg) { return Status(Code::kNotFound, std::move(msg)); }
  static Status IOError(std::string msg) { return Status(Code::kIOError, std::move(msg)); }
  static Status Corruption(std::string msg) { return Status(Code::kCorruption, std::move(msg)); }
  static Status Internal(std::string msg) { return Status(Code::kInternal, std::move(msg)); }
  static Status OutOfRange(std::string msg) { return Status(Code::kOutOfRange, std::move(msg)); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const;

 private:
  Status(Code code, std::string msg) : code_(code), message_(std::move(msg)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

// Either a value or the Status that explains why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}          // NOLINT: implicit by design.
  Result(Status status) : status_(std::move(status)) {}  // NOLINT: implicit by design.

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() { return *value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

// Aborts with a message when a programming invariant does not hold.
[[noreturn]] void CheckFailed(const char* expr, const char* file, int line);

}  // namespace deepdist

#define DD_CHECK(cond) \
  ((cond) ? static_cast<void>(0) : ::deepdist::CheckFailed(#cond, __FILE__, __LINE__))

#define DD_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::deepdist::Status _dd_status = (expr);  \
    if (!_dd_status.ok()) return _dd_status; \
  } while (0)

#endif  // DEEPDIST_STATUS_H_
