// The engine's other models from Python: the MLP classifier (deepdist/mlp.h)
// and sparse logistic regression (deepdist/logreg.h), as the submodules
// deepdist.mlp and deepdist.logreg. Their gradients are C++ functions that
// take and return the dicts of arrays deepdist.DeepDist trains with (the
// GIL released while they compute), so a Python gradient that calls them
// runs at the engine's speed.
#ifndef DEEPDIST_PYTHON_SRC_MODELS_BINDING_H_
#define DEEPDIST_PYTHON_SRC_MODELS_BINDING_H_

#include <pybind11/pybind11.h>

namespace deepdist::python {

// Adds the submodules mlp and logreg to `m`.
void BindModels(pybind11::module_& m);

}  // namespace deepdist::python

#endif  // DEEPDIST_PYTHON_SRC_MODELS_BINDING_H_
