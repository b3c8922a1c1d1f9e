#include "deepdist/deepdist.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace deepdist {

Status Partition::ForEachLine(const std::function<void(std::string_view)>& fn) {
  Result<std::unique_ptr<PartitionReader>> reader = PartitionReader::Open(spec_, SplitOn::kLines);
  if (!reader.ok()) return reader.status();
  return (*reader)->ForEachChunk([&](std::string_view chunk) {
    size_t pos = 0;
    while (pos < chunk.size()) {
      size_t nl = chunk.find('\n', pos);
      if (nl == std::string_view::npos) nl = chunk.size();
      fn(chunk.substr(pos, nl - pos));
      pos = nl + 1;
    }
  });
}

namespace {

void PutU64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutBytes(std::string* out, std::string_view bytes) {
  PutU64(out, bytes.size());
  out->append(bytes);
}

// Reads what PutU64 and PutBytes wrote, checking every length.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}
  bool U64(uint64_t* v) {
    if (bytes_.size() - at_ < 8) return false;
    *v = 0;
    for (int i = 0; i < 8; ++i) {
      *v |= static_cast<uint64_t>(static_cast<unsigned char>(bytes_[at_ + i])) << (8 * i);
    }
    at_ += 8;
    return true;
  }
  bool Bytes(std::string* out) {
    uint64_t n = 0;
    if (!U64(&n) || n > bytes_.size() - at_) return false;
    out->assign(bytes_.substr(at_, n));
    at_ += n;
    return true;
  }
  bool done() const { return at_ == bytes_.size(); }

 private:
  std::string_view bytes_;
  size_t at_ = 0;
};

}  // namespace

std::string TrainState::Serialize() const {
  std::string out;
  PutU64(&out, tasks_started);
  PutU64(&out, progress);
  PutU64(&out, in_flight.size());
  for (const TaskState& t : in_flight) {
    PutU64(&out, t.epoch);
    PutU64(&out, t.partition);
    PutBytes(&out, t.position);
  }
  PutBytes(&out, model_state);
  return out;
}

Result<TrainState> TrainState::Parse(std::string_view bytes, const std::string& source) {
  Reader in(bytes);
  TrainState state;
  uint64_t count = 0;
  auto bad = [&] { return Status::Corruption(source + ": the training state is damaged"); };
  if (!in.U64(&state.tasks_started) || !in.U64(&state.progress) || !in.U64(&count)) return bad();
  // Each task takes at least 24 bytes: a count past that is damage.
  if (count > bytes.size() / 24) return bad();
  for (uint64_t i = 0; i < count; ++i) {
    TaskState t;
    if (!in.U64(&t.epoch) || !in.U64(&t.partition) || !in.Bytes(&t.position)) return bad();
    state.in_flight.push_back(std::move(t));
  }
  if (!in.Bytes(&state.model_state) || !in.done()) return bad();
  return state;
}

// The store owns its rule for its whole life, while each train() brings its
// own: this rule forwards to the current one.
class DeepDist::ForwardingDescent : public Descent {
 public:
  explicit ForwardingDescent(const Descent* first)
      : Descent(first->schedule()),
        current_(first),
        per_value_(first->state_per_value()),
        per_row_(first->state_per_row()) {}
  void Set(const Descent* rule) { current_ = rule; }
  std::string name() const override { return current_->name(); }
  size_t state_per_value() const override { return per_value_; }
  size_t state_per_row() const override { return per_row_; }
  const LearningRate& schedule() const override { return current_->schedule(); }
  void ApplyRow(float* row, float* state, const float* gradient, size_t n,
                float lr) const override {
    current_->ApplyRow(row, state, gradient, n, lr);
  }
  void ApplyDelta(float* row, float* state, const float* delta, size_t n, float delta_rate,
                  float lr) const override {
    current_->ApplyDelta(row, state, delta, n, delta_rate, lr);
  }

 private:
  const Descent* current_;
  const size_t per_value_;
  const size_t per_row_;
};

namespace {

// The first error any worker records; the others stop when they see it.
// Thread-safe.
class FirstError {
 public:
  void Record(Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    if (first_.ok()) first_ = std::move(status);
    failed_ = true;
  }
  const std::atomic<bool>& failed() const { return failed_; }
  // After the workers have joined.
  Status Take() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::move(first_);
  }

 private:
  std::mutex mu_;
  Status first_;
  std::atomic<bool> failed_{false};
};

// A DescentFn as a Descent, at a constant rate of 1.
class FunctionDescent : public Descent {
 public:
  explicit FunctionDescent(const DescentFn& fn) : Descent(LearningRate{1.0f, false}), fn_(fn) {}
  std::string name() const override { return "function"; }
  size_t state_per_value() const override { return 0; }
  void ApplyRow(float* row, float* /*state*/, const float* update, size_t n,
                float lr) const override {
    fn_(std::span<float>(row, n), std::span<const float>(update, n), lr);
  }

