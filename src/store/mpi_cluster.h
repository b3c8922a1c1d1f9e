// MpiCluster: the ranks of an MPI job, served by one communication thread.
//
// The communication thread initialises MPI itself (MPI_Init_thread asking for
// MPI_THREAD_FUNNELED), makes every MPI call of the process and finalises MPI
// when the cluster is destroyed; no other thread ever calls MPI, except Abort
// (MPI_Abort ends the process from any thread). Other threads hand it work:
//
//  - Send() queues a store message (point to point, on a duplicate of
//    MPI_COMM_WORLD) and returns at once; the thread posts it with MPI_Isend
//    at its next pass (within DEEPDIST_MPI_MAX_IDLE_US; at once while a
//    local thread waits on it: BeginWait).
//  - Incoming store messages are matched with MPI_Improbe and handed to the
//    Handler registered for the message's store id, on the communication
//    thread.
//  - The collectives (AllGather, Sum, Barrier) are queued, started in order as
//    MPI_Iallgather(v) / MPI_Iallreduce / MPI_Ibarrier and completed by
//    MPI_Test while the thread keeps serving messages; the caller blocks on a
//    condition variable meanwhile.
//
// The thread never busy-polls for long: once it has found nothing to do for
// 20 us (200 us while an exchange is under way: a posted send, a collective,
// replies awaited) it sleeps. While a local thread is blocked on it (a
// collective, a Wait on replies) it sleeps for growing spans from 4 us up to
// 50 us; otherwise for DEEPDIST_MPI_MAX_IDLE_US microseconds (1000 by
// default) at once, so that a rank's worker is not interrupted by wakes
// that find nothing to do. On a node with more ranks than hardware threads
// it never polls eagerly: 20 us, then sleeps up to the full cap. It wakes at
// once when a local thread starts to wait on it or queues a collective, not
// for an asynchronous Send. Remote messages are noticed at the next poll, so
// an idle rank answers within about that span, a busy one at once.
//
// MPI errors are fatal (MPI's default handler): a rank that dies or fails
// ends the whole job rather than leaving the others waiting.
//
// Thread safety: rank(), ranks(), bytes_sent(), Send(), Abort() from any
// thread; the collectives from one thread per rank at a time, never from the
// communication thread (a Handler must not call them).
#ifndef DEEPDIST_SRC_STORE_MPI_CLUSTER_H_
#define DEEPDIST_SRC_STORE_MPI_CLUSTER_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "deepdist/cluster.h"

namespace deepdist {

class MpiCluster : public Cluster {
 public:
  // Receives the messages of one store, on the communication thread.
  class Handler {
   public:
    virtual ~Handler() = default;
    // A message the handler cannot read (damaged, or not for this rank)
    // is an error naming what is wrong; the cluster ends the job with it.
    [[nodiscard]] virtual Status OnMessage(int source, std::string_view message) = 0;
    // Called on every pass of the communication thread (for timers); must be
    // cheap.
    virtual void OnPoll() {}
  };

  // Starts the communication thread, which initialises MPI. Call once per
  // process, only when launched by MPI.
  [[nodiscard]] static Result<std::unique_ptr<MpiCluster>> Create(const ClusterOptions& options);
  // Rank `rank` of `ranks` without MPI and without a communication thread,
  // for driving a store's message handlers directly (Deliver): what the
  // store sends is counted and dropped, and the collectives fail.
  static std::unique_ptr<MpiCluster> Detached(int rank, int ranks, const ClusterOptions& options);
  // Hands `message` from rank `source` to the handler of its store, as the
  // communication thread does with what it receives: the handler's error,
  // or OK (also for a store that is gone). On a Detached cluster only.
  [[nodiscard]] Status Deliver(int source, std::string_view message);
  // Stops the communication thread after it has finished posted sends; it
  // finalises MPI. Every store made from this cluster must be gone.
  ~MpiCluster() override;

