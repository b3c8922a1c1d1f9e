#include <algorithm>
#include <barrier>
#include <cstring>
#include <string>
#include <unordered_map>

#include "deepdist/store.h"
#include "src/store/change_log.h"
#include "src/store/saved_shards.h"

namespace deepdist {

double ParamStore::progress_fraction() const {
  const uint64_t plan = planned();
  if (plan == 0) return 0.0;
  return std::min(1.0, static_cast<double>(progress()) / static_cast<double>(plan));
}

float ParamStore::learning_rate() const { return descent().schedule().At(progress_fraction()); }

namespace {

// Tasks in epoch-major order from one atomic cursor.
class LocalTaskSource : public TaskSource {
 public:
  LocalTaskSource(uint64_t partitions, uint64_t epochs)
      : partitions_(partitions), total_(partitions * epochs) {}
  std::optional<Task> Next() override {
    const uint64_t t = next_.fetch_add(1, std::memory_order_relaxed);
    if (t >= total_) return std::nullopt;
    return Task{t / partitions_, t % partitions_};
  }

 private:
  const uint64_t partitions_;
  const uint64_t total_;
  std::atomic<uint64_t> next_{0};
};

// Rounds of one process: a barrier whose completion step applies the pushes
// deferred to the round and decides whether another round follows.
class LocalRounds : public Rounds {
 public:
  LocalRounds(LocalStore& store, size_t workers)
      : store_(store), barrier_(static_cast<std::ptrdiff_t>(workers), Completion{this}) {}

  Result<bool> Next(bool has_work) override {
    if (has_work) with_work_.fetch_add(1, std::memory_order_relaxed);
    barrier_.arrive_and_wait();
    return more_.load(std::memory_order_relaxed);
  }

 private:
  struct Completion {
    LocalRounds* self;
    void operator()() noexcept {
      self->store_.ApplyDeferred();
      self->more_.store(self->with_work_.exchange(0) > 0, std::memory_order_relaxed);
    }
  };
  LocalStore& store_;
  std::atomic<size_t> with_work_{0};
  std::atomic<bool> more_{false};
  std::barrier<Completion> barrier_;
};

size_t StrideOf(size_t stride, size_t dim) { return stride == 0 ? dim : stride; }

}  // namespace

LocalStore::LocalStore(Model model, std::unique_ptr<Descent> descent, LocalStoreOptions options)
    : model_(std::move(model)),
      descent_(std::move(descent)),
      options_(options),
      row_locks_(options.lock_rows ? new std::mutex[kRowLocks] : nullptr) {
  DD_CHECK(descent_ != nullptr);
  deferred_.resize(model_.num_tables());
  std::vector<size_t> rows;
  for (size_t t = 0; t < model_.num_tables(); ++t) rows.push_back(model_.table(t).rows());
  changes_ = std::make_unique<ChangeLog>(std::move(rows));
  for (size_t t = 0; t < model_.num_tables(); ++t) {
    const Table& table = model_.table(t);
    const size_t per_row = descent_->state_floats(table.dim());
    state_.emplace_back(table.name(), per_row > 0 ? table.rows() : 0, std::max<size_t>(per_row, 1));
  }
}

LocalStore::~LocalStore() = default;

Ticket LocalStore::Settle(Status status) {
  std::lock_guard<std::mutex> lock(mu_);
  const Ticket ticket = next_ticket_++;
  if (!status.ok()) failed_.emplace(ticket, std::move(status));
  return ticket;
}

Status LocalStore::Wait(Ticket ticket) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = failed_.find(ticket);
  if (it == failed_.end()) return Status::OK();
  Status status = std::move(it->second);
  failed_.erase(it);
  return status;
}

Ticket LocalStore::Pull(std::span<const RowBlock> blocks) { return Settle(DoPull(blocks)); }

Ticket LocalStore::Push(std::span<const ConstRowBlock> blocks, const PushOptions& options) {
  return Settle(DoPush(blocks, options));
}

Ticket LocalStore::PullChanged(uint32_t client, std::span<ChangedRows> ranges) {
  std::vector<RowId> ids;
  for (ChangedRows& range : ranges) {
    if (range.table >= model_.num_tables()) {
      return Settle(Status::OutOfRange("pull: no table " + std::to_string(range.table) +
                                       " (the model has " + std::to_string(model_.num_tables()) +
                                       ")"));
    }
    if (range.from_initial) {
      return Settle(Status::InvalidArgument("pull: the store keeps no initial model"));
    }
    const Table& t = model_.table(range.table);
    const size_t dim = t.dim();
    ids.clear();
    changes_->Take(client, range.table, range.begin, range.end, &ids);
    const size_t at = range.values.size();
    range.values.resize(at + ids.size() * dim);
    for (size_t i = 0; i < ids.size(); ++i) {
      std::mutex* lock = RowLock(ids[i]);
      if (lock != nullptr) lock->lock();
      std::memcpy(&range.values[at + i * dim], t.row(ids[i]), dim * sizeof(float));
      if (lock != nullptr) lock->unlock();
    }
    range.ids.insert(range.ids.end(), ids.begin(), ids.end());
  }
  return Settle(Status::OK());
}

