// ParamStore: where the master model lives, seen from a worker.
//
// Workers pull the rows they need and push gradients for the rows they
// touched; the store applies its Descent rule to those rows where they live.
// The embedded LocalStore keeps the model in this process's memory; an MPI
// store (built with -DDEEPDIST_MPI=ON) shards rows across ranks behind the same
// interface, so a worker never knows which one it talks to.
//
// Thread safety: Pull, Push and Snapshot may be called from any number of
// threads at once. LocalStore does not lock rows: concurrent pushes to the
// same row race in the Hogwild manner (Recht et al. 2011), which sparse
// gradient methods such as word2vec tolerate by design.
#ifndef DEEPDIST_STORE_H_
#define DEEPDIST_STORE_H_

#include <cstddef>
#include <memory>
#include <span>
#include <vector>

#include "deepdist/descent.h"
#include "deepdist/model.h"
#include "deepdist/status.h"

namespace deepdist {

class ParamStore {
 public:
  virtual ~ParamStore() = default;

  virtual size_t num_tables() const = 0;
  virtual size_t rows(size_t table) const = 0;
  virtual size_t dim(size_t table) const = 0;
  virtual Descent& descent() = 0;

  // Copies `ids` rows of `table` into `out`, dim floats each, densely packed.
  [[nodiscard]] virtual Status Pull(size_t table, std::span<const RowId> ids, float* out) = 0;
  // Applies the descent rule to `ids` rows of `table` with `gradients`
  // (dim floats each, densely packed) at the current learning rate.
  [[nodiscard]] virtual Status Push(size_t table, std::span<const RowId> ids,
                                    const float* gradients) = 0;
  // A copy of the whole master model.
  virtual Model Snapshot() = 0;

  // The master rows of `table` for in-place updates (Hogwild), or nullptr when
  // the store or its descent rule does not allow that. Rows are stride() apart.
  virtual Table* DirectTable(size_t /*table*/) { return nullptr; }
};

// The embedded store: one process, rows in shared memory.
class LocalStore : public ParamStore {
 public:
  LocalStore(Model model, std::unique_ptr<Descent> descent);

  size_t num_tables() const override { return model_.num_tables(); }
  size_t rows(size_t table) const override { return model_.table(table).rows(); }
  size_t dim(size_t table) const override { return model_.table(table).dim(); }
  Descent& descent() override { return *descent_; }

  Status Pull(size_t table, std::span<const RowId> ids, float* out) override;
  Status Push(size_t table, std::span<const RowId> ids, const float* gradients) override;
  Model Snapshot() override { return model_; }
  Table* DirectTable(size_t table) override;

  // The master model itself; callers must not race with training.
  Model& model() { return model_; }
  const Model& model() const { return model_; }

 private:
  Model model_;
  std::unique_ptr<Descent> descent_;
  std::vector<std::vector<float>> state_;  // Optimizer state per table.
};

}  // namespace deepdist

#endif  // DEEPDIST_STORE_H_
