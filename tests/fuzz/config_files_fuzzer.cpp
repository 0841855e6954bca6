// Fuzzes the readers of the files under configs/: the model file (configs/models), the workload
// file (configs/workloads) and the device ceilings (configs/devices), each on the same fuzzed text.
// Bad input must be an InputError (the CLI's exit 2); any other exception, a crash or a sanitizer
// report is a finding.
//
// The file is named config.yaml, so the model and workload readers, which require `name:` to match
// the file name, accept `name: config`.
#include <cstdint>
#include <string>
#include <string_view>

#include "framework/config/model_config.h"
#include "framework/config/workload_config.h"
#include "framework/core/error.h"
#include "framework/metrics/device_ceilings.h"
#include "tests/fuzz/scratch_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = (unisparse::fuzzing::scratch_dir() / "config.yaml").string();
  unisparse::fuzzing::write_file(path, std::string_view(reinterpret_cast<const char*>(data), size));
  try {
    unisparse::load_model_file(path);
  } catch (const unisparse::InputError&) {
  }
  try {
    unisparse::load_workload_file(path);
  } catch (const unisparse::InputError&) {
  }
  try {
    unisparse::load_device_ceilings(path);
  } catch (const unisparse::InputError&) {
  }
  return 0;
}
