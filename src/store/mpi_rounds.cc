#include "src/store/mpi_rounds.h"

#include "src/store/mpi_store.h"

namespace deepdist {

MpiRounds::MpiRounds(MpiStore* store, size_t workers) : store_(store), workers_(workers) {
  DD_CHECK(workers > 0);
}

Result<bool> MpiRounds::Next(bool has_work) {
  std::unique_lock lock(mu_);
  if (has_work) ++with_work_;
  if (++arrived_ < workers_) {
    const uint64_t generation = generation_;
    cv_.wait(lock, [&] { return generation_ != generation; });
    return result_;
  }
  const uint64_t local_work = with_work_;
  arrived_ = 0;
  with_work_ = 0;
  // The others stay blocked until the generation moves, so nobody touches
  // the counters meanwhile; the lock is not held across the collectives.
  lock.unlock();
  Result<uint64_t> total = store_->EndRound(local_work);
  lock.lock();
  result_ = total.ok() ? Result<bool>(total.value() > 0) : Result<bool>(total.status());
  ++generation_;
  cv_.notify_all();
  return result_;
}

}  // namespace deepdist
