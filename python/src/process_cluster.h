// The process's cluster: one per process (JoinCluster's rule), joined the
// first time a training needs it, left when the interpreter exits.
//
// Not launched by MPI, it is a cluster of one and MPI is never touched.
// Under mpirun (or srun) every rank runs the same script; the cluster joins
// the job on the wire the CLI uses by default there (int4 for a word2vec
// full replica's changes; other values travel as fp32). Training scopes hold
// a reference; at exit every scope still open is closed first (its store
// stopped), then the cluster is destroyed, which finalises MPI.
//
// Thread safety: call with the GIL held (the GIL serialises joining).
#ifndef DEEPDIST_PYTHON_SRC_PROCESS_CLUSTER_H_
#define DEEPDIST_PYTHON_SRC_PROCESS_CLUSTER_H_

#include <functional>
#include <memory>

#include "deepdist/cluster.h"

namespace deepdist::python {

// The cluster, joined at the first call; raises the join's error as a
// Python exception, and RuntimeError once the process has left it at exit.
std::shared_ptr<Cluster> ProcessCluster();

// Something holding a store on the cluster, closed before the cluster goes.
class ClusterUser {
 public:
  virtual ~ClusterUser() = default;
  virtual void CloseForExit() = 0;
};
void RegisterClusterUser(ClusterUser* user);
void UnregisterClusterUser(ClusterUser* user);

// The number of ranks of the cluster when joined, else 0.
int JoinedRanks();
// Ends every rank of the job at once (MPI_Abort under MPI): for an uncaught
// exception on one rank, which the others would otherwise wait for forever.
[[noreturn]] void AbortJob(int exit_code);

// Closes every registered user, then drops the cluster. Registered with
// Python's atexit by the module.
void LeaveProcessCluster();

}  // namespace deepdist::python

#endif  // DEEPDIST_PYTHON_SRC_PROCESS_CLUSTER_H_
