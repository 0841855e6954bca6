// What a resume must match before it touches a run: the lock and the resolved config.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "framework/core/error.h"
#include "framework/results/file_io.h"
#include "framework/results/run_writer.h"
#include "tests/results/scratch_dir.h"

namespace unisparse {
namespace {

namespace fs = std::filesystem;
using testing_support::ScratchDir;

const char* kConfig = R"(name: odd_sizes
model: tiny
backends: [cpu]
fixed:
  context_len: 4096
  decode_steps: 16
axes:
  page_size: [7, 63]
timing:
  warmup: 1
)";

Row row_for(const std::string& point_id) {
  Row row;
  row["point_id"] = point_id;
  row["status"] = "ok";
  row[kPointKeyColumn] = make_point_key(point_id, "cpu");
  return row;
}

std::string with(std::string text, const std::string& old, const std::string& now) {
  text.replace(text.find(old), old.size(), now);
  return text;
}

// The run's files, to show that a refused resume changed none of them.
std::string snapshot(const std::string& dir) {
  std::string text;
  for (const char* name : {"config.yaml", "meta.json", "points.jsonl", "points.csv"})
    text += read_text_file((fs::path(dir) / name).string()) + "\n--\n";
  return text;
}

std::string finished_run(const ScratchDir& scratch) {
  RunWriter writer = RunWriter::create(scratch.path().string(), "odd_sizes", "r1", kConfig, {});
  writer.append(row_for("0"));
  writer.finish();
  return writer.dir();
}

std::string resume_error(const std::string& dir, const std::string& config) {
  try {
    RunWriter::resume(dir, config);
  } catch (const InputError& error) {
    return error.what();
  }
  ADD_FAILURE() << "the resume was not refused";
  return {};
}

TEST(ConfigDifferences, NamesChangedAddedAndRemovedKeysWithBothValues) {
  std::string other = with(kConfig, "context_len: 4096", "context_len: 8192");
  other = with(other, "backends: [cpu]", "backends: [cpu, cuda]");
  other = with(other, "  decode_steps: 16\n", "");
  other = with(other, "  page_size: [7, 63]\n", "  page_size: [7, 63]\n  batch: [1, 2]\n");
  const auto differences = config_differences(kConfig, other);
  ASSERT_EQ(differences.size(), 4u);
  EXPECT_EQ(differences[0].key, "backends");
  EXPECT_EQ(differences[0].first, "[cpu]");
  EXPECT_EQ(differences[0].second, "[cpu, cuda]");
  EXPECT_EQ(differences[1].key, "fixed.context_len");
  EXPECT_EQ(differences[2].key, "fixed.decode_steps");
  EXPECT_EQ(differences[2].second, "");
  EXPECT_EQ(differences[3].key, "axes.batch");
  EXPECT_EQ(differences[3].first, "");
  EXPECT_EQ(describe_differences({differences[1], differences[2]}),
            "fixed.context_len: 4096 in the run, 8192 now; fixed.decode_steps: 16 in the run, "
            "absent now");
  EXPECT_TRUE(config_differences(kConfig, kConfig).empty());
  // The same values written another way are the same config.
  EXPECT_TRUE(config_differences(kConfig, with(kConfig, "[7, 63]", "\n    - 7\n    - 63")).empty());
  EXPECT_THROW(config_differences(kConfig, "axes: [unclosed", "the run", "shard 1/2"), InputError);
}

TEST(RunWriterResume, AnotherConfigIsRefusedNamingTheKeysAndNothingChanges) {
  ScratchDir scratch;
  const std::string dir = finished_run(scratch);
  const std::string before = snapshot(dir);
  const std::string message =
      resume_error(dir, with(kConfig, "page_size: [7, 63]", "page_size: [7, 64]"));
  EXPECT_NE(message.find("axes.page_size: [7, 63] in the run, [7, 64] in this resume"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find(dir + "/config.yaml"), std::string::npos) << message;
  EXPECT_EQ(snapshot(dir), before);
  EXPECT_FALSE(fs::exists(fs::path(dir) / ".lock"));
}

TEST(RunWriterResume, ASecondWriterOfTheRunIsRefusedAndNothingChanges) {
  ScratchDir scratch;
  RunWriter writer = RunWriter::create(scratch.path().string(), "odd_sizes", "r1", kConfig, {});
  writer.append(row_for("0"));
  const std::string before = snapshot(writer.dir());
  const std::string message = resume_error(writer.dir(), kConfig);
  EXPECT_NE(message.find("is being written by pid " + std::to_string(getpid())), std::string::npos)
      << message;
  EXPECT_EQ(snapshot(writer.dir()), before);
  writer.append(row_for("1"));  // the holder goes on undisturbed
  EXPECT_EQ(writer.num_points(), 2u);
}

TEST(RunWriterResume, TheResumeRecordCarriesTheCallersProvenance) {
  ScratchDir scratch;
  const std::string dir = finished_run(scratch);
  {
    RunWriter resumed = RunWriter::resume(
        dir, kConfig,
        {{"argv", {"unisparse", "run", "--resume", dir}}, {"slurm", {{"SLURM_JOB_ID", "17"}}}});
    EXPECT_TRUE(fs::exists(fs::path(dir) / ".lock"));
  }
  const auto meta = nlohmann::json::parse(read_text_file((fs::path(dir) / "meta.json").string()));
  ASSERT_EQ(meta["resumes"].size(), 1u);
  EXPECT_EQ(meta["resumes"][0]["points_kept"], 1);
  EXPECT_EQ(meta["resumes"][0]["argv"][2], "--resume");
  EXPECT_EQ(meta["resumes"][0]["slurm"]["SLURM_JOB_ID"], "17");
  EXPECT_FALSE(fs::exists(fs::path(dir) / ".lock"));
}

TEST(RunWriterCreateAt, MakesTheFolderAndItsParentsAndRefusesAnExistingOne) {
  ScratchDir scratch;
  const std::string dir = (scratch.path() / "quick" / "r1" / "shards" / "0-of-2").string();
  {
    RunWriter writer = RunWriter::create_at(dir, "quick", "r1", kConfig, {{"shard", 0}});
    EXPECT_EQ(writer.dir(), dir);
  }
  const auto meta = nlohmann::json::parse(read_text_file(dir + "/meta.json"));
  EXPECT_EQ(meta["run_id"], "r1");
  EXPECT_EQ(meta["shard"], 0);
  EXPECT_EQ(read_text_file(dir + "/config.yaml"), kConfig);
  EXPECT_THROW(RunWriter::create_at(dir, "quick", "r1", kConfig, {}), InputError);
}

}  // namespace
}  // namespace unisparse
