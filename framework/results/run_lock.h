#pragma once
// The lock a process holds on a run (or shard) directory while it writes it: flock(2) on
// <dir>/.lock, so the lock ends with the process, also on a crash or a kill. The file names the
// holder (host, pid, start time, Slurm job), so a refused writer can say who has the directory.
// On a clean release the file is removed; a file left by a killed writer holds no lock.
#include <optional>
#include <string>

namespace unisparse {

class RunLock {
 public:
  static constexpr const char* kLockFile = ".lock";

  // Locks dir (which must exist). Another holder, in this process or another one, on this host or
  // another one sharing the file system, is an InputError naming it and the lock file.
  static RunLock acquire(const std::string& dir);

  // Who holds the lock on dir ("pid 123 on host node7 since ..."), or nothing when it is free.
  // Takes and drops the lock to find out, so a holder that died is not reported.
  static std::optional<std::string> holder(const std::string& dir);

  RunLock(RunLock&& other) noexcept;
  RunLock& operator=(RunLock&& other) noexcept;
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;
  ~RunLock();

  void release();

 private:
  RunLock(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_ = -1;
  std::string path_;
};

}  // namespace unisparse
