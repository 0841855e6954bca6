#pragma once
// The parts of unisparse._core, one function per area, called by module.cpp.
#include <nanobind/nanobind.h>

namespace unisparse::python {

void bind_selection(nanobind::module_& m);  // key statistics, page scores, top-k, selection, windows
void bind_attention(nanobind::module_& m);  // the CPU backend's decode and prefill over a plan
void bind_quant(nanobind::module_& m);      // the KV quantizers
void bind_session(nanobind::module_& m);    // DecodeSession: incremental decode of one layer
void bind_cuda(nanobind::module_& m);       // the cuda backend's decode, where built and present

}  // namespace unisparse::python
