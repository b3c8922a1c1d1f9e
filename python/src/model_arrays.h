// Models as Python sees them: a dict of 2-D float32 numpy arrays, one per
// table (rows x dim), in the dict's order. Conversions copy, and check
// shapes, raising ValueError or TypeError with a message that names the
// argument (`what`) and the table.
//
// An update (what a gradient returns) is a dict too, for some of the tables:
// for each, either an array of the table's shape (every row), or a pair
// (row_ids, values): a 1-D array of row ids and a len(row_ids) x dim array.
// Call all of these with the GIL held.
#ifndef DEEPDIST_PYTHON_SRC_MODEL_ARRAYS_H_
#define DEEPDIST_PYTHON_SRC_MODEL_ARRAYS_H_

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>

#include "deepdist/model.h"

namespace deepdist::python {

namespace py = pybind11;

// The model of `tables` (a dict of name -> 2-D array-like of numbers).
Model ModelFromDict(py::handle tables, const std::string& what);
// A dict of copies of the model's tables; read-only ones unless `writeable`.
py::dict DictFromModel(const Model& model, bool writeable);
// A copy of one table as a 2-D array.
py::array_t<float> ArrayFromTable(const Table& table, bool writeable);
// The update `result` describes, for a model shaped as `shape`.
Update UpdateFromDict(py::handle result, const Model& shape, const std::string& what);
// The change from `before` to `after` (a dict of arrays shaped as
// `before`'s tables; tables left out did not change), rows that did not
// change left out.
Update ChangeFromDict(py::handle after, const Model& before, const std::string& what);

}  // namespace deepdist::python

#endif  // DEEPDIST_PYTHON_SRC_MODEL_ARRAYS_H_
