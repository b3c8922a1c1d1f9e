#include "errors.h"

namespace deepdist::python {

void ThrowStatus(const Status& status) {
  PyObject* type = PyExc_RuntimeError;
  switch (status.code()) {
    case Status::Code::kInvalidArgument:
    case Status::Code::kOutOfRange:
      type = PyExc_ValueError;
      break;
    case Status::Code::kNotFound:
      type = PyExc_FileNotFoundError;
      break;
    case Status::Code::kIOError:
    case Status::Code::kCorruption:
      type = PyExc_OSError;
      break;
    default:
      break;
  }
  PyErr_SetString(type, status.message().c_str());
  throw py::error_already_set();
}

void PythonErrors::RecordCurrent() {
  Record(py::error_already_set());  // Fetches (and clears) the error state.
}

void PythonErrors::Record(py::error_already_set&& error) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!first_) first_.emplace(std::move(error));
}

void PythonErrors::Record(const py::builtin_exception& e) {
  e.set_error();
  RecordCurrent();
}

bool PythonErrors::has() const {
  std::lock_guard<std::mutex> lock(mu_);
  return first_.has_value();
}

void PythonErrors::Rethrow() {
  std::optional<py::error_already_set> error;
  {
    std::lock_guard<std::mutex> lock(mu_);
    error.swap(first_);
  }
  if (!error) throw std::logic_error("PythonErrors::Rethrow: no error was recorded");
  // pybind11 restores the exception, with its traceback, when this reaches
  // the interpreter.
  throw std::move(*error);
}

}  // namespace deepdist::python