 private:
  const DescentFn& fn_;
};

// Pushes `update` as gradients, scaled by `scale`.
Ticket PushUpdate(ParamStore& store, const Update& update, float scale, bool defer) {
  std::vector<ConstRowBlock> blocks;
  std::vector<std::vector<float>> scaled;
  scaled.reserve(update.num_tables());
  for (size_t t = 0; t < update.num_tables(); ++t) {
    const Update::TableRows* rows = update.rows_of(t);
    if (rows == nullptr || rows->rows.empty()) continue;
    const float* values = rows->values.data();
    if (scale != 1.0f) {
      scaled.emplace_back(rows->values);
      for (float& v : scaled.back()) v *= scale;
      values = scaled.back().data();
    }
    blocks.push_back({t, rows->rows, values, store.dim(t)});
  }
  PushOptions options;
  options.defer_to_round = defer;
  return store.Push(blocks, options);
}

// Pulls every row of every table into `model` (the same shape as the store).
Status FetchWhole(ParamStore& store, Model& model, std::vector<std::vector<RowId>>& ids) {
  std::vector<RowBlock> blocks;
  ids.resize(model.num_tables());
  for (size_t t = 0; t < model.num_tables(); ++t) {
    Table& table = model.table(t);
    if (ids[t].size() != table.rows()) {
      ids[t].resize(table.rows());
      for (RowId r = 0; r < table.rows(); ++r) ids[t][r] = r;
    }
    blocks.push_back({t, ids[t], table.data(), table.stride()});
  }
  return store.PullNow(blocks);
}

using Clock = std::chrono::steady_clock;

// The workers of one train() still running. Done wakes a waiter the moment
// the last one ends.
class Running {
 public:
  explicit Running(size_t workers) : left_(workers) {}
  void Done() {
    std::lock_guard<std::mutex> lock(mu_);
    if (--left_ == 0) done_.notify_all();
  }
  // Waits until every worker is done (true) or `until`, when given (false).
  bool WaitUntil(std::optional<Clock::time_point> until) {
    std::unique_lock<std::mutex> lock(mu_);
    auto done = [&] { return left_ == 0; };
    if (!until) {
      done_.wait(lock, done);
      return true;
    }
    return done_.wait_until(lock, *until, done);
  }

 private:
  std::mutex mu_;
  std::condition_variable done_;
  size_t left_;
};

// Checkpoint pauses: the watcher asks, every worker stops at its next safe
// point (Arrive) or has left for good (Leave), the watcher does its work
// while they hold still and lets them go. Thread-safe.
class Pauser {
 public:
  explicit Pauser(size_t workers) : workers_(workers) {}
  const std::atomic<bool>& requested() const { return requested_; }
  // A worker at a safe point: waits while a pause is on.
  void Arrive() {
    std::unique_lock<std::mutex> lock(mu_);
    if (!requested_.load(std::memory_order_relaxed)) return;
    ++arrived_;
    changed_.notify_all();
    const uint64_t generation = generation_;
    changed_.wait(lock, [&] { return generation_ != generation; });
  }
  // A worker that has pushed its last change and takes no more tasks.
  void Leave() {
    std::lock_guard<std::mutex> lock(mu_);
    ++left_;
    changed_.notify_all();
  }
  // Pauses every worker, calls `fn`, lets them go.
  Status PauseAnd(const std::function<Status()>& fn) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      requested_.store(true);
      changed_.wait(lock, [&] { return arrived_ + left_ == workers_; });
    }
    Status status = fn();
    std::lock_guard<std::mutex> lock(mu_);
    requested_.store(false);
    arrived_ = 0;
    ++generation_;
    changed_.notify_all();
    return status;
  }

 private:
  const size_t workers_;
  std::atomic<bool> requested_{false};
  std::mutex mu_;
  std::condition_variable changed_;
  size_t arrived_ = 0, left_ = 0;
  uint64_t generation_ = 0;
};

// The tasks of one train() as the workers take them: on resume, the tasks
// a checkpoint had in flight first (with their positions), then the
// source's from the first one not started. Counts what was handed out, for
// the next checkpoint. Thread-safe.
class TaskFeed {
 public:
  TaskFeed(TaskSource& source, uint64_t partitions, const TrainState* resume)
      : source_(source), partitions_(partitions) {
    if (resume != nullptr) {
      start_ = resume->tasks_started;
      resumed_.assign(resume->in_flight.begin(), resume->in_flight.end());
    }
    started_ = start_;
  }
  std::optional<TaskState> Next() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!resumed_.empty()) {
        TaskState t = std::move(resumed_.front());
        resumed_.erase(resumed_.begin());
        return t;
      }
    }
    for (;;) {
      const std::optional<Task> task = source_.Next();
      if (!task) return std::nullopt;
      const uint64_t index = task->epoch * partitions_ + task->partition;
      if (index < start_) continue;  // Done before the checkpoint.
      std::lock_guard<std::mutex> lock(mu_);
      started_ = std::max(started_, index + 1);
      return TaskState{task->epoch, task->partition, {}};
    }
  }
  // While the workers are paused.
  uint64_t started() {
    std::lock_guard<std::mutex> lock(mu_);
    return started_;
  }
  std::vector<TaskState> not_handed_out() {
    std::lock_guard<std::mutex> lock(mu_);
    return resumed_;
  }

 private:
  TaskSource& source_;
  const uint64_t partitions_;
  uint64_t start_ = 0;
  std::mutex mu_;  // Guards what follows.
  std::vector<TaskState> resumed_;
  uint64_t started_ = 0;
};

