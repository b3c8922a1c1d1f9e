// SavedShards: the rows of a model as the ranks of one run saved them
// (ParamStore::SaveShard), looked up by global row id, so that a store of
// any number of ranks takes back the rows it holds (resharding by id).
//
// Rank r of R saves section "shard" = "r R", "rule", and per table k
// "table/<k>" (rows r, r + R, r + 2R, ... packed: Checkpoint::PutRows) and,
// for a rule with state, "state/<k>" (the rows' optimizer state, likewise).
#ifndef DEEPDIST_SRC_STORE_SAVED_SHARDS_H_
#define DEEPDIST_SRC_STORE_SAVED_SHARDS_H_

#include <span>
#include <string>
#include <vector>

#include "deepdist/checkpoint.h"
#include "deepdist/descent.h"
#include "deepdist/model.h"
#include "deepdist/status.h"

namespace deepdist {

// The "rule" section for `descent`: its name and state sizes.
std::string RuleSection(const Descent& descent);

// Puts the "shard" and "rule" sections of rank `rank` of `ranks`.
void PutShardHeader(Checkpoint& out, int rank, int ranks, const Descent& descent);

class SavedShards {
 public:
  struct Shape {
    size_t rows = 0, dim = 0;
    size_t state = 0;  // Optimizer state floats per row (0: none).
  };
  // Checks that `shards` are every shard (0 .. R-1, each once) of one save
  // of a model of `shape` with `descent`'s rule; errors name the checkpoint.
  [[nodiscard]] static Result<SavedShards> Open(std::span<const Checkpoint* const> shards,
                                                const std::vector<Shape>& shape,
                                                const Descent& descent);
  // Row `id` of table `table`: its values (dim floats) and its state.
  const float* row(size_t table, RowId id) const;
  const float* state(size_t table, RowId id) const;

 private:
  std::vector<Shape> shape_;
  size_t ranks_ = 0;
  // Per table, per saved rank: the packed rows and states.
  std::vector<std::vector<const float*>> rows_, states_;
};

}  // namespace deepdist

#endif  // DEEPDIST_SRC_STORE_SAVED_SHARDS_H_
