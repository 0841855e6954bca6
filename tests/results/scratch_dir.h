#pragma once
// A fresh folder per test under the system temp dir, removed afterwards. The folder itself is not
// created, so tests can check that code under test creates nothing before it should.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace unisparse::testing_support {

class ScratchDir {
 public:
  ScratchDir() {
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            ("unisparse_results_" + std::to_string(getpid()) + "_" + test->test_suite_name() + "_" +
             test->name());
    std::filesystem::remove_all(path_);
  }
  ~ScratchDir() { std::filesystem::remove_all(path_); }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace unisparse::testing_support
