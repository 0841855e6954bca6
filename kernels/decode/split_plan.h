#pragma once
// How many splits a decode attention launch cuts each work item's chunks into (flash-decoding). The
// kernel gives split s of S the chunks [s n / S, (s + 1) n / S) of the n a work item attends at this
// step, so the splits of a launch differ by at most one chunk. S is chosen once per run, for the
// longest chunk count the run reaches, by a model of the launch's time: the blocks run in waves of
// `resident_blocks` (what the GPU holds at once), and every block costs its chunks plus a fixed
// start and end. One full wave is the usual answer at batch 1 (every SM busy, no tail of a half-empty
// wave); many work items get one split each and several waves.
//
// Host-only: no CUDA call, so that the planner is tested without a GPU.
namespace unisparse::cuda {

struct SplitPlanInput {
  int work_items = 0;       // blocks per split: pool rows * group_size / heads_per_load
  int max_chunks = 0;       // the most chunks a work item attends during the run
  int chunk_tokens = 0;     // tokens of a chunk (the page size)
  int resident_blocks = 0;  // blocks per SM * SMs
};

// The modelled time of a launch with `splits` splits, in tokens of one block's work.
double split_launch_cost(const SplitPlanInput& input, int splits);

// The split count in [1, min(max_chunks, limits::kMaxSplits)] of least modelled time; the smallest
// such count on ties (fewer partial results to merge).
int plan_splits(const SplitPlanInput& input);

}  // namespace unisparse::cuda
