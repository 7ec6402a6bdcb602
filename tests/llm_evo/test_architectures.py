"""Every common causal-LM architecture, built small with random weights: the candidate's logits through the live
adapter (LoRA branch and folded) equal a fresh `PeftModel.from_pretrained` of the same adapter; layers are found.

The oracle is PEFT itself, loading the saved adapter dir into a freshly loaded base model.
"""

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from gfopt.errors import InputError
from gfopt.problems.llm_evo.archs import ARCHS, build_base, make_expert
from gfopt.problems.llm_evo.layout import LiveAdapter, LoraLayout
from gfopt.problems.llm_evo.models import check_inputs, load_model, load_vector, lora_scaling, read_adapter_config

LAYERS = 2
IDS = torch.tensor([[1, 10, 11, 12, 13, 14, 15, 16], [1, 20, 21, 22, 23, 24, 25, 26]])


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    """Per architecture: a base and two experts of different alpha (the second with rslora)."""
    root = tmp_path_factory.mktemp("archs")
    out = {}
    for i, arch in enumerate(ARCHS):
        base = build_base(arch, root / arch / "base", layers=LAYERS, seed=i)
        e0 = make_expert(base, root / arch / "e0", arch, r=4, alpha=16, seed=10 * i)
        e1 = make_expert(base, root / arch / "e1", arch, r=4, alpha=6, use_rslora=True, seed=10 * i + 1)
        out[arch] = (base, e0, e1)
    return out


def _fresh_logits(base: Path, adapter: Path, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    _, model = load_model(base, adapter, torch.device("cpu"), dtype)
    with torch.inference_mode():
        return model(input_ids=IDS).logits.float()


def _live(base: Path, first: Path, merged: bool, dtype: torch.dtype = torch.float32):
    _, model = load_model(base, first, torch.device("cpu"), dtype)
    layout = LoraLayout.from_model(model, read_adapter_config(first).get("layers_pattern"))
    return model, layout, LiveAdapter(model, layout, merged=merged)


def _vector(layout, expert: Path, first: Path, dtype=None) -> np.ndarray:
    scale = lora_scaling(read_adapter_config(expert)) / lora_scaling(read_adapter_config(first))
    return load_vector(layout, expert, dtype, scale)


@pytest.mark.parametrize("arch", list(ARCHS))
def test_live_adapter_equals_fresh_peft_load_on_every_architecture(zoo, arch, tmp_path):
    base, e0, e1 = zoo[arch]
    check_inputs(base, [e0, e1])  # different alpha and rslora: accepted, B is rescaled
    refs = {e: _fresh_logits(base, e) for e in (e0, e1)}
    model, layout, live = _live(base, e0, merged=False)
    assert layout.n_groups == LAYERS and layout.group_names == [f"layer{i}" for i in range(LAYERS)]
    v0, v1 = _vector(layout, e0, e0), _vector(layout, e1, e0)
    # a candidate: half of each expert, saved by the live model and loaded back by PEFT as the oracle
    cand = 0.5 * (v0 + v1)
    live.write(cand)
    model.save_pretrained(str(tmp_path / "cand"))
    refs[tmp_path / "cand"] = _fresh_logits(base, tmp_path / "cand")
    for merged in (False, True):
        model, layout, live = _live(base, e0, merged=merged)
        for path, vec in ((e0, v0), (e1, v1), (tmp_path / "cand", cand)):
            live.write(vec)
            with torch.inference_mode():
                got = model(input_ids=IDS).logits
            torch.testing.assert_close(got, refs[path], rtol=1e-4, atol=1e-4,
                                       msg=lambda m, p=path, f=merged: f"{arch} {p.name} folded={f}: {m}")
    # the adapters differ, so equality is not a vacuous one
    assert (refs[e0] - refs[e1]).abs().max() > 1e-3


def test_gpt2_layers_come_from_transformer_h(zoo):
    base, e0, _ = zoo["gpt2"]
    model, layout, _ = _live(base, e0, merged=False)
    names = {t.name for t in layout.tensors}
    assert any(".transformer.h.1." in n for n in names)
    for t in layout.tensors:
        assert layout.group_names[t.layer] == f"layer{t.name.split('.h.')[1].split('.')[0]}"


def test_one_layer_group_warns_when_per_layer_crossover_is_on(zoo, tmp_path, caplog):
    from gfopt.problems.llm_evo.operators import LoraMerge

    base, _, _ = zoo["llama"]
    one = make_expert(base, tmp_path / "one", "llama", layers_to_transform=[1], layers_pattern="layers")
    _, layout, _ = _live(base, one, merged=False)
    assert layout.group_names == ["layer1"]

    class Bound:
        pass

    problem = Bound()
    problem.layout, problem.shared = layout, None
    with caplog.at_level(logging.WARNING, logger="gfopt.llm_evo"):
        LoraMerge("linear", layerwise=True, concentration=20.0).bind(problem)
    assert "engine.crossover.layerwise" in caplog.text and "one layer group" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="gfopt.llm_evo"):
        LoraMerge("linear", layerwise=False).bind(problem)
    assert caplog.text == ""


