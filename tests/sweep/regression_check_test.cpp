#include "framework/sweep/regression_check.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "framework/core/error.h"

namespace fs = std::filesystem;
using namespace unisparse;

namespace {

class RegressionCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("unisparse_regression_check_" +
             std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(root_);
    fs::create_directories(root_ / "base");
    fs::create_directories(root_ / "run");
    std::ofstream(root_ / "base" / "tolerances.yaml")
        << "attn_recall: {better: higher, abs: 0.01}\n"
           "out_rel_l2_mean: {better: lower, abs: 1.0e-4, rel: 0.05}\n";
  }
  void TearDown() override { fs::remove_all(root_); }
  void write_points(const std::string& dir, const std::string& lines) {
    std::ofstream(root_ / dir / "points.jsonl") << lines;
  }
  fs::path root_;
};

constexpr const char* kBaseline =
    R"({"point_key":"0|cpu","status":"ok","axis.page_size":16,"attn_recall":0.95,"out_rel_l2_mean":0.010}
{"point_key":"1|cpu","status":"ok","axis.page_size":32,"attn_recall":0.90,"out_rel_l2_mean":0.020}
{"point_key":"2|cpu","status":"skipped","axis.page_size":48,"attn_recall":null}
)";

TEST_F(RegressionCheckTest, BaselineAgainstItselfPasses) {
  write_points("base", kBaseline);
  write_points("run", kBaseline);
  const CheckReport report = check_run((root_ / "run").string(), (root_ / "base").string());
  EXPECT_EQ(report.points_compared, 3);
  EXPECT_TRUE(report.regressions.empty());
}

TEST_F(RegressionCheckTest, SmallChangesWithinToleranceAndImprovementsPass) {
  write_points("base", kBaseline);
  write_points("run",
               R"({"point_key":"0|cpu","status":"ok","attn_recall":0.945,"out_rel_l2_mean":0.0104}
{"point_key":"1|cpu","status":"ok","attn_recall":0.99,"out_rel_l2_mean":0.001}
{"point_key":"2|cpu","status":"skipped"}
)");
  EXPECT_TRUE(check_run((root_ / "run").string(), (root_ / "base").string()).regressions.empty());
}

TEST_F(RegressionCheckTest, DegradedAccuracyMissingPointsAndFailuresAreNamed) {
  write_points("base", kBaseline);
  write_points("run",
               R"({"point_key":"0|cpu","status":"ok","axis.page_size":16,"attn_recall":0.80,"out_rel_l2_mean":0.0104}
{"point_key":"2|cpu","status":"skipped"}
)");
  CheckReport report = check_run((root_ / "run").string(), (root_ / "base").string());
  ASSERT_EQ(report.regressions.size(), 2u);
  EXPECT_EQ(report.regressions[0].point_key, "0|cpu");
  EXPECT_EQ(report.regressions[0].metric, "attn_recall");
  EXPECT_EQ(report.regressions[0].point, "page_size=16");
  EXPECT_EQ(report.regressions[1].point_key, "1|cpu");
  EXPECT_EQ(report.regressions[1].current, "missing");

  write_points("run",
               R"({"point_key":"0|cpu","status":"failed","reason":"oom"}
{"point_key":"1|cpu","status":"ok","attn_recall":0.90,"out_rel_l2_mean":0.03}
{"point_key":"2|cpu","status":"skipped"}
)");
  report = check_run((root_ / "run").string(), (root_ / "base").string());
  ASSERT_EQ(report.regressions.size(), 2u);
  EXPECT_EQ(report.regressions[0].metric, "status");
  EXPECT_EQ(report.regressions[1].metric, "out_rel_l2_mean");
}

TEST_F(RegressionCheckTest, UnknownToleranceKeyNamesFileLineAndKey) {
  std::ofstream(root_ / "base" / "tolerances.yaml") << "attn_recall: {better: higher}\n"
                                                       "needle_hit: {abs: 0.1, relative: 2}\n";
  write_points("base", kBaseline);
  write_points("run", kBaseline);
  try {
    check_run((root_ / "run").string(), (root_ / "base").string());
    FAIL() << "expected an InputError";
  } catch (const InputError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("tolerances.yaml:2"), std::string::npos) << message;
    EXPECT_NE(message.find("needle_hit.relative"), std::string::npos) << message;
  }
}

TEST_F(RegressionCheckTest, MisspelledMetricIsAnErrorNotAnUncheckedMetric) {
  std::ofstream(root_ / "base" / "tolerances.yaml") << "attn_recal: {better: higher, abs: 0.01}\n";
  write_points("base", kBaseline);
  write_points("run", kBaseline);
  try {
    check_run((root_ / "run").string(), (root_ / "base").string());
    FAIL() << "expected an InputError";
  } catch (const InputError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("tolerances.yaml:1"), std::string::npos) << message;
    EXPECT_NE(message.find("attn_recal"), std::string::npos) << message;
    EXPECT_NE(message.find("did you mean 'attn_recall'"), std::string::npos) << message;
  }
}

}  // namespace
