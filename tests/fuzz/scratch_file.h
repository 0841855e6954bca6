#pragma once
// The file a fuzz target rewrites with every input: the readers under test take paths, not bytes.
// It lives in a folder of its own per process under the system temp dir, so several fuzzers (or
// libFuzzer's -jobs workers) never share one; the folder is removed when the process exits
// normally.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace unisparse::fuzzing {

inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    const std::filesystem::path path =
        std::filesystem::temp_directory_path() / ("unisparse_fuzz_" + std::to_string(getpid()));
    std::filesystem::create_directories(path);
    return path;
  }();
  static const struct Remover {
    ~Remover() {
      std::error_code ignored;
      std::filesystem::remove_all(dir, ignored);
    }
  } remover;
  return dir;
}

// Replaces the file's content; aborts when it cannot be written, since every later verdict would be
// about a stale file.
inline void write_file(const std::filesystem::path& path, std::string_view content) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  out.close();
  if (!out) std::abort();
}

}  // namespace unisparse::fuzzing