@pytest.mark.parametrize(("key", "value"), [("use_dora", True), ("lora_bias", True), ("bias", "all"),
                                            ("modules_to_save", ["lm_head"]), ("target_parameters", ["w"])])
def test_unsupported_adapter_settings_are_refused_in_one_line(zoo, tmp_path, key, value):
    import shutil

    _, e0, _ = zoo["llama"]
    bad = tmp_path / "bad"
    shutil.copytree(e0, bad)
    cfg = json.loads((bad / "adapter_config.json").read_text())
    cfg[key] = value
    (bad / "adapter_config.json").write_text(json.dumps(cfg))
    with pytest.raises(InputError, match=key) as e:
        read_adapter_config(bad)
    assert "\n" not in str(e.value)


def test_different_alpha_with_a_rank_pattern_is_refused(zoo, tmp_path):
    import shutil

    base, e0, e1 = zoo["llama"]
    pat = tmp_path / "pat"
    shutil.copytree(e1, pat)
    cfg = json.loads((pat / "adapter_config.json").read_text())
    cfg["alpha_pattern"] = {"q_proj": 2}
    (pat / "adapter_config.json").write_text(json.dumps(cfg))
    with pytest.raises(InputError, match="alpha_pattern"):
        check_inputs(base, [e0, pat])


def test_bf16_code_path_on_cpu(zoo, tmp_path):
    """The GPU default path (bf16 model, LoRA branch, bf16 genomes) run on CPU: equals PEFT's own bf16 load."""
    from gfopt.problems.llm_evo.memory import numpy_dtype

    base, _, _ = zoo["llama"]
    e0 = make_expert(base, tmp_path / "b0", "llama", alpha=16, seed=1, dtype=torch.bfloat16)
    e1 = make_expert(base, tmp_path / "b1", "llama", alpha=16, seed=2, dtype=torch.bfloat16)
    from gfopt.problems.llm_evo.models import stored_dtype

    assert stored_dtype(e0) == "bfloat16"
    model, layout, live = _live(base, e0, merged=False, dtype=torch.bfloat16)
    bf16 = numpy_dtype(torch.bfloat16)
    v1 = _vector(layout, e1, e0, bf16)
    assert v1.dtype == bf16 and v1.nbytes == 2 * layout.size
    live.write(v1)
    with torch.inference_mode():
        got = model(input_ids=IDS).logits.float()
    torch.testing.assert_close(got, _fresh_logits(base, e1, torch.bfloat16), rtol=0, atol=0)  # same bf16 kernels
    assert live.read().tobytes() == np.asarray(v1, np.float32).tobytes()  # the genome went in bit-exact
