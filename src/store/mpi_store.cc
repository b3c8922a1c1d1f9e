#include "src/store/mpi_store.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <utility>

#include "src/store/mpi_rounds.h"
#include "src/store/saved_shards.h"

// Messages (see wire.h for the header and the encodings):
//   pull request   ticket u64, tables u32, per table: table u32, count u32, ids
//   pull reply     ticket u64, code u8, then the rows' values in request order,
//                  or (code != 0) message length u32 and message
//   push request   ticket u64, kind u8, defer u8, 2 bytes of padding,
//                  rate f32, client u32, tables u32, per table: table u32,
//                  count u32, ids,
//                  values (the padding puts fp32 values at 4-byte offsets, so
//                  that the owner applies them in place)
//   push ack       ticket u64, code u8 [, message length u32, message]
//   progress       total u64
//   shard chunk    table u32, first local index u64, count u32, fp32 values
//   pull changed   ticket u64, client u32, ranges u32, per range: table u32,
//                  begin u64, end u64
//   its reply      ticket u64, code u8, then per range: count u32, ids, the
//                  rows' values [, or as a pull reply's error]

namespace deepdist {
namespace {

constexpr auto kProgressEvery = std::chrono::milliseconds(2);
constexpr size_t kSnapshotChunkBytes = size_t{4} << 20;
constexpr size_t kSnapshotInFlightBytes = size_t{32} << 20;
// How many task sources (NewTasks) another rank may have made before this
// one: a request beyond that is damage.
constexpr uint32_t kTaskSourcesAhead = 1024;

void StoreMax(std::atomic<uint64_t>& a, uint64_t v) {
  uint64_t seen = a.load(std::memory_order_relaxed);
  while (seen < v && !a.compare_exchange_weak(seen, v, std::memory_order_relaxed)) {
  }
}

Status StatusFromCode(uint8_t code, std::string message) {
  switch (static_cast<Status::Code>(code)) {
    case Status::Code::kOk:
      return Status::OK();
    case Status::Code::kInvalidArgument:
      return Status::InvalidArgument(std::move(message));
    case Status::Code::kNotFound:
      return Status::NotFound(std::move(message));
    case Status::Code::kIOError:
      return Status::IOError(std::move(message));
    case Status::Code::kCorruption:
      return Status::Corruption(std::move(message));
    case Status::Code::kOutOfRange:
      return Status::OutOfRange(std::move(message));
    default:
      return Status::Internal(std::move(message));
  }
}

}  // namespace

MpiStore::MpiStore(MpiCluster* cluster, uint16_t id, Model model, std::unique_ptr<Descent> descent,
                   ClusterOptions::Wire wire)
    : cluster_(cluster),
      id_(id),
      rank_(cluster->rank()),
      ranks_(cluster->ranks()),
      fp16_(wire == ClusterOptions::Wire::kFp16),
      bits_(wire == ClusterOptions::Wire::kInt8   ? 8
            : wire == ClusterOptions::Wire::kInt4 ? 4
                                                  : 0),
      descent_(std::move(descent)),
      heard_(new std::atomic<uint64_t>[static_cast<size_t>(cluster->ranks())]),
      progress_sent_at_(std::chrono::steady_clock::now()) {
  DD_CHECK(descent_ != nullptr);
  for (int r = 0; r < ranks_; ++r) heard_[r].store(0, std::memory_order_relaxed);
  const auto ranks = static_cast<size_t>(ranks_);
  const auto rank = static_cast<size_t>(rank_);
  for (size_t t = 0; t < model.num_tables(); ++t) {
    const Table& full = model.table(t);
    tables_.push_back({full.name(), full.rows(), full.dim()});
    if (full.rows() > std::numeric_limits<uint32_t>::max()) narrow_ids_ = false;
    const size_t local_rows = full.rows() > rank ? (full.rows() - rank - 1) / ranks + 1 : 0;
    Table& part = shard_.emplace_back(full.name(), local_rows, full.dim());
    for (size_t i = 0; i < local_rows; ++i) {
      std::memcpy(part.row(i), full.row(i * ranks + rank), full.dim() * sizeof(float));
    }
    state_.emplace_back(local_rows * descent_->state_floats(full.dim()), 0.0f);
  }
  std::vector<size_t> local_rows;
  for (const Table& part : shard_) local_rows.push_back(part.rows());
  changes_ = std::make_unique<ChangeLog>(std::move(local_rows));
  // Every rank was given this model: a client that starts from it pulls
  // only the rows that differ from it (ChangedRows::from_initial).
  if (bits_ > 0) initial_ = std::move(model);
  deferred_.resize(tables_.size());
  cluster_->Register(id_, this);
}

MpiStore::~MpiStore() { cluster_->Unregister(id_); }

Status MpiStore::SaveShard(Checkpoint& out) const {
  PutShardHeader(out, rank_, ranks_, *descent_);
  for (size_t t = 0; t < tables_.size(); ++t) {
    out.PutTable("table/" + std::to_string(t), shard_[t]);
    const size_t per_row = descent_->state_floats(tables_[t].dim);
    if (per_row > 0) {
      out.PutRows("state/" + std::to_string(t), shard_[t].rows(), per_row, state_[t].data(),
                  per_row);
    }
  }
  return Status::OK();
}

Status MpiStore::LoadShard(std::span<const Checkpoint* const> shards) {
  std::vector<SavedShards::Shape> shape;
  for (const TableInfo& info : tables_) {
    shape.push_back({info.rows, info.dim, descent_->state_floats(info.dim)});
  }
  Result<SavedShards> saved = SavedShards::Open(shards, shape, *descent_);
  if (!saved.ok()) return saved.status();
  initial_ = Model();  // The rows are no longer the initial model's.
  const auto ranks = static_cast<RowId>(ranks_);
  for (size_t t = 0; t < tables_.size(); ++t) {
    const size_t dim = tables_[t].dim, per_row = shape[t].state;
    for (RowId i = 0; i < shard_[t].rows(); ++i) {
      const RowId id = i * ranks + static_cast<RowId>(rank_);
      std::memcpy(shard_[t].row(i), saved->row(t, id), dim * sizeof(float));
      if (per_row > 0) {
        std::memcpy(state_[t].data() + i * per_row, saved->state(t, id), per_row * sizeof(float));
      }
    }
  }
  return Status::OK();
}

Status MpiStore::Validate(size_t table, std::span<const RowId> ids, size_t stride,
                          const char* what) const {
  if (table >= tables_.size()) {
    return Status::OutOfRange(std::string(what) + ": no table " + std::to_string(table) +
                              " (the model has " + std::to_string(tables_.size()) + ")");
  }
  const TableInfo& info = tables_[table];
  DD_CHECK(stride == 0 || stride >= info.dim);
  for (RowId id : ids) {
    if (id >= info.rows) {
      return Status::OutOfRange(std::string(what) + ": row " + std::to_string(id) +
                                " out of range of table '" + info.name + "' (" +
                                std::to_string(info.rows) + " rows)");
    }
  }
  return Status::OK();
}

Ticket MpiStore::Settled(Status status) {
  const Ticket ticket = next_ticket_.fetch_add(1, std::memory_order_relaxed);
  if (!status.ok()) {
    auto op = std::make_unique<Op>();
    op->status = std::move(status);
    std::lock_guard lock(ops_mu_);
    ops_.emplace(ticket, std::move(op));
  }
  return ticket;
}

std::unique_ptr<RowGroups> MpiStore::TakeGroups() {
  {
    std::lock_guard lock(groups_mu_);
    if (!free_groups_.empty()) {
      std::unique_ptr<RowGroups> groups = std::move(free_groups_.back());
      free_groups_.pop_back();
      groups->Begin();
      return groups;
    }
  }
  std::vector<size_t> rows;
  for (const TableInfo& info : tables_) rows.push_back(info.rows);
  auto groups = std::make_unique<RowGroups>(std::move(rows), ranks_);
  groups->Begin();
  return groups;
}

void MpiStore::ReturnGroups(std::unique_ptr<RowGroups> groups) {
  std::lock_guard lock(groups_mu_);
  free_groups_.push_back(std::move(groups));
}

Ticket MpiStore::Pull(std::span<const RowBlock> blocks) {
  for (const RowBlock& b : blocks) {
    Status status = Validate(b.table, b.ids, b.stride, "pull");
    if (!status.ok()) return Settled(std::move(status));
    DD_CHECK(b.ids.empty() || b.values != nullptr);
  }
  // Remote rows by owner and table, each row once, with where each
  // occurrence goes.
  std::unique_ptr<RowGroups> groups = TakeGroups();
  const auto ranks = static_cast<RowId>(ranks_);
  for (const RowBlock& b : blocks) {
    const size_t dim = tables_[b.table].dim;
    const size_t stride = b.stride != 0 ? b.stride : dim;
    for (size_t i = 0; i < b.ids.size(); ++i) {
      const RowId id = b.ids[i];
      float* out = b.values + i * stride;
      const int owner = static_cast<int>(id % ranks);
      if (owner == rank_) {
        // Hogwild: the communication thread may be updating this row.
        std::memcpy(out, shard_[b.table].row(id / ranks), dim * sizeof(float));
        continue;
      }
      groups->AddPull(owner, b.table, id, out);
    }
  }

  const Ticket ticket = next_ticket_.fetch_add(1, std::memory_order_relaxed);
  auto op = std::make_unique<Op>();
  std::vector<std::pair<int, std::string>> messages;
  const size_t id_bytes = narrow_ids_ ? 4 : 8;
  for (int owner = 0; owner < ranks_; ++owner) {
    if (owner == rank_ || !groups->has(owner)) continue;
    if (op->dests.empty()) {
      op->dests.resize(ranks_);
      op->values.assign(ranks_, 0);
    }
    uint32_t used_tables = 0;
    size_t ids = 0, outs = 0;
    for (size_t t = 0; t < tables_.size(); ++t) {
      const RowGroups::Group& g = groups->group(owner, t);
      used_tables += g.ids.empty() ? 0 : 1;
      ids += g.ids.size();
      outs += g.outs.size();
    }
    std::string message =
        cluster_->NewMessage(kMessageHeaderBytes + 12 + used_tables * 8 + ids * id_bytes);
    WireWriter w(&message);
    w.Header(MessageType::kPullRequest, id_);
    w.U64(ticket);
    w.U32(used_tables);
    std::vector<PullDest>& dests = op->dests[owner];
    dests.reserve(outs);
    size_t offset = 0;
    for (size_t t = 0; t < tables_.size(); ++t) {
      const RowGroups::Group& g = groups->group(owner, t);
      if (g.ids.empty()) continue;
      DD_CHECK(g.ids.size() <= std::numeric_limits<uint32_t>::max());
      const size_t dim = tables_[t].dim;
      w.U32(static_cast<uint32_t>(t));
      w.U32(static_cast<uint32_t>(g.ids.size()));
      w.Ids(g.ids, narrow_ids_);
      for (const auto& [slot, out] : g.outs)
        dests.push_back({out, offset + size_t{slot} * dim, dim});
      offset += g.ids.size() * dim;
    }
    op->values[owner] = offset;
    messages.emplace_back(owner, std::move(message));
  }
  ReturnGroups(std::move(groups));
  if (messages.empty()) return ticket;  // Every row was local: settled.
  op->remaining = static_cast<int>(messages.size());
  {
    std::lock_guard lock(ops_mu_);
    ops_.emplace(ticket, std::move(op));
  }
  for (auto& [owner, message] : messages) cluster_->Send(owner, std::move(message));
  return ticket;
}

Ticket MpiStore::Push(std::span<const ConstRowBlock> blocks, const PushOptions& options) {
  if (options.kind == PushOptions::Kind::kDelta && !(options.rate > 0)) {
    return Settled(Status::InvalidArgument("push: a delta needs its rate (> 0)"));
  }
  for (const ConstRowBlock& b : blocks) {
    Status status = Validate(b.table, b.ids, b.stride, "push");
    if (!status.ok()) return Settled(std::move(status));
    DD_CHECK(b.ids.empty() || b.values != nullptr);
  }
  if (bits_ > 0 && options.defer_to_round && options.client != kNoClient) {
    // The owner could not follow the client's view through the round's sums.
    return Settled(Status::InvalidArgument(
        "push: a client's pushes to rounds need the fp32 or fp16 wire, not int8 or int4"));
  }
  // Rows by owner and table, each row once with the sum of its values. The
  // values stay in the caller's buffers (unless a row is named twice) and
  // are serialized or applied from there before Push returns.
  std::unique_ptr<RowGroups> groups = TakeGroups();
  const auto ranks = static_cast<RowId>(ranks_);
  for (const ConstRowBlock& b : blocks) {
    const size_t dim = tables_[b.table].dim;
    const size_t stride = b.stride != 0 ? b.stride : dim;
    for (size_t i = 0; i < b.ids.size(); ++i) {
      const RowId id = b.ids[i];
      groups->AddPush(static_cast<int>(id % ranks), b.table, id, b.values + i * stride, dim);
    }
  }

  // Rounded values go quantized, unless a row was named twice (its sum is
  // not rounded).
  bool quantized = bits_ > 0 && options.rounded;
  for (int owner = 0; owner < ranks_ && quantized; ++owner) {
    if (!groups->has(owner)) continue;
    for (size_t t = 0; t < tables_.size(); ++t) quantized &= !groups->group(owner, t).summed;
  }
  const Ticket ticket = next_ticket_.fetch_add(1, std::memory_order_relaxed);
  std::vector<std::pair<int, std::string>> messages;
  const size_t id_bytes = narrow_ids_ ? 4 : 8;
  for (int owner = 0; owner < ranks_; ++owner) {
    if (owner == rank_ || !groups->has(owner)) continue;
    uint32_t used_tables = 0;
    size_t bytes = kMessageHeaderBytes + 28;
    for (size_t t = 0; t < tables_.size(); ++t) {
      const RowGroups::Group& g = groups->group(owner, t);
      if (g.ids.empty()) continue;
      ++used_tables;
      const size_t dim = tables_[t].dim;
      bytes += 8 + g.ids.size() * (id_bytes + (quantized ? QuantizedRowBytes(dim, bits_)
                                                         : dim * WireValueBytes(fp16_)));
    }
    std::string message = cluster_->NewMessage(bytes);
    WireWriter w(&message);
    w.Header(MessageType::kPushRequest, id_);
    w.U64(ticket);
    w.U8(options.kind == PushOptions::Kind::kDelta ? 1 : 0);
    w.U8(options.defer_to_round ? 1 : 0);
    w.U8(quantized ? 1 : 0);
    w.U8(0);  // Padding.
    w.F32(options.rate);
    w.U32(options.client);
    w.U32(used_tables);
    for (size_t t = 0; t < tables_.size(); ++t) {
      const RowGroups::Group& g = groups->group(owner, t);
      if (g.ids.empty()) continue;
      DD_CHECK(g.ids.size() <= std::numeric_limits<uint32_t>::max());
      const size_t dim = tables_[t].dim;
      w.U32(static_cast<uint32_t>(t));
      w.U32(static_cast<uint32_t>(g.ids.size()));
      w.Ids(g.ids, narrow_ids_);
      if (quantized) {
        for (const float* values : g.src) w.QuantizedRow(values, dim, bits_);
      } else if (g.summed) {
        w.Values(g.sums.data(), g.sums.size(), fp16_);
      } else {
        for (const float* values : g.src) w.Values(values, dim, fp16_);
      }
    }
    messages.emplace_back(owner, std::move(message));
  }
  if (!messages.empty()) {
    auto op = std::make_unique<Op>();
    op->push = true;
    op->remaining = static_cast<int>(messages.size());
    {
      std::lock_guard lock(ops_mu_);
      ops_.emplace(ticket, std::move(op));
      pending_pushes_ += messages.size();
    }
    for (auto& [owner, message] : messages) cluster_->Send(owner, std::move(message));
  }
  // The rows this rank owns, while the messages travel.
  if (groups->has(rank_)) {
    const float lr = learning_rate();
    std::vector<Table>* sent = SentMovedBy(options);
    for (size_t t = 0; t < tables_.size(); ++t) {
      const RowGroups::Group& g = groups->group(rank_, t);
      const size_t dim = tables_[t].dim;
      for (size_t k = 0; k < g.ids.size(); ++k) {
        ApplyOwned(t, g.ids[k], g.values(k, dim), options, lr);
        MoveSent(sent, t, g.ids[k], g.values(k, dim));
      }
      if (!options.defer_to_round) MarkChanged(t, g.ids, options.client);
    }
  }
  ReturnGroups(std::move(groups));
  return ticket;
}

void MpiStore::ApplyOwned(size_t table, RowId id, const float* values, const PushOptions& options,
                          float lr) {
  const size_t dim = tables_[table].dim;
  const size_t local = id / static_cast<RowId>(ranks_);
  if (options.defer_to_round) {
    std::lock_guard lock(deferred_mu_);
    Deferred& d = deferred_[table];
    d.options = options;
    auto [it, inserted] = d.rows.try_emplace(local);
    if (inserted) {
      it->second.assign(values, values + dim);
    } else {
      for (size_t k = 0; k < dim; ++k) it->second[k] += values[k];
    }
    return;
  }
  const size_t per_row = descent_->state_floats(dim);
  float* row = shard_[table].row(local);
  float* state = per_row > 0 ? state_[table].data() + local * per_row : nullptr;
  // Hogwild: no lock; a local worker or the communication thread may be
  // updating the same row at the same time.
  if (options.kind == PushOptions::Kind::kDelta) {
    descent_->ApplyDelta(row, state, values, dim, options.rate, lr);
  } else {
    descent_->ApplyRow(row, state, values, dim, lr);
  }
}

void MpiStore::ApplyDeferred() {
  const float lr = learning_rate();
  for (size_t t = 0; t < tables_.size(); ++t) {
    Deferred taken;
    {
      std::lock_guard lock(deferred_mu_);
      std::swap(taken, deferred_[t]);
    }
    PushOptions now = taken.options;
    now.defer_to_round = false;
    std::vector<RowId> locals;
    for (const auto& [local, sum] : taken.rows) {
      ApplyOwned(t, local * static_cast<RowId>(ranks_) + static_cast<RowId>(rank_), sum.data(), now,
                 lr);
      locals.push_back(local);
    }
    // The round's sums (scaled, from every worker) leave no replica equal.
    changes_->Mark(t, locals, kNoClient, true);
  }
}

Status MpiStore::Wait(Ticket ticket) {
  std::unique_lock lock(ops_mu_);
  bool waiting = false;
  Status status;
  for (;;) {
    auto it = ops_.find(ticket);
    if (it == ops_.end()) break;  // Settled without error.
    if (it->second->remaining == 0) {
      status = std::move(it->second->status);
      ops_.erase(it);
      break;
    }
    if (!waiting) {
      waiting = true;
      cluster_->BeginWait();
    }
    ops_cv_.wait(lock);
  }
  if (waiting) cluster_->EndWait();
  return status;
}

uint32_t MpiStore::NewClient() {
  const uint64_t n = next_client_.fetch_add(1, std::memory_order_relaxed);
  const uint64_t id = n * static_cast<uint64_t>(ranks_) + static_cast<uint64_t>(rank_);
  DD_CHECK(id < kNoClient);
  return static_cast<uint32_t>(id);
}

void MpiStore::MarkChanged(size_t table, std::span<const RowId> ids, uint32_t by) {
  thread_local std::vector<RowId> locals;
  locals.clear();
  const auto ranks = static_cast<RowId>(ranks_);
  for (RowId id : ids) locals.push_back(id / ranks);
  changes_->Mark(table, locals, by, !descent_->allows_hogwild());
}

void MpiStore::TakeChanged(uint32_t client, size_t table, RowId begin, RowId end,
                           std::vector<RowId>* out) {
  // The local indices whose global ids (local * ranks + rank) are in range.
  const auto ranks = static_cast<RowId>(ranks_);
  const auto rank = static_cast<RowId>(rank_);
  const RowId first = begin > rank ? (begin - rank + ranks - 1) / ranks : 0;
  const RowId last = end > rank ? (end - rank - 1) / ranks + 1 : 0;
  const size_t at = out->size();
  if (first < last) changes_->Take(client, table, first, last, out);
  for (size_t i = at; i < out->size(); ++i) (*out)[i] = (*out)[i] * ranks + rank;
}

void MpiStore::RoundForPush(std::span<float> values, size_t dim) const {
  if (bits_ == 0 || dim == 0) return;
  DD_CHECK(values.size() % dim == 0);
  for (size_t at = 0; at < values.size(); at += dim) RoundQuantizedRow(&values[at], dim, bits_);
}

void MpiStore::RoundChangeForPush(const float* now, float* before, float* change,
                                  size_t dim) const {
  if (bits_ == 0) {
    ParamStore::RoundChangeForPush(now, before, change, dim);
    return;
  }
  RoundDifference(now, before, dim, bits_, change);
}

std::vector<Table>* MpiStore::SentTo(uint32_t client, bool create, bool from_initial) {
  std::lock_guard lock(sent_mu_);
  auto it = sent_.find(client);
  if (it != sent_.end()) return from_initial ? nullptr : it->second.get();
  if (!create) return nullptr;
  auto tables = std::make_unique<std::vector<Table>>();
  const auto ranks = static_cast<size_t>(ranks_);
  const auto rank = static_cast<size_t>(rank_);
  for (size_t t = 0; t < shard_.size(); ++t) {
    const Table& part = shard_[t];
    Table& sent = tables->emplace_back(part.name(), part.rows(), part.dim());
    if (!from_initial) continue;
    const Table& initial = initial_.table(t);
    for (size_t i = 0; i < part.rows(); ++i) {
      std::memcpy(sent.row(i), initial.row(i * ranks + rank), part.dim() * sizeof(float));
    }
  }
  return sent_.emplace(client, std::move(tables)).first->second.get();
}

void MpiStore::ChangedIds(uint32_t client, ChangedMode mode, const std::vector<Table>* sent,
                          size_t table, RowId begin, RowId end, std::vector<RowId>* out) {
  const size_t at = out->size();
  TakeChanged(client, table, begin, end, out);
  if (mode != ChangedMode::kFromInitial) return;
  // Every row counts as changed at a client's first take; those that still
  // hold the initial values (what `sent` holds now) need not travel.
  const auto ranks = static_cast<RowId>(ranks_);
  const size_t bytes = tables_[table].dim * sizeof(float);
  size_t keep = at;
  for (size_t i = at; i < out->size(); ++i) {
    const RowId local = (*out)[i] / ranks;
    if (std::memcmp(shard_[table].row(local), (*sent)[table].row(local), bytes) != 0) {
      (*out)[keep++] = (*out)[i];
    }
  }
  out->resize(keep);
}

void MpiStore::ChangedRow(ChangedMode mode, std::vector<Table>* sent, size_t table, RowId local,
                          float* out, char* encoded) const {
  const size_t dim = tables_[table].dim;
  // Hogwild: a local worker or the communication thread may be updating the
  // row; what is sent is one reading of it, and `sent` follows that reading.
  const float* value = shard_[table].row(local);
  if (mode != ChangedMode::kDeltas) {
    std::memcpy(out, value, dim * sizeof(float));
    if (mode == ChangedMode::kFirst)
      std::memcpy((*sent)[table].row(local), out, dim * sizeof(float));
    return;
  }
  // What the rounding leaves out stays in the next difference.
  DD_CHECK(encoded != nullptr);
  EncodeDifference(value, (*sent)[table].row(local), dim, bits_, encoded);
}

std::vector<Table>* MpiStore::SentMovedBy(const PushOptions& options) {
  if (bits_ == 0 || options.client == kNoClient || options.kind != PushOptions::Kind::kDelta ||
      options.defer_to_round) {
    return nullptr;
  }
  return SentTo(options.client, false);  // Null before its first pull, which takes the rows.
}

void MpiStore::MoveSent(std::vector<Table>* sent, size_t table, RowId id,
                        const float* values) const {
  if (sent == nullptr) return;
  float* got = (*sent)[table].row(id / static_cast<RowId>(ranks_));
  const size_t dim = tables_[table].dim;
  for (size_t k = 0; k < dim; ++k) got[k] += values[k];
}

Ticket MpiStore::PullChanged(uint32_t client, std::span<ChangedRows> ranges) {
  for (const ChangedRows& range : ranges) {
    if (range.table >= tables_.size()) {
      return Settled(Status::InvalidArgument("pull: no table " + std::to_string(range.table) +
                                             " (the model has " + std::to_string(tables_.size()) +
                                             ")"));
    }
  }
  if (client == kNoClient) return Settled(Status::InvalidArgument("pull: no client"));
  if (ranges.empty()) return Settled(Status::OK());
  const bool from_initial = ranges.front().from_initial;
  for (const ChangedRows& range : ranges) {
    if (range.from_initial != from_initial) {
      return Settled(Status::InvalidArgument("pull: from the initial model for some ranges only"));
    }
  }
  if (from_initial && initial_model() == nullptr) {
    return Settled(Status::InvalidArgument("pull: the store keeps no initial model"));
  }
  ChangedMode mode = ChangedMode::kValues;
  if (bits_ > 0) {
    std::lock_guard lock(sent_mu_);
    const bool first = pulled_.insert(client).second;
    if (from_initial && !first) {
      return Settled(Status::InvalidArgument("pull: from the initial model after a first pull"));
    }
    mode = !first         ? ChangedMode::kDeltas
           : from_initial ? ChangedMode::kFromInitial
                          : ChangedMode::kFirst;
  }
  std::vector<Table>* sent = mode == ChangedMode::kValues
                                 ? nullptr
                                 : SentTo(client, true, mode == ChangedMode::kFromInitial);
  // Rows from the initial model go as deltas from it.
  const ChangedMode encode = mode == ChangedMode::kFromInitial ? ChangedMode::kDeltas : mode;
  // This rank's rows first, in this thread.
  std::vector<RowId> ids;
  for (ChangedRows& range : ranges) {
    const size_t dim = tables_[range.table].dim;
    const auto ranks = static_cast<RowId>(ranks_);
    ids.clear();
    ChangedIds(client, mode, sent, range.table, range.begin,
               std::min<RowId>(range.end, tables_[range.table].rows), &ids);
    if (encode == ChangedMode::kDeltas) {
      // Encoded as a remote owner would send them (see ChangedRows::bits).
      const size_t row_bytes = QuantizedRowBytes(dim, bits_);
      const size_t at = range.packed.size();
      range.packed.resize(at + ids.size() * row_bytes);
      for (size_t i = 0; i < ids.size(); ++i) {
        ChangedRow(encode, sent, range.table, ids[i] / ranks, nullptr,
                   &range.packed[at + i * row_bytes]);
      }
      range.bits = bits_;
    } else {
      const size_t at = range.values.size();
      range.values.resize(at + ids.size() * dim);
      for (size_t i = 0; i < ids.size(); ++i) {
        ChangedRow(mode, sent, range.table, ids[i] / ranks, &range.values[at + i * dim]);
      }
    }
    range.ids.insert(range.ids.end(), ids.begin(), ids.end());
    range.deltas = encode == ChangedMode::kDeltas;
  }
  const Ticket ticket = next_ticket_.fetch_add(1, std::memory_order_relaxed);
  if (ranks_ == 1) return ticket;
  auto op = std::make_unique<Op>();
  op->changed = ranges;
  op->changed_mode = encode;
  op->remaining = ranks_ - 1;
  {
    std::lock_guard lock(ops_mu_);
    ops_.emplace(ticket, std::move(op));
  }
  for (int owner = 0; owner < ranks_; ++owner) {
    if (owner == rank_) continue;
    std::string message = cluster_->NewMessage(kMessageHeaderBytes + 17 + ranges.size() * 20);
    WireWriter w(&message);
    w.Header(MessageType::kPullChangedRequest, id_);
    w.U64(ticket);
    w.U32(client);
    w.U8(static_cast<uint8_t>(mode));
    w.U32(static_cast<uint32_t>(ranges.size()));
    for (const ChangedRows& range : ranges) {
      w.U32(static_cast<uint32_t>(range.table));
      w.U64(range.begin);
      w.U64(range.end);
    }
    cluster_->Send(owner, std::move(message));
  }
  return ticket;
}

Status MpiStore::ServePullChanged(int source, std::string_view message) {
  WireReader r(message);
  MessageType type;
  uint16_t store;
  uint64_t ticket = 0;
  uint32_t client = 0, count = 0;
  uint8_t mode_byte = 0;
  if (!(r.Header(&type, &store) && r.U64(&ticket) && r.U32(&client) && r.U8(&mode_byte) &&
        r.U32(&count))) {
    return Status::Corruption("a pull request too short for its header");
  }
  Status status;
  const auto mode = static_cast<ChangedMode>(mode_byte);
  std::vector<Table>* sent = nullptr;
  // A client is its own rank's (NewClient: id % ranks is the rank).
  if (mode_byte > static_cast<uint8_t>(ChangedMode::kFromInitial) ||
      (mode != ChangedMode::kValues && bits_ == 0) ||
      (mode == ChangedMode::kFromInitial && initial_model() == nullptr) || client == kNoClient ||
      client % static_cast<uint32_t>(ranks_) != static_cast<uint32_t>(source)) {
    status = Status::Corruption("pull: malformed request");
  } else if (mode != ChangedMode::kValues) {
    const bool first = mode == ChangedMode::kFirst || mode == ChangedMode::kFromInitial;
    sent = SentTo(client, first, mode == ChangedMode::kFromInitial);
    if (sent == nullptr) {
      status = Status::Corruption(first ? "pull: a first pull for a client that has pulled"
                                        : "pull: deltas for a client never sent rows");
    }
  }
  const ChangedMode encode = mode == ChangedMode::kFromInitial ? ChangedMode::kDeltas : mode;
  // Each range takes 20 bytes of the request: a count beyond what the
  // message holds is damage, refused before anything is allocated for it.
  if (status.ok() && count > r.remaining() / 20) {
    status = Status::Corruption("pull: malformed request");
  }
  std::vector<size_t> tables;
  std::vector<std::vector<RowId>> ids(status.ok() ? count : 0);
  size_t bytes = kMessageHeaderBytes + 9;
  const size_t id_bytes = narrow_ids_ ? 4 : 8;
  for (uint32_t i = 0; i < count && status.ok(); ++i) {
    uint32_t table = 0;
    uint64_t begin = 0, end = 0;
    if (!r.U32(&table) || !r.U64(&begin) || !r.U64(&end) || table >= tables_.size() ||
        client == kNoClient) {
      status = Status::Corruption("pull: malformed request");
      break;
    }
    ChangedIds(client, mode, sent, table, begin, std::min<uint64_t>(end, tables_[table].rows),
               &ids[i]);
    tables.push_back(table);
    const size_t dim = tables_[table].dim;
    const size_t row_bytes = encode == ChangedMode::kDeltas  ? QuantizedRowBytes(dim, bits_)
                             : encode == ChangedMode::kFirst ? dim * sizeof(float)
                                                             : dim * WireValueBytes(fp16_);
    bytes += 4 + ids[i].size() * (id_bytes + row_bytes);
  }
  std::string reply;
  if (status.ok()) {
    reply = cluster_->NewMessage(bytes);
    WireWriter w(&reply);
    w.Header(MessageType::kPullChangedReply, id_);
    w.U64(ticket);
    w.U8(0);
    const auto ranks = static_cast<RowId>(ranks_);
    std::vector<float> row;
    std::string encoded;
    for (uint32_t i = 0; i < count; ++i) {
      const size_t t = tables[i];
      const size_t dim = tables_[t].dim;
      w.U32(static_cast<uint32_t>(ids[i].size()));
      w.Ids(ids[i], narrow_ids_);
      row.resize(dim);
      if (encode == ChangedMode::kDeltas) encoded.resize(QuantizedRowBytes(dim, bits_));
      for (RowId id : ids[i]) {
        if (encode == ChangedMode::kDeltas) {
          ChangedRow(encode, sent, t, id / ranks, row.data(), encoded.data());
          w.Bytes(encoded);
        } else {
          ChangedRow(encode, sent, t, id / ranks, row.data());
          w.Values(row.data(), dim, fp16_ && encode == ChangedMode::kValues);
        }
      }
    }
  } else {
    reply = ErrorReply(MessageType::kPullChangedReply, ticket, status);
  }
  cluster_->Send(source, std::move(reply));
  return Status::OK();
}

bool MpiStore::Test(Ticket ticket) {
  std::lock_guard lock(ops_mu_);
  auto it = ops_.find(ticket);
  return it == ops_.end() || it->second->remaining == 0;
}

void MpiStore::AwaitPushes() {
  std::unique_lock lock(ops_mu_);
  if (pending_pushes_ == 0) return;
  cluster_->BeginWait();
  ops_cv_.wait(lock, [&] { return pending_pushes_ == 0; });
  cluster_->EndWait();
}

std::string MpiStore::ErrorReply(MessageType type, uint64_t ticket, const Status& status) const {
  std::string reply;
  WireWriter w(&reply);
  w.Header(type, id_);
  w.U64(ticket);
  w.U8(static_cast<uint8_t>(status.code()));
  w.U32(static_cast<uint32_t>(status.message().size()));
  w.Bytes(status.message());
  return reply;
}

Status MpiStore::OnMessage(int source, std::string_view message) {
  WireReader r(message);
  MessageType type;
  uint16_t store;
  if (!r.Header(&type, &store)) return Status::Corruption("a message of no known type");
  switch (type) {
    case MessageType::kPullRequest:
      return ServePull(source, message);
    case MessageType::kPushRequest:
      return ServePush(source, message);
    case MessageType::kPullReply:
    case MessageType::kPullChangedReply:
      return TakeReply(source, message, /*push=*/false);
    case MessageType::kPushAck:
      return TakeReply(source, message, /*push=*/true);
    case MessageType::kProgress: {
      uint64_t total = 0;
      if (!r.U64(&total)) return Status::Corruption("a progress report too short");
      StoreMax(heard_[source], total);
      return Status::OK();
    }
    case MessageType::kShardChunk:
      return TakeShardChunk(source, message);
    case MessageType::kPullChangedRequest:
      return ServePullChanged(source, message);
    case MessageType::kTaskRequest:
      return ServeTask(source, message);
    case MessageType::kTaskReply:
      return TakeTaskReply(message);
  }
  return Status::Corruption("a message of no known type");
}

Status MpiStore::ServePull(int source, std::string_view message) {
  WireReader r(message);
  MessageType type;
  uint16_t store;
  uint64_t ticket = 0;
  uint32_t used_tables = 0;
  if (!(r.Header(&type, &store) && r.U64(&ticket) && r.U32(&used_tables))) {
    return Status::Corruption("a pull request too short for its header");
  }
  // The reply's exact size first (a pass over the tables' headers), so that
  // it is written once into a buffer of the right size.
  size_t bytes = kMessageHeaderBytes + 9;
  {
    WireReader scan = r;
    const size_t id_bytes = narrow_ids_ ? 4 : 8;
    for (uint32_t s = 0; s < used_tables; ++s) {
      uint32_t table = 0, count = 0;
      if (!scan.U32(&table) || !scan.U32(&count) || table >= tables_.size() ||
          scan.remaining() < size_t{count} * id_bytes) {
        break;  // Malformed: reported below.
      }
      scan = WireReader(scan.rest().substr(size_t{count} * id_bytes));
      bytes += size_t{count} * tables_[table].dim * WireValueBytes(fp16_);
    }
  }
  std::string reply = cluster_->NewMessage(bytes);
  WireWriter w(&reply);
  w.Header(MessageType::kPullReply, id_);
  w.U64(ticket);
  w.U8(0);
  Status status;
  const auto ranks = static_cast<RowId>(ranks_);
  for (uint32_t s = 0; s < used_tables && status.ok(); ++s) {
    uint32_t table = 0, count = 0;
    if (!r.U32(&table) || !r.U32(&count) || table >= tables_.size()) {
      status = Status::Corruption("pull: malformed request");
      break;
    }
    const size_t dim = tables_[table].dim;
    for (uint32_t i = 0; i < count; ++i) {
      RowId id = 0;
      if (!r.Id(narrow_ids_, &id) || id >= tables_[table].rows ||
          id % ranks != static_cast<RowId>(rank_)) {
        status = Status::Corruption("pull: malformed request");
        break;
      }
      // Hogwild: local workers may be updating the row as it is copied.
      w.Values(shard_[table].row(id / ranks), dim, fp16_);
    }
  }
  if (!status.ok()) reply = ErrorReply(MessageType::kPullReply, ticket, status);
  cluster_->Send(source, std::move(reply));
  return Status::OK();
}

Status MpiStore::ServePush(int source, std::string_view message) {
  WireReader r(message);
  MessageType type;
  uint16_t store;
  uint64_t ticket = 0;
  uint8_t kind = 0, defer = 0, quantized = 0, padding = 0;
  PushOptions options;
  uint32_t used_tables = 0;
  if (!(r.Header(&type, &store) && r.U64(&ticket) && r.U8(&kind) && r.U8(&defer) &&
        r.U8(&quantized) && r.U8(&padding) && r.F32(&options.rate) && r.U32(&options.client) &&
        r.U32(&used_tables))) {
    return Status::Corruption("a push request too short for its header");
  }
  options.kind = kind != 0 ? PushOptions::Kind::kDelta : PushOptions::Kind::kGradient;
  options.defer_to_round = defer != 0;
  const auto ranks = static_cast<RowId>(ranks_);
  const size_t id_bytes = narrow_ids_ ? 4 : 8;
  // Checked whole before any row is applied, so that a damaged request
  // changes nothing: every table, id (this rank's, in range) and row.
  Status status;
  // A delta's rate turns it into a gradient (Descent::ApplyDelta): positive.
  if ((quantized != 0 && bits_ == 0) ||
      (options.kind == PushOptions::Kind::kDelta &&
       !(options.rate > 0 && std::isfinite(options.rate))) ||
      (options.client != kNoClient &&
       options.client % static_cast<uint32_t>(ranks_) != static_cast<uint32_t>(source))) {
    status = Status::Corruption("push: malformed request");
  }
  {
    WireReader scan = r;
    for (uint32_t s = 0; s < used_tables && status.ok(); ++s) {
      uint32_t table = 0, count = 0;
      if (!scan.U32(&table) || !scan.U32(&count) || table >= tables_.size() ||
          count > scan.remaining() / id_bytes) {
        status = Status::Corruption("push: malformed request");
        break;
      }
      for (uint32_t i = 0; i < count; ++i) {
        RowId id = 0;
        if (!scan.Id(narrow_ids_, &id) || id >= tables_[table].rows ||
            id % ranks != static_cast<RowId>(rank_)) {
          status = Status::Corruption("push: malformed request");
          break;
        }
      }
      const size_t dim = tables_[table].dim;
      const size_t row_bytes =
          quantized != 0 ? QuantizedRowBytes(dim, bits_) : dim * WireValueBytes(fp16_);
      if (status.ok() && !scan.Skip(size_t{count} * row_bytes)) {
        status = Status::Corruption("push: malformed request");
      }
    }
  }
  if (status.ok()) {
    const float lr = learning_rate();
    std::vector<Table>* sent = SentMovedBy(options);
    std::vector<RowId> ids;
    std::vector<float>& values = serve_values_;
    for (uint32_t s = 0; s < used_tables; ++s) {
      uint32_t table = 0, count = 0;
      DD_CHECK(r.U32(&table) && r.U32(&count));  // Checked above.
      const size_t dim = tables_[table].dim;
      ids.resize(count);
      for (uint32_t i = 0; i < count; ++i) DD_CHECK(r.Id(narrow_ids_, &ids[i]));
      values.resize(dim);
      for (uint32_t i = 0; i < count; ++i) {
        // fp32 values are applied where they lie in the message (the
        // receive buffer is aligned, and so are the values in it); fp16 and
        // quantized ones decoded.
        const char* at = r.rest().data();
        const bool in_place =
            quantized == 0 && !fp16_ && reinterpret_cast<uintptr_t>(at) % alignof(float) == 0;
        if (quantized != 0) {
          DD_CHECK(r.QuantizedRow(dim, bits_, values.data()));
        } else {
          DD_CHECK(in_place ? r.SkipValues(dim, false) : r.Values(dim, fp16_, values.data()));
        }
        const float* row = in_place ? reinterpret_cast<const float*>(at) : values.data();
        ApplyOwned(table, ids[i], row, options, lr);
        MoveSent(sent, table, ids[i], row);
      }
      if (!options.defer_to_round) MarkChanged(table, ids, options.client);
    }
  }
  std::string ack;
  if (status.ok()) {
    WireWriter w(&ack);
    w.Header(MessageType::kPushAck, id_);
    w.U64(ticket);
    w.U8(0);
  } else {
    ack = ErrorReply(MessageType::kPushAck, ticket, status);
  }
  cluster_->Send(source, std::move(ack));
  return Status::OK();
}

Status MpiStore::TakeReply(int source, std::string_view message, bool push) {
  WireReader r(message);
  MessageType type;
  uint16_t store;
  uint64_t ticket = 0;
  uint8_t code = 0;
  const char* what = push ? "a push acknowledgement" : "a pull reply";
  if (!(r.Header(&type, &store) && r.U64(&ticket) && r.U8(&code))) {
    return Status::Corruption(std::string(what) + " too short for its header");
  }
  Op* op = nullptr;
  {
    std::lock_guard lock(ops_mu_);
    auto it = ops_.find(ticket);
    if (it == ops_.end() || it->second->push != push || it->second->remaining <= 0 ||
        (!push && it->second->changed.empty() &&
         static_cast<size_t>(source) >= it->second->values.size())) {
      return Status::Corruption(std::string(what) + " for no request of this rank (ticket " +
                                std::to_string(ticket) + ")");
    }
    op = it->second.get();
  }
  // The op stays in ops_ until its last reply is counted below, and only
  // this thread counts, so it is safe to use without the lock.
  Status status;
  if (code != 0) {
    uint32_t length = 0;
    if (r.U32(&length) && r.remaining() >= length) {
      status = StatusFromCode(code, std::string(r.rest().substr(0, length)));
    } else {
      status = Status::Corruption(push ? "push: malformed reply" : "pull: malformed reply");
    }
  } else if (!op->changed.empty()) {
    // Appended in the order of the replies; only this thread appends.
    const ChangedMode mode = op->changed_mode;
    const bool fp16 = fp16_ && mode == ChangedMode::kValues;
    for (ChangedRows& range : op->changed) {
      const size_t dim = tables_[range.table].dim;
      const size_t row_bytes =
          mode == ChangedMode::kDeltas ? QuantizedRowBytes(dim, bits_) : dim * WireValueBytes(fp16);
      uint32_t count = 0;
      if (!r.U32(&count) || r.remaining() < size_t{count} * ((narrow_ids_ ? 4 : 8) + row_bytes)) {
        status = Status::Corruption("pull: malformed reply");
        break;
      }
      for (uint32_t i = 0; i < count && status.ok(); ++i) {
        RowId id = 0;
        if (!r.Id(narrow_ids_, &id) || id < range.begin || id >= range.end) {
          status = Status::Corruption("pull: malformed reply");
        }
        range.ids.push_back(id);
      }
      if (status.ok() && mode == ChangedMode::kDeltas) {
        // Kept as they came (the size was checked above): the client adds
        // each straight to its rows.
        range.bits = bits_;
        const size_t bytes = size_t{count} * row_bytes;
        range.packed.append(r.rest().data(), bytes);
        r.Skip(bytes);
        continue;
      }
      const size_t at = range.values.size();
      range.values.resize(at + size_t{count} * dim);
      if (status.ok() && !r.Values(size_t{count} * dim, fp16, range.values.data() + at)) {
        status = Status::Corruption("pull: malformed reply");
      }
      if (!status.ok()) break;
    }
  } else if (!push) {
    const std::string_view values = r.rest();
    const size_t value_bytes = WireValueBytes(fp16_);
    if (values.size() != op->values[source] * value_bytes) {
      status = Status::Corruption("pull: reply of the wrong size");
    } else {
      for (const PullDest& d : op->dests[source]) {
        DecodeValues(values.data() + d.offset * value_bytes, d.dim, fp16_, d.out);
      }
    }
  }
  {
    std::lock_guard lock(ops_mu_);
    auto it = ops_.find(ticket);
    if (!status.ok() && op->status.ok()) op->status = std::move(status);
    if (push) --pending_pushes_;
    if (--op->remaining == 0) {
      op->dests.clear();
      if (op->status.ok()) ops_.erase(it);  // Wait finds nothing: settled without error.
    }
  }
  ops_cv_.notify_all();
  return Status::OK();
}

void MpiStore::OnPoll() {
  if (ranks_ < 2) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - progress_sent_at_ < kProgressEvery) return;
  progress_sent_at_ = now;
  const uint64_t total = progress_.load(std::memory_order_relaxed);
  if (total <= progress_sent_.load(std::memory_order_relaxed)) return;
  progress_sent_.store(total, std::memory_order_relaxed);
  for (int r = 0; r < ranks_; ++r) {
    if (r == rank_) continue;
    std::string message;
    WireWriter w(&message);
    w.Header(MessageType::kProgress, id_);
    w.U64(total);
    cluster_->Send(r, std::move(message));
  }
}

