#include "framework/workload/workload.h"

namespace unisparse {

const float* Workload::key(int b, int kv_head, int token) const {
  const Sequence& seq = batch[b];
  if (token < context_len) return seq.k.row({kv_head, token});
  return seq.k_decode.row({token - context_len, kv_head});
}

const float* Workload::value(int b, int kv_head, int token) const {
  const Sequence& seq = batch[b];
  if (token < context_len) return seq.v.row({kv_head, token});
  return seq.v_decode.row({token - context_len, kv_head});
}

}  // namespace unisparse
