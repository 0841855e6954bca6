#include "framework/sweep/progress.h"

#include <unistd.h>

#include <cstdio>

namespace unisparse {

namespace {
std::string format_seconds(double seconds) {
  char text[32];
  if (seconds < 90)
    std::snprintf(text, sizeof text, "%.0fs", seconds);
  else if (seconds < 5400)
    std::snprintf(text, sizeof text, "%.0fm%02.0fs", seconds / 60 - 0.5, seconds - 60 * int(seconds / 60));
  else
    std::snprintf(text, sizeof text, "%.1fh", seconds / 3600);
  return text;
}
}  // namespace

Progress::Progress(int total, bool quiet)
    : total_(total), quiet_(quiet), terminal_(isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()), last_line_(start_) {}

std::string Progress::eta_text() const {
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double eta = done_ > 0 ? elapsed / done_ * (total_ - done_) : 0.0;
  return "elapsed " + format_seconds(elapsed) + ", ETA " + format_seconds(eta);
}

void Progress::step(const std::string& what) {
  ++done_;
  if (quiet_) return;
  if (terminal_) {
    constexpr int kWidth = 30;
    const int filled = total_ > 0 ? kWidth * done_ / total_ : kWidth;
    std::string bar(filled, '#');
    bar.resize(kWidth, '.');
    std::fprintf(stderr, "\r[%s] %d/%d %s | %-40.40s", bar.c_str(), done_, total_,
                 eta_text().c_str(), what.c_str());
    std::fflush(stderr);
    return;
  }
  std::fprintf(stderr, "[%d/%d] %s (%s)\n", done_, total_, what.c_str(), eta_text().c_str());
}

void Progress::finish() {
  if (!quiet_ && terminal_) std::fprintf(stderr, "\n");
}

}  // namespace unisparse
