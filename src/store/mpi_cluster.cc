#include "src/store/mpi_cluster.h"

// MPI's C API only, without the C++ bindings some mpi.h pull in.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "src/store/mpi_store.h"

namespace deepdist {
namespace {

constexpr int kStoreTag = 17;
using Clock = std::chrono::steady_clock;

// How long the thread keeps polling after its last piece of work before it
// starts to sleep: briefly when nothing is under way, longer while something
// is (a posted send, whose rendezvous needs this rank's progress; a
// collective; replies this rank's workers wait for), since a sleeping rank
// delays every step of such exchanges (unless the node runs more ranks than
// it has hardware threads, where eager polling takes a core from a rank that
// needs it; measured in docs/DISTRIBUTED.md). While a local thread is blocked
// on this one (a collective, a Wait) sleeps grow from 4 us to
// kBusySleepCapUs; otherwise the thread sleeps the whole cap
// (DEEPDIST_MPI_MAX_IDLE_US) at once: each wake is a context switch on the
// core the rank's worker trains on, and sleeps growing from 4 us after
// every message woke it thousands of times a second (docs/BENCHMARKS.md).
constexpr auto kIdleSpin = std::chrono::microseconds(20);
constexpr auto kBusySpin = std::chrono::microseconds(200);
constexpr int kBusySleepCapUs = 50;
// Messages taken in one pass before the thread turns to its other duties.
constexpr int kReceivesPerPass = 64;
// The pool of send buffers: smaller buffers are not worth keeping (malloc
// serves them from memory already mapped); at most this many, of at most
// this many bytes in all.
constexpr size_t kPoolMinBytes = size_t{64} << 10;
constexpr size_t kPoolBuffers = 16;
constexpr size_t kPoolMaxBytes = size_t{128} << 20;

// True when this node runs more ranks than it has hardware threads: then a
// rank that polls eagerly takes the core another rank needs, and it is
// better to sleep early.
bool NodeOversubscribed() {
  const char* env = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  if (env == nullptr) env = std::getenv("MPI_LOCALNRANKS");
  if (env == nullptr) return false;
  const long local_ranks = std::strtol(env, nullptr, 10);
  const unsigned threads = std::thread::hardware_concurrency();
  return threads > 0 && local_ranks > static_cast<long>(threads);
}

int MaxIdleMicros() {
  const char* env = std::getenv("DEEPDIST_MPI_MAX_IDLE_US");
  if (env != nullptr) {
    const long v = std::strtol(env, nullptr, 10);
    if (v >= 1 && v <= 100000) return static_cast<int>(v);
  }
  return 1000;
}

}  // namespace

struct MpiCluster::Collective {
  enum class Kind { kBarrier, kSum, kAllGather };
  Kind kind = Kind::kBarrier;
  uint64_t in_value = 0;
  uint64_t out_value = 0;
  std::string_view in_bytes;
  std::vector<std::string> out_bytes;
  Status status;
  bool done = false;  // Guarded by mu_.