// Where a resumed train() goes on from: the saved ranks' training states
// merged, with this rank's share of the tasks they had in flight and of
// their models' counters.
struct ResumePoint {
  TrainState state;                       // in_flight: this rank's share.
  std::vector<std::string> model_states;  // For WorkerOptions::restore_state.
};

// Checks the options of a checkpointed or resumed train().
// On resume, puts the checkpoint's rows back into the store and reads where
// training stood into `resume`. A save by R ranks (one checkpoint each)
// resumes on any number: the tasks handed out are those below the largest
// count any rank saw (the ranks draw from one sequence), and the saved
// ranks' tasks in flight and counters are dealt out to this run's ranks in
// turn (the i-th to rank i % ranks).
Status CheckCheckpointOptions(const Options& options, ParamStore& store, size_t partitions,
                              std::optional<ResumePoint>* resume) {
  const bool checkpoints = options.checkpoint_every > 0 || !options.resume.empty();
  if (!checkpoints) return Status::OK();
  if (options.checkpoint_every > 0 && !options.on_checkpoint) {
    return Status::InvalidArgument("checkpoint_every: needs on_checkpoint");
  }
  if (options.mode == Mode::kSync) {
    return Status::InvalidArgument("checkpoints: only asynchronous training pauses for them");
  }
  if (options.resume.empty()) return Status::OK();
  ResumePoint point;
  std::vector<TaskState> in_flight;
  const uint64_t total = partitions * options.epochs;
  for (size_t i = 0; i < options.resume.size(); ++i) {
    const Checkpoint& checkpoint = *options.resume[i];
    const std::string* train = checkpoint.Get("train");
    if (train == nullptr) return Status::Corruption(checkpoint.source() + ": no training state");
    Result<TrainState> parsed = TrainState::Parse(*train, checkpoint.source());
    if (!parsed.ok()) return parsed.status();
    const TrainState& r = *parsed;
    bool ok = r.tasks_started <= total && r.progress <= store.planned();
    for (const TaskState& t : r.in_flight) {
      ok = ok && t.epoch < options.epochs && t.partition < partitions &&
           t.epoch * partitions + t.partition < r.tasks_started;
    }
    if (!ok) {
      return Status::InvalidArgument(checkpoint.source() +
                                     ": the training state does not fit these partitions and "
                                     "epochs");
    }
    point.state.tasks_started = std::max(point.state.tasks_started, r.tasks_started);
    point.state.progress = std::max(point.state.progress, r.progress);
    in_flight.insert(in_flight.end(), r.in_flight.begin(), r.in_flight.end());
    if (i % static_cast<size_t>(store.ranks()) == static_cast<size_t>(store.rank())) {
      point.model_states.push_back(r.model_state);
    }
  }
  for (size_t i = 0; i < in_flight.size(); ++i) {
    if (i % static_cast<size_t>(store.ranks()) == static_cast<size_t>(store.rank())) {
      point.state.in_flight.push_back(std::move(in_flight[i]));
    }
  }
  DD_RETURN_IF_ERROR(store.LoadShard(options.resume));
  // No rank's workers pull before every rank holds its saved rows: a row
  // pulled from an owner that has not loaded yet would be the initial one,
  // and stay so in a replica that nobody's later change refreshes.
  if (store.ranks() > 1) DD_RETURN_IF_ERROR(store.Barrier());
  *resume = std::move(point);
  return Status::OK();
}

// Pauses this rank's workers and copies the store's rows and `state()` into
// `taken`; `*ending` when this rank's workers have failed (then nothing is
// taken: the run ends anyway and the last checkpoint stays). Under MPI every
// rank does this at the same time (Watch's vote decided it): once its
// workers hold still, a Barrier (every push of every rank is applied and
// the progress is exact), and after the copy an AllGather, so that no rank's
// workers go on, and push into shards, before every rank has copied its own.
Status PauseAndTake(ParamStore& store, Pauser& pauser, const std::atomic<bool>& failed,
                    const std::function<TrainState()>& state, Checkpoint* taken, bool* ending) {
  return pauser.PauseAnd([&]() -> Status {
    *ending = failed;
    if (*ending) return Status::OK();
    const bool distributed = store.ranks() > 1;
    if (distributed) DD_RETURN_IF_ERROR(store.Barrier());
    DD_RETURN_IF_ERROR(store.SaveShard(*taken));
    taken->Put("train", state().Serialize());
    if (distributed) DD_RETURN_IF_ERROR(store.AllGather("").status());
    return Status::OK();
  });
}

