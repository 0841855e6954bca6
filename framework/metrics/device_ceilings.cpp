#include "framework/metrics/device_ceilings.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <map>
#include <string_view>

#include "framework/config/strict_yaml.h"
#include "framework/core/error.h"
#include "framework/core/text.h"

namespace unisparse {

DeviceCeilings load_device_ceilings(const std::string& yaml_path) {
  std::ifstream file(yaml_path);
  if (!file) throw input_error(yaml_path, 0, "", "cannot open the device ceilings file");

  DeviceCeilings ceilings;
  const std::map<std::string, double*, std::less<>> fields{
      {"hbm_gbps", &ceilings.hbm_gbps}, {"tensor_tflops", &ceilings.tensor_tflops}};
  std::map<std::string, int, std::less<>> line_of_key;

  std::string text;
  for (int line = 1; std::getline(file, text); ++line) {
    std::string_view content = text;
    content = trim(content.substr(0, content.find('#')));
    if (content.empty()) continue;
    const auto colon = content.find(':');
    if (colon == std::string_view::npos)
      throw input_error(yaml_path, line, std::string(content), "expected 'key: number'");
    const std::string key(trim(content.substr(0, colon)));
    const std::string_view value_text = trim(content.substr(colon + 1));

    const auto field = fields.find(key);
    if (field == fields.end())
      throw input_error(yaml_path, line, key, "unknown key (expected hbm_gbps or tensor_tflops)");
    if (const auto previous = line_of_key.find(key); previous != line_of_key.end())
      throw input_error(yaml_path, line, key,
                        "repeated (first given on line " + std::to_string(previous->second) + ")");
    double value = 0;
    const auto [end, error] =
        std::from_chars(value_text.data(), value_text.data() + value_text.size(), value);
    if (value_text.empty() || error != std::errc() ||
        end != value_text.data() + value_text.size() || !std::isfinite(value) || value < 0)
      throw input_error(yaml_path, line, key,
                        "'" + std::string(value_text) + "' is not a non-negative number");
    *field->second = value;
    line_of_key.emplace(key, line);
  }
  for (const auto& [key, field] : fields)
    if (!line_of_key.contains(key)) throw input_error(yaml_path, 0, key, "missing");
  return ceilings;
}

const DeviceCeilings& DeviceCeilingsByName::for_device(const std::string& description) {
  auto found = read_.find(description);
  if (found != read_.end()) return found->second;
  std::string lower = description;
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  std::string best;
  for (const std::string& name : yaml_names_in(devices_dir_))
    if (lower.find(name) != std::string::npos && name.size() > best.size()) best = name;
  const DeviceCeilings ceilings =
      best.empty() ? DeviceCeilings{} : load_device_ceilings(devices_dir_ + "/" + best + ".yaml");
  return read_.emplace(description, ceilings).first->second;
}

}  // namespace unisparse
