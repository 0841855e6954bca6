#pragma once
// Model-level sweep points (task passkey | perplexity): the real model decodes with the point's
// plan inside every layer's attention. The model runs in Python (framework/python/unisparse) and
// calls this C++ core for every selection and attention rule; the runner hands it the points over
// a pipe to one long-lived worker process, `python -m unisparse.model_worker` (JSON lines: the
// point's resolved parameters and every layer's head layout in, the row's metric columns out), so
// the model, its prefills and the dense references stay loaded across points.
//
// The interpreter is $UNISPARSE_PYTHON, else <repository>/.venv/bin/python; the worker imports the
// binding built next to this binary (<build>/python) and the package of framework/python.
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "framework/config/sweep_config.h"
#include "framework/results/row.h"
#include "framework/sweep/expand.h"

namespace unisparse {

// The metric columns of model-level rows that `unisparse check` compares (tolerances.yaml keys).
const std::vector<std::string>& model_metric_names();

// Why a model-level point cannot run as configured (empty when it can): a backend other than cpu, a
// phase other than decode, dtype other than fp32 (the model computes in fp32), head_selection trace,
// a perplexity point whose eval_tokens leave no prefill.
std::string model_skip_reason(const PointConfig& point);

// A running worker process.
class ModelWorker {
 public:
  // Starts the worker and waits for its hello. Throws InputError when the interpreter is missing or
  // the worker cannot start or load the model (the message says what it printed).
  ModelWorker(const std::string& source_dir);
  ~ModelWorker();
  ModelWorker(const ModelWorker&) = delete;
  ModelWorker& operator=(const ModelWorker&) = delete;

  // One request and its reply. Throws std::runtime_error when the worker has gone.
  nlohmann::json request(const nlohmann::json& message);
  // The hello reply: the model file and shape, Python and numpy versions, and the interpreter.
  const nlohmann::json& description() const { return description_; }
  bool alive() const { return pid_ > 0; }

 private:
  void stop();
  int pid_ = -1;
  int to_worker_ = -1;    // the worker's stdin
  int from_worker_ = -1;  // the worker's stdout
  std::string buffer_;    // read but not yet returned
  nlohmann::json description_;
};

// Runs a sweep's model-level points. Built before the run directory is written: it checks every
// model-level point that will run (head layouts, the model's shape against the sweep's) and starts
// the worker, so bad input is an InputError with nothing written.
class ModelPoints {
 public:
  ModelPoints(const SweepConfig& sweep, const std::vector<ExpandedPoint>& points,
              const std::string& source_dir);
  ~ModelPoints();

  // Whether the sweep has model-level points that run (and so a worker).
  bool active() const { return worker_ != nullptr; }
  // For meta.json: the worker's description (null without one).
  nlohmann::json description() const;
  // Fills the row of one model-level point: status ok with the worker's columns, skipped with the
  // reason, or failed with the worker's error (a worker that died is started again for the next).
  void run(const ExpandedPoint& point, Row& row);

 private:
  std::vector<std::string> head_layouts(const PointConfig& point) const;

  const SweepConfig& sweep_;
  std::string source_dir_;
  std::unique_ptr<ModelWorker> worker_;
  int num_layers_ = 0;
};

}  // namespace unisparse
