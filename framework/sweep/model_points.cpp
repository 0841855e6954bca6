#include "framework/sweep/model_points.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <numeric>
#include <stdexcept>

#include "framework/config/params.h"
#include "framework/core/error.h"
#include "framework/core/parallel.h"
#include "framework/results/point_row.h"
#include "framework/workload/head_selection.h"

extern char** environ;

namespace unisparse {

namespace {

using Json = nlohmann::json;

std::string interpreter(const std::string& source_dir) {
  const char* chosen = std::getenv("UNISPARSE_PYTHON");
  const std::string path = chosen && *chosen ? chosen : source_dir + "/.venv/bin/python";
  if (::access(path.c_str(), X_OK) != 0)
    throw InputError("model-level points need the project's Python: " + path +
                     " is not an executable (" + std::strerror(errno) +
                     "); run `make venv model`, or point UNISPARSE_PYTHON at an interpreter with "
                     "analysis/requirements.txt installed");
  return path;
}

// <build>/python: where the build that made this binary put unisparse._core.
std::string binding_dir() {
  std::error_code error;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) return {};
  return (exe.parent_path().parent_path() / "python").string();
}

std::vector<std::string> worker_environment(const std::string& source_dir) {
  std::string python_path = binding_dir();
  python_path += ":" + std::filesystem::absolute(source_dir).string() + "/framework/python";
  std::vector<std::string> environment;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string text = *entry;
    if (text.rfind("PYTHONPATH=", 0) == 0)
      python_path += ":" + text.substr(11);
    else
      environment.push_back(text);
  }
  environment.push_back("PYTHONPATH=" + python_path);
  return environment;
}

}  // namespace

const std::vector<std::string>& model_metric_names() {
  static const std::vector<std::string> names{"accuracy", "ppl", "kl_mean", "top1_agreement"};
  return names;
}

std::string model_skip_reason(const PointConfig& point) {
  if (point.backend != "cpu")
    return "model-level points run on the cpu backend (the model in Python calls the C++ core), "
           "not " + point.backend;
  if (point.phase != Phase::decode) return "model-level points decode: phase must be decode";
  if (point.dtype != DType::fp32)
    return "the model computes q/k/v in fp32: dtype must be fp32 (kv_dtype sets the cache format)";
  if (point.head_selection == HeadSelection::trace)
    return "head_selection trace reads a trace's head types; a model-level point has no trace";
  if (point.task == ModelTask::perplexity && point.eval_tokens >= point.context_len)
    return "eval_tokens " + std::to_string(point.eval_tokens) + " leaves no prefill of the " +
           std::to_string(point.context_len) + "-token text";
  return {};
}

