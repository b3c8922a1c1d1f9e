#include "src/monitor/progress.h"

#include <unistd.h>

#include <cmath>

namespace deepdist {

ProgressLine::ProgressLine(std::FILE* out, bool enabled)
    : out_(out), enabled_(enabled), tty_(isatty(fileno(out)) != 0) {}

std::string ProgressLine::Format(double fraction, uint64_t words, double seconds,
                                 double learning_rate, double loss) {
  const double rate = seconds > 0 ? static_cast<double>(words) / seconds : 0.0;
  const double eta = fraction > 1e-6 ? seconds * (1.0 - fraction) / fraction : 0.0;
  const long eta_s = std::lround(eta);
  char buf[160];
  std::snprintf(buf, sizeof(buf), "%6.1f%%  words/s %.1fk  lr %.6f  loss %.4f  eta %ld:%02ld:%02ld",
                100.0 * fraction, rate / 1000.0, learning_rate, loss, eta_s / 3600,
                (eta_s / 60) % 60, eta_s % 60);
  return buf;
}

void ProgressLine::Update(double fraction, uint64_t words, double seconds, double learning_rate,
                          double loss) {
  if (!enabled_) return;
  const double interval = tty_ ? 0.2 : 5.0;
  if (seconds - last_report_ < interval) return;
  last_report_ = seconds;
  const std::string text = Format(fraction, words, seconds, learning_rate, loss);
  if (tty_) {
    std::fprintf(out_, "\r%s\x1b[K", text.c_str());
    drawn_ = true;
  } else {
    std::fprintf(out_, "%s\n", text.c_str());
  }
  std::fflush(out_);
}

void ProgressLine::Finish() {
  if (enabled_ && tty_ && drawn_) {
    std::fputc('\n', out_);
    std::fflush(out_);
  }
  drawn_ = false;
}

}  // namespace deepdist
