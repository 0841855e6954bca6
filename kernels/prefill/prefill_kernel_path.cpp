#include "kernels/prefill/prefill_kernel_path.h"

#include <cstdlib>

#include "framework/core/error.h"

namespace unisparse::cuda {

const char* to_string(PrefillKernelPath path) {
  return path == PrefillKernelPath::sm90 ? "sm90" : "sm80";
}

PrefillKernelChoice parse_prefill_kernel_choice(std::string_view value) {
  if (value.empty() || value == "auto") return PrefillKernelChoice::automatic;
  if (value == "sm80") return PrefillKernelChoice::sm80;
  if (value == "sm90") return PrefillKernelChoice::sm90;
  throw InputError(std::string(kPrefillKernelVariable) + ": '" + std::string(value) +
                   "' is not one of auto, sm80, sm90");
}

PrefillKernelChoice prefill_kernel_choice_from_environment() {
  const char* value = std::getenv(kPrefillKernelVariable);
  return parse_prefill_kernel_choice(value == nullptr ? "" : value);
}

std::string sm90_prefill_unavailable_reason(int device_major, int device_minor,
                                            const std::string& layout_reason) {
  if (device_major != 9 || device_minor != 0)
    return "the sm90 prefill needs a compute capability 9.0 device, this one is " +
           std::to_string(device_major) + "." + std::to_string(device_minor);
  if (!layout_reason.empty()) return "the sm90 prefill cannot describe the tensors to TMA: " + layout_reason;
  return "";
}

PrefillKernelPath resolve_prefill_kernel_path(PrefillKernelChoice choice,
                                              const std::string& sm90_unavailable_reason) {
  switch (choice) {
    case PrefillKernelChoice::sm80:
      return PrefillKernelPath::sm80;
    case PrefillKernelChoice::sm90:
      if (!sm90_unavailable_reason.empty())
        throw Unsupported(std::string(kPrefillKernelVariable) + "=sm90: " + sm90_unavailable_reason);
      return PrefillKernelPath::sm90;
    case PrefillKernelChoice::automatic:
      break;
  }
  return sm90_unavailable_reason.empty() ? PrefillKernelPath::sm90 : PrefillKernelPath::sm80;
}

}  // namespace unisparse::cuda
