// Errors across the Python boundary: the engine's Status values raised as
// Python exceptions, and Python exceptions raised on worker threads carried
// back to the thread that called train().
//
// Status codes map to exceptions so that a caller can catch by kind:
// kInvalidArgument and kOutOfRange -> ValueError (a bad argument or a bad
// update), kNotFound -> FileNotFoundError, kIOError and kCorruption -> OSError
// (a file that cannot be read, or is not what it should be), anything else ->
// RuntimeError. The message is the engine's one-line message, the one the
// CLI prints after "deepdist: ".
#ifndef DEEPDIST_PYTHON_SRC_ERRORS_H_
#define DEEPDIST_PYTHON_SRC_ERRORS_H_

#include <pybind11/pybind11.h>

#include <mutex>
#include <optional>
#include <stdexcept>
#include <utility>

#include "deepdist/status.h"

namespace deepdist::python {

namespace py = pybind11;

// Raises `status` (not OK) as its Python exception. Needs the GIL.
[[noreturn]] void ThrowStatus(const Status& status);

inline void ThrowIfError(const Status& status) {
  if (!status.ok()) ThrowStatus(status);
}

template <typename T>
T ValueOrThrow(Result<T> result) {
  if (!result.ok()) ThrowStatus(result.status());
  return std::move(result).value();
}

// Thrown by a worker's gradient to stop the engine once the Python error
// that stopped it is kept in PythonErrors; its message is never shown.
class StopTraining : public std::runtime_error {
 public:
  StopTraining() : std::runtime_error("a Python callable raised an exception") {}
};

// The first Python exception raised on any worker thread of one train(),
// with its traceback. Thread-safe. Record needs the GIL (the exception is
// fetched from the interpreter's error state); Rethrow needs it too.
class PythonErrors {
 public:
  // Keeps the Python error now set (the first one only) and clears it.
  void RecordCurrent();
  // Keeps `error` (the first one only).
  void Record(py::error_already_set&& error);
  // Converts a pybind11 exception (py::value_error, ...) and keeps it.
  void Record(const py::builtin_exception& e);
  bool has() const;
  // Raises the kept exception again on this thread, traceback included.
  [[noreturn]] void Rethrow();

 private:
  mutable std::mutex mu_;
  std::optional<py::error_already_set> first_;
};

}  // namespace deepdist::python

#endif  // DEEPDIST_PYTHON_SRC_ERRORS_H_
