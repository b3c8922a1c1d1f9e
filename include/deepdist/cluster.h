// Cluster: the processes of one training job, and the store that fits them.
//
// Embedded runs (no launcher) are a cluster of one: JoinCluster returns it
// without touching MPI, so the binary needs no MPI at run time. Started by
// mpirun, srun or another MPI launcher, a binary built with -DDEEPDIST_MPI=ON
// joins the MPI job instead: one rank per process, a communication thread per
// rank. The collectives below are for set-up and wind-down (vocabulary
// merging, sums, the gathered model); rows travel through the store.
//
// Thread safety: rank(), ranks() and bytes_sent() anywhere; the collectives
// from one thread per rank, every rank calling the same ones in the same
// order (MPI's rule).
#ifndef DEEPDIST_CLUSTER_H_
#define DEEPDIST_CLUSTER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "deepdist/descent.h"
#include "deepdist/model.h"
#include "deepdist/status.h"
#include "deepdist/store.h"

namespace deepdist {

struct ClusterOptions {
  // Values on the wire: 32-bit floats, or 16-bit (half the bytes; pulled
  // rows and pushed changes are rounded to binary16), or, for a full
  // replica's changes, rows quantized to 8 or 4 bits with a power-of-two
  // scale per row (about 1/4 and 1/8 of the bytes): its rounded pushes
  // (PushOptions::rounded, the rounding error kept by the pusher and sent
  // with its next change) and the rows others changed (PullChanged: each
  // owner keeps what it last sent each client, and sends the quantized
  // difference, its own rounding error going with the next one). Other
  // values go as fp32.
  enum class Wire { kFp32, kFp16, kInt8, kInt4 };
  Wire wire = Wire::kFp32;
};

class Cluster {
 public:
  virtual ~Cluster() = default;
  virtual int rank() const = 0;
  virtual int ranks() const = 0;
  // Every rank's `bytes`, in rank order.
  [[nodiscard]] virtual Result<std::vector<std::string>> AllGather(std::string_view bytes) = 0;
  // The sum of every rank's `value`.
  [[nodiscard]] virtual Result<uint64_t> Sum(uint64_t value) = 0;
  // Returns once every rank has called it.
  [[nodiscard]] virtual Status Barrier() = 0;
  // Ends every rank of the job at once with `exit_code` (after this rank has
  // printed its error). Under MPI this is MPI_Abort; embedded, exit.
  [[noreturn]] virtual void Abort(int exit_code) = 0;
  // Payload bytes this rank has handed to MPI so far, store traffic included.
  virtual uint64_t bytes_sent() const = 0;

  // The store for a model on this cluster: a LocalStore for a cluster of one,
  // otherwise the MPI store, each rank keeping the rows it owns (row id %
  // ranks == rank) of `model`, which every rank passes in identically.
  [[nodiscard]] virtual std::unique_ptr<ParamStore> MakeStore(Model model,
                                                              std::unique_ptr<Descent> descent) = 0;
};

// True when this process was started by an MPI launcher (mpirun, srun, ...).
bool LaunchedByMpi();
// This process's rank as the launcher announced it (0 when not launched by
// MPI), read before MPI starts: for messages that only rank 0 should print.
int LaunchedRank();

// Joins the job this process belongs to: a cluster of one when not launched
// by MPI; the MPI job otherwise (an error when MPI support is not built).
// Call once per process; the cluster must outlive every store made from it.
[[nodiscard]] Result<std::unique_ptr<Cluster>> JoinCluster(const ClusterOptions& options = {});

}  // namespace deepdist

#endif  // DEEPDIST_CLUSTER_H_
