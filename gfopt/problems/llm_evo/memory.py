"""Where the population lives: genomes in the adapters' dtype, memory-mapped rows when over a host budget,
and the memory plan logged before a run.

A genome is a 1-D numpy array of P LoRA parameters. Stored in bfloat16 (numpy has no bf16: `ml_dtypes` gives
it) or float16 it costs half of float32; operators compute in float32 and cast their result back. Over
`problem.memory.host_gb`, new genomes are allocated as memory-mapped files in the run dir (unlinked at once, so
the space is freed when the genome is dropped): the OS pages them out instead of the process running out of RAM.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gfopt.errors import InputError
from gfopt.problems.llm_evo.config import GENOME_DTYPES


def numpy_dtype(dtype: torch.dtype | str) -> np.dtype:
    """numpy dtype of a torch dtype (or its name); bfloat16 is `ml_dtypes.bfloat16`."""
    name = str(dtype).removeprefix("torch.")
    if name == "bfloat16":
        import ml_dtypes

        return np.dtype(ml_dtypes.bfloat16)
    if name in ("float32", "float16"):
        return np.dtype(name)
    raise InputError(f"problem.memory.genome_dtype: {name!r} is not one of {GENOME_DTYPES[1:]}")


def as_torch(genome: np.ndarray) -> torch.Tensor:
    """A genome as a CPU tensor of the same dtype, without a copy where it is contiguous."""
    g = np.ascontiguousarray(genome)
    if g.dtype.name == "bfloat16":
        return torch.from_numpy(g.view(np.uint16)).view(torch.bfloat16)
    return torch.from_numpy(g)


class GenomeStore:
    """Allocates genomes of P entries in `dtype`: in RAM, or as unlinked memory-mapped files under `directory`."""

    def __init__(self, size: int, dtype: np.dtype, directory: Path | None = None) -> None:
        self.size, self.dtype, self.directory = size, np.dtype(dtype), directory
        if directory is not None:
            Path(directory).mkdir(parents=True, exist_ok=True)

    @property
    def mapped(self) -> bool:
        """True when new genomes are memory-mapped files."""
        return self.directory is not None

    def new(self, values: np.ndarray | None = None) -> np.ndarray:
        """A genome holding `values` (cast to the store's dtype), in RAM or memory-mapped."""
        if self.directory is None:
            out = np.empty(self.size, dtype=self.dtype)
        else:
            fd, path = tempfile.mkstemp(prefix="genome-", suffix=".bin", dir=self.directory)
            try:
                os.ftruncate(fd, self.size * self.dtype.itemsize)
                out = np.memmap(path, dtype=self.dtype, mode="r+", shape=(self.size,))
            finally:
                os.close(fd)
                os.unlink(path)  # the mapping keeps the data alive; the disk space goes with the genome
        if values is not None:
            out[:] = np.asarray(values).astype(self.dtype, copy=False)
        return out


@dataclass
class MemoryPlan:
    """Bytes expected before a run: base weights (on their device), adapters, population, peak."""

    device: str
    base_bytes: int
    fold_bytes: int  # W0 copies of the folded weights (fp32 merged evaluation)
    adapter_bytes: int  # one genome in the storage dtype
    experts_bytes: int  # the K experts (+ shared adapter) kept as genomes
    population_bytes: int  # max_population genomes plus one generation's new ones
    transient_bytes: int  # float32 working arrays of one two-parent per-layer merge (parents, weights, child)
    host_gb: float | None
    mapped: bool

    @property
    def host_bytes(self) -> int:
        """Host memory for the genomes (experts, population, transients), before libraries and activations."""
        resident_pop = 0 if self.mapped else self.population_bytes
        return self.experts_bytes + resident_pop + self.transient_bytes

    @property
    def peak_bytes(self) -> int:
        """Model weights (host or device) plus host genomes: the planned peak without activations and libraries."""
        return self.base_bytes + self.fold_bytes + self.host_bytes

    def lines(self) -> list[str]:
        """Human-readable plan, one item per line."""
        mib = 2**20
        where = "memory-mapped in the run dir" if self.mapped else "in RAM"
        return [
            f"base model weights on {self.device}: {self.base_bytes / mib:,.1f} MiB"
            + (f" (+ {self.fold_bytes / mib:,.1f} MiB of W0 copies for folded evaluation)" if self.fold_bytes else ""),
            f"one adapter genome: {self.adapter_bytes / mib:,.2f} MiB; experts: {self.experts_bytes / mib:,.1f} MiB",
            f"population (max size + one generation's offspring): {self.population_bytes / mib:,.1f} MiB, {where}"
            + (f" (host budget problem.memory.host_gb = {self.host_gb})" if self.host_gb is not None else ""),
            f"merge working copies (float32): {self.transient_bytes / mib:,.1f} MiB",
            f"planned peak (weights + genomes, without libraries and activations): {self.peak_bytes / mib:,.1f} MiB",
        ]


def plan_memory(model: torch.nn.Module, size: int, genome_dtype: np.dtype, n_experts: int, max_population: int,
                folded: bool, host_gb: float | None) -> MemoryPlan:
    """The memory plan for a live PEFT `model` with P = `size` LoRA entries and a population of `max_population`.

    A generation adds at most population//2 children and one mutant per individual and child: 2.5x the size.
    """
    base = [p for n, p in model.named_parameters() if "lora_" not in n]
    base_bytes = sum(p.numel() * p.element_size() for p in base)
    fold_bytes = 0
    if folded:
        from peft.tuners.lora import LoraLayer

        fold_bytes = sum(m.get_base_layer().weight.numel() * m.get_base_layer().weight.element_size()
                         for m in model.modules() if isinstance(m, LoraLayer))
    adapter = size * np.dtype(genome_dtype).itemsize
    population = int(2.5 * max_population) * adapter
    mapped = host_gb is not None and population > host_gb * 2**30
    device = str(next(iter(base)).device) if base else "cpu"
    return MemoryPlan(device, base_bytes, fold_bytes, adapter, n_experts * adapter, population, 7 * size * 4,
                      host_gb, mapped)
