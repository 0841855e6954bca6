#include "framework/metrics/device_ceilings.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "framework/core/error.h"

namespace unisparse {
namespace {

std::string write_file(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + name;
  std::ofstream(path) << text;
  return path;
}

// The InputError message of loading the file, or "" when it loads.
std::string load_error(const std::string& path) {
  try {
    load_device_ceilings(path);
  } catch (const InputError& error) {
    return error.what();
  }
  return "";
}

TEST(DeviceCeilings, ShippedFiles) {
  const std::string devices = std::string(UNISPARSE_SOURCE_DIR) + "/configs/devices/";
  const DeviceCeilings h200 = load_device_ceilings(devices + "h200.yaml");
  // Measured by unisparse_calibrate: within the H200's physical range (4.8 TB/s HBM3e datasheet,
  // ~990 TFLOP/s dense bf16 datasheet), and not the zeros of an unknown device.
  EXPECT_GT(h200.hbm_gbps, 3000.0);
  EXPECT_LT(h200.hbm_gbps, 4800.0);
  EXPECT_GT(h200.tensor_tflops, 500.0);
  EXPECT_LT(h200.tensor_tflops, 990.0);
  const DeviceCeilings cpu = load_device_ceilings(devices + "cpu.yaml");
  EXPECT_EQ(cpu.hbm_gbps, 0.0);
  EXPECT_EQ(cpu.tensor_tflops, 0.0);
}

TEST(DeviceCeilings, CommentsBlankLinesAndSpaces) {
  const std::string path =
      write_file("ceilings_ok.yaml",
                 "# measured\n\n  tensor_tflops :  312.5  # dense bf16\nhbm_gbps: 1.5e3\n");
  const DeviceCeilings ceilings = load_device_ceilings(path);
  EXPECT_EQ(ceilings.hbm_gbps, 1500.0);
  EXPECT_EQ(ceilings.tensor_tflops, 312.5);
}

TEST(DeviceCeilings, UnknownKeyNamesFileLineAndKey) {
  const std::string path =
      write_file("ceilings_unknown.yaml", "hbm_gbps: 4100\n# c\nhbm_tbps: 4.1\ntensor_tflops: 1\n");
  const std::string message = load_error(path);
  EXPECT_NE(message.find(path + ":3"), std::string::npos) << message;
  EXPECT_NE(message.find("hbm_tbps"), std::string::npos) << message;
}

TEST(DeviceCeilings, BadValuesAreErrors) {
  for (const std::string value : {"", "fast", "4100 GB/s", "-1", "nan", "inf"}) {
    const std::string path = write_file("ceilings_bad.yaml", "hbm_gbps: " + value + "\n");
    const std::string message = load_error(path);
    EXPECT_NE(message.find(":1: key 'hbm_gbps'"), std::string::npos) << value << ": " << message;
  }
}

TEST(DeviceCeilings, RepeatedMissingAndMalformed) {
  EXPECT_NE(
      load_error(write_file("ceilings_repeat.yaml", "hbm_gbps: 1\ntensor_tflops: 2\nhbm_gbps: 3\n"))
          .find(":3: key 'hbm_gbps': repeated (first given on line 1)"),
      std::string::npos);
  EXPECT_NE(load_error(write_file("ceilings_missing.yaml", "hbm_gbps: 1\n"))
                .find("key 'tensor_tflops': missing"),
            std::string::npos);
  EXPECT_NE(load_error(write_file("ceilings_malformed.yaml", "hbm_gbps 1\n")).find(":1:"),
            std::string::npos);
  EXPECT_NE(load_error(::testing::TempDir() + "no_such_device.yaml").find("cannot open"),
            std::string::npos);
}

}  // namespace
}  // namespace unisparse
