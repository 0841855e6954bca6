#include "framework/workload/trace.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "framework/core/dtype.h"
#include "framework/core/error.h"
#include "framework/workload/generator.h"
#include "framework/workload/head_selection.h"
#include "framework/workload/safetensors.h"

namespace unisparse {
namespace {

class TraceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = std::filesystem::temp_directory_path() /
                 ("unisparse_trace_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(directory_);
  }
  void TearDown() override { std::filesystem::remove_all(directory_); }

  std::string file(const std::string& name) const { return (directory_ / name).string(); }

  // Writes a safetensors file by hand: header length, header text, then `data_bytes` zero bytes.
  std::string raw_file(const std::string& name, const std::string& header, size_t data_bytes,
                       uint64_t claimed_header_length = 0) const {
    const std::string path = file(name);
    std::ofstream out(path, std::ios::binary);
    const uint64_t length = claimed_header_length ? claimed_header_length : header.size();
    for (int i = 0; i < 8; ++i) out.put(static_cast<char>(length >> (8 * i)));
    out << header << std::string(data_bytes, '\0');
    return path;
  }

  // Expects read_trace to throw an InputError whose message contains every fragment.
  static void expect_error(const std::string& path, const PointConfig& point,
                           const std::vector<std::string>& fragments) {
    try {
      read_trace(path, 0, point);
      FAIL() << "expected an InputError from " << path;
    } catch (const InputError& e) {
      const std::string message = e.what();
      for (const std::string& fragment : fragments)
        EXPECT_NE(message.find(fragment), std::string::npos)
            << "message: " << message << "\nmissing: " << fragment;
    }
  }

