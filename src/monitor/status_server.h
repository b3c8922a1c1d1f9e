// StatusServer: a training run's live status over HTTP, read-only, from
// rank 0 (the CLI's --status-port):
//
//   GET /status   JSON: progress, the work done and its rate (word2vec:
//                 words, words_per_second; the gradient forms, mlp and
//                 logreg: partitions, partitions_per_second), unit (which of
//                 the two), learning_rate, loss, updates, staleness (per
//                 worker), seconds, ranks, bytes_sent, and history (progress
//                 and loss about every second so far)
//   GET /metrics  the same figures in Prometheus's text format
//   GET /         a page that shows progress and loss over time, refreshing
//                 itself from /status
//
// Any other path is 404 and any other method 405: nothing can be changed.
// HTTP comes from cpp-httplib, served from a thread of its own; Update is
// called by the training's progress callback. Thread-safe.
#ifndef DEEPDIST_SRC_MONITOR_STATUS_SERVER_H_
#define DEEPDIST_SRC_MONITOR_STATUS_SERVER_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "deepdist/status.h"

namespace httplib {
class Server;
}

namespace deepdist {

// What a run counts its work in.
struct StatusUnit {
  std::string name = "words";  // The JSON key; name + "_per_second" is its rate.
  std::string help = "Corpus words read so far (rank 0's count times the ranks).";
  std::string loss_help = "Mean loss per pair lately.";
};

struct StatusSample {
  double seconds = 0;   // Since training started.
  double progress = 0;  // 0..1 of the planned work.
  uint64_t done = 0;    // Work done so far, in the server's unit.
  double per_second = 0;
  double learning_rate = 0;
  double loss = 0;
  uint64_t bytes_sent = 0;  // Payload bytes this rank handed to MPI.
  // DeepDist::activity() of rank 0's scope: updates pushed by its workers,
  // and each worker's staleness (in updates) at its last push.
  uint64_t updates = 0;
  std::vector<uint64_t> staleness;
};

class StatusServer {
 public:
  // Listens on `bind`:`port` (port 0: a free port, see port()) and serves
  // until destroyed. An error names the address when it cannot listen.
  [[nodiscard]] static Result<std::unique_ptr<StatusServer>> Start(const std::string& bind,
                                                                   int port, int ranks,
                                                                   StatusUnit unit = {});
  ~StatusServer();
  StatusServer(const StatusServer&) = delete;
  StatusServer& operator=(const StatusServer&) = delete;

  int port() const { return port_; }
  void Update(const StatusSample& sample);

  // The bodies of the three pages, as served.
  std::string StatusJson() const;
  std::string Metrics() const;
  static const char* Page();

 private:
  StatusServer(int ranks, StatusUnit unit);

  const int ranks_;
  const StatusUnit unit_;
  int port_ = 0;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  mutable std::mutex mu_;
  StatusSample last_;
  std::vector<StatusSample> history_;  // About one a second.
};

}  // namespace deepdist

#endif  // DEEPDIST_SRC_MONITOR_STATUS_SERVER_H_
