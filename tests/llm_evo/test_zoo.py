"""The built-in zoo (tiny preset): on-disk contract, loading through from_pretrained, task oracles, determinism."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from gfopt.problems.llm_evo.text import encode_pair  # noqa: E402
from gfopt.problems.llm_evo.zoo import cli, ensure_zoo, load_manifest, zoo_dir  # noqa: E402
from gfopt.problems.llm_evo.zoo.presets import get_preset  # noqa: E402
from gfopt.problems.llm_evo.zoo.tasks import DIGITS  # noqa: E402


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("gfopt_home")
    old = os.environ.get("GFOPT_HOME")
    os.environ["GFOPT_HOME"] = str(root)
    torch.set_num_threads(1)
    yield root
    if old is None:
        os.environ.pop("GFOPT_HOME", None)
    else:
        os.environ["GFOPT_HOME"] = old


@pytest.fixture(scope="module")
def tiny(home: Path) -> Path:
    return ensure_zoo("tiny", 0, progress=False)


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_zoo_dir_follows_gfopt_home(home: Path) -> None:
    assert zoo_dir("tiny", 3) == home / "zoo" / "tiny-s3"


def test_manifest_and_layout_follow_the_contract(tiny: Path) -> None:
    man = load_manifest(tiny)
    assert man["preset"] == "tiny" and man["seed"] == 0 and man["base"] == "base"
    assert (tiny / man["base"] / "config.json").exists() and (tiny / man["base"] / "model.safetensors").exists()
    assert (tiny / man["shared_adapter"] / "adapter_config.json").exists()
    preset = get_preset("tiny")
    assert len(man["experts"]) == preset.n_groups >= 6
    for d in man["experts"].values():
        assert (tiny / d / "adapter_model.safetensors").exists()
    held = [t for t, spec in man["tasks"].items() if spec["held_out"]]
    assert sorted(held) == sorted(man["target_tasks"]) and len(held) >= 4
    kinds = {t: spec["kind"] for t, spec in man["tasks"].items()}
    assert [t for t, k in kinds.items() if k == "multiple_choice"] == ["mc0"] and man["tasks"]["mc0"]["held_out"]
    assert set(kinds.values()) == {"generation", "multiple_choice"}
    for spec in man["tasks"].values():
        sizes = {s: len(_lines(tiny / spec["dir"] / f"{s}.jsonl")) for s in ("train", "valid", "test")}
        assert sizes["valid"] == (preset.mc_valid if spec["kind"] == "multiple_choice" else 200)
        assert spec.get("samples") == (preset.mc_valid if spec["kind"] == "multiple_choice" else None)
        if spec["held_out"]:
            assert sizes["train"] == 200 and sizes["test"] >= 500


def test_tasks_match_an_independent_cipher_oracle(tiny: Path) -> None:
    """Answers are the manifest's cipher applied letter by letter (digits copied; an expert's task maps only its
    own group's letters and copies the rest); held-out inputs use only the letters of the experts they need;
    splits are disjoint."""
    man = load_manifest(tiny)
    table = str.maketrans(man["family"]["letters"], man["family"]["cipher"])
    groups = man["family"]["groups"]
    for task in [t for t in man["target_tasks"] if man["tasks"][t]["kind"] == "generation"]:
        allowed = set(DIGITS) | set("".join(groups[e] for e in man["experts_needed"][task]))
        seen: set[str] = set()
        for split in ("train", "valid", "test"):
            for r in _lines(tiny / man["tasks"][task]["dir"] / f"{split}.jsonl"):
                body = r["prompt"][1:-1]
                assert r["prompt"] == f"@{body}=" and r["answer"] == body.translate(table)
                assert set(body) <= allowed
                assert body not in seen
                seen.add(body)
    cipher = dict(zip(man["family"]["letters"], man["family"]["cipher"], strict=True))
    for name, letters in groups.items():
        records = _lines(tiny / man["tasks"][name]["dir"] / "valid.jsonl")
        for r in records:
            body = r["prompt"][1:-1]
            assert r["answer"] == "".join(cipher[c] if c in letters else c for c in body)
        assert any(set(r["prompt"]) & set(letters) for r in records)
    for r in _lines(tiny / man["tasks"]["copy"]["dir"] / "valid.jsonl"):
        assert r["answer"] == r["prompt"][1:-1]


def test_multiple_choice_task_matches_a_leave_one_expert_out_oracle(tiny: Path) -> None:
    """mc0: the right choice maps every letter through the cipher; every other choice is the input with the letters
    of one needed expert's group left as they are (or, where those are too few, the plain copy); choices are
    distinct, inputs use only the needed groups' letters, splits are disjoint and the right index varies."""
    man = load_manifest(tiny)
    cipher = dict(zip(man["family"]["letters"], man["family"]["cipher"], strict=True))
    groups = [man["family"]["groups"][e] for e in man["experts_needed"]["mc0"]]
    assert len(groups) == 3
    n_choices = get_preset("tiny").mc_choices
    seen: set[str] = set()
    labels = []
    for split in ("train", "valid", "test"):
        for r in _lines(tiny / man["tasks"]["mc0"]["dir"] / f"{split}.jsonl"):
            body = r["question"][1:-1]
            assert r["question"] == f"@{body}=" and body not in seen and set(body) <= set(DIGITS + "".join(groups))
            seen.add(body)
            right = "".join(cipher.get(c, c) for c in body)
            leave_out = {"".join(c if c in g else cipher.get(c, c) for c in body) for g in groups} - {right}
            choices = r["choices"]
            assert len(choices) == len(set(choices)) == n_choices and choices[r["answer"]] == right
            wrong = set(choices) - {right}
            assert wrong <= leave_out | {body}
            assert body not in wrong or len(leave_out) < n_choices - 1
            labels.append(r["answer"])
    assert set(labels) == set(range(n_choices))


