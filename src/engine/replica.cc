#include "deepdist/replica.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <numeric>

#include "src/store/wire.h"

namespace deepdist {
namespace {

// Rows per push of a full replica's sync (800 KB of changes at dim 100).
constexpr size_t kPushChunkRows = 2048;

}  // namespace

Replica::Replica(ParamStore& store, std::vector<size_t> tables, ReplicaOptions options)
    : store_(store), options_(options) {
  if (tables.empty()) {
    tables.resize(store_.num_tables());
    std::iota(tables.begin(), tables.end(), size_t{0});
  }
  DD_CHECK(!tables.empty());
  position_.assign(store_.num_tables(), -1);
  if (options_.rounds != nullptr) options_.defer_to_round = true;
  direct_ = options_.allow_direct && !options_.defer_to_round;
  tables_.resize(tables.size());
  for (size_t k = 0; k < tables.size(); ++k) {
    const size_t t = tables[k];
    DD_CHECK(t < store_.num_tables() && position_[t] < 0);
    position_[t] = static_cast<int>(k);
    Table* master = store_.DirectTable(t);
    if (master == nullptr && options_.direct_adagrad) {
      master = store_.DirectAdaGradTable(t);
      Table* state = master != nullptr ? store_.DirectState(t) : nullptr;
      if (state == nullptr) master = nullptr;
      direct_states_.push_back(state);
    }
    if (master == nullptr) direct_ = false;
    direct_tables_.push_back(master);
    Local& local = tables_[k];
    local.table = t;
    local.dim = store_.dim(t);
    local.stride = (local.dim + Table::kRowAlign - 1) / Table::kRowAlign * Table::kRowAlign;
  }
  // Either every table is direct the same way or none is.
  if (!direct_ || direct_states_.size() != tables_.size()) direct_states_.clear();
  if (direct_) {
    for (size_t k = 0; k < tables_.size(); ++k) {
      tables_[k].stride = direct_tables_[k]->stride();
      DD_CHECK(direct_states_.empty() || direct_states_[k]->stride() == tables_[k].stride);
    }
    return;
  }
  full_ = options_.full;
  if (full_) {
    client_ = store_.NewClient();
    rounded_ = store_.RoundsPushes() && !options_.defer_to_round && options_.push_scale == 1.0f;
    overlap_ = store_.PullsDeltas();
    // Filled by the first Require (LoadFull).
    for (Local& local : tables_) {
      local.current = Table("replica", store_.rows(local.table), local.dim);
      local.pushed = Table("pushed", store_.rows(local.table), local.dim);
      if (rounded_) local.touched.assign(store_.rows(local.table), 0);
    }
    return;
  }
  for (Local& local : tables_) {
    local.remap.assign(store_.rows(local.table), -1);
    local.current = Table("replica", 0, local.dim);
    local.pushed = Table("pushed", 0, local.dim);
  }
}

Replica::~Replica() {
  // An error here has been or will be reported by whoever stopped the worker.
  if (prefetching_) static_cast<void>(store_.Wait(prefetch_));
  for (const Sync& sync : syncs_) static_cast<void>(store_.Wait(sync.ticket));
}

Replica::Local& Replica::LocalOf(size_t table) {
  DD_CHECK(table < position_.size() && position_[table] >= 0);
  return tables_[static_cast<size_t>(position_[table])];
}

const Replica::Local& Replica::LocalOf(size_t table) const {
  DD_CHECK(table < position_.size() && position_[table] >= 0);
  return tables_[static_cast<size_t>(position_[table])];
}

const int32_t* Replica::remap() const {
  return direct_ || full_ ? nullptr : tables_[0].remap.data();
}

void Replica::Grow(Local& local, size_t slots) {
  if (slots <= local.current.rows()) return;
  const size_t capacity = std::max(slots, local.current.rows() * 2 + 64);
  Table current("replica", capacity, local.dim);
  Table pushed("pushed", capacity, local.dim);
  const size_t bytes = local.ids.size() * local.stride * sizeof(float);
  if (bytes > 0) {
    std::memcpy(current.data(), local.current.data(), bytes);
    std::memcpy(pushed.data(), local.pushed.data(), bytes);
  }
  local.current = std::move(current);
  local.pushed = std::move(pushed);
}

void Replica::Assign(Local& local, std::span<const RowId> ids, std::vector<RowId>* missing) {
  // `missing` may hold earlier ids of the same Require: slots follow them.
  for (RowId id : ids) {
    DD_CHECK(id < local.remap.size());
    if (local.remap[id] >= 0) continue;
    local.remap[id] = static_cast<int32_t>(local.ids.size() + missing->size());
    missing->push_back(id);
  }
}

Status Replica::Require(size_t table, std::span<const RowId> ids) {
  if (direct_) return Status::OK();
  if (full_) return LoadFull();
  DD_RETURN_IF_ERROR(Settle());
  Local& local = LocalOf(table);
  missing_.clear();
  Assign(local, ids, &missing_);
  if (missing_.empty()) return Status::OK();
  const size_t first = local.ids.size();
  Grow(local, first + missing_.size());
  local.ids.insert(local.ids.end(), missing_.begin(), missing_.end());
  local.loaded.resize(local.ids.size(), 1);
  // New slots are consecutive, so the rows land in place.
  const RowBlock block{local.table, missing_, local.current.row(first), local.stride};
  DD_RETURN_IF_ERROR(store_.PullNow(std::span<const RowBlock>(&block, 1)));
  std::memcpy(local.pushed.row(first), local.current.row(first),
              missing_.size() * local.stride * sizeof(float));
  return Status::OK();
}

Status Replica::Require(std::span<const RowId> ids, uint32_t tables) {
  const RowGroup group{ids, tables};
  return Require(std::span<const RowGroup>(&group, 1));
}

Status Replica::Require(std::span<const RowGroup> groups) { return Load(groups, true); }

Status Replica::Prefetch(std::span<const RowGroup> groups) { return Load(groups, false); }

Status Replica::Settle() {
  while (!syncs_.empty()) DD_RETURN_IF_ERROR(MergeOldestSync());
  if (!prefetching_) return Status::OK();
  prefetching_ = false;
  DD_RETURN_IF_ERROR(store_.Wait(prefetch_));
  FinishLoad();
  return Status::OK();
}

void Replica::FinishLoad() {
  for (Local& local : tables_) {
    if (local.load_ids.empty()) continue;
    const size_t bytes = local.stride * sizeof(float);
    for (size_t i = 0; i < local.load_slots.size(); ++i) {
      const RowId slot = static_cast<RowId>(local.load_slots[i]);
      if (!local.load_in_place) {
        std::memcpy(local.current.row(slot), &local.load_buffer[i * local.stride], bytes);
      }
      std::memcpy(local.pushed.row(slot), local.current.row(slot), bytes);
    }
    local.load_ids.clear();
    local.load_slots.clear();
  }
}

Status Replica::Load(std::span<const RowGroup> groups, bool wait) {
  if (direct_) return Status::OK();
  if (full_) return LoadFull();
  // The pull in flight lands first: its rows count as present below, and
  // its buffers are reused.
  DD_RETURN_IF_ERROR(Settle());
  Local& lead = tables_[0];
  missing_.clear();
  for (const RowGroup& g : groups) Assign(lead, g.ids, &missing_);
  const size_t first = lead.ids.size();
  // New ids get the same slot in every table, loaded in none yet.
  for (Local& local : tables_) {
    // Every table has seen the same Require calls, so its slots agree.
    DD_CHECK(local.ids.size() == first && local.remap.size() == lead.remap.size());
    if (missing_.empty()) continue;
    if (&local != &lead) {
      for (size_t i = 0; i < missing_.size(); ++i) {
        local.remap[missing_[i]] = static_cast<int32_t>(first + i);
      }
    }
    Grow(local, first + missing_.size());
    local.ids.insert(local.ids.end(), missing_.begin(), missing_.end());
    local.loaded.resize(local.ids.size(), 0);
  }
  // Per table asked for, the slots of `ids` not loaded yet. New slots are
  // consecutive and land in place; older ones (a row first needed in
  // another table) go through a buffer.
  std::vector<RowBlock> blocks;
  for (size_t k = 0; k < tables_.size(); ++k) {
    Local& local = tables_[k];
    local.load_ids.clear();
    local.load_slots.clear();
    for (const RowGroup& g : groups) {
      if ((g.tables & (1u << k)) == 0) continue;
      for (RowId id : g.ids) {
        const int32_t slot = local.remap[id];
        if (local.loaded[slot]) continue;
        local.loaded[slot] = 1;
        local.load_ids.push_back(id);
        local.load_slots.push_back(slot);
      }
    }
    if (local.load_ids.empty()) continue;
    bool in_place = true;
    for (size_t i = 0; i < local.load_slots.size() && in_place; ++i) {
      in_place = local.load_slots[i] == local.load_slots[0] + static_cast<int32_t>(i);
    }
    if (in_place) {
      blocks.push_back({local.table, local.load_ids,
                        local.current.row(static_cast<RowId>(local.load_slots[0])), local.stride});
    } else {
      local.load_buffer.resize(local.load_ids.size() * local.stride);
      blocks.push_back({local.table, local.load_ids, local.load_buffer.data(), local.stride});
    }
    local.load_in_place = in_place;
  }
  if (blocks.empty()) return Status::OK();
  // One pull for every table.
  const Ticket ticket = store_.Pull(blocks);
  if (!wait) {
    prefetch_ = ticket;
    prefetching_ = true;
    return Status::OK();
  }
  DD_RETURN_IF_ERROR(store_.Wait(ticket));
  FinishLoad();
  return Status::OK();
}

Status Replica::RequireAll() {
  if (direct_) return Status::OK();
  if (full_) return LoadFull();
  std::vector<RowId> all;
  for (Local& local : tables_) {
    all.resize(local.remap.size());
    std::iota(all.begin(), all.end(), RowId{0});
    DD_RETURN_IF_ERROR(Require(local.table, all));
  }
  return Status::OK();
}

const float* Replica::Row(size_t table, RowId id) const {
  if (direct_) return direct_tables_[static_cast<size_t>(position_[table])]->row(id);
  const Local& local = LocalOf(table);
  if (full_) {
    DD_CHECK(full_loaded_ && id < local.current.rows());
    return local.current.row(id);
  }
  DD_CHECK(id < local.remap.size() && local.remap[id] >= 0);
  return local.current.row(static_cast<RowId>(local.remap[id]));
}

float* Replica::MutableRow(size_t table, RowId id) {
  float* row = const_cast<float*>(Row(table, id));
  Local& local = LocalOf(table);
  if (!local.touched.empty()) local.touched[id] = 1;
  return row;
}

void Replica::AddChange(Local& local, size_t slot, RowId id, float scale, bool snapshot) {
  const size_t dim = local.dim;
  float* now = local.current.row(slot);
  float* before = local.pushed.row(slot);
  // Rows the worker did not change are left out (their difference is
  // exactly zero, so nothing is lost).
  if (std::memcmp(now, before, dim * sizeof(float)) == 0) return;
  local.changed_ids.push_back(id);
  const size_t at = local.changes.size();
  local.changes.resize(at + dim);
  for (size_t k = 0; k < dim; ++k) local.changes[at + k] = (now[k] - before[k]) * scale;
  if (snapshot) std::memcpy(before, now, dim * sizeof(float));
}

Status Replica::Push(float rate) { return PushChanges(rate, false, false); }

Status Replica::PushChanges(float rate, bool hot_only, bool unload) {
  if (direct_) return Status::OK();
  if (full_) return SyncFull(rate, hot_only, false, /*exact=*/true);
  // A prefetched row is compared below with its value as pulled.
  DD_RETURN_IF_ERROR(Settle());
  const float scale = options_.push_scale;
  for (Local& local : tables_) {
    local.changed_ids.clear();
    local.changes.clear();
    const size_t hot = std::min<size_t>(options_.hot_rows, local.remap.size());
    const size_t count = hot_only ? hot : local.ids.size();
    for (size_t i = 0; i < count; ++i) {
      // Hot rows by id (row id i), or every slot.
      const int32_t slot = hot_only ? local.remap[i] : static_cast<int32_t>(i);
      if (slot < 0) continue;
      const size_t s = static_cast<size_t>(slot);
      if (!local.loaded[s]) continue;  // Never pulled, so never changed.
      // A row unloaded after the push gets its snapshot when pulled again.
      AddChange(local, s, local.ids[s], scale, !unload);
    }
  }
  PushAdded(rate, false);
  return Status::OK();
}

void Replica::PushAdded(float rate, bool rounded) {
  PushOptions options;
  options.rounded = rounded;
  options.kind = PushOptions::Kind::kDelta;
  options.rate = rate;
  options.defer_to_round = options_.defer_to_round;
  options.client = client_;
  std::vector<ConstRowBlock> blocks;
  for (Local& local : tables_) {
    if (local.changed_ids.empty()) continue;
    blocks.push_back({local.table, local.changed_ids, local.changes.data(), local.dim});
  }
  // One push for every table; the store copies the values before returning.
  if (!blocks.empty()) {
    in_flight_.push_back(store_.Push(blocks, options));
    if (options_.updates != nullptr) {
      const uint64_t before = options_.updates->fetch_add(1, std::memory_order_relaxed);
      const uint64_t others = before - fetched_at_ - own_since_fetch_;
      if (options_.staleness != nullptr) {
        options_.staleness->store(others, std::memory_order_relaxed);
      }
    }
    ++own_since_fetch_;
    ++own_pushes_;
  }
  for (Local& local : tables_) {
    local.changed_ids.clear();
    local.changes.clear();
  }
}

Status Replica::Wait() {
  Status first = Settle();
  Status pushes = WaitPushes();
  return first.ok() ? pushes : first;
}

Status Replica::WaitPushes() {
  Status first;
  for (Ticket t : in_flight_) {
    Status s = store_.Wait(t);
    if (first.ok() && !s.ok()) first = std::move(s);
  }
  in_flight_.clear();
  return first;
}

void Replica::Fetched(uint64_t at, uint64_t own_at) {
  fetched_at_ = at;
  own_since_fetch_ = own_pushes_ - own_at;
}

void Replica::Drop() {
  if (options_.updates != nullptr) {
    Fetched(options_.updates->load(std::memory_order_relaxed), own_pushes_);
  }
  DD_CHECK(!prefetching_ && syncs_.empty());
  if (full_) {
    full_loaded_ = false;  // Pulled whole again when next needed.
    return;
  }
  for (Local& local : tables_) {
    for (RowId id : local.ids) local.remap[id] = -1;
    local.ids.clear();
    local.loaded.clear();
  }
}

Status Replica::Refresh(float rate) {
  if (direct_) return Status::OK();
  if (full_) {
    DD_RETURN_IF_ERROR(Wait());
    return SyncFull(rate, false, true, /*exact=*/true);
  }
  // Settle the last interval's push, then push this one's without waiting:
  // a store applies one worker's pushes and pulls in the order they were
  // issued, so the next pull already sees this push.
  DD_RETURN_IF_ERROR(Wait());
  DD_RETURN_IF_ERROR(PushChanges(rate, false, true));
  Drop();
  return Status::OK();
}

Status Replica::RefreshHot(float rate) {
  if (full_) return SyncFull(rate, true, true, /*exact=*/false);
  DD_RETURN_IF_ERROR(PushChanges(rate, true, true));  // Seen by later pulls (see Refresh).

  // The hot rows keep their slots; unloaded, they are pulled again when next
  // needed.
  for (Local& local : tables_) {
    const size_t hot = std::min<size_t>(options_.hot_rows, local.remap.size());
    for (size_t id = 0; id < hot; ++id) {
      if (local.remap[id] >= 0) local.loaded[static_cast<size_t>(local.remap[id])] = 0;
    }
  }
  return Status::OK();
}

Status Replica::Advance(uint64_t units, float rate) {
  DD_RETURN_IF_ERROR(AdvanceIntervals(units, rate));
  if (options_.pause == nullptr || !options_.pause->load(std::memory_order_relaxed)) {
    return Status::OK();
  }
  if (!direct_) {
    DD_RETURN_IF_ERROR(Push(rate));
    DD_RETURN_IF_ERROR(Wait());
  }
  options_.on_pause();
  if (options_.stop != nullptr && options_.stop->load(std::memory_order_relaxed)) {
    return Status::Internal("training stopped: another worker failed");
  }
  return Status::OK();
}

Status Replica::AdvanceIntervals(uint64_t units, float rate) {
  store_.AddProgress(units);
  if (options_.stop != nullptr && options_.stop->load(std::memory_order_relaxed)) {
    return Status::Internal("training stopped: another worker failed");
  }
  if (direct_) {
    // The master changed in place: an update that nothing fetched before.
    if (options_.updates != nullptr) options_.updates->fetch_add(1, std::memory_order_relaxed);
    return Status::OK();
  }
  // Full mode: the rows of the syncs in flight are merged as soon as they
  // land, in the order they were issued.
  while (!syncs_.empty() && store_.Test(syncs_.front().ticket)) {
    DD_RETURN_IF_ERROR(MergeOldestSync());
  }
  since_push_ += units;
  since_fetch_ += units;
  since_hot_ += units;
  if (options_.rounds != nullptr) {
    if (since_push_ < options_.push_every) return Status::OK();
    since_push_ = 0;
    DD_RETURN_IF_ERROR(Push(rate));
    DD_RETURN_IF_ERROR(Wait());
    Result<bool> more = options_.rounds->Next(true);
    DD_RETURN_IF_ERROR(more.status());
    Drop();
    // A full replica takes the round's model at once (it is not asked for
    // rows again).
    return full_ ? LoadFull() : Status::OK();
  }
  if (full_) {
    // Pushes and pulls on their own intervals: a pull brings only what
    // others pushed since the last one, so pulling often costs few bytes
    // and shortens the time another worker's push waits to be seen.
    if (since_push_ >= options_.push_every) {
      since_push_ = 0;
      since_hot_ = 0;  // The hot rows' change goes too.
      DD_RETURN_IF_ERROR(overlap_ ? WaitPushes() : Wait());
      DD_RETURN_IF_ERROR(SyncFull(rate, false, false, /*exact=*/false));
    }
    if (options_.hot_rows > 0 && since_hot_ >= options_.hot_every) {
      since_hot_ = 0;
      DD_RETURN_IF_ERROR(
          SyncFull(rate, true, since_fetch_ < options_.fetch_every, /*exact=*/false));
    }
    if (since_fetch_ >= options_.fetch_every) {
      // Pulls are not skipped when the last one is still in flight: pulling
      // less often than asked costs more accuracy than waiting (measured on
      // 4 ranks, where owners answer late). Pulls of deltas add up in any
      // number, so up to kMaxSyncsInFlight travel at once and the worker
      // waits only beyond that; pulls of values land one at a time.
      since_fetch_ = 0;
      const size_t most = overlap_ ? kMaxSyncsInFlight - 1 : 0;
      while (syncs_.size() > most) DD_RETURN_IF_ERROR(MergeOldestSync());
      StartPullChanged(false);
    }
    return Status::OK();
  }
  if (since_fetch_ >= options_.fetch_every) {
    since_fetch_ = 0;
    since_push_ = 0;
    since_hot_ = 0;
    return Refresh(rate);
  }
  if (options_.hot_rows > 0 && since_hot_ >= options_.hot_every) {
    since_hot_ = 0;
    DD_RETURN_IF_ERROR(RefreshHot(rate));
  }
  if (since_push_ >= options_.push_every) {
    since_push_ = 0;
    // Settle the previous push first: at most one push in flight.
    DD_RETURN_IF_ERROR(Wait());
    return Push(rate);
  }
  return Status::OK();
}

Status Replica::Finish(float rate, bool keep_changes) {
  Status status;
  if (!direct_) {
    if (keep_changes) status = Push(rate);
    Status waited = Wait();
    if (status.ok()) status = waited;
    Drop();
  }
  if (options_.rounds != nullptr) {
    // The last round this worker has changes for, then rounds until no
    // worker anywhere has any: every worker calls Next equally often.
    bool had_work = keep_changes;
    for (;;) {
      Result<bool> more = options_.rounds->Next(had_work);
      if (!more.ok()) return more.status();
      if (!*more) break;
      had_work = false;
    }
  }
  return status;
}

Status Replica::LoadFull() {
  if (full_loaded_) return Status::OK();
  DD_RETURN_IF_ERROR(Settle());
  const Model* initial = store_.initial_model();
  if (!pulled_once_ && initial != nullptr) {
    // The initial model is known here: the replica starts from it at once
    // and the first pull brings, as deltas, only the rows that others have
    // changed since, landing while the worker trains.
    for (Local& local : tables_) {
      const Table& from = initial->table(local.table);
      DD_CHECK(from.rows() == local.current.rows() && from.stride() == local.stride);
      const size_t bytes = from.rows() * from.stride() * sizeof(float);
      std::memcpy(local.current.data(), from.data(), bytes);
      std::memcpy(local.pushed.data(), from.data(), bytes);
    }
    pulled_once_ = true;
    StartPullChanged(false, /*from_initial=*/true);
    full_loaded_ = true;
    return Status::OK();
  }
  // The first pull of a client returns every row.
  pulled_once_ = true;
  StartPullChanged(false);
  DD_RETURN_IF_ERROR(Settle());
  full_loaded_ = true;
  return Status::OK();
}

void Replica::StartPullChanged(bool hot_only, bool from_initial) {
  Sync sync;
  if (!spare_syncs_.empty()) {
    sync.rows = std::move(spare_syncs_.back());
    spare_syncs_.pop_back();
  }
  sync.rows.resize(tables_.size());
  for (size_t k = 0; k < tables_.size(); ++k) {
    const size_t rows = tables_[k].current.rows();
    ChangedRows& range = sync.rows[k];
    range.table = tables_[k].table;
    range.begin = 0;
    range.end = hot_only ? std::min<size_t>(options_.hot_rows, rows) : rows;
    range.from_initial = from_initial;
    range.ids.clear();
    range.values.clear();
    range.packed.clear();
    range.bits = 0;
  }
  // The store appends to the ranges until the pull's Wait.
  sync.ticket = store_.PullChanged(client_, sync.rows);
  if (options_.updates != nullptr) {
    sync.updates_at = options_.updates->load(std::memory_order_relaxed);
    sync.own_at = own_pushes_;
  }
  syncs_.push_back(std::move(sync));
}

Status Replica::MergeOldestSync() {
  DD_CHECK(!syncs_.empty());
  Sync sync = std::move(syncs_.front());
  syncs_.pop_front();
  Status status = store_.Wait(sync.ticket);
  if (status.ok()) MergeSync(sync.rows);
  // Counted as fetched when the pull was issued: what it brings is as of then.
  if (options_.updates != nullptr && sync.updates_at >= fetched_at_) {
    Fetched(sync.updates_at, sync.own_at);
  }
  // The buffers keep their capacity for a later pull.
  spare_syncs_.push_back(std::move(sync.rows));
  return status;
}

void Replica::AddRoundedChange(Local& local, RowId r) {
  const size_t dim = local.dim;
  float* now = local.current.row(r);
  float* before = local.pushed.row(r);
  if (!local.touched[r]) return;  // Not trained on: its error waits.
  local.touched[r] = 0;
  if (std::memcmp(now, before, dim * sizeof(float)) == 0) return;
  local.changed_ids.push_back(r);
  const size_t at = local.changes.size();
  local.changes.resize(at + dim);
  // The master gets `before` plus the rounded change; what rounding left
  // out stays in now - before.
  store_.RoundChangeForPush(now, before, &local.changes[at], dim);
}

Status Replica::SyncFull(float rate, bool hot_only, bool pull, bool exact) {
  DD_RETURN_IF_ERROR(LoadFull());
  // The last sync's rows merge first: they are compared below with their
  // values as pulled. Deltas add to the values whenever they land, so a
  // pull of deltas in flight can stay so.
  if (!overlap_) DD_RETURN_IF_ERROR(Settle());
  const float scale = options_.push_scale;
  for (Local& local : tables_) {
    local.changed_ids.clear();
    local.changes.clear();
    const size_t rows = local.current.rows();
    const size_t count = hot_only ? std::min<size_t>(options_.hot_rows, rows) : rows;
    // Pushed in chunks of rows, so that the changes are still in cache when
    // the store serializes them (and the owners apply a chunk while the
    // next is prepared).
    auto chunk_full = [&] { return local.changed_ids.size() >= kPushChunkRows; };
    if (rounded_ && !exact) {
      for (size_t r = 0; r < count; ++r) {
        AddRoundedChange(local, static_cast<RowId>(r));
        if (chunk_full()) PushAdded(rate, true);
      }
    } else if (rounded_) {
      // Exactly, but counted as pushed as the master counts it (the pushed
      // values plus the change, not the current values, which can differ
      // by a rounding): the owner follows this worker's view the same way.
      // Every change goes, so no row is left marked.
      std::fill(local.touched.begin(), local.touched.begin() + static_cast<ptrdiff_t>(count), 0);
      for (size_t r = 0; r < count; ++r) {
        const size_t at = local.changes.size();
        AddChange(local, r, static_cast<RowId>(r), scale, false);
        if (local.changes.size() == at) continue;
        float* before = local.pushed.row(r);
        for (size_t k = 0; k < local.dim; ++k) before[k] += local.changes[at + k];
        if (chunk_full()) PushAdded(rate, false);
      }
    } else {
      for (size_t r = 0; r < count; ++r) {
        AddChange(local, r, static_cast<RowId>(r), scale, true);
        if (chunk_full()) PushAdded(rate, false);
      }
    }
  }
  PushAdded(rate, rounded_ && !exact);
  if (!pull) return Status::OK();

  // Issued after the push (a store keeps one worker's pushes and pulls in
  // order): the rows other workers changed meanwhile. A pull of deltas
  // still in flight brings them.
  if (!syncs_.empty()) return Status::OK();
  StartPullChanged(hot_only);
  return Status::OK();
}

void Replica::MergeSync(const std::vector<ChangedRows>& rows) {
  for (size_t k = 0; k < rows.size(); ++k) {
    Local& local = tables_[k];
    const size_t dim = local.dim;
    const ChangedRows& got = rows[k];
    if (got.bits > 0) {
      // Quantized deltas, decoded straight into both rows (see below).
      const size_t row_bytes = QuantizedRowBytes(dim, got.bits);
      DD_CHECK(got.deltas && got.packed.size() == got.ids.size() * row_bytes);
      for (size_t i = 0; i < got.ids.size(); ++i) {
        float* now = local.current.row(got.ids[i]);
        AddQuantizedRow(&got.packed[i * row_bytes], dim, got.bits, now,
                        local.pushed.row(got.ids[i]));
      }
      continue;
    }
    for (size_t i = 0; i < got.ids.size(); ++i) {
      float* now = local.current.row(got.ids[i]);
      float* before = local.pushed.row(got.ids[i]);
      const float* pulled = &got.values[i * dim];
      if (got.deltas) {
        // The master's change since the values this worker last got: added
        // to them and to the worker's own. A row not trained on since its
        // push stays so (unmarked: its rounding error is not pushed on its
        // own).
        for (size_t j = 0; j < dim; ++j) {
          now[j] += pulled[j];
          before[j] += pulled[j];
        }
        continue;
      }
      // The master's value plus what this worker changed since its push.
      for (size_t j = 0; j < dim; ++j) {
        now[j] = pulled[j] + (now[j] - before[j]);
        before[j] = pulled[j];
      }
    }
  }
}

}  // namespace deepdist
