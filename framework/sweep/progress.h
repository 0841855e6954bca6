#pragma once
// Sweep progress on stderr: a redrawn bar with ETA on a terminal, plain lines otherwise (logs, CI).
#include <chrono>
#include <string>

namespace unisparse {

class Progress {
 public:
  Progress(int total, bool quiet);
  // Called after each finished (point, backend); `what` is e.g. "point 12 cuda ok".
  void step(const std::string& what);
  void finish();

 private:
  std::string eta_text() const;
  int total_;
  int done_ = 0;
  bool quiet_;
  bool terminal_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_line_;
};

}  // namespace unisparse
