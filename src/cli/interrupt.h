// SIGINT and SIGTERM while a command trains. The first stops the training
// cleanly: the scope sees the flag within about 100 ms (Options::interrupt),
// the workers stop at their next progress checkpoint, nothing is written,
// and the command exits 128 + the signal's number with one line on stderr.
// A second signal ends the process at once, as it would without deepdist.
#ifndef DEEPDIST_SRC_CLI_INTERRUPT_H_
#define DEEPDIST_SRC_CLI_INTERRUPT_H_

#include <atomic>
#include <string>

#include "deepdist/cluster.h"
#include "deepdist/status.h"

namespace deepdist::cli {

class Interrupts {
 public:
  // Installs the handlers; the destructor puts back the ones before.
  Interrupts();
  ~Interrupts();
  Interrupts(const Interrupts&) = delete;
  Interrupts& operator=(const Interrupts&) = delete;

  // Becomes true at the first SIGINT or SIGTERM.
  static const std::atomic<bool>* flag();
  // For a training that failed with `status`: when a signal stopped it,
  // prints "deepdist: interrupted by SIG...: <output>: not written" (or
  // "nothing written" without an output), with "; checkpoint in <path>"
  // when one was saved, or the error of the final checkpoint when that
  // failed; ends the job under MPI, and returns the exit code, 128 + the
  // signal's number; else returns 0. Under MPI rank 0 prints and ends the
  // job (another rank only when rank 0 has not within seconds), also when
  // the signal came to another rank and the ranks stopped together
  // (checkpoints: `status` is the interrupt's, "a signal to another rank",
  // exit code 143).
  static int Stop(Cluster& cluster, const std::string& output, const Status& status = Status::OK(),
                  const std::string& checkpoint = "");
  // After training finished and its output was written: when a signal came
  // meanwhile, prints "deepdist: interrupted by SIG...: <output> written;
  // the rest skipped" (evaluation, the summary), ends the job under MPI and
  // returns 128 + the signal's number; else returns 0.
  static int StopAfterOutput(Cluster& cluster, const std::string& output);
};

}  // namespace deepdist::cli

#endif  // DEEPDIST_SRC_CLI_INTERRUPT_H_