// Pulls the tables `options` asks for, named as in `shape` where it has
// them (a scope that owns its model), else "table<k>".
Result<TrainSnapshot> TakeSnapshot(ParamStore& store, const Options& options, const Model& shape,
                                   double seconds) {
  std::vector<size_t> tables = options.snapshot_tables;
  if (tables.empty()) {
    for (size_t t = 0; t < store.num_tables(); ++t) tables.push_back(t);
  }
  TrainSnapshot snapshot;
  snapshot.seconds = seconds;
  snapshot.progress = store.progress_fraction();
  std::vector<std::vector<RowId>> ids(tables.size());
  std::vector<RowBlock> blocks;
  for (size_t i = 0; i < tables.size(); ++i) {
    const size_t t = tables[i];
    if (t >= store.num_tables()) {
      return Status::InvalidArgument("snapshot_tables: the store has no table " +
                                     std::to_string(t));
    }
    std::string name = t < shape.num_tables() ? shape.table(t).name() : "table" + std::to_string(t);
    snapshot.model.AddTable(std::move(name), store.rows(t), store.dim(t));
    ids[i].resize(store.rows(t));
    for (RowId r = 0; r < ids[i].size(); ++r) ids[i][r] = r;
    Table& table = snapshot.model.table(i);
    blocks.push_back({t, ids[i], table.data(), table.stride()});
  }
  DD_RETURN_IF_ERROR(store.PullNow(blocks));
  return snapshot;
}

// Under MPI with checkpoints, how often the ranks' watchers vote.
constexpr auto kVoteEvery = std::chrono::milliseconds(250);

// A watcher's vote (Watch, under MPI with checkpoints).
struct Vote {
  bool done = false;         // Every worker of the rank has ended.
  bool interrupted = false;  // Options::interrupt was seen.
  bool due = false;          // Rank 0: a checkpoint is due.
  std::string Serialize() const { return {char(done), char(interrupted), char(due)}; }
};

