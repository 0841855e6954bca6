"""unisparse._core, the C++ core seen from Python: each function against a plain numpy statement of
its rule, and the decode session against the CPU backend's decode of the same rows."""

import unittest

import numpy as np

from unisparse import _core


def rng(seed=0):
    return np.random.default_rng(seed)


def decode_rows(seed=0, kv_heads=3, q_heads=9, tokens=203, steps=9, head_dim=16):
    generator = rng(seed)
    keys = generator.standard_normal((kv_heads, tokens, head_dim), dtype=np.float32)
    values = generator.standard_normal((kv_heads, tokens, head_dim), dtype=np.float32)
    q_decode = 2 * generator.standard_normal((steps, q_heads, head_dim), dtype=np.float32)
    k_decode = generator.standard_normal((steps, kv_heads, head_dim), dtype=np.float32)
    v_decode = generator.standard_normal((steps, kv_heads, head_dim), dtype=np.float32)
    return keys, values, q_decode, k_decode, v_decode


PLAN = dict(mode="static+dynamic", head_kinds="dsd", sink_tokens=4, local_tokens=24, page_size=16,
            logical_page_size=4, token_budget=64, reuse_interval=3)


class SelectionTest(unittest.TestCase):
    def test_key_statistics_are_per_logical_page_max_and_min(self):
        keys = rng(1).standard_normal((37, 8), dtype=np.float32)
        kmax, kmin = _core.key_statistics(keys, 16)
        self.assertEqual(kmax.shape, (3, 8))
        for page in range(3):
            np.testing.assert_array_equal(kmax[page], keys[page * 16:(page + 1) * 16].max(axis=0))
            np.testing.assert_array_equal(kmin[page], keys[page * 16:(page + 1) * 16].min(axis=0))

    def test_physical_scores_are_the_max_of_logical_bounds(self):
        generator = rng(2)
        keys = generator.standard_normal((70, 8), dtype=np.float32)
        query = generator.standard_normal(8, dtype=np.float32)
        kmax, kmin = _core.key_statistics(keys, 8)
        logical = np.maximum(query * kmax, query * kmin).sum(axis=1)
        scores = _core.physical_page_scores(query, keys, 32, 8)
        self.assertEqual(scores.shape, (3,))  # 70 tokens: pages of 32, the last partial
        expected = [logical[0:4].max(), logical[4:8].max(), logical[8:9].max()]
        np.testing.assert_allclose(scores, expected, rtol=1e-6)

    def test_top_pages_forces_the_last_page_and_breaks_ties_by_lower_id(self):
        scores = np.array([1.0, 5.0, 5.0, 0.5, 9.0, 100.0], dtype=np.float32)
        # six pages, k = 3: page 5 is the last (its score is not read), then 4 and the tie 1 < 2
        np.testing.assert_array_equal(_core.top_pages(scores, 6, 3), [1, 4, 5])
        np.testing.assert_array_equal(_core.top_pages(scores, 6, 3, scored_only=True), [1, 4])
        np.testing.assert_array_equal(_core.top_pages(scores, 3, 3), [0, 1, 2])
        np.testing.assert_array_equal(_core.top_pages(scores.astype(np.float64), 6, 2), [4, 5])

    def test_streaming_window_is_token_exact(self):
        ranges = _core.attended_ranges(True, 4, 10, 16, 100)
        np.testing.assert_array_equal(ranges, [[0, 4], [90, 100]])
        np.testing.assert_array_equal(_core.attended_ranges(True, 4, 10, 16, 12), [[0, 12]])
        pages = np.array([0, 2, 3], dtype=np.int32)
        np.testing.assert_array_equal(_core.attended_ranges(False, 0, 0, 16, 60, pages),
                                      [[0, 16], [32, 60]])

    def test_selection_reuses_pages_and_adds_the_current_last_page(self):
        keys, _, q_decode, k_decode, _ = decode_rows()
        steps = _core.select_pages(keys, q_decode, k_decode, 16, 4, 64, 3,
                                   gqa_selection="kv_head_max")
        self.assertEqual(len(steps), 9)
        for step, (indptr, indices) in enumerate(steps):
            last_page = (203 + step) // 16
            chosen_indptr, chosen = steps[step - step % 3]
            for head in range(9):
                row = indices[indptr[head]:indptr[head + 1]]
                self.assertEqual(len(row), 4)
                self.assertEqual(row[-1], last_page)
                np.testing.assert_array_equal(
                    row[:-1], chosen[chosen_indptr[head]:chosen_indptr[head + 1]][:-1])
                group_first = head - head % 3  # kv_head_max: the group attends one page set
                np.testing.assert_array_equal(row, indices[indptr[group_first]:indptr[group_first + 1]])

    def test_bad_names_and_shapes_are_value_errors_naming_the_argument(self):
        keys, values, q_decode, k_decode, v_decode = decode_rows()
        with self.assertRaisesRegex(ValueError, "gqa_selection"):
            _core.select_pages(keys, q_decode, k_decode, 16, 4, 64, 3, gqa_selection="per_head")
        with self.assertRaisesRegex(ValueError, "k_decode"):
            _core.cpu_decode(keys, values, q_decode, k_decode[:, :2], v_decode)
        with self.assertRaisesRegex(ValueError, "head_kinds"):
            _core.DecodeSession(9, 3, 16, mode="static", head_kinds="dx")


