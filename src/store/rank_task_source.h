// RankTaskSource: the tasks of one rank, handed to its threads.
//
// Over `partitions` x `epochs`, this rank takes the partitions p with
// p % ranks == rank, in epoch-major order (every partition of epoch 0 before
// any of epoch 1). The rank's threads share one atomic cursor, so each task
// goes to exactly one thread; no rank talks to another. Thread-safe.
#ifndef DEEPDIST_SRC_STORE_RANK_TASK_SOURCE_H_
#define DEEPDIST_SRC_STORE_RANK_TASK_SOURCE_H_

#include <atomic>
#include <cstdint>
#include <optional>

#include "deepdist/store.h"

namespace deepdist {

class RankTaskSource : public TaskSource {
 public:
  RankTaskSource(uint64_t partitions, uint64_t epochs, int rank, int ranks);
  std::optional<Task> Next() override;

 private:
  const uint64_t epochs_;
  const uint64_t rank_;
  const uint64_t ranks_;
  const uint64_t per_epoch_;  // This rank's partitions in one epoch.
  std::atomic<uint64_t> cursor_{0};
};

}  // namespace deepdist

#endif  // DEEPDIST_SRC_STORE_RANK_TASK_SOURCE_H_
