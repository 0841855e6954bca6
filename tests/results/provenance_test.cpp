#include "framework/results/provenance.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <regex>

#include "framework/results/version.h"
#include "tests/results/scratch_dir.h"

namespace unisparse {
namespace {

namespace fs = std::filesystem;
using testing_support::ScratchDir;

bool git_available() { return std::system("git --version >/dev/null 2>&1") == 0; }

int run_in(const fs::path& folder, const std::string& command) {
  std::string quoted_folder = "'";
  for (char c : folder.string()) {
    if (c == '\'') {
      quoted_folder += "'\\''";
    } else {
      quoted_folder += c;
    }
  }
  quoted_folder += "'";
  return std::system(("cd " + quoted_folder + " && " + command + " >/dev/null 2>&1").c_str());
}

TEST(GitProvenance, UnknownOutsideACheckout) {
  ScratchDir scratch;
  fs::create_directories(scratch.path());
  const nlohmann::json git = git_provenance(scratch.path().string());
  EXPECT_EQ(git["sha"], "unknown");
  EXPECT_TRUE(git["dirty"].is_null());
  EXPECT_EQ(git_provenance((scratch.path() / "missing").string())["sha"], "unknown");
}

TEST(GitProvenance, ShaAndDirtyFlagOfACheckout) {
  if (!git_available()) GTEST_SKIP() << "git is not installed";
  ScratchDir scratch;
  // A quote in the folder name checks that the path reaches git intact.
  const fs::path repo = scratch.path() / "it's a repo";
  fs::create_directories(repo);
  std::ofstream(repo / "tracked.txt") << "one\n";
  const std::string git = "git -c user.name=unisparse -c user.email=unisparse@localhost ";
  ASSERT_EQ(run_in(repo, "git init -q . && git add tracked.txt && " + git + "commit -qm initial"),
            0);

  nlohmann::json clean = git_provenance(repo.string());
  EXPECT_TRUE(std::regex_match(clean["sha"].get<std::string>(), std::regex("[0-9a-f]{40}")))
      << clean.dump();
  EXPECT_EQ(clean["dirty"], false);

  std::ofstream(repo / "untracked.txt") << "build output\n";
  EXPECT_EQ(git_provenance(repo.string())["dirty"], false);

  std::ofstream(repo / "tracked.txt") << "two\n";
  const nlohmann::json dirty = git_provenance(repo.string());
  EXPECT_EQ(dirty["sha"], clean["sha"]);
  EXPECT_EQ(dirty["dirty"], true);
}

TEST(Provenance, TimesAreUtcInTheirFormats) {
  EXPECT_TRUE(
      std::regex_match(utc_now_iso8601(), std::regex(R"(20\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ)")));
  EXPECT_TRUE(std::regex_match(utc_now_run_id(), std::regex(R"(20\d\d\d\d\d\d-\d{6})")));
}

TEST(Provenance, RunMetaCarriesEveryBlock) {
  ScratchDir scratch;
  const nlohmann::json device = {{"name", "NVIDIA H200"}, {"sm_count", 132}};
  const nlohmann::json meta =
      run_meta({"unisparse", "run", "sweeps/quick.yaml"}, scratch.path().string(), device);
  EXPECT_EQ(meta["schema_version"], kResultsSchemaVersion);
  EXPECT_EQ(meta["unisparse_version"], "0.1.0");
  EXPECT_EQ(meta["argv"][2], "sweeps/quick.yaml");
  EXPECT_EQ(meta["device"], device);
  EXPECT_EQ(meta["git"]["sha"], "unknown");
  EXPECT_FALSE(meta["host"]["name"].get<std::string>().empty());
  EXPECT_GE(meta["host"]["cpus"].get<int>(), 1);
  EXPECT_TRUE(meta["start_time_utc"].is_string());
  EXPECT_FALSE(fs::exists(scratch.path()));  // provenance writes nothing
}

}  // namespace
}  // namespace unisparse
