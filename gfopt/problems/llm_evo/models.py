"""Loading a base model and LoRA experts through `from_pretrained`, with input checks before any evaluation.

Adapters must share rank, target modules and base model. They may differ in `lora_alpha` and `use_rslora`
(when neither has `rank_pattern` / `alpha_pattern`): an expert's B is rescaled by its scaling over the live
adapter's, so its delta scaling * B A is unchanged. Settings that add tensors or change the forward beyond
scaling * B A (DoRA, LoRA biases, trained biases, modules_to_save, target_parameters, layer replication) are
refused in one line.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gfopt.errors import InputError
from gfopt.problems.llm_evo.layout import LoraLayout

ADAPTER_NAME = "default"
_COMPAT_KEYS = ("r", "target_modules", "base_model_name_or_path", "rank_pattern", "alpha_pattern")
# adapter-config keys whose truthy value changes the adapter beyond scaling * B A: (key, why, what to do)
_UNSUPPORTED = (
    ("use_dora", "DoRA adapters are not supported", "use plain LoRA"),
    ("lora_bias", "LoRA biases (lora_bias) are not supported", "train without lora_bias"),
    ("modules_to_save", "modules_to_save are not supported (only LoRA tensors evolve)", "drop modules_to_save"),
    ("target_parameters", "target_parameters (LoRA on raw parameters) are not supported", "use target_modules"),
    ("layer_replication", "layer_replication is not supported", "train without it"),
)


def resolve_device(device: str = "auto", dtype: str = "auto") -> tuple[torch.device, torch.dtype]:
    """CUDA + bf16 when present (auto), otherwise CPU fp32."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dtype == "auto":
        dt = torch.bfloat16 if dev.type == "cuda" else torch.float32
    else:
        names = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
        if dtype not in names:
            raise InputError(f"problem.model.dtype: {dtype!r} is not one of auto, {', '.join(names)}")
        dt = names[dtype]
    return dev, dt


def read_adapter_config(adapter_dir: str | Path) -> dict[str, Any]:
    """The adapter_config.json of a PEFT LoRA dir (errors name the dir and what is missing)."""
    d = Path(adapter_dir)
    cfg_path = d / "adapter_config.json"
    if not d.is_dir():
        raise InputError(f"{d}: adapter dir not found")
    if not cfg_path.is_file():
        raise InputError(f"{cfg_path}: missing; not a PEFT adapter dir (save it with save_pretrained)")
    if not any((d / f).is_file() for f in ("adapter_model.safetensors", "adapter_model.bin")):
        raise InputError(f"{d}: no adapter_model.safetensors / adapter_model.bin")
    try:
        cfg = json.loads(cfg_path.read_text())
    except json.JSONDecodeError as e:
        raise InputError(f"{cfg_path}: malformed JSON ({e.msg})") from None
    if cfg.get("peft_type") != "LORA":
        raise InputError(f"{cfg_path}: peft_type is {cfg.get('peft_type')!r}, only LORA adapters can be evolved")
    for key, why, fix in _UNSUPPORTED:
        if cfg.get(key):
            raise InputError(f"{cfg_path}: {key} = {cfg[key]!r}: {why}; {fix}")
    if cfg.get("bias", "none") != "none":
        raise InputError(f"{cfg_path}: bias = {cfg['bias']!r}: trained biases are not supported; use bias='none'")
    tm = cfg.get("target_modules")
    cfg["target_modules"] = sorted(tm) if isinstance(tm, list) else tm
    return cfg


def lora_scaling(cfg: dict[str, Any]) -> float:
    """PEFT's scaling of an adapter config: alpha / r, or alpha / sqrt(r) with rslora."""
    r, alpha = float(cfg["r"]), float(cfg.get("lora_alpha", 8))
    return alpha / r**0.5 if cfg.get("use_rslora") else alpha / r


