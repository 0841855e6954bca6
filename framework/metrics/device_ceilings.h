#pragma once
// The measured limits of a device (configs/devices/<name>.yaml), the ceilings of achieved rates.
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

}  // namespace unisparse
