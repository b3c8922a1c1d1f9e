// ProgressLine: the training progress line on stderr.
//
// "  42.1%  words/s 312.5k  lr 0.014521  loss 2.3451  eta 0:00:31"
// On a terminal the line is redrawn in place about five times a second;
// otherwise (a log file, CI) a new line is written every few seconds. Not
// thread-safe: one thread reports.
#ifndef DEEPDIST_SRC_MONITOR_PROGRESS_H_
#define DEEPDIST_SRC_MONITOR_PROGRESS_H_

#include <cstdint>
#include <cstdio>
#include <string>

namespace deepdist {

class ProgressLine {
 public:
  explicit ProgressLine(std::FILE* out, bool enabled = true);

  // fraction 0..1; words read so far; seconds since the start.
  void Update(double fraction, uint64_t words, double seconds, double learning_rate, double loss);
  // Ends the line (on a terminal) so later output starts clean.
  void Finish();

  // The text of one report, without line control characters.
  static std::string Format(double fraction, uint64_t words, double seconds, double learning_rate,
                            double loss);

 private:
  std::FILE* out_;
  bool enabled_;
  bool tty_;
  double last_report_ = -1e9;
  bool drawn_ = false;
};

}  // namespace deepdist

#endif  // DEEPDIST_SRC_MONITOR_PROGRESS_H_
