#include "src/store/rank_task_source.h"

namespace deepdist {

RankTaskSource::RankTaskSource(uint64_t partitions, uint64_t epochs, int rank, int ranks)
    : epochs_(epochs),
      rank_(static_cast<uint64_t>(rank)),
      ranks_(static_cast<uint64_t>(ranks)),
      per_epoch_(partitions > rank_ ? (partitions - rank_ - 1) / ranks_ + 1 : 0) {
  DD_CHECK(ranks > 0 && rank >= 0 && rank < ranks);
}

std::optional<Task> RankTaskSource::Next() {
  if (per_epoch_ == 0) return std::nullopt;
  const uint64_t k = cursor_.fetch_add(1, std::memory_order_relaxed);
  if (k >= per_epoch_ * epochs_) return std::nullopt;
  return Task{k / per_epoch_, rank_ + (k % per_epoch_) * ranks_};
}

}  // namespace deepdist
