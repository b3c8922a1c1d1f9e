// LocalCluster: a cluster of one process, for runs without an MPI launcher.
//
// Rank 0 of 1; the collectives return at once with this rank's own values;
// Abort exits the process; nothing is sent, so bytes_sent() is 0. MakeStore
// returns a LocalStore. Never touches MPI. Thread-safe.
#ifndef DEEPDIST_SRC_STORE_LOCAL_CLUSTER_H_
#define DEEPDIST_SRC_STORE_LOCAL_CLUSTER_H_

#include "deepdist/cluster.h"

namespace deepdist {

class LocalCluster : public Cluster {
 public:
  int rank() const override { return 0; }
  int ranks() const override { return 1; }
  Result<std::vector<std::string>> AllGather(std::string_view bytes) override;
  Result<uint64_t> Sum(uint64_t value) override { return value; }
  Status Barrier() override { return Status::OK(); }
  [[noreturn]] void Abort(int exit_code) override;
  uint64_t bytes_sent() const override { return 0; }
  std::unique_ptr<ParamStore> MakeStore(Model model, std::unique_ptr<Descent> descent) override;
};

}  // namespace deepdist

#endif  // DEEPDIST_SRC_STORE_LOCAL_CLUSTER_H_