def check_inputs(base: str | Path, adapters: list[str | Path]) -> dict[str, Any]:
    """Check the base dir and that all adapters share rank, target modules and base model (and alpha/rslora
    when a rank or alpha pattern makes the scaling differ per module)."""
    b = Path(base)
    if not b.is_dir():
        raise InputError(f"{b}: base model dir not found (problem.model.base)")
    if not (b / "config.json").is_file():
        raise InputError(f"{b}: no config.json; not a Hugging Face model dir (save it with save_pretrained)")
    first = read_adapter_config(adapters[0])
    for a in adapters[1:]:
        cfg = read_adapter_config(a)
        patterned = any(c.get(k) for c in (first, cfg) for k in ("rank_pattern", "alpha_pattern"))
        for key in _COMPAT_KEYS + (("lora_alpha", "use_rslora") if patterned else ()):
            if cfg.get(key) != first.get(key):
                raise InputError(
                    f"{Path(a) / 'adapter_config.json'}: {key} = {cfg.get(key)!r} differs from "
                    f"{first.get(key)!r} in {adapters[0]}; all adapters must share {key}"
                )
    return first


@contextmanager
def quiet_loading() -> Iterator[None]:
    """Silence what loading gfopt's own small models makes libraries print: transformers' per-load progress bars
    and PEFT's use of the deprecated `is_gradient_checkpointing` (a FutureWarning no user can act on)."""
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
            yield
    finally:
        if bars:
            hf_logging.enable_progress_bar()


def load_model(base: str | Path, first_adapter: str | Path, device: torch.device, dtype: torch.dtype) -> tuple:
    """(tokenizer, live PeftModel) loaded from disk exactly as a user's model would be; eval mode."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with quiet_loading():
        tok = AutoTokenizer.from_pretrained(str(base))
        model = AutoModelForCausalLM.from_pretrained(str(base), dtype=dtype)
        model.to(device)
        peft_model = PeftModel.from_pretrained(model, str(first_adapter), adapter_name=ADAPTER_NAME)
    peft_model.eval()
    return tok, peft_model


def load_vector(layout: LoraLayout, adapter_dir: str | Path, dtype: np.dtype | None = None,
                b_scale: float = 1.0) -> np.ndarray:
    """An adapter's LoRA tensors (read from disk with PEFT) as a genome in `layout`, in `dtype` (float32 by
    default); its B tensors are multiplied by `b_scale` (the adapter's scaling over the live one's)."""
    from peft.utils import load_peft_weights

    sd = load_peft_weights(str(adapter_dir), device="cpu")
    vec = np.empty(layout.size, dtype=np.float32)
    used = set()
    for t in layout.tensors:
        key = t.name.replace(f".{ADAPTER_NAME}.", ".")
        if key not in sd:
            raise InputError(f"{adapter_dir}: lacks LoRA tensor {key} (different target modules or base model?)")
        w = sd[key]
        if tuple(w.shape) != t.shape:
            raise InputError(f"{adapter_dir}: {key} has shape {tuple(w.shape)}, expected {t.shape} "
                             "(different rank or base model?)")
        w = w.detach().float().reshape(-1)
        if b_scale != 1.0 and ".lora_B." in key:
            w = w * b_scale
        vec[t.slice] = w.numpy()
        used.add(key)
    extra = sorted(set(sd) - used)
    if extra:
        raise InputError(f"{adapter_dir}: non-LoRA tensors {extra[:3]} (modules_to_save) cannot be evolved")
    return vec if dtype is None or np.dtype(dtype) == vec.dtype else vec.astype(dtype)


def stored_dtype(adapter_dir: str | Path) -> str:
    """The dtype name ('float32', 'bfloat16', 'float16') of an adapter's saved LoRA tensors (the widest one)."""
    d = Path(adapter_dir)
    if (d / "adapter_model.safetensors").is_file():
        from safetensors import safe_open

        codes = {"F32": "float32", "BF16": "bfloat16", "F16": "float16"}
        with safe_open(str(d / "adapter_model.safetensors"), framework="pt") as f:
            names = {codes.get(f.get_slice(k).get_dtype(), "float32") for k in f.keys()}  # noqa: SIM118
    else:
        from peft.utils import load_peft_weights

        names = {str(w.dtype).removeprefix("torch.") for w in load_peft_weights(str(d), device="cpu").values()}
    for name in ("float32", "bfloat16", "float16"):
        if name in names:
            return name
    return "float32"
