#include "src/cli/interrupt.h"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <thread>

#include "deepdist/deepdist.h"

namespace deepdist::cli {
namespace {

// Written by the handler: a lock-free atomic and a sig_atomic_t, the only
// kinds of object a handler may touch.
std::atomic<bool> g_flag{false};
volatile std::sig_atomic_t g_signal = 0;
static_assert(std::atomic<bool>::is_always_lock_free);

struct sigaction g_previous_int;
struct sigaction g_previous_term;

extern "C" void OnSignal(int signo) {
  if (g_signal == 0) g_signal = signo;
  g_flag.store(true, std::memory_order_relaxed);
  // The next one takes the default action: a second Ctrl-C ends at once.
  std::signal(signo, SIG_DFL);
}

}  // namespace

Interrupts::Interrupts() {
  struct sigaction action = {};
  action.sa_handler = OnSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGINT, &action, &g_previous_int);
  sigaction(SIGTERM, &action, &g_previous_term);
}

Interrupts::~Interrupts() {
  sigaction(SIGINT, &g_previous_int, nullptr);
  sigaction(SIGTERM, &g_previous_term, nullptr);
}

const std::atomic<bool>* Interrupts::flag() { return &g_flag; }

int Interrupts::Stop(Cluster& cluster, const std::string& output, const Status& status,
                     const std::string& checkpoint) {
  int signo = g_signal;
  const bool distributed = cluster.ranks() > 1;
  // Under MPI with checkpoints a signal on one rank stops them all (the
  // engine's vote): the others end with the interrupt's status and no signal.
  const bool by_another = signo == 0 && distributed && status.message() == kInterrupted;
  if (signo == 0 && !by_another) return 0;
  if (distributed && cluster.rank() != 0) {
    // Rank 0 says it once and ends the job; this rank speaks for itself only
    // when that has not happened within a few seconds (the signal reached
    // this rank alone, and rank 0 trains on).
    std::this_thread::sleep_for(std::chrono::seconds(5));
  }
  const char* name = by_another        ? "a signal to another rank"
                     : signo == SIGINT ? "SIGINT"
                                       : "SIGTERM";
  if (by_another) signo = SIGTERM;
  std::string what = output.empty() ? "nothing written" : output + ": not written";
  if (!status.ok() && status.message() != kInterrupted) {
    what += "; the final checkpoint failed: " + status.message();
  } else if (!checkpoint.empty()) {
    what += "; checkpoint in " + checkpoint;
  }
  std::fprintf(stderr, "deepdist: interrupted by %s: %s\n", name, what.c_str());
  std::fflush(stderr);
  const int code = 128 + signo;
  if (distributed) cluster.Abort(code);
  return code;
}

int Interrupts::StopAfterOutput(Cluster& cluster, const std::string& output) {
  const int signo = g_signal;
  if (signo == 0) return 0;
  const std::string what = output.empty() ? "training done" : output + " written";
  std::fprintf(stderr, "deepdist: interrupted by %s: %s; the rest skipped\n",
               signo == SIGINT ? "SIGINT" : "SIGTERM", what.c_str());
  std::fflush(stderr);
  const int code = 128 + signo;
  if (cluster.ranks() > 1) cluster.Abort(code);
  return code;
}

}  // namespace deepdist::cli
