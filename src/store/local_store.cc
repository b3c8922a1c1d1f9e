#include <cstring>

#include "deepdist/store.h"

namespace deepdist {

LocalStore::LocalStore(Model model, std::unique_ptr<Descent> descent)
    : model_(std::move(model)), descent_(std::move(descent)) {
  DD_CHECK(descent_ != nullptr);
  state_.resize(model_.num_tables());
  const size_t per_value = descent_->state_per_value();
  for (size_t t = 0; t < model_.num_tables(); ++t) {
    const Table& table = model_.table(t);
    state_[t].assign(per_value * table.rows() * table.dim(), 0.0f);
  }
}

Status LocalStore::Pull(size_t table, std::span<const RowId> ids, float* out) {
  if (table >= model_.num_tables()) return Status::InvalidArgument("pull: no such table");
  const Table& t = model_.table(table);
  const size_t dim = t.dim();
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] >= t.rows()) return Status::InvalidArgument("pull: row out of range");
    std::memcpy(out + i * dim, t.row(ids[i]), dim * sizeof(float));
  }
  return Status::OK();
}

Status LocalStore::Push(size_t table, std::span<const RowId> ids, const float* gradients) {
  if (table >= model_.num_tables()) return Status::InvalidArgument("push: no such table");
  Table& t = model_.table(table);
  const size_t dim = t.dim();
  const size_t per_row = dim * descent_->state_per_value();
  const float lr = descent_->learning_rate();
  float* state = state_[table].data();
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] >= t.rows()) return Status::InvalidArgument("push: row out of range");
    // Hogwild: no lock; another worker may be updating this row right now.
    descent_->ApplyRow(t.row(ids[i]), per_row > 0 ? state + ids[i] * per_row : nullptr,
                       gradients + i * dim, dim, lr);
  }
  return Status::OK();
}

Table* LocalStore::DirectTable(size_t table) {
  if (!descent_->allows_hogwild() || table >= model_.num_tables()) return nullptr;
  return &model_.table(table);
}

}  // namespace deepdist
