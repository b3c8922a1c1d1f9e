// MpiRounds: MpiStore's rounds (sync mode) on one rank. Its workers meet at
// a local barrier; the last to arrive runs the cross-rank step
// (MpiStore::EndRound) for all of them.
//
// Thread safety: Next from the store's local workers, each once per round.
#ifndef DEEPDIST_SRC_STORE_MPI_ROUNDS_H_
#define DEEPDIST_SRC_STORE_MPI_ROUNDS_H_

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>

#include "deepdist/store.h"

namespace deepdist {

class MpiStore;

class MpiRounds : public Rounds {
 public:
  // `workers` local workers of `store`, which must outlive the rounds.
  MpiRounds(MpiStore* store, size_t workers);

  Result<bool> Next(bool has_work) override;

 private:
  MpiStore* const store_;
  const size_t workers_;
  std::mutex mu_;
  std::condition_variable cv_;
  size_t arrived_ = 0;
  uint64_t with_work_ = 0;
  uint64_t generation_ = 0;
  Result<bool> result_{false};
};

}  // namespace deepdist

#endif  // DEEPDIST_SRC_STORE_MPI_ROUNDS_H_
