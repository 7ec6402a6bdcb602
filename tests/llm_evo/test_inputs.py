"""Bad input is one clear InputError naming the file (and line) before any evaluation."""

import json
import shutil

import pytest

from gfopt.errors import InputError
from gfopt.problems.llm_evo.data import load_task, read_jsonl
from gfopt.problems.llm_evo.problem import LlmEvoProblem
from gfopt.problems.llm_evo.toy import toy_kwargs


def test_malformed_and_empty_lines_name_file_and_line(tmp_path):
    f = tmp_path / "valid.jsonl"
    f.write_text('{"prompt": "a", "answer": "b"}\n{"prompt": "a", "answer": \n')
    with pytest.raises(InputError, match=r"valid\.jsonl:2: malformed JSON"):
        read_jsonl(f, "generation")
    f.write_text('{"prompt": "a", "answer": "b"}\n\n')
    with pytest.raises(InputError, match=r"valid\.jsonl:2: empty line"):
        read_jsonl(f, "generation")
    f.write_text('{"prompt": "a"}\n')
    with pytest.raises(InputError, match=r"valid\.jsonl:1: .*'answer'"):
        read_jsonl(f, "generation")


def test_multiple_choice_lines(tmp_path):
    f = tmp_path / "valid.jsonl"
    f.write_text(json.dumps({"question": "q", "choices": ["x", "y"], "answer": "y"}) + "\n"
                 + json.dumps({"question": "q", "choices": ["x", "y"], "answer": 0}) + "\n")
    s = read_jsonl(f, "multiple_choice")
    assert [x.label for x in s] == [1, 0] and s[0].answer == "y"
    f.write_text(json.dumps({"question": "q", "choices": ["x", "y"], "answer": 5}) + "\n")
    with pytest.raises(InputError, match=r":1: 'answer' 5"):
        read_jsonl(f, "multiple_choice")


def test_too_few_samples(toy_dir):
    with pytest.raises(InputError, match=r"valid\.jsonl: 20 samples but 50 asked"):
        load_task("rev", toy_dir / "tasks" / "rev", need={"valid": 50})


def test_missing_dirs(toy_dir, tmp_path):
    kw = toy_kwargs(toy_dir)
    kw["model"] = dict(kw["model"], base=str(tmp_path / "nope"))
    with pytest.raises(InputError, match="nope: base model dir not found"):
        LlmEvoProblem(**kw)
    kw = toy_kwargs(toy_dir)
    kw["model"] = dict(kw["model"], experts=kw["model"]["experts"][:2] + [str(tmp_path / "gone")])
    with pytest.raises(InputError, match="gone: adapter dir not found"):
        LlmEvoProblem(**kw)


@pytest.mark.parametrize("key,value", [("r", 8), ("target_modules", ["q_proj"]), ("base_model_name_or_path", "x")])
def test_mismatched_adapters(toy_dir, tmp_path, key, value):
    bad = tmp_path / "bad"
    shutil.copytree(toy_dir / "experts" / "e2", bad)
    cfg = json.loads((bad / "adapter_config.json").read_text())
    cfg[key] = value
    (bad / "adapter_config.json").write_text(json.dumps(cfg))
    kw = toy_kwargs(toy_dir)
    kw["model"] = dict(kw["model"], experts=kw["model"]["experts"][:2] + [str(bad)])
    with pytest.raises(InputError, match=rf"bad/adapter_config\.json: {key} = .* differs"):
        LlmEvoProblem(**kw)


def test_bad_task_line_fails_before_evaluation(toy_dir, tmp_path):
    tdir = tmp_path / "rev"
    shutil.copytree(toy_dir / "tasks" / "rev", tdir)
    lines = (tdir / "test.jsonl").read_text().splitlines()
    lines[4] = "not json"
    (tdir / "test.jsonl").write_text("\n".join(lines) + "\n")
    kw = toy_kwargs(toy_dir, tasks={"rev": {"dir": str(tdir)}})
    with pytest.raises(InputError, match=r"test\.jsonl:5: malformed JSON"):
        LlmEvoProblem(**kw)