  // Communication thread only.
  int phase = 0;
  MPI_Request request = MPI_REQUEST_NULL;
  std::vector<uint64_t> sizes;
  std::vector<int> counts;
  std::vector<int> displs;
  std::string gathered;
};

Result<std::unique_ptr<MpiCluster>> MpiCluster::Create(const ClusterOptions& options) {
  std::unique_ptr<MpiCluster> cluster(new MpiCluster(options));
  cluster->thread_ = std::thread([c = cluster.get()] { c->Main(); });
  Status status;
  {
    std::unique_lock lock(cluster->mu_);
    cluster->done_.wait(lock, [&] { return cluster->started_; });
    status = cluster->start_status_;
  }
  if (!status.ok()) {
    cluster->thread_.join();
    cluster->thread_ = std::thread();
    return status;
  }
  return cluster;
}

MpiCluster::MpiCluster(const ClusterOptions& options) : options_(options) {}

MpiCluster::~MpiCluster() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    pending_wake_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void MpiCluster::Main() {
  const int max_idle_us = MaxIdleMicros();
  const bool oversubscribed = NodeOversubscribed();
  const auto busy_spin = oversubscribed ? kIdleSpin : kBusySpin;
  int provided = 0;
  MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
  MPI_Comm comm = MPI_COMM_NULL;
  {
    std::lock_guard lock(mu_);
    started_ = true;
    if (provided < MPI_THREAD_FUNNELED) {
      start_status_ = Status::Internal("MPI: the library does not support MPI_THREAD_FUNNELED");
    } else {
      MPI_Comm_dup(MPI_COMM_WORLD, &comm);
      MPI_Comm_rank(comm, &rank_);
      MPI_Comm_size(comm, &ranks_);
    }
  }
  done_.notify_all();
  if (comm == MPI_COMM_NULL) {
    MPI_Finalize();
    return;
  }

  // Posted sends and their buffers, which MPI may read until the send
  // completes: each string lives on the heap, so its bytes never move (not
  // even a short string's, which std::string keeps inside the object).
  std::vector<MPI_Request> requests;  // Parallel to `posted`.
  std::vector<std::unique_ptr<std::string>> posted;
  std::vector<int> completed;
  std::deque<std::pair<int, std::string>> outgoing;
  // The receive buffer, kept across messages and grown as needed (never
  // zero-filled: MPI overwrites what the message covers). Bytes, whose
  // allocation may hold values of any type, so that a handler can read the
  // floats of a message in place (new aligns it for any of them).
  std::unique_ptr<std::byte[]> received;
  size_t received_capacity = 0;
  Collective* current = nullptr;
  Clock::time_point last_busy = Clock::now();

  int sleeps = 0;

  for (;;) {
    bool busy = false;

    // Incoming store messages.
    for (int n = 0; n < kReceivesPerPass; ++n) {
      int flag = 0;
      MPI_Message message;
      MPI_Status status;
      MPI_Improbe(MPI_ANY_SOURCE, kStoreTag, comm, &flag, &message, &status);
      if (!flag) break;
      int count = 0;
      MPI_Get_count(&status, MPI_BYTE, &count);
      const auto size = static_cast<size_t>(count);
      if (size > received_capacity) {
        received_capacity = std::max(size, 2 * received_capacity);
        received.reset(new std::byte[received_capacity]);
      }
      MPI_Mrecv(received.get(), count, MPI_BYTE, &message, MPI_STATUS_IGNORE);
      busy = true;
      const std::string_view buffer(reinterpret_cast<const char*>(received.get()), size);
      if (Status handled = Handle(status.MPI_SOURCE, buffer); !handled.ok()) {
        // Damage no rank can recover from: the job ends, saying where.
        std::fprintf(stderr, "deepdist: rank %d: a message from rank %d: %s\n", rank_,
                     status.MPI_SOURCE, handled.message().c_str());
        std::fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, 1);
      }
    }

    // Local work: messages to post, a collective to start, or the stop.
    bool stop = false;
    {
      std::lock_guard lock(mu_);
      outgoing.swap(outbox_);
      if (current == nullptr && !collectives_.empty()) {
        current = collectives_.front();
        collectives_.pop_front();
      }
      stop = stop_;
      pending_wake_ = false;
    }
    for (auto& [dest, buffer] : outgoing) {
      DD_CHECK(buffer.size() <= static_cast<size_t>(INT_MAX));
      auto owned = std::make_unique<std::string>(std::move(buffer));
      MPI_Request request;
      MPI_Isend(owned->data(), static_cast<int>(owned->size()), MPI_BYTE, dest, kStoreTag, comm,
                &request);
      requests.push_back(request);
      posted.push_back(std::move(owned));
      busy = true;
    }
    outgoing.clear();

    // Sends that have completed free their buffers.
    if (!requests.empty()) {
      completed.resize(requests.size());
      int done_count = 0;
      MPI_Testsome(static_cast<int>(requests.size()), requests.data(), &done_count,
                   completed.data(), MPI_STATUSES_IGNORE);
      if (done_count > 0 && done_count != MPI_UNDEFINED) {
        size_t freed = 0;
        for (int i = 0; i < done_count; ++i) {
          freed += posted[completed[i]]->size();
          Recycle(std::move(*posted[completed[i]]));
        }
        size_t keep = 0;
        for (size_t i = 0; i < requests.size(); ++i) {
          if (requests[i] == MPI_REQUEST_NULL) continue;
          if (keep != i) {
            requests[keep] = requests[i];
            posted[keep] = std::move(posted[i]);
          }
          ++keep;
        }
        requests.resize(keep);
        posted.resize(keep);
        {
          std::lock_guard lock(mu_);
          unsent_bytes_ -= freed;
        }
        done_.notify_all();
        busy = true;
      }
    }

    // The collective in progress.
    if (current != nullptr) {
      Collective& c = *current;
      bool finished = false;
      if (c.phase == 0) {
        switch (c.kind) {
          case Collective::Kind::kBarrier:
            MPI_Ibarrier(comm, &c.request);
            break;
          case Collective::Kind::kSum:
            MPI_Iallreduce(&c.in_value, &c.out_value, 1, MPI_UINT64_T, MPI_SUM, comm, &c.request);
            break;
          case Collective::Kind::kAllGather:
            c.in_value = c.in_bytes.size();
            c.sizes.assign(ranks_, 0);
            MPI_Iallgather(&c.in_value, 1, MPI_UINT64_T, c.sizes.data(), 1, MPI_UINT64_T, comm,
                           &c.request);
            break;
        }
        c.phase = 1;
        busy = true;
      } else {
        int flag = 0;
        MPI_Test(&c.request, &flag, MPI_STATUS_IGNORE);
        if (flag) {
          busy = true;
          if (c.kind != Collective::Kind::kAllGather) {
            finished = true;
          } else if (c.phase == 1) {
            // Every rank sees the same sizes, so every rank takes the same branch.
            uint64_t total = 0;
            for (uint64_t s : c.sizes) total += s;
            if (total > static_cast<uint64_t>(INT_MAX)) {
              c.status = Status::InvalidArgument("MPI: all-gather of more than 2 GiB");
              finished = true;
            } else {
              c.counts.resize(ranks_);
              c.displs.resize(ranks_);
              int at = 0;
              for (int r = 0; r < ranks_; ++r) {
                c.counts[r] = static_cast<int>(c.sizes[r]);
                c.displs[r] = at;
                at += c.counts[r];
              }
              c.gathered.resize(static_cast<size_t>(at));
              MPI_Iallgatherv(c.in_bytes.data(), static_cast<int>(c.in_bytes.size()), MPI_BYTE,
                              c.gathered.data(), c.counts.data(), c.displs.data(), MPI_BYTE, comm,
                              &c.request);
              c.phase = 2;
            }
          } else {
            c.out_bytes.resize(ranks_);
            for (int r = 0; r < ranks_; ++r) {
              c.out_bytes[r] = c.gathered.substr(c.displs[r], c.counts[r]);
            }
            std::string().swap(c.gathered);
            finished = true;
          }
        }
      }
      if (finished) {
        {
          std::lock_guard lock(mu_);
          c.done = true;
        }
        done_.notify_all();
        current = nullptr;
      }
    }

    {
      std::lock_guard lock(handlers_mu_);
      for (auto& [id, handler] : handlers_) handler->OnPoll();
    }

    if (stop && requests.empty() && current == nullptr) {
      std::lock_guard lock(mu_);
      if (outbox_.empty()) break;
      continue;
    }

    const Clock::time_point now = Clock::now();
    if (busy) {
      last_busy = now;
      sleeps = 0;
      continue;
    }
    const bool waited_on = current != nullptr || waiters_.load(std::memory_order_relaxed) > 0;
    const bool under_way = waited_on || !requests.empty();
    if (now - last_busy < (under_way ? busy_spin : kIdleSpin)) continue;
    // Back off: while a local thread is blocked on this one, 4, 8, 16 ...
    // microseconds up to the busy cap; otherwise straight to the cap.
    const int cap =
        waited_on && !oversubscribed ? std::min(max_idle_us, kBusySleepCapUs) : max_idle_us;
    const int micros = waited_on ? std::min(cap, 4 << std::min(sleeps++, 12)) : cap;
    std::unique_lock lock(mu_);
    if (!pending_wake_) {
      wake_.wait_for(lock, std::chrono::microseconds(micros), [&] { return pending_wake_; });
    }
  }

