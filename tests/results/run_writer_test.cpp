#include "framework/results/run_writer.h"

#include <gtest/gtest.h>

#include <fstream>
#include <limits>
#include <regex>
#include <set>

#include "framework/core/error.h"
#include "framework/results/csv.h"
#include "framework/results/file_io.h"
#include "framework/results/points_file.h"
#include "framework/results/provenance.h"
#include "tests/results/csv_reader.h"
#include "tests/results/scratch_dir.h"

namespace unisparse {
namespace {

namespace fs = std::filesystem;
using testing_support::parse_csv;
using testing_support::ScratchDir;

const char* kYaml = "name: odd_sizes\naxes:\n  page_size: [7, 63]\n";

Row point_row(const std::string& point_id, const std::string& status) {
  Row row;
  row["sweep"] = "odd_sizes";
  row["point_id"] = point_id;
  row["status"] = status;
  row["reason"] =
      status == "ok" ? Row(nullptr) : Row("budget 100 is not a multiple of page_size 7");
  row["backend"] = "cpu";
  row["page_size"] = 7;
  row["out_rel_l2_mean"] = status == "ok" ? Row(1.5e-4) : Row(nullptr);
  row[kPointKeyColumn] = make_point_key(point_id, "cpu");
  return row;
}

std::set<std::string> files_in(const fs::path& folder) {
  std::set<std::string> names;
  for (const auto& entry : fs::directory_iterator(folder)) names.insert(entry.path().filename());
  return names;
}

nlohmann::json parse_json_file(const fs::path& path) {
  return nlohmann::json::parse(read_text_file(path.string()));
}

TEST(RunWriter, NothingIsCreatedBeforeCreate) {
  ScratchDir scratch;
  const nlohmann::json meta =
      run_meta({"unisparse", "run", "x.yaml"}, scratch.path().string(), nullptr);
  EXPECT_FALSE(fs::exists(scratch.path()));
  EXPECT_THROW(RunWriter::create(scratch.path().string(), "../escape", "", kYaml, meta),
               InputError);
  EXPECT_THROW(RunWriter::create(scratch.path().string(), "odd_sizes", "a/b", kYaml, meta),
               InputError);
  EXPECT_FALSE(fs::exists(scratch.path()));

  RunWriter writer = RunWriter::create(scratch.path().string(), "odd_sizes", "r1", kYaml, meta);
  EXPECT_EQ(fs::path(writer.dir()), scratch.path() / "odd_sizes" / "r1");
  EXPECT_EQ(files_in(writer.dir()), (std::set<std::string>{".lock", "config.yaml", "meta.json",
                                                           "points.csv", "points.jsonl"}));
}

TEST(RunWriter, CreateWritesConfigMetaAndAHeaderOnlyCsv) {
  ScratchDir scratch;
  nlohmann::json meta = run_meta({"unisparse", "run", "x.yaml"}, scratch.path().string(),
                                 {{"name", "NVIDIA H200"}, {"sm_count", 132}});
  RunWriter writer = RunWriter::create(scratch.path().string(), "odd_sizes", "r1", kYaml, meta);
  const fs::path dir = writer.dir();
  EXPECT_EQ(read_text_file(dir / "config.yaml"), kYaml);

  const nlohmann::json written = parse_json_file(dir / "meta.json");
  EXPECT_EQ(written["sweep"], "odd_sizes");
  EXPECT_EQ(written["run_id"], "r1");
  EXPECT_EQ(written["schema_version"], 1);
  EXPECT_EQ(written["unisparse_version"], "0.1.0");
  EXPECT_EQ(written["argv"], nlohmann::json({"unisparse", "run", "x.yaml"}));
  EXPECT_EQ(written["device"]["sm_count"], 132);
  EXPECT_EQ(written["git"]["sha"], "unknown");  // the scratch folder is no checkout
  EXPECT_TRUE(written["host"]["name"].is_string());

  const auto records = parse_csv(read_text_file(dir / "points.csv"));
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0][0], "sweep");
  EXPECT_EQ(read_text_file(dir / "points.jsonl"), "");
}

TEST(RunWriter, DefaultRunIdIsTheUtcTimeAndNeverReused) {
  ScratchDir scratch;
  RunWriter first = RunWriter::create(scratch.path().string(), "s", "", kYaml, {});
  RunWriter second = RunWriter::create(scratch.path().string(), "s", "", kYaml, {});
  EXPECT_NE(first.dir(), second.dir());
  const std::regex run_id(R"(\d{8}-\d{6}(-\d+)?)");
  EXPECT_TRUE(std::regex_match(fs::path(first.dir()).filename().string(), run_id)) << first.dir();
  EXPECT_TRUE(std::regex_match(fs::path(second.dir()).filename().string(), run_id)) << second.dir();
}