// Waits until every worker is done, calling `on_tick` about every 100 ms
// and taking the snapshots `options` asks for (rank 0). A failed snapshot
// is handed to `stop`, which stops the workers as their own failure would;
// no more are taken. So is an interrupt (Options::interrupt), seen within
// about 100 ms.
//
// With `checkpoint` (Options::checkpoint_every), it is called every so many
// seconds, and once more on an interrupt before the workers are stopped; a
// failed one stops them with its error. Under MPI the ranks checkpoint
// together: every kVoteEvery, and at once when its own workers are done,
// each rank's watcher votes (an AllGather of Vote); when rank 0's clock says
// a checkpoint is due, or any rank was interrupted, every rank takes one,
// and the watchers return only once every rank's workers are done, so that
// no rank is missing from a checkpoint's collectives. A rank whose workers
// failed stops voting: its error ends the job (MPI's rule).
void Watch(ParamStore& store, const Options& options, const Model& shape, Running& running,
           const std::function<void()>& on_tick, const std::function<void(Status)>& stop,
           const std::function<Status()>& checkpoint = {}) {
  const Clock::time_point start = Clock::now();
  const bool snapshots =
      options.snapshot_every > 0 && options.on_snapshot != nullptr && store.rank() == 0;
  const auto every = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(options.snapshot_every));
  Clock::time_point next_snapshot = start + every;
  Clock::time_point next_tick = start + std::chrono::milliseconds(100);
  const bool checkpoints = checkpoint && options.checkpoint_every > 0;
  const bool votes = checkpoints && store.ranks() > 1;
  const auto checkpoint_interval = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(options.checkpoint_every));
  Clock::time_point next_checkpoint = start + checkpoint_interval;
  Clock::time_point next_vote = start + kVoteEvery;
  Status failed;
  bool interrupted = false;
  auto interrupt = [&](bool save) {
    interrupted = true;
    // The work done so far is kept first.
    Status saved = save && failed.ok() ? checkpoint() : Status::OK();
    if (!saved.ok()) failed = saved;
    stop(saved.ok() ? Status::Internal(kInterrupted) : saved);
  };
  for (;;) {
    const bool want_snapshot = snapshots && failed.ok();
    const bool want_checkpoint = checkpoints && failed.ok() && !interrupted;
    std::optional<Clock::time_point> wake;
    if (on_tick || options.interrupt != nullptr) wake = next_tick;
    if (want_snapshot) wake = wake ? std::min(*wake, next_snapshot) : next_snapshot;
    if (want_checkpoint && !votes) {
      wake = wake ? std::min(*wake, next_checkpoint) : next_checkpoint;
    }
    if (votes && failed.ok()) wake = wake ? std::min(*wake, next_vote) : next_vote;
    const bool done = running.WaitUntil(wake);
    if (done && (!votes || !failed.ok())) break;
    const Clock::time_point now = Clock::now();
    const bool seen = !interrupted && options.interrupt != nullptr &&
                      options.interrupt->load(std::memory_order_relaxed);
    if (votes && failed.ok() && (done || now >= next_vote)) {
      Vote mine;
      mine.done = done;
      mine.interrupted = seen;
      mine.due = store.rank() == 0 && want_checkpoint && now >= next_checkpoint;
      Result<std::vector<std::string>> all = store.AllGather(mine.Serialize());
      if (!all.ok()) {
        failed = all.status();
        stop(all.status());
        continue;
      }
      bool all_done = true, any_interrupted = false, due = false;
      for (size_t r = 0; r < all->size(); ++r) {
        const std::string& v = (*all)[r];
        if (v.size() != 3) continue;
        all_done = all_done && v[0] != 0;
        any_interrupted = any_interrupted || v[1] != 0;
        if (r == 0) due = v[2] != 0;
      }
      if (all_done) break;
      if (any_interrupted && !interrupted) {
        interrupt(true);
      } else if (due && !interrupted) {
        if (Status s = checkpoint(); !s.ok()) {
          failed = s;
          stop(s);
        }
        next_checkpoint = Clock::now() + checkpoint_interval;
      }
      next_vote = Clock::now() + kVoteEvery;
    } else if (!votes && want_checkpoint && now >= next_checkpoint) {
      if (Status s = checkpoint(); !s.ok()) {
        failed = s;
        stop(s);
      }
      next_checkpoint = Clock::now() + checkpoint_interval;
    }
    if (want_snapshot && now >= next_snapshot) {
      Result<TrainSnapshot> snapshot =
          TakeSnapshot(store, options, shape, std::chrono::duration<double>(now - start).count());
      if (snapshot.ok()) {
        options.on_snapshot(std::move(*snapshot));
      } else {
        failed = snapshot.status();
        stop(snapshot.status());
      }
      // On the same grid of intervals; one that took longer than an
      // interval pushes the next a whole interval on.
      next_snapshot += every;
      if (const Clock::time_point after = Clock::now(); next_snapshot < after) {
        next_snapshot = after + every;
      }
    }
    // Under votes an interrupt waits for the vote, which every rank acts on.
    if (seen && !votes) interrupt(checkpoints);
    if (now >= next_tick) {
      if (on_tick) on_tick();
      next_tick = now + std::chrono::milliseconds(100);
    }
  }
}

}  // namespace

DeepDist::DeepDist(Model model, Options options) : options_(options), model_(std::move(model)) {
  if (options_.threads == 0) options_.threads = std::max(1u, std::thread::hardware_concurrency());
  if (options_.epochs == 0) options_.epochs = 1;
  staleness_ = std::make_unique<std::atomic<uint64_t>[]>(options_.threads);
}

DeepDist::DeepDist(ParamStore& store, Options options) : options_(options), store_(&store) {
  if (options_.threads == 0) options_.threads = std::max(1u, std::thread::hardware_concurrency());
  if (options_.epochs == 0) options_.epochs = 1;
  staleness_ = std::make_unique<std::atomic<uint64_t>[]>(options_.threads);
}

Activity DeepDist::activity() const {
  Activity a;
  a.updates = updates_.load(std::memory_order_relaxed);
  for (size_t w = 0; w < options_.threads; ++w) {
    a.staleness.push_back(staleness_[w].load(std::memory_order_relaxed));
  }
  return a;
}

DeepDist::~DeepDist() = default;

Model& DeepDist::model() { return model_; }
const Model& DeepDist::model() const { return model_; }

Status DeepDist::train(const std::vector<PartitionSpec>& partitions, const GradientFn& gradient,
                       const Descent& descent) {
  return Run(partitions, &gradient, nullptr, descent);
}

Status DeepDist::train(const std::vector<PartitionSpec>& partitions, const RowGradientFn& gradient,
                       const Descent& descent) {
  return Run(partitions, nullptr, &gradient, descent);
}

Status DeepDist::train(const std::vector<PartitionSpec>& partitions, const GradientFn& gradient,
                       const DescentFn& descent) {
  FunctionDescent rule(descent);
  Status s = Run(partitions, &gradient, nullptr, rule);
  if (rule_ != nullptr) rule_->Set(nullptr);  // `rule` ends here.
  return s;
}

