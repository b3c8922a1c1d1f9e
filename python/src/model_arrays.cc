#include "model_arrays.h"

#include <cstring>
#include <vector>

namespace deepdist::python {
namespace {

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;
using IdArray = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;

std::string Shape(size_t rows, size_t dim) {
  return "(" + std::to_string(rows) + ", " + std::to_string(dim) + ")";
}

std::string ShapeOf(const py::array& a) {
  std::string out = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) {
    out += (i > 0 ? ", " : "") + std::to_string(a.shape(i));
  }
  return out + (a.ndim() == 1 ? ",)" : ")");
}

// `value` as a float32 array, or TypeError naming `what`.
FloatArray Floats(py::handle value, const std::string& what) {
  FloatArray a = FloatArray::ensure(value);
  if (!a) {
    PyErr_Clear();
    throw py::type_error(what + ": must be an array of numbers, not " +
                         std::string(py::str(value.get_type().attr("__name__"))));
  }
  return a;
}

// The index of table `key` in `shape`, or ValueError.
size_t TableIndex(py::handle key, const Model& shape, const std::string& what) {
  if (!py::isinstance<py::str>(key)) {
    throw py::type_error(what + ": table names must be strings, not " +
                         std::string(py::str(key.get_type().attr("__name__"))));
  }
  const std::string name = key.cast<std::string>();
  const int t = shape.Find(name);
  if (t < 0) {
    std::string names;
    for (size_t i = 0; i < shape.num_tables(); ++i) {
      names += (i > 0 ? ", " : "") + shape.table(i).name();
    }
    throw py::value_error(what + ": the model has no table \"" + name + "\" (its tables: " + names +
                          ")");
  }
  return static_cast<size_t>(t);
}

py::dict AsDict(py::handle value, const std::string& what) {
  if (!py::isinstance<py::dict>(value)) {
    throw py::type_error(what + ": must be a dict of arrays by table name, not " +
                         std::string(py::str(value.get_type().attr("__name__"))));
  }
  return py::reinterpret_borrow<py::dict>(value);
}

}  // namespace

Model ModelFromDict(py::handle tables, const std::string& what) {
  py::dict dict = AsDict(tables, what);
  if (dict.empty()) throw py::value_error(what + ": has no tables");
  Model model;
  for (auto [key, value] : dict) {
    if (!py::isinstance<py::str>(key)) {
      throw py::type_error(what + ": table names must be strings");
    }
    const std::string name = key.cast<std::string>();
    if (name.empty()) throw py::value_error(what + ": a table name is empty");
    const FloatArray a = Floats(value, what + "[\"" + name + "\"]");
    if (a.ndim() != 2 || a.shape(0) < 1 || a.shape(1) < 1) {
      throw py::value_error(what + "[\"" + name +
                            "\"]: must be a 2-D array of at least one row and column, not of "
                            "shape " +
                            ShapeOf(a));
    }
    const size_t rows = static_cast<size_t>(a.shape(0)), dim = static_cast<size_t>(a.shape(1));
    Table table(name, rows, dim);
    for (size_t r = 0; r < rows; ++r) std::memcpy(table.row(r), a.data(r, 0), dim * sizeof(float));
    model.AddTable(std::move(table));
  }
  return model;
}

py::array_t<float> ArrayFromTable(const Table& table, bool writeable) {
  py::array_t<float> a(
      {static_cast<py::ssize_t>(table.rows()), static_cast<py::ssize_t>(table.dim())});
  for (size_t r = 0; r < table.rows(); ++r) {
    std::memcpy(a.mutable_data(static_cast<py::ssize_t>(r), 0), table.row(r),
                table.dim() * sizeof(float));
  }
  if (!writeable) a.attr("setflags")(py::arg("write") = false);
  return a;
}

py::dict DictFromModel(const Model& model, bool writeable) {
  py::dict out;
  for (size_t t = 0; t < model.num_tables(); ++t) {
    out[py::str(model.table(t).name())] = ArrayFromTable(model.table(t), writeable);
  }
  return out;
}

