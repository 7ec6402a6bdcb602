"""`LoraLayout`: where every LoRA A/B tensor of a PEFT model lives inside one flat genome vector.

The live model's LoRA parameters are re-pointed to views of one flat device buffer, so writing a genome into
the model is a single copy (no re-instantiation, no disk). In `merged` mode (fp32 only: a bf16 weight would round
a small delta away) each write also folds the adapter into the base weights, W = W0 + scaling * B A, and PEFT's
forward then skips the LoRA branch: the same function at the base model's speed.

Layers (the groups of per-layer crossover) are found from the model's structure: a LoRA tensor belongs to the
block at index N of the outermost `nn.ModuleList` above it (`model.layers.N` in Llama/Mistral/Qwen2/Phi,
`transformer.h.N` in GPT-2/Falcon/BLOOM/GPT-J, `gpt_neox.layers.N`), or of the list named by PEFT's
`layers_pattern` when the adapter config gives one. Genomes may be stored in the adapters' dtype (float32,
bfloat16 via `ml_dtypes`, float16); the live buffer takes them with one copy.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from gfopt.problems.llm_evo.memory import as_torch

log = logging.getLogger("gfopt.llm_evo")


@dataclass(frozen=True)
class LoraTensor:
    """One LoRA tensor: its parameter name in the live model, shape and place in the genome."""

    name: str
    shape: tuple[int, ...]
    slice: slice
    layer: int  # index of its layer group (model order), -1 when it sits in no layer list


class LoraLayout:
    """Ordered LoRA tensors of one adapter; `segments` (one per tensor) and `groups` (one per layer)."""

    def __init__(self, tensors: list[LoraTensor], names: dict[int, str] | None = None) -> None:
        self.tensors = tensors
        self.size = tensors[-1].slice.stop if tensors else 0
        self.segments = [t.slice for t in tensors]
        layers = sorted({t.layer for t in tensors})
        names = names or {}
        self.group_names = [names.get(layer, f"layer{layer}") if layer >= 0 else "other" for layer in layers]
        pos = {layer: i for i, layer in enumerate(layers)}
        self.group_of = np.empty(self.size, dtype=np.int32)
        for t in tensors:
            self.group_of[t.slice] = pos[t.layer]

    @property
    def n_groups(self) -> int:
        """Number of per-layer weight groups."""
        return len(self.group_names)

    @classmethod
    def from_model(cls, model: torch.nn.Module, layers_pattern: str | Sequence[str] | None = None) -> LoraLayout:
        """Layout of every parameter whose name contains `lora_A`/`lora_B`, in model order.

        Layer groups come from the model's structure (`layer_of`); `layers_pattern` (PEFT's adapter-config key:
        the name of the layer list, e.g. "h" or "layers") restricts which lists count.
        """
        lists = {name for name, m in model.named_modules() if isinstance(m, torch.nn.ModuleList)}
        patterns = [layers_pattern] if isinstance(layers_pattern, str) else list(layers_pattern or [])
        tensors, start, keys = [], 0, {}
        for name, p in model.named_parameters():
            if ".lora_A." in name or ".lora_B." in name:
                key = layer_of(name, lists, patterns)
                group = keys.setdefault(key, len(keys)) if key is not None else -1
                n = p.numel()
                tensors.append(LoraTensor(name, tuple(p.shape), slice(start, start + n), group))
                start += n
        if not tensors:
            raise ValueError("LoraLayout: the model has no LoRA parameters")
        one_list = len({k[0] for k in keys}) <= 1
        names = {g: f"layer{k[1]}" if one_list else f"{k[0].removeprefix('base_model.model.')}.{k[1]}"
                 for k, g in keys.items()}
        return cls(tensors, names)

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


def layer_of(name: str, lists: set[str], patterns: Sequence[str] = ()) -> tuple[str, int] | None:
    """(list path, index) of the outermost layer list above parameter `name` (only lists named in `patterns`
    when given), or None."""
    parts = name.split(".")
    for i in range(1, len(parts) - 1):
        path = ".".join(parts[:i])
        if path in lists and parts[i].isdigit() and (not patterns or parts[i - 1] in patterns):
            return path, int(parts[i])
    return None


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
        self._staging = torch.empty(layout.size if first.device.type == "cuda" else 0, dtype=first.dtype,
                                    pin_memory=first.device.type == "cuda")
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
        """Copy `genome` (float32, bfloat16 or float16) into the live LoRA parameters in place."""
        vec = as_torch(genome)
        if self.flat.device.type == "cpu":
            self.flat.copy_(vec)  # casts to the model's dtype where the genome's differs
        else:
            if self._staging.dtype != vec.dtype:
                self._staging = torch.empty(self.layout.size, dtype=vec.dtype, pin_memory=True)
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
