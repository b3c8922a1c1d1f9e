#include "deepdist/deepdist.h"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <shared_mutex>
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

// The model server: owns the master model and a queue of pushed updates, and
// applies them on its own thread in arrival order. Workers fetch replicas
// under a shared lock; the server writes under the exclusive lock.
class DeepDist::Server {
 public:
  explicit Server(Model model) : model_(std::move(model)), thread_([this] { Run(); }) {}

  ~Server() {
    {
      std::lock_guard<std::mutex> lock(queue_mu_);
      stopping_ = true;
    }
    queue_cv_.notify_all();
    thread_.join();
  }

  Model Fetch() {
    std::shared_lock<std::shared_mutex> lock(model_mu_);
    return model_;
  }

  void Push(Update update, const DescentFn* descent) {
    {
      std::lock_guard<std::mutex> lock(queue_mu_);
      queue_.push_back({std::move(update), descent});
      ++pending_;
    }
    queue_cv_.notify_all();
  }

  // Blocks until every pushed update has been applied.
  void Drain() {
    std::unique_lock<std::mutex> lock(queue_mu_);
    drained_cv_.wait(lock, [this] { return pending_ == 0; });
  }

  Model& model() { return model_; }
  size_t applied() const { return applied_.load(); }

 private:
  struct Item {
    Update update;
    const DescentFn* descent;
  };

  void Run() {
    for (;;) {
      Item item;
      {
        std::unique_lock<std::mutex> lock(queue_mu_);
        queue_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // Stopping, and nothing left to apply.
        item = std::move(queue_.front());
        queue_.pop_front();
      }
      {
        std::unique_lock<std::shared_mutex> lock(model_mu_);
        (*item.descent)(model_, item.update);
      }
      applied_.fetch_add(1);
      {
        std::lock_guard<std::mutex> lock(queue_mu_);
        --pending_;
      }
      drained_cv_.notify_all();
    }
  }

  Model model_;
  std::shared_mutex model_mu_;
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::condition_variable drained_cv_;
  std::deque<Item> queue_;
  size_t pending_ = 0;
  bool stopping_ = false;
  std::atomic<size_t> applied_{0};
  std::thread thread_;  // Last: starts after the members above exist.
};

DeepDist::DeepDist(Model model, Options options)
    : options_(options), server_(std::make_unique<Server>(std::move(model))) {
  if (options_.threads == 0) options_.threads = std::max(1u, std::thread::hardware_concurrency());
  if (options_.epochs == 0) options_.epochs = 1;
}

DeepDist::~DeepDist() = default;

Model& DeepDist::model() { return server_->model(); }
const Model& DeepDist::model() const { return server_->model(); }
size_t DeepDist::updates_applied() const { return server_->applied(); }

Status DeepDist::train(const std::vector<PartitionSpec>& partitions, const GradientFn& gradient,
                       Descent& descent) {
  // Updates the server will apply: one per task when asynchronous, one per
  // epoch when synchronous.
  const size_t expected =
      options_.mode == Mode::kAsync ? partitions.size() * options_.epochs : options_.epochs;
  size_t applied = 0;  // Only the server thread calls the function below.
  return train(partitions, gradient, [&](Model& model, const Update& update) {
    descent.set_progress(static_cast<double>(applied++) / static_cast<double>(expected));
    descent(model, update);
  });
}

Status DeepDist::train(const std::vector<PartitionSpec>& partitions, const GradientFn& gradient,
                       const DescentFn& descent) {
  const size_t num_parts = partitions.size();
  const size_t total_tasks = num_parts * options_.epochs;
  std::mutex error_mu;
  Status first_error;
  std::atomic<bool> failed{false};
  auto record = [&](Status s) {
    std::lock_guard<std::mutex> lock(error_mu);
    if (first_error.ok()) first_error = std::move(s);
    failed = true;
  };
  auto run_gradient = [&](const Model& replica, size_t task, Update* out) {
    Partition part(partitions[task % num_parts], task % num_parts, task / num_parts);
    try {
      *out = gradient(replica, part);
      return true;
    } catch (const std::exception& e) {
      record(Status::Internal(part.spec().path + ": gradient failed: " + e.what()));
    } catch (...) {
      record(Status::Internal(part.spec().path + ": gradient failed with an unknown exception"));
    }
    return false;
  };

  if (options_.mode == Mode::kAsync) {
    std::atomic<size_t> next{0};
    std::vector<std::thread> workers;
    for (size_t w = 0; w < std::min(options_.threads, total_tasks); ++w) {
      workers.emplace_back([&] {
        for (;;) {
          const size_t task = next.fetch_add(1);
          if (task >= total_tasks || failed) return;
          Model replica = server_->Fetch();
          Update update;
          if (!run_gradient(replica, task, &update)) return;
          server_->Push(std::move(update), &descent);
        }
      });
    }
    for (std::thread& t : workers) t.join();
    server_->Drain();
    return first_error;
  }

  // Sync: one round per epoch; every partition sees the same model.
  for (size_t epoch = 0; epoch < options_.epochs && !failed; ++epoch) {
    const Model replica = server_->Fetch();
    std::vector<Update> updates(num_parts);
    std::atomic<size_t> next{0};
    std::vector<std::thread> workers;
    for (size_t w = 0; w < std::min(options_.threads, num_parts); ++w) {
      workers.emplace_back([&] {
        for (;;) {
          const size_t p = next.fetch_add(1);
          if (p >= num_parts || failed) return;
          if (!run_gradient(replica, epoch * num_parts + p, &updates[p])) return;
        }
      });
    }
    for (std::thread& t : workers) t.join();
    if (failed) break;
    Update average;
    for (const Update& u : updates) average.Merge(u, replica);
    average.Scale(1.0f / static_cast<float>(num_parts));
    server_->Push(std::move(average), &descent);
    server_->Drain();
  }
  return first_error;
}

}  // namespace deepdist