ModelWorker::ModelWorker(const std::string& source_dir) {
  const std::string python = interpreter(source_dir);
  int input[2], output[2];
  if (::pipe2(input, O_CLOEXEC) != 0 || ::pipe2(output, O_CLOEXEC) != 0)
    throw std::runtime_error(std::string("model worker: pipe: ") + std::strerror(errno));
  // A worker that dies must not kill the runner through SIGPIPE; a failed write says so instead.
  ::signal(SIGPIPE, SIG_IGN);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, input[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, output[1], STDOUT_FILENO);
  const std::vector<std::string> environment = worker_environment(source_dir);
  std::vector<char*> envp;
  for (const std::string& entry : environment) envp.push_back(const_cast<char*>(entry.c_str()));
  envp.push_back(nullptr);
  const char* argv[] = {python.c_str(), "-m", "unisparse.model_worker", nullptr};
  const int spawned = posix_spawn(&pid_, python.c_str(), &actions, nullptr,
                                  const_cast<char* const*>(argv), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(input[0]);
  ::close(output[1]);
  to_worker_ = input[1];
  from_worker_ = output[0];
  if (spawned != 0) {
    pid_ = -1;
    stop();
    throw InputError("model worker: cannot start " + python + ": " + std::strerror(spawned));
  }
  Json hello;
  try {
    hello = request({{"request", "hello"}});
  } catch (const std::runtime_error& error) {
    stop();
    throw InputError("model worker (" + python + " -m unisparse.model_worker) ended before it was "
                     "ready; what it printed is above (" + error.what() + ")");
  }
  if (!hello.value("ok", false)) {
    stop();
    throw InputError("model worker: " + hello.value("error", std::string("no hello")));
  }
  description_ = hello;
  description_.erase("ok");
  description_["interpreter"] = python;
}

ModelWorker::~ModelWorker() { stop(); }

void ModelWorker::stop() {
  if (to_worker_ >= 0) ::close(to_worker_);  // end of input: the worker returns
  if (from_worker_ >= 0) ::close(from_worker_);
  to_worker_ = from_worker_ = -1;
  if (pid_ > 0) {
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  pid_ = -1;
}

Json ModelWorker::request(const Json& message) {
  if (pid_ <= 0) throw std::runtime_error("the model worker is not running");
  const std::string line = message.dump() + "\n";
  for (size_t written = 0; written < line.size();) {
    const ssize_t n = ::write(to_worker_, line.data() + written, line.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      stop();
      throw std::runtime_error("the model worker has exited (writing to it failed)");
    }
    written += static_cast<size_t>(n);
  }
  while (true) {
    const size_t end = buffer_.find('\n');
    if (end != std::string::npos) {
      const std::string reply = buffer_.substr(0, end);
      buffer_.erase(0, end + 1);
      try {
        return Json::parse(reply);
      } catch (const Json::exception& error) {
        throw std::runtime_error("the model worker wrote a line that is not JSON: " + reply.substr(0, 200));
      }
    }
    char chunk[65536];
    const ssize_t n = ::read(from_worker_, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      stop();
      throw std::runtime_error("the model worker has exited (its messages are above)");
    }
    buffer_.append(chunk, static_cast<size_t>(n));
  }
}

ModelPoints::ModelPoints(const SweepConfig& sweep, const std::vector<ExpandedPoint>& points,
                         const std::string& source_dir)
    : sweep_(sweep), source_dir_(source_dir) {
  const bool any = std::any_of(points.begin(), points.end(), [](const ExpandedPoint& point) {
    return point.skip_reason.empty() && is_model_level(point.config.task) &&
           model_skip_reason(point.config).empty();
  });
  if (!any) return;
  worker_ = std::make_unique<ModelWorker>(source_dir);
  const Json& model = worker_->description()["model"];
  num_layers_ = model.value("num_layers", 0);
  const ModelShape& shape = sweep.base.shape;
  if (model.value("num_q_heads", 0) != shape.num_q_heads ||
      model.value("num_kv_heads", 0) != shape.num_kv_heads ||
      model.value("head_dim", 0) != shape.head_dim)
    throw input_error(sweep.source_path, 0, "model",
                      "model '" + sweep.base.model + "' has " + std::to_string(shape.num_q_heads) +
                          " / " + std::to_string(shape.num_kv_heads) + " heads of " +
                          std::to_string(shape.head_dim) + ", the model file " +
                          model.value("path", std::string("?")) + " " + model.dump());
  // Every layout is made now, so a calibration that lacks a layer is bad input before writing.
  for (const ExpandedPoint& point : points)
    if (point.skip_reason.empty() && is_model_level(point.config.task) &&
        model_skip_reason(point.config).empty())
      head_layouts(point.config);
}

ModelPoints::~ModelPoints() = default;

Json ModelPoints::description() const { return worker_ ? worker_->description() : Json(); }

std::vector<std::string> ModelPoints::head_layouts(const PointConfig& point) const {
  HeadSelectionRequest request;
  request.selection = point.head_selection;
  request.num_kv_heads = point.shape.num_kv_heads;
  request.streaming_fraction = point.streaming_fraction;
  request.seed = point.seed;
  request.sink_tokens = point.sink_tokens;
  request.local_tokens = point.local_tokens;
  request.model_layers.resize(num_layers_);
  std::iota(request.model_layers.begin(), request.model_layers.end(), 0);
  request.calibration = sweep_.head_calibration(point.head_calibration);
  std::vector<std::string> layouts;
  for (int layer = 0; layer < num_layers_; ++layer) {
    request.layer = layer;
    try {
      layouts.push_back(head_layout_text(heads_that_run(select_head_layout(request), point.mode)));
    } catch (const std::invalid_argument& error) {
      throw input_error(sweep_.source_path, 0, "head_calibration",
                        point.head_calibration + ": " + error.what());
    }
  }
  return layouts;
}

void ModelPoints::run(const ExpandedPoint& point, Row& row) {
  const std::string skip = model_skip_reason(point.config);
  if (!skip.empty()) {
    row["status"] = "skipped";
    row["reason"] = skip;
    return;
  }
  const std::vector<std::string> layouts = head_layouts(point.config);
  std::string layout_text;
  int streaming = 0;
  for (const std::string& layout : layouts) {
    layout_text += (layout_text.empty() ? "" : "/") + layout;
    streaming += static_cast<int>(std::count(layout.begin(), layout.end(), 's'));
  }
  row["head_layout"] = layout_text;
  row["num_streaming_heads"] = streaming;
  row["device"] = "cpu (" + std::to_string(hardware_threads()) + " threads; model in the loop)";
  Json params = Json::object();
  for (const auto& [key, value] : describe(point.config)) params[key] = value;
  try {
    if (!worker_->alive()) worker_ = std::make_unique<ModelWorker>(source_dir_);
    const Json reply = worker_->request(
        {{"request", "evaluate"}, {"point_id", point.point_id}, {"params", params},
         {"head_layouts", layouts}});
    if (!reply.value("ok", false)) {
      row["status"] = "failed";
      row["reason"] = reply.value("error", std::string("the model worker gave no reason"));
      return;
    }
    for (const auto& [column, value] : reply.at("columns").items()) row[column] = value;
  } catch (const std::exception& error) {
    row["status"] = "failed";
    row["reason"] = error.what();
  }
}

}  // namespace unisparse
