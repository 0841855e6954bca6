// Fuzzes the safetensors trace reader: SafetensorsReader and read_trace on fuzzed bytes written to
// a file. Bad input must be an InputError (the CLI's exit 2); any other exception, a crash, a
// sanitizer report or an allocation beyond libFuzzer's -malloc_limit_mb (a size taken from an
// unchecked header) is a finding.
#include <cstdint>
#include <string>
#include <string_view>

#include "framework/config/point.h"
#include "framework/core/error.h"
#include "framework/workload/safetensors.h"
#include "framework/workload/trace.h"
#include "tests/fuzz/scratch_file.h"

namespace {

// A point that takes its shape from the trace (no model named), as `unisparse select` does.
unisparse::PointConfig trace_point(unisparse::Phase phase) {
  unisparse::PointConfig point;
  point.model.clear();
  point.shape = {};
  point.phase = phase;
  point.decode_steps = 4;
  point.sink_tokens = 1;
  point.local_tokens = 2;
  return point;
}

// Every tensor the header names, read as the dtype asks.
void read_every_tensor(const std::string& path) {
  unisparse::SafetensorsReader reader(path);
  for (const std::string& name : reader.names()) {
    try {
      if (reader.entry(name).dtype == "I32")
        reader.read_int32(name);
      else
        reader.read(name);
    } catch (const unisparse::InputError&) {
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path =
      (unisparse::fuzzing::scratch_dir() / "trace.safetensors").string();
  unisparse::fuzzing::write_file(path, std::string_view(reinterpret_cast<const char*>(data), size));
  try {
    read_every_tensor(path);
  } catch (const unisparse::InputError&) {
    return 0;  // the header was refused: read_trace would refuse it the same way
  }
  for (unisparse::Phase phase : {unisparse::Phase::decode, unisparse::Phase::prefill}) {
    try {
      unisparse::read_trace(path, 0, trace_point(phase));
    } catch (const unisparse::InputError&) {
    }
  }
  return 0;
}