Status DeepDist::Prepare(const Descent& descent, bool lock_rows) {
  if (store_ != nullptr && owned_store_ == nullptr) {
    return Status::InvalidArgument(
        "descent: a DeepDist scope over a store trains with the store's own rule");
  }
  if (owned_store_ == nullptr) {
    auto rule = std::make_unique<ForwardingDescent>(&descent);
    rule_ = rule.get();
    Cluster* cluster = options_.cluster;
    if (cluster == nullptr || cluster->ranks() == 1) {
      owned_store_ = std::make_unique<LocalStore>(model_, std::move(rule),
                                                  LocalStoreOptions{.lock_rows = lock_rows});
    } else {
      owned_store_ = cluster->MakeStore(model_, std::move(rule));
    }
    store_ = owned_store_.get();
  } else if (descent.state_per_value() != rule_->state_per_value() ||
             descent.state_per_row() != rule_->state_per_row()) {
    return Status::InvalidArgument(
        "descent: " + descent.name() +
        " needs other optimizer state than the rule this DeepDist scope started with; use a new "
        "scope");
  }
  rule_->Set(&descent);
  return Status::OK();
}

Status DeepDist::Gather() {
  if (owned_store_ == nullptr) return Status::OK();
  Result<Model> snapshot = store_->Snapshot();
  if (!snapshot.ok()) return snapshot.status();
  if (store_->rank() == 0) model_ = std::move(*snapshot);
  return Status::OK();
}

Status DeepDist::train(const std::vector<PartitionSpec>& partitions, const WorkerFactory& workers,
                       const WorkerOptions& options) {
  if (store_ == nullptr) {
    return Status::InvalidArgument("descent: this DeepDist scope has no store yet; pass a rule");
  }
  return RunWorkers(partitions, workers, options);
}

Status DeepDist::train(const std::vector<PartitionSpec>& partitions, const WorkerFactory& workers,
                       const WorkerOptions& options, const Descent& descent) {
  // Workers that train in place need the master rows unlocked (Hogwild).
  DD_RETURN_IF_ERROR(Prepare(descent, /*lock_rows=*/false));
  DD_RETURN_IF_ERROR(RunWorkers(partitions, workers, options));
  return Gather();
}

Status DeepDist::RunWorkers(const std::vector<PartitionSpec>& partitions,
                            const WorkerFactory& make_worker, const WorkerOptions& options) {
  ParamStore& store = *store_;
  const size_t threads = options_.threads;
  const bool sync = options_.mode == Mode::kSync;
  store.SetPlan(options.planned_units);
  std::optional<ResumePoint> resume;
  DD_RETURN_IF_ERROR(CheckCheckpointOptions(options_, store, partitions.size(), &resume));
  if (resume) {
    if (store.rank() == 0) store.AddProgress(resume->state.progress);
    if (options.restore_state) {
      for (const std::string& state : resume->model_states) {
        DD_RETURN_IF_ERROR(options.restore_state(state));
      }
    }
  }
  if (options.on_start) options.on_start(store);
  const std::unique_ptr<TaskSource> source = store.NewTasks(partitions.size(), options_.epochs);
  TaskFeed tasks(*source, partitions.size(), resume ? &resume->state : nullptr);
  std::unique_ptr<Rounds> rounds;
  if (sync) rounds = store.NewRounds(threads);

  FirstError errors;
  const std::atomic<bool>& failed = errors.failed();
  auto record = [&](Status s) { errors.Record(std::move(s)); };
  Running running(threads);
  Pauser pauser(threads);
  std::atomic<size_t> done_tasks{0};
  // Each worker's task in flight, read while the workers are paused.
  struct Slot {
    std::optional<TaskState> task;
    Partition* part = nullptr;
  };
  std::vector<Slot> slots(threads);

  ReplicaOptions replica_options = options.replica;
  replica_options.stop = &failed;
  replica_options.rounds = rounds.get();
  if (sync) {
    // A round applies the mean of every worker's change.
    replica_options.push_scale =
        1.0f / static_cast<float>(threads * static_cast<size_t>(store.ranks()));
  }
  const bool checkpoints = options_.checkpoint_every > 0;
  if (checkpoints) replica_options.pause = &pauser.requested();

  auto run = [&](size_t index) {
    std::unique_ptr<Worker> worker;
    try {
      worker = make_worker(index);
    } catch (const std::exception& e) {
      record(Status::Internal(std::string("worker: could not start: ") + e.what()));
    } catch (...) {
      record(Status::Internal("worker: could not start: an unknown exception"));
    }
    ReplicaOptions mine = replica_options;
    if (checkpoints) mine.on_pause = [&pauser] { pauser.Arrive(); };
    mine.updates = &updates_;
    mine.staleness = &staleness_[index];
    Replica replica(store, options.tables, mine);
    Slot& slot = slots[index];
    bool ok = worker != nullptr;
    while (ok && !failed) {
      if (checkpoints) pauser.Arrive();  // No task in flight here.
      if (failed) break;
      std::optional<TaskState> task = tasks.Next();
      if (!task) break;
      Partition part(partitions[task->partition], task->partition, task->epoch);
      part.set_resume_position(std::move(task->position));
      task->position.clear();
      slot.task = std::move(task);
      slot.part = &part;
      Status s;
      try {
        s = worker->Train(replica, part);
      } catch (const std::exception& e) {
        s = Status::Internal(part.spec().path + ": training failed: " + e.what());
      } catch (...) {
        s = Status::Internal(part.spec().path + ": training failed with an unknown exception");
      }
      slot.part = nullptr;
      if (!s.ok()) {
        record(s);  // A stop after another's failure is not recorded twice.
        ok = false;
        break;
      }
      slot.task.reset();
      done_tasks.fetch_add(1);
    }
    if (worker != nullptr) worker->Done();
    const float rate = store.learning_rate();
    if (Status s = replica.Finish(rate, ok && !failed); !s.ok()) record(s);
    pauser.Leave();
    running.Done();
  };

  // Where training stands, copied while every worker is paused, then handed
  // to on_checkpoint (to be written) while they go on.
  auto checkpoint = [&]() -> Status {
    Checkpoint taken;
    bool ending = false;
    DD_RETURN_IF_ERROR(PauseAndTake(
        store, pauser, failed,
        [&] {
          TrainState state;
          state.tasks_started = tasks.started();
          for (const Slot& slot : slots) {
            if (!slot.task) continue;
            TaskState t = *slot.task;
            if (slot.part != nullptr) t.position = slot.part->position();
            state.in_flight.push_back(std::move(t));
          }
          for (TaskState& t : tasks.not_handed_out()) state.in_flight.push_back(std::move(t));
          state.progress = store.progress();
          if (options.save_state) state.model_state = options.save_state();
          return state;
        },
        &taken, &ending));
    return ending ? Status::OK() : options_.on_checkpoint(taken);
  };

  std::vector<std::thread> pool;
  for (size_t i = 0; i < threads; ++i) pool.emplace_back(run, i);
  // A failed snapshot is recorded, as a worker's failure is.
  Watch(store, options_, model_, running, options.on_tick, record,
        checkpoints ? std::function<Status()>(checkpoint) : std::function<Status()>());
  for (std::thread& t : pool) t.join();
  updates_applied_ += done_tasks.load();
  if (Status first = errors.Take(); !first.ok()) return first;
  // Every rank's pushes are in before anyone reads the model.
  return store.Barrier();
}

