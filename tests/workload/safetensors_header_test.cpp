// The safetensors header check: every tensor's dtype, shape and span are checked, with sizes
// multiplied without overflow, before anything is allocated or read. The headers here were once
// accepted (a byte count that wraps to 0 matched an empty span) or crashed the reader; the same
// bytes are seeds of the safetensors_trace fuzzer (tests/fuzz/write_safetensors_seeds.py).
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "framework/config/point.h"
#include "framework/workload/safetensors.h"
#include "framework/workload/trace.h"
#include "tests/config/yaml_test_files.h"

namespace unisparse {
namespace {

using testing::expect_contains;
using testing::input_error_of;

// A file holding the 8-byte header length, the header and `data_bytes` zero bytes.
std::string safetensors_file(const testing::ScratchDir& dir, const std::string& name,
                             const std::string& header, size_t data_bytes) {
  std::string bytes;
  for (int i = 0; i < 8; ++i)
    bytes += static_cast<char>(static_cast<uint64_t>(header.size()) >> (8 * i));
  return dir.write(name, bytes + header + std::string(data_bytes, '\0'));
}

PointConfig decode_point() {
  PointConfig point;
  point.model.clear();  // the trace gives the shape
  point.phase = Phase::decode;
  point.decode_steps = 4;
  return point;
}

TEST(SafetensorsHeader, ByteCountThatWrapsToZeroIsRefused) {
  // [1, 2^62, 4] F32 needs 2^66 bytes; modulo 2^64 that is 0, the span [0, 0].
  const testing::ScratchDir dir;
  const std::string path = safetensors_file(
      dir, "wrapped.safetensors",
      R"({"layers.0.k":{"dtype":"F32","shape":[1,4611686018427387904,4],"data_offsets":[0,0]},)"
      R"("layers.0.v":{"dtype":"F32","shape":[1,4611686018427387904,4],"data_offsets":[0,0]}})",
      0);
  const std::string message = input_error_of([&] { SafetensorsReader reader(path); });
  expect_contains(message, {"wrapped.safetensors: tensor 'layers.0.k'",
                            "F32 [1, 4611686018427387904, 4] needs more bytes than the whole data "
                            "section (0 bytes)"});
  expect_contains(input_error_of([&] { read_trace(path, 0, decode_point()); }),
                  {"wrapped.safetensors", "'layers.0.k'"});
}

TEST(SafetensorsHeader, EmptyTensorWithHugeExtentsReadsAsEmptyAndIsNoTrace) {
  // [0, 2^62, 4] F32 holds no element: its span [0, 0] is right. Reading it once passed a null
  // pointer to memcpy, and [2, 2^62, 0] overflowed its element count (UndefinedBehaviorSanitizer,
  // both found by the safetensors_trace fuzzer); each is an empty tensor, and no trace layer.
  const testing::ScratchDir dir;
  const std::string path = safetensors_file(
      dir, "empty.safetensors",
      R"({"layers.0.k":{"dtype":"F32","shape":[0,4611686018427387904,4],"data_offsets":[0,0]},)"
      R"("layers.0.v":{"dtype":"F32","shape":[2,4611686018427387904,0],"data_offsets":[0,0]}})",
      0);
  SafetensorsReader reader(path);  // [2, 2^62, 0]: its element count overflowed before the 0
  EXPECT_EQ(reader.read("layers.0.k").size(), 0);
  EXPECT_EQ(reader.read("layers.0.v").size(), 0);
  const std::string ints = safetensors_file(
      dir, "empty_ints.safetensors", R"({"ids":{"dtype":"I32","shape":[0],"data_offsets":[0,0]}})",
      0);
  EXPECT_TRUE(SafetensorsReader(ints).read_int32("ids").empty());  // memcpy from null, too
  expect_contains(input_error_of([&] { read_trace(path, 0, decode_point()); }),
                  {"empty.safetensors", "'layers.0.k'", "empty shape"});
}

TEST(SafetensorsHeader, HugeKvHeadCountIsRefusedBeforeAnyAllocation) {
  // [2^61, 1, 4] F32: 2^63 elements (a negative int64) and 2^65 bytes (0 modulo 2^64). It used to
  // fail inside std::vector ("cannot create std::vector larger than max_size()", exit 1).
  const testing::ScratchDir dir;
  const std::string path = safetensors_file(
      dir, "heads.safetensors",
      R"({"layers.0.k":{"dtype":"F32","shape":[2305843009213693952,1,4],"data_offsets":[0,0]},)"
      R"("layers.0.v":{"dtype":"F32","shape":[2305843009213693952,1,4],"data_offsets":[0,0]}})",
      0);
  expect_contains(input_error_of([&] { read_trace(path, 0, decode_point()); }),
                  {"heads.safetensors: tensor 'layers.0.k'", "[2305843009213693952, 1, 4]",
                   "needs more bytes than the whole data section"});
}

TEST(SafetensorsHeader, SpanPastTheFileIsRefusedForEveryTensor) {
  // layers.0.x is not a trace tensor, so nothing reads it; the header is still refused.
  const testing::ScratchDir dir;
  const std::string path =
      safetensors_file(dir, "short.safetensors",
                       R"({"layers.0.x":{"dtype":"F16","shape":[4],"data_offsets":[0,8]}})", 6);
  expect_contains(input_error_of([&] { SafetensorsReader reader(path); }),
                  {"short.safetensors: tensor 'layers.0.x'", "truncated data",
                   "'data_offsets' end 8 lies beyond the data section (6 bytes)"});
}

TEST(SafetensorsHeader, DtypesOfTheFormatAreSizedAndOthersRefused) {
  const testing::ScratchDir dir;
  // Every tensor is checked, read or not: I64 and the sub-byte F4 (two elements per byte) included.
  const std::string sized =
      safetensors_file(dir, "sized.safetensors",
                       R"({"ids":{"dtype":"I64","shape":[2],"data_offsets":[0,16]},)"
                       R"("packed":{"dtype":"F4","shape":[6],"data_offsets":[16,19]}})",
                       19);
  SafetensorsReader reader(sized);
  EXPECT_EQ(reader.names(), (std::vector<std::string>{"ids", "packed"}));
  expect_contains(input_error_of([&] { reader.read("ids"); }), {"unsupported dtype 'I64'"});

  const std::string odd_bits = safetensors_file(
      dir, "bits.safetensors", R"({"packed":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}})", 2);
  expect_contains(input_error_of([&] { SafetensorsReader r(odd_bits); }),
                  {"tensor 'packed'", "F4 [3] needs 12 bits"});

  const std::string unknown =
      safetensors_file(dir, "unknown.safetensors",
                       R"({"x":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}})", 16);
  expect_contains(input_error_of([&] { SafetensorsReader r(unknown); }),
                  {"unknown.safetensors: tensor 'x'", "unknown dtype 'F128'"});
}

TEST(SafetensorsHeader, NumberTooLargeForADoubleIsAnInputError) {
  // Valid JSON syntax, but the number overflows: nlohmann throws out_of_range, not parse_error,
  // and the reader used to let it escape (exit 1). Found by the safetensors_trace fuzzer.
  const testing::ScratchDir dir;
  const std::string path = safetensors_file(dir, "overflow.safetensors", R"({"a":1e999})", 0);
  expect_contains(input_error_of([&] { SafetensorsReader reader(path); }),
                  {"overflow.safetensors: header is not valid JSON", "number overflow"});
}

TEST(SafetensorsHeader, DecodeTensorsWithoutStepsAreRefused) {
  // A [0, 2^40, 1] q_decode holds no bytes, so the file's size bounds none of its extents.
  const testing::ScratchDir dir;
  const std::string path = safetensors_file(
      dir, "no_steps.safetensors",
      R"({"layers.0.k":{"dtype":"F16","shape":[1,1,1],"data_offsets":[0,2]},)"
      R"("layers.0.v":{"dtype":"F16","shape":[1,1,1],"data_offsets":[2,4]},)"
      R"("layers.0.q_decode":{"dtype":"F16","shape":[0,1099511627776,1],"data_offsets":[4,4]},)"
      R"("layers.0.k_decode":{"dtype":"F16","shape":[0,1,1],"data_offsets":[4,4]},)"
      R"("layers.0.v_decode":{"dtype":"F16","shape":[0,1,1],"data_offsets":[4,4]}})",
      4);
  expect_contains(
      input_error_of([&] { read_trace(path, 0, decode_point()); }),
      {"no_steps.safetensors: tensor 'layers.0.q_decode'", "empty shape [0, 1099511627776, 1]"});
}

}  // namespace
}  // namespace unisparse