  int rank() const override { return rank_; }
  int ranks() const override { return ranks_; }
  Result<std::vector<std::string>> AllGather(std::string_view bytes) override;
  Result<uint64_t> Sum(uint64_t value) override;
  Status Barrier() override;
  [[noreturn]] void Abort(int exit_code) override;
  uint64_t bytes_sent() const override { return bytes_sent_.load(std::memory_order_relaxed); }

  // A collective: every rank calls it in the same order with the same model.
  // The store uses the cluster's wire (ClusterOptions::wire).
  std::unique_ptr<ParamStore> MakeStore(Model model, std::unique_ptr<Descent> descent) override;
  // The same with the wire given here.
  std::unique_ptr<ParamStore> MakeStore(Model model, std::unique_ptr<Descent> descent,
                                        ClusterOptions::Wire wire);

  // Queues `message` for rank `dest` (never this rank). Thread-safe; never
  // blocks.
  void Send(int dest, std::string message);
  // An empty string with room for `bytes`, for a message to Send: the buffer
  // of a completed send when one is pooled. Messages run to megabytes, and a
  // fresh buffer that large is fresh memory the kernel must fault in and zero
  // page by page; a pooled one is already mapped. Thread-safe.
  std::string NewMessage(size_t bytes);
  // Blocks until fewer than `bytes` of queued and posted messages are waiting
  // to complete (flow control for bulk transfers).
  void WaitForSendsBelow(size_t bytes);
  // A worker of this rank starts or ends waiting for a reply: while one
  // waits the thread polls eagerly (and starts at once). Replies nobody
  // waits for yet (a prefetch) do not make it poll eagerly, since on a node
  // with as many ranks as cores eager polling takes CPU from the workers.
  // Callable under the caller's own locks: the cluster's lock, taken here,
  // is never held while calling out.
  void BeginWait();
  void EndWait() { waiters_.fetch_sub(1, std::memory_order_relaxed); }
  // A new store id; every rank draws them in the same order.
  uint16_t NextStoreId() { return next_store_id_++; }
  // Routes messages of store `id` to `handler` (until Unregister, which
  // returns only when the communication thread is out of the handler).
  void Register(uint16_t id, Handler* handler);
  void Unregister(uint16_t id);
  // True on the communication thread.
  bool OnCommThread() const { return std::this_thread::get_id() == thread_.get_id(); }

 private:
  struct Collective;
  struct State;

  explicit MpiCluster(const ClusterOptions& options);
  Status Run(Collective* collective);
  // Routes a received message to its store's handler.
  Status Handle(int source, std::string_view message);
  void Main();

  ClusterOptions options_;
  int rank_ = 0;
  int ranks_ = 1;
  std::atomic<uint64_t> bytes_sent_{0};
  std::atomic<int> waiters_{0};
  uint16_t next_store_id_ = 0;
  bool detached_ = false;  // Detached(): no MPI, no thread.
  std::thread thread_;

  std::mutex mu_;                 // Guards what follows.
  std::condition_variable wake_;  // The communication thread waits here when idle.
  std::condition_variable done_;  // Callers wait here (collectives, flow control).
  bool started_ = false;
  Status start_status_;
  bool stop_ = false;
  bool pending_wake_ = false;
  std::deque<std::pair<int, std::string>> outbox_;
  size_t unsent_bytes_ = 0;  // Queued or posted, not yet completed.
  std::deque<Collective*> collectives_;

  // Returns the buffer of a completed send to the pool (or frees it).
  void Recycle(std::string buffer);

  std::mutex pool_mu_;             // Guards what follows.
  std::vector<std::string> pool_;  // Buffers of completed sends, kept for reuse.
  size_t pool_bytes_ = 0;          // Their capacities, summed.

  std::mutex handlers_mu_;  // Held while a handler runs.
  std::map<uint16_t, Handler*> handlers_;
};

}  // namespace deepdist

#endif  // DEEPDIST_SRC_STORE_MPI_CLUSTER_H_