uint64_t MpiStore::progress() const {
  uint64_t total = progress_.load(std::memory_order_relaxed);
  for (int r = 0; r < ranks_; ++r) {
    if (r != rank_) total += heard_[r].load(std::memory_order_relaxed);
  }
  return total;
}

namespace {

// Every rank's threads draw from one cursor at rank 0, so that a rank that
// trains faster takes more partitions and all ranks finish together (a
// static share would leave the fastest rank idle at the end).
class SharedTaskSource : public TaskSource {
 public:
  SharedTaskSource(std::function<uint64_t()> next, uint64_t partitions, uint64_t epochs)
      : next_(std::move(next)), partitions_(partitions), total_(partitions * epochs) {}
  std::optional<Task> Next() override {
    if (total_ == 0 || done_.load(std::memory_order_relaxed)) return std::nullopt;
    const uint64_t k = next_();
    if (k >= total_) {
      done_.store(true, std::memory_order_relaxed);  // Spares the others a request.
      return std::nullopt;
    }
    return Task{k / partitions_, k % partitions_};
  }

 private:
  const std::function<uint64_t()> next_;
  const uint64_t partitions_, total_;
  std::atomic<bool> done_{false};
};

}  // namespace

std::unique_ptr<TaskSource> MpiStore::NewTasks(uint64_t partitions, uint64_t epochs) {
  // Every rank creates its task sources in the same order, so the ids agree.
  const uint32_t source = next_task_source_.fetch_add(1, std::memory_order_relaxed);
  return std::make_unique<SharedTaskSource>([this, source] { return NextTaskIndex(source); },
                                            partitions, epochs);
}

