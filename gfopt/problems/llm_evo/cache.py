"""The fitness cache key of llm_evo: a genome's content, not its identity."""

from __future__ import annotations

import hashlib

import numpy as np


def genome_key(genome: np.ndarray) -> str:
    """Content hash of a LoRA parameter vector (its float32 bytes)."""
    return hashlib.blake2b(np.ascontiguousarray(genome, dtype=np.float32).tobytes(), digest_size=16).hexdigest()
