// The DeepDist scope from Python: a model server over a dict of numpy
// tables, workers that call a Python gradient, and a descent rule (a
// built-in one, at the model server, or a Python callable).
#ifndef DEEPDIST_PYTHON_SRC_SCOPE_BINDING_H_
#define DEEPDIST_PYTHON_SRC_SCOPE_BINDING_H_

#include <pybind11/pybind11.h>

namespace deepdist::python {

// Adds Scope and RuleSpec to `m`.
void BindScope(pybind11::module_& m);

}  // namespace deepdist::python

#endif  // DEEPDIST_PYTHON_SRC_SCOPE_BINDING_H_
