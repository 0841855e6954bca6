// unisparse._core: the C++ core of unisparse for Python. Every selection, window, attention and
// quantization rule lives in the C++ core; these functions call it, numpy arrays in and out.
#include <nanobind/nanobind.h>

#include "bindings.h"

NB_MODULE(_core, m) {
  m.doc() =
      "The unisparse C++ core: key statistics, Quest page scores, top-k with the forced last page, "
      "page selection (budget, ties, reuse, GQA modes, oracle), streaming windows, the CPU "
      "backend's sparse decode and prefill, the KV quantizers, DecodeSession (one layer's "
      "incremental decode) and the cuda backend's decode where available. float32 C-contiguous "
      "arrays are read in place; other arrays are converted (copied) first.";
  unisparse::python::bind_selection(m);
  unisparse::python::bind_attention(m);
  unisparse::python::bind_quant(m);
  unisparse::python::bind_session(m);
  unisparse::python::bind_cuda(m);
}
