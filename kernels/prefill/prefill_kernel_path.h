#pragma once
// Which prefill kernel runs: the sm_80 kernel (mma.sync + cp.async, every GPU from the A100 on) or
// the sm_90a kernel (wgmma + TMA, compute capability 9.0 exactly: an sm_90a binary runs nowhere
// else). The environment variable UNISPARSE_PREFILL_KERNEL forces one (auto, sm80, sm90; unset or
// empty is auto) so that the two can be compared on the same device. Host logic only; the launch
// (prefill_launch.cu) queries the device and applies it.
#include <string>
#include <string_view>

namespace unisparse::cuda {

enum class PrefillKernelPath { sm80, sm90 };
enum class PrefillKernelChoice { automatic, sm80, sm90 };

inline constexpr const char* kPrefillKernelVariable = "UNISPARSE_PREFILL_KERNEL";

const char* to_string(PrefillKernelPath path);

// Throws InputError naming the variable for a value other than auto / sm80 / sm90 / empty.
PrefillKernelChoice parse_prefill_kernel_choice(std::string_view value);
// The choice the environment asks for (automatic when the variable is unset).
PrefillKernelChoice prefill_kernel_choice_from_environment();

// Whether the sm_90a kernel can run a launch: `device_major.device_minor` is the device's compute
// capability, `layout_reason` why TMA cannot describe its tensors (empty when it can). Empty when it
// can run, else the reason.
std::string sm90_prefill_unavailable_reason(int device_major, int device_minor,
                                            const std::string& layout_reason);

// automatic: sm90 when it can run, else sm80. sm80: always. sm90: when it can run, else Unsupported
// naming the variable and the reason (a forced path never silently becomes the other one).
PrefillKernelPath resolve_prefill_kernel_path(PrefillKernelChoice choice,
                                              const std::string& sm90_unavailable_reason);

}  // namespace unisparse::cuda
