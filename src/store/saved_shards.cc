#include "src/store/saved_shards.h"

#include <cstring>
#include <sstream>

namespace deepdist {

std::string RuleSection(const Descent& descent) {
  return descent.name() + " " + std::to_string(descent.state_per_value()) + " " +
         std::to_string(descent.state_per_row());
}

void PutShardHeader(Checkpoint& out, int rank, int ranks, const Descent& descent) {
  out.Put("shard", std::to_string(rank) + " " + std::to_string(ranks));
  out.Put("rule", RuleSection(descent));
}

namespace {

// The packed floats of section `name` if it holds `rows` x `dim` of them.
Result<const float*> Packed(const Checkpoint& c, const std::string& name, size_t rows, size_t dim) {
  const std::string* bytes = c.Get(name);
  if (bytes == nullptr) return Status::Corruption(c.source() + ": no section " + name);
  uint64_t saved_rows = 0, saved_dim = 0;
  if (bytes->size() >= 16) {
    std::memcpy(&saved_rows, bytes->data(), 8);
    std::memcpy(&saved_dim, bytes->data() + 8, 8);
  }
  if (bytes->size() < 16 || saved_rows != rows || saved_dim != dim ||
      bytes->size() != 16 + rows * dim * sizeof(float)) {
    return Status::InvalidArgument(c.source() + ": " + name + ": not " + std::to_string(rows) +
                                   " x " + std::to_string(dim) + " values, as this model's shard");
  }
  // Section bytes start at an 8-byte boundary of a std::string's buffer
  // plus 16: aligned for floats.
  return reinterpret_cast<const float*>(bytes->data() + 16);
}

}  // namespace

Result<SavedShards> SavedShards::Open(std::span<const Checkpoint* const> shards,
                                      const std::vector<Shape>& shape, const Descent& descent) {
  if (shards.empty()) return Status::InvalidArgument("checkpoint: no shards");
  SavedShards saved;
  saved.shape_ = shape;
  saved.ranks_ = shards.size();
  std::vector<const Checkpoint*> by_rank(shards.size(), nullptr);
  const std::string rule = RuleSection(descent);
  for (const Checkpoint* c : shards) {
    const std::string* header = c->Get("shard");
    if (header == nullptr) return Status::Corruption(c->source() + ": no section shard");
    std::istringstream in(*header);
    size_t rank = 0, ranks = 0;
    if (!(in >> rank >> ranks) || ranks != shards.size() || rank >= ranks) {
      return Status::InvalidArgument(c->source() + ": shard \"" + *header + "\" of a save by " +
                                     std::to_string(ranks) + " ranks, " +
                                     std::to_string(shards.size()) + " shards given");
    }
    if (by_rank[rank] != nullptr) {
      return Status::InvalidArgument(c->source() + ": shard " + std::to_string(rank) +
                                     " given twice");
    }
    by_rank[rank] = c;
    const std::string* saved_rule = c->Get("rule");
    if (saved_rule == nullptr || *saved_rule != rule) {
      return Status::InvalidArgument(c->source() + ": saved with the rule \"" +
                                     (saved_rule ? *saved_rule : std::string("?")) +
                                     "\", this run's is \"" + rule + "\"");
    }
  }
  const size_t ranks = shards.size();
  saved.rows_.resize(shape.size());
  saved.states_.resize(shape.size());
  for (size_t t = 0; t < shape.size(); ++t) {
    for (size_t r = 0; r < ranks; ++r) {
      const size_t local = shape[t].rows > r ? (shape[t].rows - r - 1) / ranks + 1 : 0;
      const Checkpoint& c = *by_rank[r];
      Result<const float*> rows = Packed(c, "table/" + std::to_string(t), local, shape[t].dim);
      if (!rows.ok()) return rows.status();
      saved.rows_[t].push_back(*rows);
      const float* state = nullptr;
      if (shape[t].state > 0) {
        Result<const float*> s = Packed(c, "state/" + std::to_string(t), local, shape[t].state);
        if (!s.ok()) return s.status();
        state = *s;
      }
      saved.states_[t].push_back(state);
    }
  }
  return saved;
}

const float* SavedShards::row(size_t table, RowId id) const {
  return rows_[table][id % ranks_] + (id / ranks_) * shape_[table].dim;
}

const float* SavedShards::state(size_t table, RowId id) const {
  const float* s = states_[table][id % ranks_];
  return s == nullptr ? nullptr : s + (id / ranks_) * shape_[table].state;
}

}  // namespace deepdist