TEST(RunWriter, MetaWithoutProvenanceGetsTheStandardBlocks) {
  ScratchDir scratch;
  RunWriter writer = RunWriter::create(scratch.path().string(), "s", "r1", kYaml,
                                       {{"argv", {"unisparse", "run"}}, {"schema_version", 7}});
  const nlohmann::json meta = parse_json_file(fs::path(writer.dir()) / "meta.json");
  EXPECT_EQ(meta["schema_version"], 7);  // the caller's value wins
  EXPECT_EQ(meta["unisparse_version"], "0.1.0");
  EXPECT_TRUE(meta["start_time_utc"].is_string());
  EXPECT_TRUE(meta["host"]["name"].is_string());
  EXPECT_EQ(meta["argv"][1], "run");
}

TEST(RunWriter, AGivenRunIdThatExistsIsAnError) {
  ScratchDir scratch;
  RunWriter::create(scratch.path().string(), "s", "r1", kYaml, {});
  EXPECT_THROW(RunWriter::create(scratch.path().string(), "s", "r1", kYaml, {}), InputError);
}

TEST(RunWriter, EachAppendIsOnDiskAtOnce) {
  ScratchDir scratch;
  RunWriter writer = RunWriter::create(scratch.path().string(), "s", "r1", kYaml, {});
  writer.append(point_row("p0", "ok"));
  // No finish(), no destruction: a reader (or a kill now) already sees the row.
  const PointsFile points = read_points_jsonl((fs::path(writer.dir()) / "points.jsonl").string());
  ASSERT_EQ(points.rows.size(), 1u);
  EXPECT_EQ(points.rows[0]["point_id"], "p0");
  EXPECT_FALSE(points.had_truncated_tail);
}

TEST(RunWriter, NonFiniteNumbersAreWrittenAsNull) {
  ScratchDir scratch;
  RunWriter writer = RunWriter::create(scratch.path().string(), "s", "r1", kYaml, {});
  Row row = point_row("p0", "ok");
  row["out_rel_l2_mean"] = std::numeric_limits<double>::quiet_NaN();
  row["time_us"] = std::numeric_limits<double>::infinity();
  row["phase_times"] = {{"merge_us", std::numeric_limits<double>::quiet_NaN()}};
  writer.append(row);
  writer.finish();
  const PointsFile points = read_points_jsonl((fs::path(writer.dir()) / "points.jsonl").string());
  ASSERT_EQ(points.rows.size(), 1u);
  EXPECT_TRUE(points.rows[0]["out_rel_l2_mean"].is_null());
  EXPECT_TRUE(points.rows[0]["time_us"].is_null());
  EXPECT_TRUE(points.rows[0]["phase_times"]["merge_us"].is_null());

  const auto records = parse_csv(read_text_file(fs::path(writer.dir()) / "points.csv"));
  ASSERT_EQ(records.size(), 2u);
  const auto column = std::find(records[0].begin(), records[0].end(), "out_rel_l2_mean");
  ASSERT_NE(column, records[0].end());
  EXPECT_EQ(records[1][column - records[0].begin()], "");
}

TEST(RunWriter, AppendRejectsRowsWithoutAFreshPointKey) {
  ScratchDir scratch;
  RunWriter writer = RunWriter::create(scratch.path().string(), "s", "r1", kYaml, {});
  Row without_key = point_row("p0", "ok");
  without_key.erase(kPointKeyColumn);
  EXPECT_THROW(writer.append(without_key), std::invalid_argument);
  Row numeric_key = point_row("p0", "ok");
  numeric_key[kPointKeyColumn] = 3;
  EXPECT_THROW(writer.append(numeric_key), std::invalid_argument);
  EXPECT_THROW(writer.append(Row::array({1})), std::invalid_argument);

  writer.append(point_row("p0", "ok"));
  EXPECT_THROW(writer.append(point_row("p0", "failed")), std::invalid_argument);
  EXPECT_EQ(writer.num_points(), 1u);
}

