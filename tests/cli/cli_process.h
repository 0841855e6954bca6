#pragma once
// Running the unisparse binary from a test: in the foreground (exit code, stdout, stderr) or in the
// background (its pid, for a test that needs two processes at once).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

namespace unisparse::testing_support {

struct CliResult {
  int exit_code;
  std::string out;
  std::string err;
};

inline std::string file_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// arguments: the shell words after the binary.
inline CliResult run_cli(const std::string& arguments, const std::filesystem::path& scratch) {
  const std::filesystem::path err_file = scratch / "stderr.txt";
  const std::string command =
      std::string(UNISPARSE_CLI) + " " + arguments + " 2>" + err_file.string();
  FILE* pipe = popen(command.c_str(), "r");
  std::string out;
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out, file_text(err_file)};
}

// Starts the binary with these arguments, stdout and stderr to log; returns its pid.
inline pid_t start_cli(const std::vector<std::string>& arguments,
                       const std::filesystem::path& log) {
  std::vector<std::string> words{UNISPARSE_CLI};
  words.insert(words.end(), arguments.begin(), arguments.end());
  std::vector<char*> argv;
  for (std::string& word : words) argv.push_back(word.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = -1;
  const int error = posix_spawn(&pid, UNISPARSE_CLI, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  EXPECT_EQ(error, 0) << "cannot start " << UNISPARSE_CLI;
  return pid;
}

inline int wait_exit_code(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace unisparse::testing_support
