"""Loading a base model and LoRA experts through `from_pretrained`, with input checks before any evaluation."""

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
_COMPAT_KEYS = ("r", "lora_alpha", "target_modules", "base_model_name_or_path", "use_rslora")


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
    if cfg.get("use_dora"):
        raise InputError(f"{cfg_path}: DoRA adapters are not supported (use plain LoRA)")
    tm = cfg.get("target_modules")
    cfg["target_modules"] = sorted(tm) if isinstance(tm, list) else tm
    return cfg


def check_inputs(base: str | Path, adapters: list[str | Path]) -> dict[str, Any]:
    """Check the base dir and that all adapters share rank, alpha, target modules and base model."""
    b = Path(base)
    if not b.is_dir():
        raise InputError(f"{b}: base model dir not found (problem.model.base)")
    if not (b / "config.json").is_file():
        raise InputError(f"{b}: no config.json; not a Hugging Face model dir (save it with save_pretrained)")
    first = read_adapter_config(adapters[0])
    for a in adapters[1:]:
        cfg = read_adapter_config(a)
        for key in _COMPAT_KEYS:
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


def load_vector(layout: LoraLayout, adapter_dir: str | Path) -> np.ndarray:
    """An adapter's LoRA tensors (read from disk with PEFT) as a float32 genome in `layout`."""
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
        vec[t.slice] = w.detach().float().reshape(-1).numpy()
        used.add(key)
    extra = sorted(set(sd) - used)
    if extra:
        raise InputError(f"{adapter_dir}: non-LoRA tensors {extra[:3]} (modules_to_save) cannot be evolved")
    return vec