Status DeepDist::Run(const std::vector<PartitionSpec>& partitions, const GradientFn* whole,
                     const RowGradientFn* rows, const Descent& descent) {
  // Small dense models: every worker updates the same rows, so lock them.
  DD_RETURN_IF_ERROR(Prepare(descent, /*lock_rows=*/true));
  ParamStore& store = *store_;
  const size_t num_parts = partitions.size();
  const size_t epochs = options_.epochs;
  const bool sync = options_.mode == Mode::kSync;
  store.SetPlan(num_parts * epochs);

  FirstError errors;
  const std::atomic<bool>& failed = errors.failed();
  auto record = [&](Status s) { errors.Record(std::move(s)); };
  std::atomic<size_t> applied{0};

  // Runs the gradient on one task; false when it failed (recorded).
  auto run_gradient = [&](Model& local, Replica& replica, std::vector<std::vector<RowId>>& ids,
                          const Task& task, Update* out) {
    Partition part(partitions[task.partition], task.partition, task.epoch);
    try {
      if (whole != nullptr) {
        if (Status s = FetchWhole(store, local, ids); !s.ok()) {
          record(s);
          return false;
        }
        *out = (*whole)(local, part);
      } else {
        *out = (*rows)(replica, part);
      }
      return true;
    } catch (const std::exception& e) {
      record(Status::Internal(part.spec().path + ": gradient failed: " + e.what()));
    } catch (...) {
      record(Status::Internal(part.spec().path + ": gradient failed with an unknown exception"));
    }
    return false;
  };

  ReplicaOptions replica_options;
  replica_options.allow_direct = false;
  const size_t workers = options_.threads;

  if (!sync) {
    std::optional<ResumePoint> resume;
    DD_RETURN_IF_ERROR(CheckCheckpointOptions(options_, store, num_parts, &resume));
    if (resume && store.rank() == 0) store.AddProgress(resume->state.progress);
    const std::unique_ptr<TaskSource> source = store.NewTasks(num_parts, epochs);
    TaskFeed tasks(*source, num_parts, resume ? &resume->state : nullptr);
    Running running(workers);
    Pauser pauser(workers);
    const bool checkpoints = options_.checkpoint_every > 0;
    auto work = [&](size_t index) {
      Model local = model_;  // The shape; filled by each fetch.
      std::vector<std::vector<RowId>> ids;
      Replica replica(store, {}, replica_options);
      for (;;) {
        // Between tasks: each task's update is applied before the next.
        if (checkpoints) pauser.Arrive();
        if (failed) return;
        const std::optional<TaskState> next = tasks.Next();
        if (!next) return;
        const Task task{next->epoch, next->partition};
        // A fresh replica for each partition, as the seed fetches the model.
        if (Status s = replica.Refresh(1.0f); !s.ok()) return record(s);
        const uint64_t fetched = updates_.load(std::memory_order_relaxed);
        Update update;
        if (!run_gradient(local, replica, ids, task, &update)) return;
        if (Status s = store.Wait(PushUpdate(store, update, 1.0f, false)); !s.ok()) {
          return record(s);
        }
        const uint64_t before = updates_.fetch_add(1, std::memory_order_relaxed);
        staleness_[index].store(before - fetched, std::memory_order_relaxed);
        applied.fetch_add(1);
        store.AddProgress(1);
      }
    };
    auto worker = [&](size_t index) {
      work(index);
      pauser.Leave();
      running.Done();
    };
    auto checkpoint = [&]() -> Status {
      Checkpoint taken;
      bool ending = false;
      DD_RETURN_IF_ERROR(PauseAndTake(
          store, pauser, failed,
          [&] {
            TrainState state;
            state.tasks_started = tasks.started();
            state.in_flight = tasks.not_handed_out();
            state.progress = store.progress();
            return state;
          },
          &taken, &ending));
      return ending ? Status::OK() : options_.on_checkpoint(taken);
    };
    std::vector<std::thread> threads;
    for (size_t w = 0; w < workers; ++w) threads.emplace_back(worker, w);
    Watch(store, options_, model_, running, options_.on_tick, record,
          checkpoints ? std::function<Status()>(checkpoint) : std::function<Status()>());
    for (std::thread& t : threads) t.join();
  } else {
    std::optional<ResumePoint> resume;
    DD_RETURN_IF_ERROR(CheckCheckpointOptions(options_, store, num_parts, &resume));
    // Sync, as MLlib: rounds of one partition per worker (what an async
    // worker computes between two pushes), every worker of every rank
    // against the model the last round left. A round is two steps: the
    // first Next tells whether any worker failed (then nothing is applied);
    // otherwise each worker pushes its gradient, deferred to the round, and
    // the second Next applies their mean once. Every worker takes one task
    // per round from the epoch's source, so round r of an epoch covers its
    // tasks r * W .. r * W + W - 1 (W the workers of all ranks), and every
    // worker goes through the same number of rounds.
    std::vector<std::unique_ptr<TaskSource>> tasks;
    for (size_t e = 0; e < epochs; ++e) tasks.push_back(store.NewTasks(num_parts, 1));
    const std::unique_ptr<Rounds> rounds = store.NewRounds(workers);
    const size_t all_workers = workers * static_cast<size_t>(store.ranks());
    const size_t rounds_per_epoch = (num_parts + all_workers - 1) / all_workers;
    std::atomic<size_t> rounds_done{0};
    Running running(workers);
    auto work = [&] {
      Model local = model_;
      std::vector<std::vector<RowId>> ids;
      Replica replica(store, {}, replica_options);
      for (size_t e = 0; e < epochs; ++e) {
        for (size_t round = 0; round < rounds_per_epoch; ++round) {
          // The mean over the round's partitions (fewer in the last round).
          const size_t in_round = std::min(all_workers, num_parts - round * all_workers);
          Update update;
          bool ok = !failed, had_task = false;
          if (Status s = replica.Refresh(1.0f); ok && !s.ok()) {
            record(s);
            ok = false;
          }
          if (ok) {
            std::optional<Task> task = tasks[e]->Next();
            if (task) {
              task->epoch = e;
              had_task = true;
              ok = run_gradient(local, replica, ids, *task, &update);
            }
          }
          Result<bool> any_failed = rounds->Next(!ok);
          if (!any_failed.ok()) return record(any_failed.status());
          if (*any_failed) return;
          Status pushed =
              had_task
                  ? store.Wait(PushUpdate(store, update, 1.0f / static_cast<float>(in_round), true))
                  : Status::OK();
          Result<bool> applied_round = rounds->Next(!pushed.ok());
          if (!pushed.ok()) return record(pushed);
          if (!applied_round.ok()) return record(applied_round.status());
          if (*applied_round) return;  // Another worker's push failed.
          if (had_task) store.AddProgress(1);
          if (rounds_done.fetch_add(1) % workers == 0) {
            applied.fetch_add(1);
            updates_.fetch_add(1, std::memory_order_relaxed);
          }
        }
      }
    };
    auto worker = [&] {
      work();
      running.Done();
    };
    std::vector<std::thread> threads;
    for (size_t w = 0; w < workers; ++w) threads.emplace_back(worker);
    Watch(store, options_, model_, running, options_.on_tick, record);
    for (std::thread& t : threads) t.join();
  }
  updates_applied_ += applied.load();
  if (Status first = errors.Take(); !first.ok()) return first;
  DD_RETURN_IF_ERROR(store.Barrier());
  return Gather();
}

}  // namespace deepdist
