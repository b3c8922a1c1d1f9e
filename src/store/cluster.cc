// LaunchedByMpi and JoinCluster: the one place that picks the cluster (and so
// the store) a run gets.
#include "deepdist/cluster.h"

#include <cstdlib>
#include <memory>

#include "src/store/local_cluster.h"

#ifdef DEEPDIST_HAVE_MPI
#include "src/store/mpi_cluster.h"
#endif

namespace deepdist {
namespace {

const char* Env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : nullptr;
}

// The job's size as the launcher announced it, or -1 when it did not say.
long LaunchedSize() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"}) {
    if (const char* value = Env(name)) return std::strtol(value, nullptr, 10);
  }
  return -1;
}

}  // namespace

bool LaunchedByMpi() {
  // Open MPI's mpirun; PMIx (Open MPI 4+, srun --mpi=pmix); PMI-1/2 (MPICH's
  // hydra, srun --mpi=pmi2, Intel MPI). srun without an MPI plugin sets none
  // of these, and neither does a plain start.
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK",
                           "PMI_SIZE", "PMI_FD"}) {
    if (Env(name) != nullptr) return true;
  }
  return false;
}

int LaunchedRank() {
  for (const char* name : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"}) {
    if (const char* value = Env(name)) return static_cast<int>(std::strtol(value, nullptr, 10));
  }
  return 0;
}

Result<std::unique_ptr<Cluster>> JoinCluster(const ClusterOptions& options) {
  // A job of one rank needs no MPI at all.
  if (!LaunchedByMpi() || LaunchedSize() == 1) {
    return std::unique_ptr<Cluster>(std::make_unique<LocalCluster>());
  }
#ifdef DEEPDIST_HAVE_MPI
  Result<std::unique_ptr<MpiCluster>> cluster = MpiCluster::Create(options);
  if (!cluster.ok()) return cluster.status();
  return std::unique_ptr<Cluster>(std::move(cluster).value());
#else
  (void)options;
  return Status::InvalidArgument(
      "MPI: this deepdist was built without MPI support (-DDEEPDIST_MPI=ON)");
#endif
}

}  // namespace deepdist