  MPI_Comm_free(&comm);
  MPI_Finalize();
}

Status MpiCluster::Handle(int source, std::string_view message) {
  const int store = PeekStoreId(message);
  if (store < 0) return Status::Corruption("a message too short for its header");
  std::lock_guard lock(handlers_mu_);
  auto it = handlers_.find(static_cast<uint16_t>(store));
  // A message for a store that is gone (a late progress report) is dropped.
  if (it == handlers_.end()) return Status::OK();
  return it->second->OnMessage(source, message);
}

std::unique_ptr<MpiCluster> MpiCluster::Detached(int rank, int ranks,
                                                 const ClusterOptions& options) {
  DD_CHECK(ranks >= 1 && rank >= 0 && rank < ranks);
  std::unique_ptr<MpiCluster> cluster(new MpiCluster(options));
  cluster->rank_ = rank;
  cluster->ranks_ = ranks;
  cluster->detached_ = true;
  return cluster;
}

Status MpiCluster::Deliver(int source, std::string_view message) {
  DD_CHECK(detached_ && source >= 0 && source < ranks_ && source != rank_);
  return Handle(source, message);
}

void MpiCluster::Send(int dest, std::string message) {
  DD_CHECK(dest >= 0 && dest < ranks_ && dest != rank_);
  const size_t size = message.size();
  bytes_sent_.fetch_add(size, std::memory_order_relaxed);
  if (detached_) return;  // Nobody to send to.
  {
    std::lock_guard lock(mu_);
    outbox_.emplace_back(dest, std::move(message));
    unsent_bytes_ += size;
  }
}

