// ChangeLog: which rows each client of a store has yet to pull since
// another client changed them, so that a full replica refreshes exactly the
// rows others changed (ParamStore::PullChanged) instead of every row or only
// its own.
//
// A bit per row per client and table: set when a push from anyone else is
// applied to the row, cleared when the client takes the row. A client is
// known from its first Take; until then every row counts as changed for it,
// so its first Take returns every row (its initial load) and no push before
// it is missed.
//
// Thread-safe. Costs nothing while no client has taken anything.
#ifndef DEEPDIST_SRC_STORE_CHANGE_LOG_H_
#define DEEPDIST_SRC_STORE_CHANGE_LOG_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <span>
#include <unordered_map>
#include <vector>

#include "deepdist/model.h"

namespace deepdist {

class ChangeLog {
 public:
  // `rows[t]`: the rows of table t this log covers (a shard's local rows).
  explicit ChangeLog(std::vector<size_t> rows);

  // Rows `rows` of `table` (local indices) were changed by client `by`
  // (kNoClient: by none in particular). `by` itself is spared unless
  // `by_too`: a rule that does not add a delta as it is (AdaGrad) leaves the
  // master unlike the pusher's replica.
  void Mark(size_t table, std::span<const RowId> rows, uint32_t by, bool by_too);
  // Appends to `out` the rows in [begin, end) of `table` (local indices)
  // changed for `client` since it last took them, and clears them.
  void Take(uint32_t client, size_t table, RowId begin, RowId end, std::vector<RowId>* out);

 private:
  const std::vector<size_t> rows_;
  std::atomic<bool> any_{false};
  std::mutex mu_;  // Guards clients_.
  // Client -> per table, a bit per row.
  std::unordered_map<uint32_t, std::vector<std::vector<uint64_t>>> clients_;
};

}  // namespace deepdist

#endif  // DEEPDIST_SRC_STORE_CHANGE_LOG_H_
