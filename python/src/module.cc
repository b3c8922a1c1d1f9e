// The compiled part of the deepdist Python package: _deepdist. The package
// (python/deepdist/) wraps it in gensim-like classes; see docs/PYTHON.md.
#include <pybind11/pybind11.h>

#include "deepdist/cluster.h"
#include "models_binding.h"
#include "process_cluster.h"
#include "scope_binding.h"
#include "word2vec_binding.h"

namespace py = pybind11;

PYBIND11_MODULE(_deepdist, m) {
  m.doc() = "deepdist's engine: word2vec, the DeepDist scope, the MLP and logistic regression";
  deepdist::python::BindWord2Vec(m);
  deepdist::python::BindScope(m);
  deepdist::python::BindModels(m);
  m.def("launched_by_mpi", &deepdist::LaunchedByMpi,
        "Whether this process was started by an MPI launcher (mpirun, srun).");
  m.def(
      "rank", [] { return deepdist::python::ProcessCluster()->rank(); },
      "This process's rank in the job (joins it at the first call); 0 when embedded.");
  m.def(
      "ranks", [] { return deepdist::python::ProcessCluster()->ranks(); },
      "The number of ranks in the job (joins it at the first call); 1 when embedded.");
  m.def("_joined_ranks", &deepdist::python::JoinedRanks,
        "The ranks of the job this process has joined, or 0 when it has joined none yet.");
  m.def("_abort_job", &deepdist::python::AbortJob, py::arg("exit_code"),
        "Ends every rank of the job at once (MPI_Abort).");
  m.def("_leave_cluster", &deepdist::python::LeaveProcessCluster,
        "Closes every scope and leaves the job (finalising MPI); run at exit.");
}
