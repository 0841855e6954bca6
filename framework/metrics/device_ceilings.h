#pragma once
// The measured limits of a device (configs/devices/<name>.yaml), the ceilings of achieved rates.
#include <map>
#include <string>

namespace unisparse {

struct DeviceCeilings {  // 0 = unknown
  double hbm_gbps = 0;       // HBM bandwidth, GB/s (10^9 bytes per second)
  double tensor_tflops = 0;  // dense 16-bit matrix throughput, TFLOP/s
};

// Reads a file of "key: number" lines ('#' starts a comment) holding exactly the keys hbm_gbps and
// tensor_tflops. Throws InputError naming the file, line and key on an unreadable file, an unknown,
// repeated or missing key, or a value that is not a non-negative number.
DeviceCeilings load_device_ceilings(const std::string& yaml_path);

// The ceilings of each device description a run meets, read once per description from
// <configs_dir>/devices/<name>.yaml of the longest <name> the description contains, case-insensitively
// ("NVIDIA H200, 132 SMs, ..." -> h200.yaml, "cpu (2 threads)" -> cpu.yaml); unknown (zeros) when no
// name matches.
class DeviceCeilingsByName {
 public:
  explicit DeviceCeilingsByName(std::string devices_dir) : devices_dir_(std::move(devices_dir)) {}
  const DeviceCeilings& for_device(const std::string& description);

 private:
  std::string devices_dir_;
  std::map<std::string, DeviceCeilings> read_;
};

}  // namespace unisparse
