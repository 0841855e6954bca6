#!/usr/bin/env python3
"""Writes the seed corpus of the safetensors_trace fuzzer: small valid traces in every dtype the
reader takes (as write_trace lays them out), a plan file of I32 arrays (as --dump-plans writes
them), and the malformed headers that were once accepted or crashed the reader (regression inputs).

    tests/fuzz/write_safetensors_seeds.py tests/fuzz/corpus/safetensors_trace

Standard library only: the container is an 8-byte little-endian header length, the JSON header,
then the data.
"""
import json
import struct
import sys
from pathlib import Path

BYTES = {"F16": 2, "BF16": 2, "F32": 4, "I32": 4}


def container(header: dict, data: bytes, claimed_length=None) -> bytes:
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    length = len(text) if claimed_length is None else claimed_length
    return struct.pack("<Q", length) + text + data


def tensors(entries, metadata=None) -> bytes:
    """entries: (name, dtype, shape); values are a ramp, so reads see varied bits."""
    header, data = {}, b""
    if metadata:
        header["__metadata__"] = metadata
    for name, dtype, shape in entries:
        count = 1
        for extent in shape:
            count *= extent
        size = count * BYTES[dtype]
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + size]}
        data += bytes((len(data) + i) % 251 for i in range(size))
    return container(header, data)


def decode_trace(dtype, kv_heads=2, q_heads=4, tokens=5, head_dim=4, steps=2, metadata=None):
    return tensors(
        [
            ("layers.0.k", dtype, [kv_heads, tokens, head_dim]),
            ("layers.0.v", dtype, [kv_heads, tokens, head_dim]),
            ("layers.0.q", dtype, [q_heads, tokens, head_dim]),
            ("layers.0.q_decode", dtype, [steps, q_heads, head_dim]),
            ("layers.0.k_decode", dtype, [steps, kv_heads, head_dim]),
            ("layers.0.v_decode", dtype, [steps, kv_heads, head_dim]),
        ],
        metadata,
    )


def seeds():
    yield "decode_f16", decode_trace(
        "F16", metadata={"model": "tiny", "head_types": json.dumps({"0": ["streaming", "dense"]})})
    yield "prefill_bf16", tensors(
        [
            ("layers.0.k", "BF16", [1, 3, 8]),
            ("layers.0.v", "BF16", [1, 3, 8]),
            ("layers.0.q", "BF16", [2, 3, 8]),
        ],
        {"head_types": json.dumps([["dense"]])},
    )
    yield "decode_f32_two_layers", tensors(
        [
            (f"layers.{layer}.{name}", "F32", shape)
            for layer in (0, 1)
            for name, shape in (("k", [1, 2, 2]), ("v", [1, 2, 2]), ("q_decode", [1, 1, 2]),
                                ("k_decode", [1, 1, 2]), ("v_decode", [1, 1, 2]))
        ]
    )
    yield "plan_i32", tensors(
        [
            ("decode.step0.indptr", "I32", [3]),
            ("decode.step0.indices", "I32", [4]),
            ("prefill.kv_num_blocks", "I32", [1, 2, 2]),
        ],
        {"page_size": "16", "num_q_heads": "2"},
    )
    # [1, 2^62, 4] F32 needs 2^66 bytes: 2^64 wraps to 0 and matched the empty span.
    yield "wrapped_element_count", container(
        {
            "layers.0.k": {"dtype": "F32", "shape": [1, 4611686018427387904, 4], "data_offsets": [0, 0]},
            "layers.0.v": {"dtype": "F32", "shape": [1, 4611686018427387904, 4], "data_offsets": [0, 0]},
        },
        b"",
    )
    # [2^61, 1, 4] F32: the byte count wraps to 0, the element count to a negative int64.
    yield "huge_kv_head_count", container(
        {
            "layers.0.k": {"dtype": "F32", "shape": [2305843009213693952, 1, 4], "data_offsets": [0, 0]},
            "layers.0.v": {"dtype": "F32", "shape": [2305843009213693952, 1, 4], "data_offsets": [0, 0]},
            "layers.0.q_decode": {"dtype": "F32", "shape": [1, 2305843009213693952, 4], "data_offsets": [0, 0]},
        },
        b"",
    )
    # [0, 2^62, 4] and [2, 2^62, 0] F32: no element, span [0, 0]; reading them once passed a null
    # pointer to memcpy and overflowed the element count.
    yield "empty_tensor_huge_extents", container(
        {
            "layers.0.k": {"dtype": "F32", "shape": [0, 4611686018427387904, 4], "data_offsets": [0, 0]},
            "layers.0.v": {"dtype": "F32", "shape": [2, 4611686018427387904, 0], "data_offsets": [0, 0]},
        },
        b"",
    )
    # An empty I32 tensor (the int32 reader copied from a null pointer).
    yield "empty_int32", container(
        {"ids": {"dtype": "I32", "shape": [0], "data_offsets": [0, 0]},
         "layers.0.k": {"dtype": "F16", "shape": [1, 1, 2], "data_offsets": [0, 4]},
         "layers.0.v": {"dtype": "F16", "shape": [1, 1, 2], "data_offsets": [4, 8]}},
        bytes(8),
    )
    # Decode tensors without steps: the query head count is bounded by nothing.
    yield "empty_decode_queries", container(
        {
            "layers.0.k": {"dtype": "F16", "shape": [1, 1, 1], "data_offsets": [0, 2]},
            "layers.0.v": {"dtype": "F16", "shape": [1, 1, 1], "data_offsets": [2, 4]},
            "layers.0.q_decode": {"dtype": "F16", "shape": [0, 1099511627776, 1], "data_offsets": [4, 4]},
            "layers.0.k_decode": {"dtype": "F16", "shape": [0, 1, 1], "data_offsets": [4, 4]},
            "layers.0.v_decode": {"dtype": "F16", "shape": [0, 1, 1], "data_offsets": [4, 4]},
        },
        b"\0" * 4,
    )
    yield "truncated_data", decode_trace("F16")[:-7]
    yield "header_beyond_file", container({}, b"", claimed_length=1 << 40)
    yield "offsets_reversed", container(
        {"layers.0.k": {"dtype": "F16", "shape": [1], "data_offsets": [2, 0]}}, b"\0" * 2)
    yield "unknown_dtype", container(
        {"layers.0.k": {"dtype": "F128", "shape": [1], "data_offsets": [0, 16]}}, b"\0" * 16)
    yield "bad_metadata", container({"__metadata__": {"head_types": "[[\"sliding\"]"}}, b"")
    yield "not_json", struct.pack("<Q", 5) + b"{\"a\":"
    # Valid JSON syntax whose number overflows a double: nlohmann throws out_of_range, not
    # parse_error (a finding of this fuzzer, once an uncaught exception).
    yield "number_overflow", struct.pack("<Q", 12) + b"{\"a\":1e999}"
    yield "metadata_number_overflow", container(
        {"__metadata__": {"head_types": "[1e999]"},
         "layers.0.k": {"dtype": "F16", "shape": [1, 1, 1], "data_offsets": [0, 2]},
         "layers.0.v": {"dtype": "F16", "shape": [1, 1, 1], "data_offsets": [2, 4]},
         "layers.0.q": {"dtype": "F16", "shape": [1, 1, 1], "data_offsets": [4, 6]}},
        b"\0" * 6)
    yield "too_short", b"\x08\0\0"


def main():
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    for name, data in seeds():
        (out / f"{name}.safetensors").write_bytes(data)


if __name__ == "__main__":
    main()