  std::filesystem::path directory_;
};

PointConfig trace_point(DType dtype, Phase phase) {
  PointConfig point;
  point.model = "";  // no model: the trace defines the shape
  point.shape = {6, 2, 24};
  point.context_len = 333;
  point.decode_steps = 7;
  point.batch = 1;
  point.dtype = dtype;
  point.phase = phase;
  point.streaming_fraction = 0.5;
  point.sink_tokens = 4;
  point.local_tokens = 64;
  point.seed = 99;
  return point;
}

void expect_same(const Tensor& a, const Tensor& b, const char* what) {
  ASSERT_EQ(a.shape(), b.shape()) << what;
  for (int64_t i = 0; i < a.size(); ++i) ASSERT_EQ(a.data()[i], b.data()[i]) << what << " at " << i;
}

TEST_F(TraceTest, RoundTripIsExactInEveryDType) {
  for (DType dtype : {DType::fp16, DType::bf16, DType::fp32})
    for (Phase phase : {Phase::prefill, Phase::decode}) {
      const PointConfig point = trace_point(dtype, phase);
      const Workload written = generate_workload(point);
      const std::string path = file("round_trip.safetensors");
      write_trace(path, written, 3, dtype, {{"model", "tiny"}, {"text", "a trace"}});
      const Workload read = [&] {
        SafetensorsReader reader(path);
        EXPECT_EQ(reader.metadata().at("model"), "tiny");
        EXPECT_EQ(reader.metadata().at("text"), "a trace");
        PointConfig layer_point = point;
        return read_trace(path, 3, layer_point);
      }();
      SCOPED_TRACE(std::string(to_string(dtype)) + " " + std::string(to_string(phase)));
      EXPECT_EQ(read.shape.num_q_heads, 6);
      EXPECT_EQ(read.shape.num_kv_heads, 2);
      EXPECT_EQ(read.shape.head_dim, 24);
      EXPECT_EQ(read.context_len, 333);
      EXPECT_EQ(read.decode_steps, 7);
      EXPECT_EQ(read.name, "round_trip");
      EXPECT_EQ(read.heads.kv_head_kind, written.heads.kv_head_kind);
      EXPECT_EQ(read.heads.sink_tokens, 4);
      const Sequence& a = written.batch[0];
      const Sequence& b = read.batch[0];
      expect_same(a.q, b.q, "q");
      expect_same(a.k, b.k, "k");
      expect_same(a.v, b.v, "v");
      expect_same(a.q_decode, b.q_decode, "q_decode");
      expect_same(a.k_decode, b.k_decode, "k_decode");
      expect_same(a.v_decode, b.v_decode, "v_decode");
    }
}

TEST_F(TraceTest, DecodeKeepsTheFirstStepsAndRoundsToThePointDType) {
  const Workload written = generate_workload(trace_point(DType::fp32, Phase::decode));
  const std::string path = file("steps.safetensors");
  write_trace(path, written, 0, DType::fp32, {});
  PointConfig point = trace_point(DType::bf16, Phase::decode);
  point.decode_steps = 3;
  const Workload read = read_trace(path, 0, point);
  EXPECT_EQ(read.decode_steps, 3);
  ASSERT_EQ(read.batch[0].q_decode.dim(0), 3);
  EXPECT_EQ(read.batch[0].needle_targets.size(), 3u);
  const float original = written.batch[0].q_decode.at({2, 5, 7});
  EXPECT_EQ(read.batch[0].q_decode.at({2, 5, 7}), round_to_dtype(original, DType::bf16));
}

TEST_F(TraceTest, CacheFillPrefillReadsThePromptQueriesOfADecodePoint) {
  const Workload written = generate_workload(trace_point(DType::fp16, Phase::prefill));
  const std::string path = file("prompt.safetensors");
  write_trace(path, written, 0, DType::fp16, {});
  PointConfig point = trace_point(DType::fp16, Phase::decode);
  EXPECT_TRUE(read_trace(path, 0, point).batch[0].q.empty());
  point.cache_fill = CacheFill::prefill;
  const Workload read = read_trace(path, 0, point);
  expect_same(written.batch[0].q, read.batch[0].q, "q");
  expect_same(written.batch[0].k, read.batch[0].k, "k");

  const std::string without_queries = file("no_prompt_queries.safetensors");
  write_trace(without_queries, generate_workload(trace_point(DType::fp16, Phase::decode)), 0,
              DType::fp16, {});
  expect_error(without_queries, point, {"'layers.0.q'", "missing", "cache_fill prefill"});
}

TEST_F(TraceTest, WithoutHeadTypesTheStreamingFractionApplies) {
  const std::string header =
      R"({"layers.0.k":{"dtype":"F16","shape":[2,3,4],"data_offsets":[0,48]},)"
      R"("layers.0.v":{"dtype":"F16","shape":[2,3,4],"data_offsets":[48,96]},)"
      R"("layers.0.q":{"dtype":"F16","shape":[4,3,4],"data_offsets":[96,192]}})";
  const std::string path = raw_file("dense.safetensors", header, 192);
  PointConfig point = trace_point(DType::fp16, Phase::prefill);
  // interleaved (the default) lays the heads out as the generator does: 0.5 of 2 KV heads.
  const Workload w = read_trace(path, 0, point);
  EXPECT_EQ(w.heads.kv_head_kind,
            HeadLayout::with_streaming_fraction(2, 0.5, 4, 64).kv_head_kind);
  EXPECT_EQ(w.heads.num_streaming(), 1);
  EXPECT_EQ(w.shape.num_q_heads, 4);
  EXPECT_EQ(w.decode_steps, 0);
  point.streaming_fraction = 0.0;
  EXPECT_EQ(read_trace(path, 0, point).heads.num_streaming(), 0);
  point.head_selection = HeadSelection::trace;
  expect_error(path, point, {"dense.safetensors", "layer 0", "head_selection trace", "head_types"});
}

TEST_F(TraceTest, UnreadableFile) {
  expect_error(file("does_not_exist.safetensors"), trace_point(DType::fp16, Phase::decode),
               {"does_not_exist.safetensors", "cannot open"});
}

TEST_F(TraceTest, HeaderLengthBeyondTheFile) {
  const std::string path = raw_file("long_header.safetensors", "{}", 0, 1000);
  expect_error(path, trace_point(DType::fp16, Phase::decode),
               {"long_header.safetensors", "header length 1000", "beyond the end"});
}

TEST_F(TraceTest, InvalidJsonHeader) {
  const std::string path = raw_file("bad_json.safetensors", "{\"layers.0.k\": [", 0);
  expect_error(path, trace_point(DType::fp16, Phase::decode), {"bad_json.safetensors", "JSON"});
}

TEST_F(TraceTest, MissingTensor) {
  const std::string header =
      R"({"layers.0.k":{"dtype":"F16","shape":[2,3,4],"data_offsets":[0,48]}})";
  const std::string path = raw_file("missing.safetensors", header, 48);
  expect_error(path, trace_point(DType::fp16, Phase::decode),
               {"missing.safetensors: tensor 'layers.0.v': missing"});
  // Another layer is missing entirely.
  try {
    read_trace(path, 5, trace_point(DType::fp16, Phase::decode));
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("'layers.5.k'"), std::string::npos) << e.what();
  }
}

