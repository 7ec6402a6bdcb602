"""`LoraLayout`: where every LoRA A/B tensor of a PEFT model lives inside one flat genome vector.

The live model's LoRA parameters are re-pointed to views of one flat device buffer, so writing a genome into
the model is a single copy (no re-instantiation, no disk). In `merged` mode (fp32 only: a bf16 weight would round
a small delta away) each write also folds the adapter into the base weights, W = W0 + scaling * B A, and PEFT's
forward then skips the LoRA branch: the same function at the base model's speed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import torch

_LAYER = re.compile(r"\.layers\.(\d+)\.")


@dataclass(frozen=True)
class LoraTensor:
    """One LoRA tensor: its parameter name in the live model, shape and place in the genome."""

    name: str
    shape: tuple[int, ...]
    slice: slice
    layer: int  # transformer block index, -1 when the name has none


class LoraLayout:
    """Ordered LoRA tensors of one adapter; `segments` (one per tensor) and `groups` (one per layer)."""

    def __init__(self, tensors: list[LoraTensor]) -> None:
        self.tensors = tensors
        self.size = tensors[-1].slice.stop if tensors else 0
        self.segments = [t.slice for t in tensors]
        layers = sorted({t.layer for t in tensors})
        self.group_names = [f"layer{layer}" if layer >= 0 else "other" for layer in layers]
        pos = {layer: i for i, layer in enumerate(layers)}
        self.group_of = np.empty(self.size, dtype=np.int32)
        for t in tensors:
            self.group_of[t.slice] = pos[t.layer]

    @property
    def n_groups(self) -> int:
        """Number of per-layer weight groups."""
        return len(self.group_names)

    @classmethod
    def from_model(cls, model: torch.nn.Module) -> LoraLayout:
        """Layout of every trainable-or-not parameter whose name contains `lora_A`/`lora_B`, in model order."""
        tensors, start = [], 0
        for name, p in model.named_parameters():
            if ".lora_A." in name or ".lora_B." in name:
                m = _LAYER.search(name)
                n = p.numel()
                tensors.append(LoraTensor(name, tuple(p.shape), slice(start, start + n), int(m.group(1)) if m else -1))
                start += n
        if not tensors:
            raise ValueError("LoraLayout: the model has no LoRA parameters")
        return cls(tensors)

    def pairs(self) -> list[tuple[LoraTensor, LoraTensor]]:
        """(A, B) tensor pairs of each adapted module, in layout order (their product B @ A is the module's delta)."""
        by_name = {t.name: t for t in self.tensors}
        out = []
        for t in self.tensors:
            if ".lora_A." in t.name:
                b = by_name.get(t.name.replace(".lora_A.", ".lora_B."))
                if b is None:
                    raise ValueError(f"LoraLayout: {t.name} has no matching lora_B tensor")
                out.append((t, b))
        return out

    def expand(self, group_weights: np.ndarray) -> np.ndarray:
        """[K, G] per-layer weights -> [K, P] per-entry weights."""
        return np.asarray(group_weights, dtype=np.float32)[:, self.group_of]


class LiveAdapter:
    """The live PEFT model's LoRA parameters as views of one flat buffer: `write(vec)` swaps a genome in.

    `merged=True` also writes W0 + delta into each adapted base weight (kept W0 copies: memory of the adapted
    weights once more) and marks the LoRA layers merged, so a forward costs what the base model costs.
    """

    def __init__(self, model: torch.nn.Module, layout: LoraLayout, merged: bool = False) -> None:
        params = dict(model.named_parameters())
        first = params[layout.tensors[0].name]
        self.flat = torch.empty(layout.size, dtype=first.dtype, device=first.device)
        for t in layout.tensors:
            p = params[t.name]
            self.flat[t.slice].copy_(p.detach().reshape(-1))
            p.data = self.flat[t.slice].view(t.shape)
            p.requires_grad_(False)
        self.layout = layout
        self._staging = torch.empty(layout.size, dtype=torch.float32, pin_memory=first.device.type == "cuda")
        self.merged = merged
        self._folds: list[tuple[torch.nn.Module, str, torch.Tensor, torch.Tensor]] = []
        if merged:
            self._folds = _foldable(model)
            self._fold()

    def _fold(self) -> None:
        with torch.no_grad():
            for module, adapter, weight, w0 in self._folds:
                weight.copy_(w0).add_(module.get_delta_weight(adapter))

    def read(self) -> np.ndarray:
        """The adapter now in the model, as a float32 genome."""
        return self.flat.detach().float().cpu().numpy().copy()

    def write(self, genome: np.ndarray) -> None:
        """Copy `genome` into the live LoRA parameters in place."""
        vec = torch.from_numpy(np.ascontiguousarray(genome, dtype=np.float32))
        if self.flat.device.type == "cpu" and self.flat.dtype == torch.float32:
            self.flat.copy_(vec)
        else:
            self._staging.copy_(vec)  # pinned host buffer; the blocking copy keeps it safe to reuse
            self.flat.copy_(self._staging)
        if self.merged:
            self._fold()


def _foldable(model: torch.nn.Module) -> list[tuple[torch.nn.Module, str, torch.Tensor, torch.Tensor]]:
    """(LoRA layer, adapter, base weight, its W0 copy) for every plain-LoRA layer; marks each one merged."""
    from peft.tuners.lora import LoraLayer

    folds = []
    for name, module in model.named_modules():
        if not isinstance(module, LoraLayer):
            continue
        for adapter in module.active_adapters:
            if adapter not in module.lora_A:
                continue
            if module.use_dora.get(adapter, False) or not hasattr(module.get_base_layer(), "weight"):
                raise ValueError(f"LiveAdapter: {name} is not a plain LoRA linear layer; use merged=False")
            weight = module.get_base_layer().weight
            folds.append((module, adapter, weight.data, weight.detach().clone()))
            module.merged_adapters = [adapter]  # PEFT's forward now runs the base layer only
    if not folds:
        raise ValueError("LiveAdapter: no LoRA layers to merge")
    return folds