TEST(RunWriter, ResumeKeepsEarlierRowsAndKnowsTheirPoints) {
  ScratchDir scratch;
  std::string dir;
  {
    RunWriter writer = RunWriter::create(scratch.path().string(), "odd_sizes", "r1", kYaml, {});
    dir = writer.dir();
    writer.append(point_row("p0", "ok"));
    writer.append(point_row("p1", "skipped"));
    writer.append(point_row("p2", "failed"));
    // Killed here: no finish().
  }
  RunWriter resumed = RunWriter::resume(dir, kYaml);
  EXPECT_EQ(resumed.num_points(), 3u);
  EXPECT_TRUE(resumed.has_point("p0|cpu"));
  EXPECT_TRUE(resumed.has_point("p1|cpu"));
  EXPECT_TRUE(resumed.has_point("p2|cpu"));
  EXPECT_FALSE(resumed.has_point("p3|cpu"));
  EXPECT_FALSE(resumed.has_point("p0|cuda"));

  // Resume alone already brings points.csv up to date with the kept rows.
  EXPECT_EQ(parse_csv(read_text_file(fs::path(dir) / "points.csv")).size(), 4u);

  resumed.append(point_row("p3", "ok"));
  resumed.finish();

  const PointsFile points = read_points_jsonl((fs::path(dir) / "points.jsonl").string());
  ASSERT_EQ(points.rows.size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(points.rows[i]["point_id"], "p" + std::to_string(i));

  const auto records = parse_csv(read_text_file(fs::path(dir) / "points.csv"));
  ASSERT_EQ(records.size(), 5u);
  const auto& header = records[0];
  const size_t reason = std::find(header.begin(), header.end(), "reason") - header.begin();
  EXPECT_EQ(records[1][reason], "");
  EXPECT_EQ(records[2][reason], "budget 100 is not a multiple of page_size 7");
  for (const auto& record : records) EXPECT_EQ(record.size(), header.size());

  const nlohmann::json meta = parse_json_file(fs::path(dir) / "meta.json");
  ASSERT_EQ(meta["resumes"].size(), 1u);
  EXPECT_EQ(meta["resumes"][0]["points_kept"], 3);
  EXPECT_EQ(meta["resumes"][0]["dropped_partial_line"], false);
  EXPECT_EQ(meta["num_points"], 4);
  EXPECT_TRUE(meta.contains("end_time_utc"));
}

TEST(RunWriter, ResumeCutsOffALineAKilledRunLeftHalfWritten) {
  ScratchDir scratch;
  std::string dir;
  {
    RunWriter writer = RunWriter::create(scratch.path().string(), "s", "r1", kYaml, {});
    dir = writer.dir();
    writer.append(point_row("p0", "ok"));
    writer.append(point_row("p1", "ok"));
  }
  {
    std::ofstream jsonl(fs::path(dir) / "points.jsonl", std::ios::app);
    jsonl << R"({"point_id":"p2","point_key":"p2|cpu","out_rel_l)";
  }
  RunWriter resumed = RunWriter::resume(dir, kYaml);
  EXPECT_EQ(resumed.num_points(), 2u);
  EXPECT_FALSE(resumed.has_point("p2|cpu"));
  resumed.append(point_row("p2", "ok"));
  resumed.finish();

  const PointsFile points = read_points_jsonl((fs::path(dir) / "points.jsonl").string());
  EXPECT_FALSE(points.had_truncated_tail);
  ASSERT_EQ(points.rows.size(), 3u);
  EXPECT_EQ(points.rows[2]["point_id"], "p2");
  EXPECT_EQ(parse_json_file(fs::path(dir) / "meta.json")["resumes"][0]["dropped_partial_line"],
            true);
}

TEST(RunWriter, CsvRowsMatchJsonlWithExtraColumnsSorted) {
  ScratchDir scratch;
  RunWriter writer = RunWriter::create(scratch.path().string(), "s", "r1", kYaml, {});
  Row first = point_row("p0", "ok");
  first["timer"] = "cupti";
  Row second = point_row("p1", "ok");
  second["kernel_vs_cpu_page_agreement"] = 1.0;
  writer.append(first);
  writer.append(second);
  writer.finish();

  const auto records = parse_csv(read_text_file(fs::path(writer.dir()) / "points.csv"));
  ASSERT_EQ(records.size(), 3u);
  const auto& header = records[0];
  const size_t standard = csv_columns().size();
  ASSERT_EQ(header.size(), standard + 3);
  EXPECT_EQ(header[standard], "kernel_vs_cpu_page_agreement");
  EXPECT_EQ(header[standard + 1], "point_key");
  EXPECT_EQ(header[standard + 2], "timer");
  EXPECT_EQ(records[1][standard + 2], "cupti");
  EXPECT_EQ(records[1][standard], "");
  EXPECT_EQ(records[2][standard], "1.0");
  EXPECT_EQ(records[2][standard + 1], "p1|cpu");
}

TEST(RunWriter, ResumeOfAFolderThatIsNoRunIsAnError) {
  ScratchDir scratch;
  fs::create_directories(scratch.path());
  EXPECT_THROW(RunWriter::resume(scratch.path().string(), kYaml), std::runtime_error);
  EXPECT_THROW(RunWriter::resume((scratch.path() / "missing").string(), kYaml),
               std::runtime_error);
}

}  // namespace
}  // namespace unisparse