TEST_F(TraceTest, DecodePointNeedsDecodeQueries) {
  const std::string header =
      R"({"layers.0.k":{"dtype":"F16","shape":[2,3,4],"data_offsets":[0,48]},)"
      R"("layers.0.v":{"dtype":"F16","shape":[2,3,4],"data_offsets":[48,96]}})";
  const std::string path = raw_file("no_decode.safetensors", header, 96);
  expect_error(path, trace_point(DType::fp16, Phase::decode), {"'layers.0.q_decode'", "missing"});
  expect_error(path, trace_point(DType::fp16, Phase::prefill), {"'layers.0.q'", "missing"});
}

TEST_F(TraceTest, WrongRankNamesTheLayout) {
  const std::string header =
      R"({"layers.0.k":{"dtype":"F16","shape":[8,4096],"data_offsets":[0,65536]}})";
  const std::string path = raw_file("trace.safetensors", header, 65536);
  expect_error(path, trace_point(DType::fp16, Phase::decode),
               {"trace.safetensors: tensor 'layers.0.k': expected 3 dimensions "
                "[num_kv_heads, T, head_dim], got [8, 4096]"});
}

TEST_F(TraceTest, ShapesMustAgree) {
  const std::string header =
      R"({"layers.0.k":{"dtype":"F16","shape":[2,3,4],"data_offsets":[0,48]},)"
      R"("layers.0.v":{"dtype":"F16","shape":[2,5,4],"data_offsets":[48,128]}})";
  const std::string path = raw_file("disagree.safetensors", header, 128);
  expect_error(path, trace_point(DType::fp16, Phase::decode),
               {"'layers.0.v'", "expected shape [2, 3, 4]", "got [2, 5, 4]"});

  const std::string decode_header =
      R"({"layers.0.k":{"dtype":"F16","shape":[2,3,4],"data_offsets":[0,48]},)"
      R"("layers.0.v":{"dtype":"F16","shape":[2,3,4],"data_offsets":[48,96]},)"
      R"("layers.0.q_decode":{"dtype":"F16","shape":[5,4,4],"data_offsets":[96,256]},)"
      R"("layers.0.k_decode":{"dtype":"F16","shape":[5,2,4],"data_offsets":[256,336]},)"
      R"("layers.0.v_decode":{"dtype":"F16","shape":[4,2,4],"data_offsets":[336,400]}})";
  const std::string decode_path = raw_file("decode_disagree.safetensors", decode_header, 400);
  expect_error(decode_path, trace_point(DType::fp16, Phase::decode),
               {"'layers.0.v_decode'", "[steps, num_kv_heads, head_dim]", "got [4, 2, 4]"});
}

TEST_F(TraceTest, ShapeMustMatchTheNamedModel) {
  const Workload written = generate_workload(trace_point(DType::fp16, Phase::decode));
  const std::string path = file("model.safetensors");
  write_trace(path, written, 0, DType::fp16, {});
  PointConfig point = trace_point(DType::fp16, Phase::decode);
  point.model = "llama3-8b";
  point.shape = {32, 8, 128};
  expect_error(path, point, {"model.safetensors", "does not match model 'llama3-8b'"});
  point.shape = {6, 2, 24};
  EXPECT_NO_THROW(read_trace(path, 0, point));
}