std::atomic<uint64_t>& MpiStore::TaskCursor(uint32_t source) {
  DD_CHECK(rank_ == 0);
  std::lock_guard lock(tasks_mu_);
  auto& cursor = task_cursors_[source];
  if (cursor == nullptr) cursor = std::make_unique<std::atomic<uint64_t>>(0);
  return *cursor;
}

uint64_t MpiStore::NextTaskIndex(uint32_t source) {
  if (rank_ == 0) return TaskCursor(source).fetch_add(1, std::memory_order_relaxed);
  const Ticket ticket = next_ticket_.fetch_add(1, std::memory_order_relaxed);
  std::string message = cluster_->NewMessage(kMessageHeaderBytes + 12);
  WireWriter w(&message);
  w.Header(MessageType::kTaskRequest, id_);
  w.U64(ticket);
  w.U32(source);
  cluster_->Send(0, std::move(message));
  std::unique_lock lock(tasks_mu_);
  cluster_->BeginWait();
  tasks_cv_.wait(lock, [&] { return task_replies_.count(ticket) > 0; });
  cluster_->EndWait();
  const uint64_t k = task_replies_[ticket];
  task_replies_.erase(ticket);
  return k;
}

Status MpiStore::ServeTask(int source, std::string_view message) {
  WireReader r(message);
  MessageType type;
  uint16_t store;
  uint64_t ticket = 0;
  uint32_t task_source = 0;
  if (!(r.Header(&type, &store) && r.U64(&ticket) && r.U32(&task_source))) {
    return Status::Corruption("a task request too short for its header");
  }
  if (rank_ != 0) return Status::Corruption("a task request at a rank that hands out none");
  // Every rank draws its task sources in the same order (NewTasks is a
  // collective), so another rank is never far ahead of this one.
  if (task_source >= next_task_source_.load(std::memory_order_relaxed) + kTaskSourcesAhead) {
    return Status::Corruption("a task request for task source " + std::to_string(task_source) +
                              ", which no rank has made");
  }
  const uint64_t k = TaskCursor(task_source).fetch_add(1, std::memory_order_relaxed);
  std::string reply = cluster_->NewMessage(kMessageHeaderBytes + 16);
  WireWriter w(&reply);
  w.Header(MessageType::kTaskReply, id_);
  w.U64(ticket);
  w.U64(k);
  cluster_->Send(source, std::move(reply));
  return Status::OK();
}

