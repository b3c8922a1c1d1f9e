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

// Waits until every worker is done, calling `on_tick` about every 100 ms
// and taking the snapshots `options` asks for (rank 0). A failed snapshot
// is handed to `stop`, which stops the workers as their own failure would;
// no more are taken. So is an interrupt (Options::interrupt), seen within
// about 100 ms.
void Watch(ParamStore& store, const Options& options, const Model& shape, Running& running,
           const std::function<void()>& on_tick, const std::function<void(Status)>& stop) {
  const Clock::time_point start = Clock::now();
  const bool snapshots =
      options.snapshot_every > 0 && options.on_snapshot != nullptr && store.rank() == 0;
  const auto every = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(options.snapshot_every));
  Clock::time_point next_snapshot = start + every;
  Clock::time_point next_tick = start + std::chrono::milliseconds(100);
  Status failed;
  bool interrupted = false;
  for (;;) {
    const bool want_snapshot = snapshots && failed.ok();
    std::optional<Clock::time_point> wake;
    if (on_tick || options.interrupt != nullptr) wake = next_tick;
    if (want_snapshot) wake = wake ? std::min(*wake, next_snapshot) : next_snapshot;
    if (running.WaitUntil(wake)) break;
    const Clock::time_point now = Clock::now();
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
    if (!interrupted && options.interrupt != nullptr &&
        options.interrupt->load(std::memory_order_relaxed)) {
      interrupted = true;
      stop(Status::Internal(kInterrupted));
    }
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
}

DeepDist::DeepDist(ParamStore& store, Options options) : options_(options), store_(&store) {
  if (options_.threads == 0) options_.threads = std::max(1u, std::thread::hardware_concurrency());
  if (options_.epochs == 0) options_.epochs = 1;
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
  if (options.on_start) options.on_start(store);
  const std::unique_ptr<TaskSource> tasks = store.NewTasks(partitions.size(), options_.epochs);
  std::unique_ptr<Rounds> rounds;
  if (sync) rounds = store.NewRounds(threads);

  FirstError errors;
  const std::atomic<bool>& failed = errors.failed();
  auto record = [&](Status s) { errors.Record(std::move(s)); };
  Running running(threads);
  std::atomic<size_t> done_tasks{0};

  ReplicaOptions replica_options = options.replica;
  replica_options.stop = &failed;
  replica_options.rounds = rounds.get();
  if (sync) {
    // A round applies the mean of every worker's change.
    replica_options.push_scale =
        1.0f / static_cast<float>(threads * static_cast<size_t>(store.ranks()));
  }

  auto run = [&](size_t index) {
    std::unique_ptr<Worker> worker;
    try {
      worker = make_worker(index);
    } catch (const std::exception& e) {
      record(Status::Internal(std::string("worker: could not start: ") + e.what()));
    } catch (...) {
      record(Status::Internal("worker: could not start: an unknown exception"));
    }
    Replica replica(store, options.tables, replica_options);
    bool ok = worker != nullptr;
    while (ok && !failed) {
      const std::optional<Task> task = tasks->Next();
      if (!task) break;
      Partition part(partitions[task->partition], task->partition, task->epoch);
      Status s;
      try {
        s = worker->Train(replica, part);
      } catch (const std::exception& e) {
        s = Status::Internal(part.spec().path + ": training failed: " + e.what());
      } catch (...) {
        s = Status::Internal(part.spec().path + ": training failed with an unknown exception");
      }
      if (!s.ok()) {
        record(s);  // A stop after another's failure is not recorded twice.
        ok = false;
        break;
      }
      done_tasks.fetch_add(1);
    }
    if (worker != nullptr) worker->Done();
    const float rate = store.learning_rate();
    if (Status s = replica.Finish(rate, ok && !failed); !s.ok()) record(s);
    running.Done();
  };

  std::vector<std::thread> pool;
  for (size_t i = 0; i < threads; ++i) pool.emplace_back(run, i);
  // A failed snapshot is recorded, as a worker's failure is.
  Watch(store, options_, model_, running, options.on_tick, record);
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
    const std::unique_ptr<TaskSource> tasks = store.NewTasks(num_parts, epochs);
    Running running(workers);
    auto work = [&] {
      Model local = model_;  // The shape; filled by each fetch.
      std::vector<std::vector<RowId>> ids;
      Replica replica(store, {}, replica_options);
      for (;;) {
        if (failed) return;
        const std::optional<Task> task = tasks->Next();
        if (!task) return;
        // A fresh replica for each partition, as the seed fetches the model.
        if (Status s = replica.Refresh(1.0f); !s.ok()) return record(s);
        Update update;
        if (!run_gradient(local, replica, ids, *task, &update)) return;
        if (Status s = store.Wait(PushUpdate(store, update, 1.0f, false)); !s.ok()) {
          return record(s);
        }
        applied.fetch_add(1);
        store.AddProgress(1);
      }
    };
    auto worker = [&] {
      work();
      running.Done();
    };
    std::vector<std::thread> threads;
    for (size_t w = 0; w < workers; ++w) threads.emplace_back(worker);
    Watch(store, options_, model_, running, {}, record);
    for (std::thread& t : threads) t.join();
  } else {
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
          if (rounds_done.fetch_add(1) % workers == 0) applied.fetch_add(1);
        }
      }
    };
    auto worker = [&] {
      work();
      running.Done();
    };
    std::vector<std::thread> threads;
    for (size_t w = 0; w < workers; ++w) threads.emplace_back(worker);
    Watch(store, options_, model_, running, {}, record);
    for (std::thread& t : threads) t.join();
  }
  updates_applied_ += applied.load();
  if (Status first = errors.Take(); !first.ok()) return first;
  DD_RETURN_IF_ERROR(store.Barrier());
  return Gather();
}

}  // namespace deepdist
