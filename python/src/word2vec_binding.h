// word2vec from Python: training as `deepdist word2vec train` does (the same
// steps and defaults, so that one thread and one seed give the CLI's vectors
// bit for bit), embedded or across the ranks of an MPI job.
#ifndef DEEPDIST_PYTHON_SRC_WORD2VEC_BINDING_H_
#define DEEPDIST_PYTHON_SRC_WORD2VEC_BINDING_H_

#include <pybind11/pybind11.h>

namespace deepdist::python {

// Adds train_word2vec, KeyedVectorsCore and load_vectors to `m`.
void BindWord2Vec(pybind11::module_& m);

}  // namespace deepdist::python

#endif  // DEEPDIST_PYTHON_SRC_WORD2VEC_BINDING_H_