Status MpiStore::TakeTaskReply(std::string_view message) {
  WireReader r(message);
  MessageType type;
  uint16_t store;
  uint64_t ticket = 0, k = 0;
  if (!(r.Header(&type, &store) && r.U64(&ticket) && r.U64(&k))) {
    return Status::Corruption("a task reply too short");
  }
  {
    std::lock_guard lock(tasks_mu_);
    task_replies_[ticket] = k;
  }
  tasks_cv_.notify_all();
  return Status::OK();
}

std::unique_ptr<Rounds> MpiStore::NewRounds(size_t local_workers) {
  return std::make_unique<MpiRounds>(this, local_workers);
}

Result<uint64_t> MpiStore::EndRound(uint64_t local_work) {
  AwaitPushes();
  // After this barrier every push of the round, deferred or not, is in.
  DD_RETURN_IF_ERROR(cluster_->Barrier());
  ApplyDeferred();
  return cluster_->Sum(local_work);
}

Status MpiStore::Barrier() {
  AwaitPushes();
  // The meeting itself exchanges the progress totals, so that progress() is
  // exact after a barrier.
  const uint64_t mine = progress_.load(std::memory_order_relaxed);
  std::string bytes(sizeof(mine), '\0');
  std::memcpy(bytes.data(), &mine, sizeof(mine));
  Result<std::vector<std::string>> all = cluster_->AllGather(bytes);
  if (!all.ok()) return all.status();
  for (int r = 0; r < ranks_; ++r) {
    uint64_t total = 0;
    if (r == rank_ || all.value()[r].size() != sizeof(total)) continue;
    std::memcpy(&total, all.value()[r].data(), sizeof(total));
    StoreMax(heard_[r], total);
  }
  StoreMax(progress_sent_, mine);
  return Status::OK();
}

