// The choice between the sm_80 and the sm_90a prefill kernels: the UNISPARSE_PREFILL_KERNEL values,
// which devices run the sm_90a kernel, and that a forced path never becomes the other one.
#include "kernels/prefill/prefill_kernel_path.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>

#include "framework/core/error.h"

namespace unisparse::cuda {
namespace {

TEST(PrefillKernelChoice, ParsesTheThreeValuesAndEmptyAsAuto) {
  EXPECT_EQ(parse_prefill_kernel_choice(""), PrefillKernelChoice::automatic);
  EXPECT_EQ(parse_prefill_kernel_choice("auto"), PrefillKernelChoice::automatic);
  EXPECT_EQ(parse_prefill_kernel_choice("sm80"), PrefillKernelChoice::sm80);
  EXPECT_EQ(parse_prefill_kernel_choice("sm90"), PrefillKernelChoice::sm90);
}

TEST(PrefillKernelChoice, AnyOtherValueIsBadInputNamingVariableAndValue) {
  for (const char* value : {"SM90", "sm_90", "sm90a", "90", " sm80", "fa3"}) {
    try {
      parse_prefill_kernel_choice(value);
      ADD_FAILURE() << "'" << value << "' was accepted";
    } catch (const InputError& error) {
      const std::string message = error.what();
      EXPECT_NE(message.find("UNISPARSE_PREFILL_KERNEL"), std::string::npos) << message;
      EXPECT_NE(message.find(std::string("'") + value + "'"), std::string::npos) << message;
    }
  }
}

TEST(PrefillKernelChoice, ReadsTheEnvironment) {
  unsetenv(kPrefillKernelVariable);
  EXPECT_EQ(prefill_kernel_choice_from_environment(), PrefillKernelChoice::automatic);
  setenv(kPrefillKernelVariable, "sm80", 1);
  EXPECT_EQ(prefill_kernel_choice_from_environment(), PrefillKernelChoice::sm80);
  setenv(kPrefillKernelVariable, "sm9O", 1);
  EXPECT_THROW(prefill_kernel_choice_from_environment(), InputError);
  unsetenv(kPrefillKernelVariable);
}

TEST(PrefillKernelChoice, OnlyComputeCapability90RunsTheSm90Kernel) {
  EXPECT_EQ(sm90_prefill_unavailable_reason(9, 0, ""), "");
  // sm_90a code runs on 9.0 alone: not on the A100, the L40 or later families.
  for (auto [major, minor] : {std::pair{8, 0}, {8, 9}, {10, 0}, {12, 0}, {9, 1}}) {
    const std::string reason = sm90_prefill_unavailable_reason(major, minor, "");
    EXPECT_NE(reason.find(std::to_string(major) + "." + std::to_string(minor)), std::string::npos)
        << reason;
  }
  const std::string layout = sm90_prefill_unavailable_reason(9, 0, "K: tensor base is not 16-byte aligned");
  EXPECT_NE(layout.find("K: tensor base"), std::string::npos) << layout;
}

TEST(PrefillKernelChoice, AutomaticPrefersSm90WhereItRuns) {
  EXPECT_EQ(resolve_prefill_kernel_path(PrefillKernelChoice::automatic, ""), PrefillKernelPath::sm90);
  EXPECT_EQ(resolve_prefill_kernel_path(PrefillKernelChoice::automatic, "not 9.0"),
            PrefillKernelPath::sm80);
}

TEST(PrefillKernelChoice, ForcedPathsNeverTurnIntoTheOther) {
  EXPECT_EQ(resolve_prefill_kernel_path(PrefillKernelChoice::sm80, ""), PrefillKernelPath::sm80);
  EXPECT_EQ(resolve_prefill_kernel_path(PrefillKernelChoice::sm90, ""), PrefillKernelPath::sm90);
  try {
    resolve_prefill_kernel_path(PrefillKernelChoice::sm90, "device is 8.0");
    ADD_FAILURE() << "forced sm90 on an sm80 device was accepted";
  } catch (const Unsupported& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("UNISPARSE_PREFILL_KERNEL=sm90"), std::string::npos) << message;
    EXPECT_NE(message.find("device is 8.0"), std::string::npos) << message;
  }
}

TEST(PrefillKernelChoice, PathNames) {
  EXPECT_STREQ(to_string(PrefillKernelPath::sm80), "sm80");
  EXPECT_STREQ(to_string(PrefillKernelPath::sm90), "sm90");
}

}  // namespace
}  // namespace unisparse::cuda