void MpiCluster::BeginWait() {
  waiters_.fetch_add(1, std::memory_order_relaxed);
  {
    std::lock_guard lock(mu_);
    pending_wake_ = true;
  }
  wake_.notify_one();
}

std::string MpiCluster::NewMessage(size_t bytes) {
  std::string buffer;
  if (bytes >= kPoolMinBytes) {
    std::lock_guard lock(pool_mu_);
    // The smallest pooled buffer that fits, else the largest (grown below).
    size_t best = pool_.size();
    for (size_t i = 0; i < pool_.size(); ++i) {
      const size_t capacity = pool_[i].capacity();
      if (best == pool_.size()) {
        best = i;
        continue;
      }
      const size_t best_capacity = pool_[best].capacity();
      const bool fits = capacity >= bytes, best_fits = best_capacity >= bytes;
      if (fits ? !best_fits || capacity < best_capacity : !best_fits && capacity > best_capacity) {
        best = i;
      }
    }
    if (best < pool_.size()) {
      buffer = std::move(pool_[best]);
      if (best + 1 < pool_.size()) pool_[best] = std::move(pool_.back());
      pool_.pop_back();
      pool_bytes_ -= buffer.capacity();
    }
  }
  buffer.clear();
  buffer.reserve(bytes);
  return buffer;
}

void MpiCluster::Recycle(std::string buffer) {
  const size_t capacity = buffer.capacity();
  if (capacity < kPoolMinBytes) return;
  std::lock_guard lock(pool_mu_);
  if (pool_.size() >= kPoolBuffers || pool_bytes_ + capacity > kPoolMaxBytes) return;
  pool_bytes_ += capacity;
  pool_.push_back(std::move(buffer));
}

void MpiCluster::WaitForSendsBelow(size_t bytes) {
  DD_CHECK(!OnCommThread());
  {
    std::lock_guard lock(mu_);
    if (unsent_bytes_ < bytes) return;
  }
  BeginWait();  // Sends are posted at once while a thread waits for them.
  {
    std::unique_lock lock(mu_);
    done_.wait(lock, [&] { return unsent_bytes_ < bytes; });
  }
  EndWait();
}

void MpiCluster::Register(uint16_t id, Handler* handler) {
  std::lock_guard lock(handlers_mu_);
  DD_CHECK(handlers_.count(id) == 0);
  handlers_[id] = handler;
}

void MpiCluster::Unregister(uint16_t id) {
  std::lock_guard lock(handlers_mu_);
  handlers_.erase(id);
}

Status MpiCluster::Run(Collective* collective) {
  if (detached_) return Status::Internal("a detached cluster has no collectives");
  DD_CHECK(!OnCommThread());
  std::unique_lock lock(mu_);
  collectives_.push_back(collective);
  pending_wake_ = true;
  wake_.notify_one();
  done_.wait(lock, [&] { return collective->done; });
  return collective->status;
}

Result<std::vector<std::string>> MpiCluster::AllGather(std::string_view bytes) {
  Collective c;
  c.kind = Collective::Kind::kAllGather;
  c.in_bytes = bytes;
  bytes_sent_.fetch_add(sizeof(uint64_t) + bytes.size(), std::memory_order_relaxed);
  DD_RETURN_IF_ERROR(Run(&c));
  return std::move(c.out_bytes);
}

Result<uint64_t> MpiCluster::Sum(uint64_t value) {
  Collective c;
  c.kind = Collective::Kind::kSum;
  c.in_value = value;
  bytes_sent_.fetch_add(sizeof(uint64_t), std::memory_order_relaxed);
  DD_RETURN_IF_ERROR(Run(&c));
  return c.out_value;
}

Status MpiCluster::Barrier() {
  Collective c;
  c.kind = Collective::Kind::kBarrier;
  return Run(&c);
}

void MpiCluster::Abort(int exit_code) {
  std::fflush(stdout);
  std::fflush(stderr);
  // The one MPI call made outside the communication thread: it ends the job.
  MPI_Abort(MPI_COMM_WORLD, exit_code);
  std::_Exit(exit_code);
}

std::unique_ptr<ParamStore> MpiCluster::MakeStore(Model model, std::unique_ptr<Descent> descent) {
  return MakeStore(std::move(model), std::move(descent), options_.wire);
}

std::unique_ptr<ParamStore> MpiCluster::MakeStore(Model model, std::unique_ptr<Descent> descent,
                                                  ClusterOptions::Wire wire) {
  auto store =
      std::make_unique<MpiStore>(this, NextStoreId(), std::move(model), std::move(descent), wire);
  // No rank sends to the store before every rank has registered it.
  if (!detached_) {
    const Status status = Barrier();
    DD_CHECK(status.ok());
  }
  return store;
}

}  // namespace deepdist
