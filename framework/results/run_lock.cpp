#include "framework/results/run_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "framework/core/error.h"
#include "framework/results/provenance.h"

namespace unisparse {

namespace {

std::string lock_path(const std::string& dir) {
  return (std::filesystem::path(dir) / RunLock::kLockFile).string();
}

std::runtime_error system_error(const std::string& what, const std::string& path) {
  return std::runtime_error(what + " " + path + ": " + std::strerror(errno));
}

// What the holder wrote into the lock file: one JSON object.
std::string holder_record() {
  nlohmann::json record = {{"pid", static_cast<long>(getpid())},
                           {"host", host_provenance()["name"]},
                           {"start_time_utc", utc_now_iso8601()}};
  if (const char* job = std::getenv("SLURM_JOB_ID"); job && *job) record["slurm_job_id"] = job;
  return record.dump() + "\n";
}

std::string describe_holder(const std::string& record_text) {
  const nlohmann::json record = nlohmann::json::parse(record_text, nullptr, false);
  if (!record.is_object() || !record.contains("pid")) return "a writer that is just starting";
  std::string text = "pid " + record["pid"].dump() + " on host " + record.value("host", "?") +
                     " since " + record.value("start_time_utc", "?");
  if (record.contains("slurm_job_id"))
    text += " (Slurm job " + record["slurm_job_id"].get<std::string>() + ")";
  return text;
}

std::string read_all(int fd) {
  std::string text;
  char buffer[1024];
  for (off_t offset = 0;;) {
    const ssize_t count = pread(fd, buffer, sizeof buffer, offset);
    if (count <= 0) break;
    text.append(buffer, static_cast<size_t>(count));
    offset += count;
  }
  return text;
}

// Whether fd is still the file at path: a holder removes the file as it releases it, and a process
// that opened the old file before that must not count the lock it then gets.
bool is_file_at(int fd, const std::string& path) {
  struct stat opened {
  }, current{};
  if (fstat(fd, &opened) != 0 || stat(path.c_str(), &current) != 0) return false;
  return opened.st_dev == current.st_dev && opened.st_ino == current.st_ino;
}

}  // namespace

RunLock RunLock::acquire(const std::string& dir) {
  const std::string path = lock_path(dir);
  while (true) {
    const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) throw system_error("cannot open the lock file", path);
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int error = errno;
      const std::string record = read_all(fd);
      close(fd);
      if (error == EWOULDBLOCK)
        throw InputError(dir + " is being written by " + describe_holder(record) + " (lock file " +
                         path + "); wait for it to end or stop it");
      errno = error;
      throw system_error("cannot lock", path);
    }
    if (!is_file_at(fd, path)) {
      close(fd);
      continue;
    }
    const std::string record = holder_record();
    if (ftruncate(fd, 0) != 0 ||
        pwrite(fd, record.data(), record.size(), 0) != static_cast<ssize_t>(record.size())) {
      close(fd);
      throw system_error("cannot write", path);
    }
    return RunLock(fd, path);
  }
}

std::optional<std::string> RunLock::holder(const std::string& dir) {
  const std::string path = lock_path(dir);
  const int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    throw system_error("cannot open the lock file", path);
  }
  std::optional<std::string> holder;
  if (flock(fd, LOCK_EX | LOCK_NB) == 0)
    flock(fd, LOCK_UN);
  else
    holder = describe_holder(read_all(fd));
  close(fd);
  return holder;
}

RunLock::RunLock(RunLock&& other) noexcept : fd_(other.fd_), path_(std::move(other.path_)) {
  other.fd_ = -1;
}

RunLock& RunLock::operator=(RunLock&& other) noexcept {
  if (this != &other) {
    release();
    fd_ = other.fd_;
    path_ = std::move(other.path_);
    other.fd_ = -1;
  }
  return *this;
}

RunLock::~RunLock() { release(); }

void RunLock::release() {
  if (fd_ < 0) return;
  unlink(path_.c_str());  // while still locked: see is_file_at
  close(fd_);
  fd_ = -1;
}

}  // namespace unisparse
