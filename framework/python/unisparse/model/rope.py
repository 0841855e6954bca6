"""Rotary position embedding in the rotate-half (GPT-NeoX / Hugging Face Llama) form.

Channel i of a head is rotated together with channel i + head_dim / 2 by the angle
position * theta^(-2i / head_dim). Angles are computed in float64 and rounded once, so that a
token gets the same rotation whether it arrives in a prefill or in a decode step.
"""

import numpy as np


class RotaryEmbedding:
    def __init__(self, head_dim, theta):
        if head_dim % 2:
            raise ValueError(f"RoPE needs an even head dimension, got {head_dim}")
        self.head_dim = head_dim
        self.theta = theta
        self.inverse_frequencies = theta ** (-np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)

    def cos_sin(self, positions):
        """cos and sin, each [len(positions), head_dim] float32 (the half-dim table repeated)."""
        angles = np.outer(np.asarray(positions, dtype=np.float64), self.inverse_frequencies)
        angles = np.concatenate([angles, angles], axis=-1)
        return np.cos(angles).astype(np.float32), np.sin(angles).astype(np.float32)

    def apply(self, x, positions):
        """x [heads, T, head_dim] rotated for token positions [T]; returns a new array."""
        cos, sin = self.cos_sin(positions)
        half = self.head_dim // 2
        rotated_half = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)
        return x * cos + rotated_half * sin