TEST_F(TraceTest, UnknownDType) {
  const std::string header =
      R"({"layers.0.k":{"dtype":"F64","shape":[2,3,4],"data_offsets":[0,192]},)"
      R"("layers.0.v":{"dtype":"F64","shape":[2,3,4],"data_offsets":[192,384]},)"
      R"("layers.0.q":{"dtype":"F64","shape":[2,3,4],"data_offsets":[384,576]}})";
  const std::string path = raw_file("f64.safetensors", header, 576);
  expect_error(path, trace_point(DType::fp16, Phase::prefill),
               {"tensor 'layers.0.k'", "unsupported dtype 'F64'"});
}

TEST_F(TraceTest, TruncatedData) {
  const std::string header =
      R"({"layers.0.k":{"dtype":"F16","shape":[2,3,4],"data_offsets":[0,48]},)"
      R"("layers.0.v":{"dtype":"F16","shape":[2,3,4],"data_offsets":[48,96]},)"
      R"("layers.0.q":{"dtype":"F16","shape":[2,3,4],"data_offsets":[96,144]}})";
  const std::string path = raw_file("truncated.safetensors", header, 100);
  expect_error(path, trace_point(DType::fp16, Phase::prefill),
               {"tensor 'layers.0.q'", "truncated data"});
}

TEST_F(TraceTest, DataOffsetsMustMatchTheShape) {
  const std::string header =
      R"({"layers.0.k":{"dtype":"BF16","shape":[2,3,4],"data_offsets":[0,40]},)"
      R"("layers.0.v":{"dtype":"BF16","shape":[2,3,4],"data_offsets":[40,88]},)"
      R"("layers.0.q":{"dtype":"BF16","shape":[2,3,4],"data_offsets":[88,136]}})";
  const std::string path = raw_file("offsets.safetensors", header, 136);
  expect_error(path, trace_point(DType::fp16, Phase::prefill),
               {"tensor 'layers.0.k'", "span 40 bytes", "needs 48"});
}

