#include "src/store/row_groups.h"

#include <algorithm>

#include "deepdist/status.h"

namespace deepdist {

RowGroups::RowGroups(std::vector<size_t> rows, int ranks)
    : rows_(std::move(rows)),
      groups_(static_cast<size_t>(ranks) * rows_.size()),
      used_(static_cast<size_t>(ranks), false),
      stamps_(rows_.size()) {}

void RowGroups::Begin() {
  for (size_t i : touched_) {
    Group& g = groups_[i];
    g.ids.clear();
    g.src.clear();
    g.sums.clear();
    g.summed = false;
    g.outs.clear();
    g.map.clear();
  }
  touched_.clear();
  std::fill(used_.begin(), used_.end(), false);
  if (++generation_ == 0) {
    // After 2^32 calls: stamps of generation 0 must not match, so clear them.
    for (std::vector<uint64_t>& s : stamps_) std::fill(s.begin(), s.end(), 0);
    generation_ = 1;
  }
}

RowGroups::Group& RowGroups::Use(int owner, size_t table) {
  const size_t i = static_cast<size_t>(owner) * rows_.size() + table;
  Group& g = groups_[i];
  if (g.ids.empty() && g.outs.empty()) {
    // First row of the group in this call (a pull's group has outs whenever
    // it has ids, a push's has ids).
    if (std::find(touched_.begin(), touched_.end(), i) == touched_.end()) touched_.push_back(i);
    used_[static_cast<size_t>(owner)] = true;
  }
  return g;
}

uint32_t RowGroups::Slot(size_t table, Group& g, RowId id, bool* inserted) {
  const auto next = static_cast<uint32_t>(g.ids.size());
  if (rows_[table] > kMaxStampRows) {
    const auto [it, fresh] = g.map.try_emplace(id, next);
    *inserted = fresh;
    return it->second;
  }
  std::vector<uint64_t>& stamps = stamps_[table];
  if (stamps.empty()) stamps.assign(rows_[table], 0);
  uint64_t& stamp = stamps[id];
  // A row belongs to one owner, so one stamp per row serves every group of
  // its table.
  if (stamp >> 32 == generation_) {
    *inserted = false;
    return static_cast<uint32_t>(stamp);
  }
  stamp = uint64_t{generation_} << 32 | next;
  *inserted = true;
  return next;
}

void RowGroups::AddPull(int owner, size_t table, RowId id, float* out) {
  Group& g = Use(owner, table);
  bool inserted = false;
  const uint32_t slot = Slot(table, g, id, &inserted);
  if (inserted) g.ids.push_back(id);
  g.outs.emplace_back(slot, out);
}

void RowGroups::AddPush(int owner, size_t table, RowId id, const float* values, size_t dim) {
  Group& g = Use(owner, table);
  bool inserted = false;
  const uint32_t slot = Slot(table, g, id, &inserted);
  if (inserted) {
    g.ids.push_back(id);
    if (g.summed) {
      g.sums.insert(g.sums.end(), values, values + dim);
    } else {
      g.src.push_back(values);
    }
    return;
  }
  if (!g.summed) {
    // The first repeat: from now on the group sums its values.
    g.sums.resize(g.src.size() * dim);
    for (size_t k = 0; k < g.src.size(); ++k) {
      std::copy(g.src[k], g.src[k] + dim, g.sums.data() + k * dim);
    }
    g.summed = true;
  }
  float* sum = g.sums.data() + size_t{slot} * dim;
  for (size_t k = 0; k < dim; ++k) sum[k] += values[k];
}

}  // namespace deepdist