def test_problem_scores_the_zoo_multiple_choice_task_by_log_likelihood(tiny: Path, gold_cross_entropy) -> None:
    """On the default path (zoo targets), mc0's exact match is the share of samples whose right choice has the
    highest summed log-likelihood under a fresh PEFT load of the expert, and its loss the gold cross-entropy."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from gfopt.problems.llm_evo.problem import LlmEvoProblem

    p = LlmEvoProblem(zoo={"preset": "tiny", "seed": 0}, baselines=[], threads=1)
    man = load_manifest(tiny)
    assert "mc0" in p.targets and p.tasks["mc0"].kind == "multiple_choice" and p.valid_n["mc0"] == 100
    name = man["experts_needed"]["mc0"][0]
    rec = p.score_valid(p.experts[p.expert_names.index(name)])["mc0"]
    tok = AutoTokenizer.from_pretrained(tiny / "base")
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny / "base"), tiny / man["experts"][name])
    model.eval()
    hits = []
    samples = p.tasks["mc0"].splits["valid"][:100]
    with torch.inference_mode():
        for s in samples:
            lls = []
            for c in s.choices:
                ids, start = encode_pair(tok, s.prompt, c)
                logp = torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0].float(), -1)
                lls.append(sum(float(logp[j - 1, ids[j]]) for j in range(start, len(ids))))
            hits.append(float(np.argmax(lls) == s.label))
    assert rec["exact"] == pytest.approx(np.mean(hits))
    assert rec["loss"] == pytest.approx(gold_cross_entropy(model, tok, samples), rel=1e-4)


def test_loads_through_from_pretrained_and_experts_share_rank_targets_and_a(tiny: Path) -> None:
    from peft import PeftConfig, PeftModel
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    man = load_manifest(tiny)
    tok = AutoTokenizer.from_pretrained(tiny / man["base"])
    ids, start = encode_pair(tok, "@ab3=", "xy3")
    assert len(ids) == 1 + 5 + 3 + 1 and start == 6  # one token per character, plus bos and eos
    assert tok.decode(ids[1:start], skip_special_tokens=True) == "@ab3="
    base = AutoModelForCausalLM.from_pretrained(tiny / man["base"])
    model = PeftModel.from_pretrained(base, tiny / man["experts"]["dom00"])
    out = model(input_ids=torch.tensor([ids]))
    assert out.logits.shape == (1, len(ids), len(tok))
    configs = [PeftConfig.from_pretrained(tiny / d) for d in [man["shared_adapter"], *man["experts"].values()]]
    assert len({c.r for c in configs}) == 1 and len({frozenset(c.target_modules) for c in configs}) == 1
    shared = load_file(str(tiny / man["shared_adapter"] / "adapter_model.safetensors"))
    for d in man["experts"].values():
        expert = load_file(str(tiny / d / "adapter_model.safetensors"))
        assert expert.keys() == shared.keys()
        for key, value in shared.items():
            if "lora_A" in key:  # experts are B-only fine-tunes of the shared adapter
                assert torch.equal(expert[key], value)


@pytest.mark.slow
def test_same_seed_builds_the_same_zoo_and_another_seed_does_not(tiny: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    from gfopt.problems.llm_evo.zoo.build import build_zoo

    again = build_zoo(get_preset("tiny"), 0, tmp_path / "again", progress=False)
    other = build_zoo(get_preset("tiny"), 1, tmp_path / "other", progress=False)
    for rel in ["base/model.safetensors", "adapters/shared/adapter_model.safetensors",
                "experts/dom03/adapter_model.safetensors"]:
        a, b, c = (load_file(str(root / rel)) for root in (tiny, again, other))
        assert all(torch.equal(a[k], b[k]) for k in a)
        assert not all(torch.equal(a[k], c[k]) for k in a)
    for rel in ["tasks/mix0/test.jsonl", "tasks/dom01/train.jsonl"]:
        assert (tiny / rel).read_text() == (again / rel).read_text() != (other / rel).read_text()


def test_probe_per_layer_weights_equal_global_weights_when_constant(tiny: Path) -> None:
    from gfopt.problems.llm_evo.zoo.probe import ZooProbe

    probe = ZooProbe(tiny)
    rng = np.random.default_rng(0)
    w = rng.dirichlet(np.ones(len(probe.expert_names)))
    per_layer = np.repeat(w[:, None], probe.n_layers, axis=1)
    assert torch.allclose(probe.merged(w), probe.merged(per_layer), atol=1e-6)
    manual = sum(float(w[k]) * probe.experts[k] for k in range(len(w)))
    assert torch.allclose(probe.merged(w), manual, atol=1e-6)
    # a one-hot weight reproduces the expert exactly as PEFT loads it
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    name = probe.expert_names[2]
    ref = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny / "base"),
                                    tiny / probe.manifest["experts"][name]).eval()
    batch = probe.batch("mix0", "valid")
    probe.load(probe.merged(np.eye(len(w))[2]))
    with torch.no_grad():
        a = probe.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        b = ref(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    assert torch.allclose(a, b, atol=1e-5)


def test_cli_info_and_errors(tiny: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["info", "--preset", "tiny", "--seed", "0"]) == 0
    out = capsys.readouterr().out
    assert "experts (6)" in out and "held-out task mix0" in out and "held-out task mc0 (multiple choice)" in out
    assert cli(["info", "--preset", "tiny", "--seed", "99"]) == 2
    assert "zoo build" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli(["info", "--preset", "nope"])


def test_progress_bar_is_off_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    from gfopt.core.callbacks import progress_enabled

    monkeypatch.setattr("sys.stderr.isatty", lambda: True)
    monkeypatch.setenv("CI", "true")
    assert not progress_enabled("auto")
    monkeypatch.delenv("CI")
    assert progress_enabled("auto") and progress_enabled(True) and not progress_enabled(False)


def test_unknown_preset_is_a_config_error() -> None:
    from gfopt.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown preset"):
        get_preset("huge")


@pytest.mark.slow
def test_a_zoo_from_an_older_version_is_rebuilt(home: Path) -> None:
    from gfopt.problems.llm_evo.zoo import ZOO_VERSION

    stale = zoo_dir("tiny", 5)
    stale.mkdir(parents=True)
    (stale / "manifest.json").write_text(json.dumps({"preset": "tiny", "seed": 5, "zoo_version": ZOO_VERSION - 1}))
    (stale / "junk.txt").write_text("left over")
    assert ensure_zoo("tiny", 5, progress=False) == stale
    assert load_manifest(stale)["zoo_version"] == ZOO_VERSION
    assert not (stale / "junk.txt").exists() and (stale / "experts" / "dom00").is_dir()
    assert not [p for p in stale.parent.iterdir() if p.name.startswith((".tmp-", ".old-"))]


def test_fresh_mixtures_follow_the_zoo_cipher_and_are_seeded(tiny: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    from gfopt.problems.llm_evo.zoo.mixtures import MIN_SHARE, read_index

    man = load_manifest(tiny)
    table = str.maketrans(man["family"]["letters"], man["family"]["cipher"])
    groups = man["family"]["groups"]
    assert cli(["mixtures", "--preset", "tiny", "--size", "3", "--count", "3", "--mix-seed", "9",
                "--out", str(tmp_path / "a")]) == 0
    assert "problem.target_tasks=[fresh9k3_0,fresh9k3_1,fresh9k3_2]" in capsys.readouterr().out
    index = read_index(tmp_path / "a")
    sets = [tuple(t["experts_needed"]) for t in index["tasks"].values()]
    assert len(set(sets)) == 3 and all(len(s) == 3 for s in sets)
    for t in index["tasks"].values():
        shares = t["letter_shares"]
        assert sum(shares.values()) == pytest.approx(1, abs=2e-3) and min(shares.values()) >= MIN_SHARE - 1e-3
        allowed = set(DIGITS) | set("".join(groups[e] for e in t["experts_needed"]))
        used: set[str] = set()
        for split, n in (("valid", 200), ("test", 500)):
            lines = _lines(Path(t["dir"]) / f"{split}.jsonl")
            assert len(lines) == n
            for r in lines:
                body = r["prompt"][1:-1]
                assert r["answer"] == body.translate(table) and set(body) <= allowed
                used |= set(body)
        assert all(set(groups[e]) & used for e in t["experts_needed"])  # every needed expert's letters occur
    for seed, out in (("9", "b"), ("8", "c")):
        cli(["mixtures", "--preset", "tiny", "--size", "3", "--count", "3", "--mix-seed", seed,
             "--out", str(tmp_path / out)])
    test_a, test_b = (tmp_path / d / "fresh9k3_0" / "test.jsonl" for d in ("a", "b"))
    same = test_a.read_text() == test_b.read_text()
    assert same and read_index(tmp_path / "c")["tasks"].keys() != index["tasks"].keys()