TEST_F(TraceTest, HeadTypesAreReadAndChecked) {
  auto header_with = [](const std::string& head_types) {
    return R"({"__metadata__":{"head_types":)" + head_types + R"(},)"
           R"("layers.0.k":{"dtype":"F32","shape":[2,3,4],"data_offsets":[0,96]},)"
           R"("layers.0.v":{"dtype":"F32","shape":[2,3,4],"data_offsets":[96,192]},)"
           R"("layers.0.q":{"dtype":"F32","shape":[2,3,4],"data_offsets":[192,288]}})";
  };
  PointConfig point = trace_point(DType::fp16, Phase::prefill);
  point.head_selection = HeadSelection::trace;
  point.streaming_fraction = 1.0;  // not read: the trace names its heads
  const std::string list = raw_file(
      "list.safetensors", header_with(R"("[[\"streaming\", \"dense\"], [\"dense\", \"dense\"]]")"),
      288);
  const Workload w = read_trace(list, 0, point);
  EXPECT_TRUE(w.heads.is_streaming(0));
  EXPECT_FALSE(w.heads.is_streaming(1));
  EXPECT_EQ(w.heads.local_tokens, point.local_tokens);

  const std::string wrong_kind = raw_file(
      "kind.safetensors", header_with(R"("{\"0\": [\"dense\", \"sliding\"]}")"), 288);
  expect_error(wrong_kind, point, {"head_types", "head 1", "sliding"});
  const std::string wrong_count =
      raw_file("count.safetensors", header_with(R"("[[\"dense\"]]")"), 288);
  expect_error(wrong_count, point, {"head_types", "2 KV head types"});
}

TEST_F(TraceTest, OneFileHoldsSeveralLayersAndTheHeaderListsThem) {
  PointConfig point = trace_point(DType::fp16, Phase::decode);
  const Workload first = generate_workload(point);
  point.seed = 5;
  const Workload second = generate_workload(point);
  const std::string path = file("layers.safetensors");
  write_trace(path, {{2, &first}, {11, &second}}, DType::fp16, {{"model", "tiny"}});
  const TraceHeader header = read_trace_header(path);
  EXPECT_EQ(header.layers, (std::vector<int>{2, 11}));
  EXPECT_EQ(header.metadata.at("model"), "tiny");
  point = trace_point(DType::fp16, Phase::decode);
  expect_same(read_trace(path, 2, point).batch[0].k, first.batch[0].k, "layer 2 k");
  expect_same(read_trace(path, 11, point).batch[0].q_decode, second.batch[0].q_decode,
              "layer 11 q_decode");
  // head_types name both layers; without them the file has none.
  point.head_selection = HeadSelection::trace;
  EXPECT_EQ(read_trace(path, 11, point).heads.kv_head_kind, second.heads.kv_head_kind);
  const std::string bare = file("bare.safetensors");
  write_trace(bare, {{0, &first}}, DType::fp16, {}, false);
  EXPECT_EQ(read_trace_header(bare).metadata.count("head_types"), 0u);

  const std::string not_a_trace = raw_file(
      "not_a_trace.safetensors", R"({"x":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}})", 4);
  try {
    read_trace_header(not_a_trace);
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("no layers.{i}.k tensor"), std::string::npos) << e.what();
  }
}

TEST_F(TraceTest, InspectionReportsWhatAPointReadsWithoutTheData) {
  const Workload written = generate_workload(trace_point(DType::fp16, Phase::decode));
  const std::string path = file("inspect.safetensors");
  write_trace(path, written, 0, DType::fp16, {});
  PointConfig point = trace_point(DType::fp16, Phase::decode);
  point.decode_steps = 100;
  const TraceLayerInfo info = inspect_trace_layer(path, 0, point);
  EXPECT_EQ(info.context_len, 333);
  EXPECT_EQ(info.trace_decode_steps, 7);
  EXPECT_EQ(info.decode_steps, 7);
  EXPECT_EQ(info.shape.num_q_heads, 6);
  EXPECT_EQ(head_layout_text(info.heads), head_layout_text(written.heads));
  point.decode_steps = 3;
  EXPECT_EQ(inspect_trace_layer(path, 0, point).decode_steps, 3);
}

TEST_F(TraceTest, NeedlePositionsAreReadAndChecked) {
  const Workload written = generate_workload(trace_point(DType::fp16, Phase::decode));
  const PointConfig point = trace_point(DType::fp16, Phase::decode);
  const std::string path = file("passkey.safetensors");
  write_trace(path, written, 0, DType::fp16, {{"needle_positions", "[200, 198, 199]"}});
  EXPECT_EQ(read_trace(path, 0, point).batch[0].needle_tokens, (std::vector<int32_t>{198, 199, 200}));
  const std::string none = file("prose.safetensors");
  write_trace(none, written, 0, DType::fp16, {});
  EXPECT_TRUE(read_trace(none, 0, point).batch[0].needle_tokens.empty());

  for (const auto& [text, fragment] : std::vector<std::pair<std::string, std::string>>{
           {"[1, 333]", "[0, 333)"}, {"[-1]", "[0, 333)"}, {"{\"a\": 1}", "JSON list"},
           {"[1,", "not valid JSON"}, {"[1.5]", "[0, 333)"}}) {
    const std::string bad = file("bad_needle.safetensors");
    write_trace(bad, written, 0, DType::fp16, {{"needle_positions", text}});
    expect_error(bad, point, {"bad_needle.safetensors", "__metadata__ needle_positions", fragment});
  }
}

TEST_F(TraceTest, RandomHeadsChooseAcrossTheTracesLayers) {
  PointConfig point = trace_point(DType::fp16, Phase::decode);
  const Workload layer = generate_workload(point);
  const std::string path = file("model.safetensors");
  write_trace(path, {{0, &layer}, {1, &layer}, {2, &layer}, {3, &layer}}, DType::fp16, {}, false);
  point.head_selection = HeadSelection::random;
  point.streaming_fraction = 0.5;
  int streaming = 0;
  for (int l = 0; l < 4; ++l) streaming += read_trace(path, l, point).heads.num_streaming();
  EXPECT_EQ(streaming, 4);  // half of 4 layers x 2 KV heads
  point.head_selection = HeadSelection::calibrated;
  expect_error(path, point, {"model.safetensors", "layer 0", "needs a head_calibration"});
}

TEST(Safetensors, RejectsNonFloatStorage) {
  const Tensor tensor({2, 2});
  EXPECT_THROW(write_safetensors("/tmp/unused.safetensors", {{"x", &tensor, DType::int8}}, {}),
               InputError);
}

}  // namespace
}  // namespace unisparse