namespace {

// Every block's table and rows exist, checked before any row is touched, so
// that a bad block fails the whole call with nothing applied.
template <typename Block>
Status CheckBlocks(const Model& model, std::span<const Block> blocks, const char* what) {
  for (const Block& b : blocks) {
    if (b.table >= model.num_tables()) {
      return Status::OutOfRange(std::string(what) + ": no table " + std::to_string(b.table) +
                                " (the model has " + std::to_string(model.num_tables()) + ")");
    }
    const Table& t = model.table(b.table);
    for (RowId id : b.ids) {
      if (id >= t.rows()) {
        return Status::OutOfRange(std::string(what) + ": row " + std::to_string(id) +
                                  " out of range of table '" + t.name() + "' (" +
                                  std::to_string(t.rows()) + " rows)");
      }
    }
  }
  return Status::OK();
}

}  // namespace

Status LocalStore::DoPull(std::span<const RowBlock> blocks) {
  DD_RETURN_IF_ERROR(CheckBlocks(model_, blocks, "pull"));
  for (const RowBlock& b : blocks) {
    const Table& t = model_.table(b.table);
    const size_t dim = t.dim();
    const size_t stride = StrideOf(b.stride, dim);
    for (size_t i = 0; i < b.ids.size(); ++i) {
      std::mutex* lock = RowLock(b.ids[i]);
      if (lock != nullptr) lock->lock();
      std::memcpy(b.values + i * stride, t.row(b.ids[i]), dim * sizeof(float));
      if (lock != nullptr) lock->unlock();
    }
  }
  return Status::OK();
}

Status LocalStore::DoPush(std::span<const ConstRowBlock> blocks, const PushOptions& options) {
  const float lr = learning_rate();
  const bool delta = options.kind == PushOptions::Kind::kDelta;
  if (delta && !(options.rate > 0)) return Status::InvalidArgument("push: a delta needs its rate");
  DD_RETURN_IF_ERROR(CheckBlocks(model_, blocks, "push"));
  for (const ConstRowBlock& b : blocks) {
    Table& t = model_.table(b.table);
    const size_t dim = t.dim();
    const size_t stride = StrideOf(b.stride, dim);
    // A row repeated within a block is one change: its values summed (the
    // first, then the others in order), applied once, as the MPI store does.
    std::span<const RowId> ids = b.ids;
    const float* values = b.values;
    size_t values_stride = stride;
    thread_local std::vector<uint32_t> stamps;
    thread_local uint32_t generation = 0;
    thread_local std::vector<RowId> merged_ids;
    thread_local std::vector<float> merged;
    if (ids.size() > 1) {
      if (stamps.size() < t.rows()) stamps.assign(t.rows(), 0);
      if (++generation == 0) {  // Wrapped: start the stamps afresh.
        std::fill(stamps.begin(), stamps.end(), 0);
        generation = 1;
      }
      bool repeated = false;
      for (RowId id : ids) {
        if (stamps[id] == generation) {
          repeated = true;
          break;
        }
        stamps[id] = generation;
      }
      if (repeated) {
        std::unordered_map<RowId, size_t> at;
        merged_ids.clear();
        merged.clear();
        for (size_t i = 0; i < ids.size(); ++i) {
          const float* v = b.values + i * stride;
          auto [it, fresh] = at.emplace(ids[i], merged_ids.size());
          if (fresh) {
            merged_ids.push_back(ids[i]);
            merged.insert(merged.end(), v, v + dim);
          } else {
            float* sum = &merged[it->second * dim];
            for (size_t k = 0; k < dim; ++k) sum[k] += v[k];
          }
        }
        ids = merged_ids;
        values = merged.data();
        values_stride = dim;
      }
    }
    if (options.defer_to_round) {
      std::lock_guard<std::mutex> lock(mu_);
      Deferred& d = deferred_[b.table];
      d.options = options;
      for (size_t i = 0; i < ids.size(); ++i) {
        std::vector<float>& sum = d.rows[ids[i]];
        const float* v = values + i * values_stride;
        if (sum.empty()) {
          sum.assign(v, v + dim);
        } else {
          for (size_t k = 0; k < dim; ++k) sum[k] += v[k];
        }
      }
      continue;
    }
    const size_t per_row = descent_->state_floats(dim);
    Table& state = state_[b.table];
    for (size_t i = 0; i < ids.size(); ++i) {
      const RowId id = ids[i];
      const float* v = values + i * values_stride;
      float* row_state = per_row > 0 ? state.row(id) : nullptr;
      // Without lock_rows, Hogwild: another worker may be updating this row
      // right now.
      std::mutex* lock = RowLock(id);
      if (lock != nullptr) lock->lock();
      if (delta) {
        descent_->ApplyDelta(t.row(id), row_state, v, dim, options.rate, lr);
      } else {
        descent_->ApplyRow(t.row(id), row_state, v, dim, lr);
      }
      if (lock != nullptr) lock->unlock();
    }
    // After the rows are written, so a client that takes a mark reads the
    // new values.
    changes_->Mark(b.table, ids, options.client, !descent_->allows_hogwild());
  }
  return Status::OK();
}