class AttentionTest(unittest.TestCase):
    def test_session_steps_equal_the_cpu_backend_bit_for_bit(self):
        keys, values, q_decode, k_decode, v_decode = decode_rows()
        for kv_dtype, selector in (("fp32", "quest"), ("int4", "oracle"), ("fp8", "quest")):
            plan = dict(PLAN, kv_dtype=kv_dtype, selector=selector)
            expected, selections = _core.cpu_decode(keys, values, q_decode, k_decode, v_decode, **plan)
            session = _core.DecodeSession(9, 3, 16, reserve_steps=2, **plan)
            session.prefill(keys, values)
            for step in range(9):
                out = session.step(q_decode[step], k_decode[step], v_decode[step])
                np.testing.assert_array_equal(out, expected[step], err_msg=f"{kv_dtype} step {step}")
                for got, want in zip(session.last_selection(), selections[step]):
                    np.testing.assert_array_equal(got, want)
            self.assertEqual(session.steps, 9)
            self.assertEqual(session.num_tokens, 212)

    def test_non_contiguous_and_float64_inputs_are_converted(self):
        keys, values, q_decode, k_decode, v_decode = decode_rows()
        expected, _ = _core.cpu_decode(keys, values, q_decode, k_decode, v_decode, **PLAN)
        strided = np.swapaxes(np.swapaxes(keys, 0, 1).copy(), 0, 1)  # same values, other strides
        self.assertFalse(strided.flags.c_contiguous)
        got, _ = _core.cpu_decode(strided, values.astype(np.float64), q_decode, k_decode,
                                  v_decode, **PLAN)
        np.testing.assert_array_equal(got, expected)

    def test_dense_prefill_is_causal_softmax_attention(self):
        generator = rng(3)
        q = generator.standard_normal((4, 50, 8), dtype=np.float32)
        k = generator.standard_normal((2, 50, 8), dtype=np.float32)
        v = generator.standard_normal((2, 50, 8), dtype=np.float32)
        out = _core.cpu_prefill(q, k, v)
        scores = np.einsum("htd,hsd->hts", q.astype(np.float64), np.repeat(k, 2, axis=0)) / np.sqrt(8)
        scores[:, np.triu(np.ones((50, 50), bool), 1)] = -np.inf
        weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
        expected = (weights / weights.sum(-1, keepdims=True)) @ np.repeat(v, 2, axis=0)
        np.testing.assert_allclose(out, expected, atol=1e-5)
        # A streaming KV head sees [0, sink) and the last `local` keys of each query.
        streaming = _core.cpu_prefill(q, k, v, head_kinds="sd", sink_tokens=2, local_tokens=5)
        np.testing.assert_array_equal(streaming[2:], out[2:])
        self.assertFalse(np.allclose(streaming[:2, 20:], out[:2, 20:]))


class QuantizerTest(unittest.TestCase):
    def test_integer_formats_round_trip_within_half_a_step(self):
        rows = rng(4).standard_normal((5, 13), dtype=np.float32)
        for name, levels in (("int8", 255), ("int4", 15)):
            codes, scales, zeros = _core.quantize_rows(rows, name)
            self.assertEqual(codes.shape, (5, 13 if name == "int8" else 7))
            back = _core.dequantize_rows(codes, scales, zeros, name, 13)
            np.testing.assert_array_equal(back, _core.quantize_dequantize(rows, name))
            span = rows.max(axis=1) - rows.min(axis=1)
            self.assertTrue(np.all(np.abs(back - rows) <= (scales / 2 * 1.0001)[:, None]))
            np.testing.assert_allclose(scales, span / levels, rtol=1e-6)

    def test_fp8_saturates_beyond_its_scale(self):
        values = np.array([[1.0, -2.0, 448.0, 1000.0]], dtype=np.float32)
        self.assertEqual(_core.e4m3_scale(values[0, :3]), 1.0)
        np.testing.assert_array_equal(_core.quantize_dequantize(values, "fp8"), [[1, -2, 448, 448]])
        with self.assertRaisesRegex(ValueError, "format"):
            _core.quantize_rows(values, "fp16")


class CudaTest(unittest.TestCase):
    def test_cuda_backend_reports_whether_it_can_run(self):
        available, device_or_reason = _core.cuda_status()
        keys, values, q_decode, k_decode, v_decode = decode_rows()
        if not available:
            # CPU-only builds and machines without a GPU say why, and cuda_decode says the same.
            self.assertRegex(device_or_reason, "cuda|CUDA|GPU|device")
            with self.assertRaisesRegex(RuntimeError, "the cuda backend is unavailable"):
                _core.cuda_decode(keys, values, q_decode, k_decode, v_decode, **PLAN)
            return
        out, selections = _core.cuda_decode(keys, values, q_decode, k_decode, v_decode,
                                            **dict(PLAN, kv_dtype="fp16"))
        expected, _ = _core.cpu_decode(keys, values, q_decode, k_decode, v_decode,
                                       **dict(PLAN, kv_dtype="fp16"))
        self.assertEqual(len(selections), 9)
        np.testing.assert_allclose(out, expected, atol=5e-3)


if __name__ == "__main__":
    unittest.main()
