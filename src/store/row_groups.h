// RowGroups: the rows of one MpiStore Pull or Push, grouped by owning rank
// and table, each row once.
//
// A call names tens of thousands of rows, nearly always each once (the
// Replica's pulls and pushes never repeat a row within a block), so finding
// repeats must cost next to nothing in the common case: a hash map per call
// was a visible share of a worker's time. Instead each table keeps a stamp
// per row: the call that last saw the row, and its slot in its group; a new
// call invalidates every stamp at once by taking a new generation. Tables of
// more than kMaxStampRows rows, where the stamps would take too much memory,
// use a hash map per group instead.
//
// A push's values are not copied here while every row is named once: a group
// keeps pointers into the caller's buffers, which Push serializes or applies
// before it returns. Only a group with a repeated row copies its values into
// sums (summed in the order the call names them, as LocalStore sums).
//
// Not thread-safe: one per concurrent call (MpiStore keeps a free list).
#ifndef DEEPDIST_SRC_STORE_ROW_GROUPS_H_
#define DEEPDIST_SRC_STORE_ROW_GROUPS_H_

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <utility>
#include <vector>

#include "deepdist/model.h"

namespace deepdist {

class RowGroups {
 public:
  static constexpr size_t kMaxStampRows = size_t{1} << 24;

  struct Group {
    std::vector<RowId> ids;  // Slot -> row id, in the order first named.
    // Push: each slot's values in the caller's buffer, until a row is named
    // twice; from then on (summed) every slot's sum is in `sums`.
    std::vector<const float*> src;
    std::vector<float> sums;
    bool summed = false;
    // Pull: each occurrence's slot and destination.
    std::vector<std::pair<uint32_t, float*>> outs;
    std::unordered_map<RowId, uint32_t> map;  // Tables without stamps only.

    // The (summed) values of slot k of a push.
    const float* values(size_t k, size_t dim) const {
      return summed ? sums.data() + k * dim : src[k];
    }
  };

  // Rows per table of the store, and the ranks rows are spread over.
  RowGroups(std::vector<size_t> rows, int ranks);

  // Starts a call: every group empty (their memory kept).
  void Begin();
  // An occurrence of row `id` of `table`, owned by `owner`, for a pull into
  // `out`.
  void AddPull(int owner, size_t table, RowId id, float* out);
  // An occurrence for a push, with `dim` values at `values`.
  void AddPush(int owner, size_t table, RowId id, const float* values, size_t dim);

  // True when the call names a row of `owner`.
  bool has(int owner) const { return used_[static_cast<size_t>(owner)]; }
  const Group& group(int owner, size_t table) const {
    return groups_[static_cast<size_t>(owner) * rows_.size() + table];
  }

 private:
  // The slot of `id` in `g`, a group of `table`: a new one (*inserted) when
  // the call has not named the row before.
  uint32_t Slot(size_t table, Group& g, RowId id, bool* inserted);
  Group& Use(int owner, size_t table);

  const std::vector<size_t> rows_;
  std::vector<Group> groups_;    // [owner * tables + table].
  std::vector<bool> used_;       // Per owner.
  std::vector<size_t> touched_;  // Groups the call has used (to empty them).
  uint32_t generation_ = 0;
  // Per table, per row: generation << 32 | slot. Allocated on first use.
  std::vector<std::vector<uint64_t>> stamps_;
};

}  // namespace deepdist

#endif  // DEEPDIST_SRC_STORE_ROW_GROUPS_H_