void LocalStore::ApplyDeferred() {
  const float lr = learning_rate();
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t ti = 0; ti < deferred_.size(); ++ti) {
    Deferred& d = deferred_[ti];
    if (d.rows.empty()) continue;
    Table& t = model_.table(ti);
    const size_t dim = t.dim();
    const size_t per_row = descent_->state_floats(dim);
    // In row order, so that a round's result does not depend on hashing.
    std::vector<RowId> ids;
    ids.reserve(d.rows.size());
    for (const auto& [id, values] : d.rows) ids.push_back(id);
    std::sort(ids.begin(), ids.end());
    for (RowId id : ids) {
      const float* values = d.rows[id].data();
      float* row_state = per_row > 0 ? state_[ti].row(id) : nullptr;
      if (d.options.kind == PushOptions::Kind::kDelta) {
        descent_->ApplyDelta(t.row(id), row_state, values, dim, d.options.rate, lr);
      } else {
        descent_->ApplyRow(t.row(id), row_state, values, dim, lr);
      }
    }
    // The round's sums (scaled, from every worker) leave no replica equal.
    changes_->Mark(ti, ids, kNoClient, true);
    d.rows.clear();
  }
}

std::unique_ptr<TaskSource> LocalStore::NewTasks(uint64_t partitions, uint64_t epochs) {
  return std::make_unique<LocalTaskSource>(partitions, epochs);
}

std::unique_ptr<Rounds> LocalStore::NewRounds(size_t local_workers) {
  DD_CHECK(local_workers > 0);
  return std::make_unique<LocalRounds>(*this, local_workers);
}

namespace {

// The master rows for workers that run `rule` in place, if the store allows.
Table* InPlaceRows(Model& model, const Descent& descent, bool lock_rows, size_t table,
                   Descent::InPlace rule) {
  // Rows that must be locked cannot be handed out for unlocked updates.
  if (descent.in_place() != rule || lock_rows || table >= model.num_tables()) return nullptr;
  return &model.table(table);
}

}  // namespace

Table* LocalStore::DirectTable(size_t table) {
  return InPlaceRows(model_, *descent_, options_.lock_rows, table, Descent::InPlace::kSgd);
}

Table* LocalStore::DirectAdaGradTable(size_t table) {
  return InPlaceRows(model_, *descent_, options_.lock_rows, table, Descent::InPlace::kAdaGrad);
}

Table* LocalStore::DirectState(size_t table) {
  if (DirectAdaGradTable(table) == nullptr) return nullptr;
  // One float per value, so the stride is the rows'.
  DD_CHECK(state_[table].stride() == model_.table(table).stride());
  return &state_[table];
}

}  // namespace deepdist

namespace deepdist {

Status LocalStore::SaveShard(Checkpoint& out) const {
  PutShardHeader(out, 0, 1, *descent_);
  for (size_t t = 0; t < model_.num_tables(); ++t) {
    out.PutTable("table/" + std::to_string(t), model_.table(t));
    if (state_[t].rows() > 0) out.PutTable("state/" + std::to_string(t), state_[t]);
  }
  return Status::OK();
}

Status LocalStore::LoadShard(std::span<const Checkpoint* const> shards) {
  std::vector<SavedShards::Shape> shape;
  for (size_t t = 0; t < model_.num_tables(); ++t) {
    const Table& table = model_.table(t);
    shape.push_back({table.rows(), table.dim(), state_[t].rows() > 0 ? state_[t].dim() : 0});
  }
  Result<SavedShards> saved = SavedShards::Open(shards, shape, *descent_);
  if (!saved.ok()) return saved.status();
  for (size_t t = 0; t < model_.num_tables(); ++t) {
    Table& table = model_.table(t);
    for (RowId id = 0; id < table.rows(); ++id) {
      std::memcpy(table.row(id), saved->row(t, id), table.dim() * sizeof(float));
      if (shape[t].state > 0) {
        std::memcpy(state_[t].row(id), saved->state(t, id), shape[t].state * sizeof(float));
      }
    }
  }
  return Status::OK();
}

}  // namespace deepdist