Result<Model> MpiStore::Snapshot() {
  Model model;
  size_t expected = 0;  // Rank 0: rows the other ranks will send.
  if (rank_ == 0) {
    for (size_t t = 0; t < tables_.size(); ++t) {
      model.AddTable(tables_[t].name, tables_[t].rows, tables_[t].dim);
      expected += tables_[t].rows - shard_[t].rows();
    }
    // Set before the barrier below, which no rank passes before rank 0 has
    // joined it, so no chunk arrives before there is a place for it.
    std::lock_guard lock(snapshot_mu_);
    snapshot_ = &model;
    snapshot_rows_ = 0;
  }
  if (Status status = Barrier(); !status.ok()) {
    std::lock_guard lock(snapshot_mu_);
    snapshot_ = nullptr;
    return status;
  }
  const auto ranks = static_cast<size_t>(ranks_);
  if (rank_ == 0) {
    for (size_t t = 0; t < tables_.size(); ++t) {
      Table& out = model.table(t);
      for (size_t i = 0; i < shard_[t].rows(); ++i) {
        std::memcpy(out.row(i * ranks), shard_[t].row(i), out.dim() * sizeof(float));
      }
    }
    std::unique_lock lock(snapshot_mu_);
    snapshot_cv_.wait(lock, [&] { return snapshot_rows_ == expected; });
    snapshot_ = nullptr;
  } else {
    for (size_t t = 0; t < tables_.size(); ++t) {
      const size_t dim = tables_[t].dim;
      const size_t per_chunk = std::max<size_t>(1, kSnapshotChunkBytes / (dim * sizeof(float) + 1));
      for (size_t first = 0; first < shard_[t].rows(); first += per_chunk) {
        const size_t count = std::min(per_chunk, shard_[t].rows() - first);
        std::string message;
        message.reserve(kMessageHeaderBytes + 16 + count * dim * sizeof(float));
        WireWriter w(&message);
        w.Header(MessageType::kShardChunk, id_);
        w.U32(static_cast<uint32_t>(t));
        w.U64(first);
        w.U32(static_cast<uint32_t>(count));
        for (size_t i = 0; i < count; ++i) w.Values(shard_[t].row(first + i), dim, false);
        cluster_->Send(0, std::move(message));
        cluster_->WaitForSendsBelow(kSnapshotInFlightBytes);
      }
    }
  }
  // Rank 0 joins once it holds every row, so the others' chunks are all in.
  DD_RETURN_IF_ERROR(cluster_->Barrier());
  return model;
}

