// The run directory lock: one writer at a time, the holder named, the lock gone with its process.
#include "framework/results/run_lock.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "framework/core/error.h"
#include "framework/results/file_io.h"
#include "tests/results/scratch_dir.h"

namespace unisparse {
namespace {

namespace fs = std::filesystem;
using testing_support::ScratchDir;

std::string refusal_of(const std::string& dir) {
  try {
    RunLock::acquire(dir);
  } catch (const InputError& error) {
    return error.what();
  }
  ADD_FAILURE() << "the second acquire of " << dir << " was not refused";
  return {};
}

TEST(RunLock, ASecondWriterIsRefusedNamingTheHolder) {
  ScratchDir scratch;
  fs::create_directories(scratch.path());
  RunLock held = RunLock::acquire(scratch.path().string());
  const fs::path lock_file = scratch.path() / RunLock::kLockFile;
  ASSERT_TRUE(fs::exists(lock_file));
  EXPECT_NE(read_text_file(lock_file.string()).find("\"pid\":" + std::to_string(getpid())),
            std::string::npos);

  const std::string message = refusal_of(scratch.path().string());
  EXPECT_NE(message.find("pid " + std::to_string(getpid())), std::string::npos) << message;
  EXPECT_NE(message.find("on host "), std::string::npos) << message;
  EXPECT_NE(message.find(lock_file.string()), std::string::npos) << message;
  ASSERT_TRUE(RunLock::holder(scratch.path().string()).has_value());
  EXPECT_NE(RunLock::holder(scratch.path().string())->find("pid " + std::to_string(getpid())),
            std::string::npos);
}

TEST(RunLock, ReleaseRemovesTheFileAndFreesTheDirectory) {
  ScratchDir scratch;
  fs::create_directories(scratch.path());
  {
    RunLock held = RunLock::acquire(scratch.path().string());
    RunLock moved = std::move(held);  // the moved-from lock releases nothing
    EXPECT_TRUE(RunLock::holder(scratch.path().string()).has_value());
  }
  EXPECT_FALSE(fs::exists(scratch.path() / RunLock::kLockFile));
  EXPECT_FALSE(RunLock::holder(scratch.path().string()).has_value());
  RunLock again = RunLock::acquire(scratch.path().string());
  EXPECT_TRUE(fs::exists(scratch.path() / RunLock::kLockFile));
}

TEST(RunLock, AFileLeftByAKilledWriterHoldsNoLock) {
  ScratchDir scratch;
  fs::create_directories(scratch.path());
  std::ofstream(scratch.path() / RunLock::kLockFile)
      << R"({"pid":999999,"host":"gone","start_time_utc":"2026-01-01T00:00:00Z"})"
      << "\n";
  EXPECT_FALSE(RunLock::holder(scratch.path().string()).has_value());
  RunLock lock = RunLock::acquire(scratch.path().string());
  EXPECT_EQ(read_text_file((scratch.path() / RunLock::kLockFile).string()).find("999999"),
            std::string::npos);
}

// A process that dies holding the lock (no destructor, no release) leaves the directory free.
TEST(RunLock, TheLockEndsWithTheProcessThatHeldIt) {
  ScratchDir scratch;
  fs::create_directories(scratch.path());
  int locked[2], finish[2];
  ASSERT_EQ(pipe(locked), 0);
  ASSERT_EQ(pipe(finish), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    RunLock lock = RunLock::acquire(scratch.path().string());
    char byte = 'x';
    if (write(locked[1], &byte, 1) != 1) _exit(3);
    if (read(finish[0], &byte, 1) != 1) _exit(4);
    _exit(0);  // the lock is never released by the program
  }
  char byte = 0;
  ASSERT_EQ(read(locked[0], &byte, 1), 1);
  const std::string message = refusal_of(scratch.path().string());
  EXPECT_NE(message.find("pid " + std::to_string(child)), std::string::npos) << message;
  ASSERT_EQ(write(finish[1], &byte, 1), 1);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_TRUE(fs::exists(scratch.path() / RunLock::kLockFile));  // left behind, but not held
  EXPECT_FALSE(RunLock::holder(scratch.path().string()).has_value());
  EXPECT_NO_THROW(RunLock::acquire(scratch.path().string()));
  for (int fd : {locked[0], locked[1], finish[0], finish[1]}) close(fd);
}

}  // namespace
}  // namespace unisparse
