// Fuzzes the sweep loader with command-line overrides: load_sweep on fuzzed YAML text, written to a
// file, with fuzzed `-a` / `--set` overrides. Bad input must be an InputError (the CLI's exit 2);
// any other exception, a crash or a sanitizer report is a finding. A sweep that loads must resolve
// to a config that loads again to the same text, since config.yaml is written as a loadable sweep.
//
// The sweep file sits next to trace.safetensors, a two-layer trace of the `tiny` model, so that
// `workload: {trace: trace.safetensors, ...}` reaches the trace sweep rules.
//
// Input: the sweep file, optionally followed by a line "%%" and one override per line:
//   -a page_size=[16,64]      an axis override
//   --set fixed.batch=8       a fixed override (a line without either prefix is one as well)
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "framework/config/sweep_config.h"
#include "framework/core/error.h"
#include "tests/common/tiny_trace.h"
#include "tests/fuzz/scratch_file.h"

namespace {

using unisparse::Override;

constexpr std::string_view kOverridesSeparator = "\n%%\n";

std::vector<Override> parse_overrides(std::string_view lines) {
  std::vector<Override> overrides;
  while (!lines.empty()) {
    const size_t newline = lines.find('\n');
    std::string_view line = lines.substr(0, newline);
    lines = newline == std::string_view::npos ? std::string_view() : lines.substr(newline + 1);
    Override::Kind kind = Override::fixed;
    if (line.starts_with("-a ")) {
      kind = Override::axis;
      line.remove_prefix(3);
    } else if (line.starts_with("--set ")) {
      line.remove_prefix(6);
    }
    overrides.push_back({kind, std::string(line)});
  }
  return overrides;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string configs_dir = std::string(UNISPARSE_SOURCE_DIR) + "/configs";
  static const std::filesystem::path sweep_file = unisparse::fuzzing::scratch_dir() / "sweep.yaml";
  static const std::filesystem::path resolved_file =
      unisparse::fuzzing::scratch_dir() / "resolved.yaml";
  static const std::string trace = [] {
    unisparse::testing::TinyTrace spec;
    spec.layers = {0, 1};
    spec.context_len = 40;
    spec.decode_steps = 3;
    return unisparse::testing::write_tiny_trace(
        (unisparse::fuzzing::scratch_dir() / "trace.safetensors").string(), spec);
  }();

  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t separator = input.find(kOverridesSeparator);
  unisparse::fuzzing::write_file(sweep_file, input.substr(0, separator));
  const std::vector<Override> overrides =
      separator == std::string_view::npos
          ? std::vector<Override>()
          : parse_overrides(input.substr(separator + kOverridesSeparator.size()));

  unisparse::SweepConfig sweep;
  try {
    sweep = unisparse::load_sweep(sweep_file.string(), overrides, configs_dir);
  } catch (const unisparse::InputError&) {
    return 0;
  }
  // Outside the try: the resolved config failing to load is a finding, whatever it throws.
  unisparse::fuzzing::write_file(resolved_file, sweep.resolved_yaml);
  const unisparse::SweepConfig again =
      unisparse::load_sweep(resolved_file.string(), {}, configs_dir);
  if (again.resolved_yaml != sweep.resolved_yaml) {
    std::fprintf(stderr, "resolved config does not load to itself:\n--- first\n%s--- again\n%s",
                 sweep.resolved_yaml.c_str(), again.resolved_yaml.c_str());
    std::abort();
  }
  return 0;
}