Update UpdateFromDict(py::handle result, const Model& shape, const std::string& what) {
  py::dict dict = AsDict(result, what);
  Update update;
  for (auto [key, value] : dict) {
    const size_t t = TableIndex(key, shape, what);
    const Table& table = shape.table(t);
    const std::string where = what + "[\"" + table.name() + "\"]";
    const size_t dim = table.dim();
    if (py::isinstance<py::tuple>(value) || py::isinstance<py::list>(value)) {
      // Sparse: (row_ids, values).
      py::sequence pair = py::reinterpret_borrow<py::sequence>(value);
      if (pair.size() != 2) {
        throw py::value_error(where + ": a sparse update is a pair (row_ids, values)");
      }
      IdArray ids = IdArray::ensure(pair[0]);
      if (!ids) {
        PyErr_Clear();
        throw py::type_error(where + ": row ids must be an array of integers");
      }
      const FloatArray values = Floats(pair[1], where);
      const size_t n = static_cast<size_t>(ids.size());
      if (ids.ndim() != 1 || values.ndim() != 2 || static_cast<size_t>(values.shape(0)) != n ||
          static_cast<size_t>(values.shape(1)) != dim) {
        throw py::value_error(where + ": a sparse update is row ids of shape (n,) and values of " +
                              "shape (n, " + std::to_string(dim) + "), not " + ShapeOf(ids) +
                              " and " + ShapeOf(values));
      }
      for (size_t i = 0; i < n; ++i) {
        const int64_t id = ids.at(static_cast<py::ssize_t>(i));
        if (id < 0 || static_cast<size_t>(id) >= table.rows()) {
          throw py::value_error(where + ": row id " + std::to_string(id) + " is outside the " +
                                std::to_string(table.rows()) + " rows of the table");
        }
        update.Add(t, dim, static_cast<RowId>(id), values.data(static_cast<py::ssize_t>(i), 0));
      }
      continue;
    }
    const FloatArray a = Floats(value, where);
    if (a.ndim() != 2 || static_cast<size_t>(a.shape(0)) != table.rows() ||
        static_cast<size_t>(a.shape(1)) != dim) {
      throw py::value_error(where + ": must have the table's shape " + Shape(table.rows(), dim) +
                            ", not " + ShapeOf(a) + " (or be a pair (row_ids, values))");
    }
    for (size_t r = 0; r < table.rows(); ++r) {
      update.Add(t, dim, r, a.data(static_cast<py::ssize_t>(r), 0));
    }
  }
  return update;
}

Update ChangeFromDict(py::handle after, const Model& before, const std::string& what) {
  py::dict dict = AsDict(after, what);
  Update change;
  std::vector<float> delta;
  for (auto [key, value] : dict) {
    const size_t t = TableIndex(key, before, what);
    const Table& table = before.table(t);
    const std::string where = what + "[\"" + table.name() + "\"]";
    const FloatArray a = Floats(value, where);
    const size_t dim = table.dim();
    if (a.ndim() != 2 || static_cast<size_t>(a.shape(0)) != table.rows() ||
        static_cast<size_t>(a.shape(1)) != dim) {
      throw py::value_error(where + ": must keep the table's shape " + Shape(table.rows(), dim) +
                            ", not " + ShapeOf(a));
    }
    delta.resize(dim);
    for (size_t r = 0; r < table.rows(); ++r) {
      const float* now = a.data(static_cast<py::ssize_t>(r), 0);
      const float* was = table.row(r);
      bool changed = false;
      for (size_t k = 0; k < dim; ++k) {
        delta[k] = now[k] - was[k];
        changed |= delta[k] != 0.0f;
      }
      if (changed) change.Add(t, dim, r, delta.data());
    }
  }
  return change;
}

}  // namespace deepdist::python