Status MpiStore::TakeShardChunk(int source, std::string_view message) {
  WireReader r(message);
  MessageType type;
  uint16_t store;
  uint32_t table = 0, count = 0;
  uint64_t first = 0;
  if (!(r.Header(&type, &store) && r.U32(&table) && r.U64(&first) && r.U32(&count))) {
    return Status::Corruption("a snapshot chunk too short for its header");
  }
  std::lock_guard lock(snapshot_mu_);
  if (rank_ != 0 || snapshot_ == nullptr || table >= tables_.size()) {
    return Status::Corruption("a snapshot chunk while no snapshot is gathered here");
  }
  Table& out = snapshot_->table(table);
  const auto ranks = static_cast<size_t>(ranks_);
  // Checked whole before any row is copied.
  const size_t rows = out.rows();
  const bool fits =
      count == 0 || (first < rows && count <= rows &&
                     (first + count - 1) * ranks + static_cast<size_t>(source) < rows);
  if (!fits || r.remaining() != size_t{count} * out.dim() * sizeof(float)) {
    return Status::Corruption("a snapshot chunk of rows rank " + std::to_string(source) +
                              " does not hold");
  }
  for (uint32_t i = 0; i < count; ++i) {
    const size_t id = (first + i) * ranks + static_cast<size_t>(source);
    DD_CHECK(r.Values(out.dim(), false, out.row(id)));
  }
  snapshot_rows_ += count;
  snapshot_cv_.notify_all();
  return Status::OK();
}

}  // namespace deepdist
