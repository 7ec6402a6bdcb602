"""Task files: JSONL splits checked line by line (errors name file:line) before any model work starts."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from gfopt.errors import InputError

SPLITS = ("train", "valid", "test")


@dataclass
class Sample:
    """A generation sample (prompt -> answer) or a multiple-choice one (choices, index of the right one)."""

    prompt: str
    answer: str
    choices: list[str] | None = None
    label: int | None = None


@dataclass
class Task:
    """A named task with its kind, fitness weight and loaded splits."""

    name: str
    kind: str
    weight: float = 1.0
    splits: dict[str, list[Sample]] = field(default_factory=dict)


def _parse(obj: object, kind: str, where: str) -> Sample:
    if not isinstance(obj, dict):
        raise InputError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    if kind == "generation":
        for key in ("prompt", "answer"):
            if not isinstance(obj.get(key), str):
                raise InputError(f"{where}: generation lines need string 'prompt' and 'answer' (bad {key!r})")
        if not obj["answer"]:
            raise InputError(f"{where}: empty 'answer'")
        return Sample(obj["prompt"], obj["answer"])
    q, choices, ans = obj.get("question"), obj.get("choices"), obj.get("answer")
    if not isinstance(q, str) or not isinstance(choices, list) or len(choices) < 2 or not all(
        isinstance(c, str) and c for c in choices
    ):
        raise InputError(f"{where}: multiple-choice lines need 'question' (str) and 'choices' (>= 2 non-empty str)")
    if isinstance(ans, bool) or not isinstance(ans, int | str):
        raise InputError(f"{where}: 'answer' must be a choice index or one of the choices")
    label = ans if isinstance(ans, int) else (choices.index(ans) if ans in choices else -1)
    if not 0 <= label < len(choices):
        raise InputError(f"{where}: 'answer' {ans!r} is not a valid choice index or choice")
    return Sample(q, choices[label], choices=list(choices), label=label)


def read_jsonl(path: Path, kind: str) -> list[Sample]:
    """Parse one split file; any empty or malformed line is an `InputError` naming file:line."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: task split file not found (each task dir needs train/valid/test.jsonl)")
    samples = []
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not UTF-8 text (byte {e.object[e.start]:#04x} at offset {e.start}); "
                         "save it as UTF-8") from None
    lines = text.split("\n")  # as iterating the file would: universal newlines, the last one optional
    if lines[-1] == "":
        lines.pop()
    for i, line in enumerate(lines, start=1):
        where = f"{path}:{i}"
        if not line.strip():
            raise InputError(f"{where}: empty line (remove it)")
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"{where}: malformed JSON ({e.msg})") from None
        except (ValueError, RecursionError) as e:  # an integer of > 4300 digits, nesting deeper than Python's stack
            raise InputError(f"{where}: unreadable JSON ({type(e).__name__})") from None
        samples.append(_parse(obj, kind, where))
    if not samples:
        raise InputError(f"{path}: no samples")
    return samples


def load_task(name: str, directory: str | Path, kind: str = "generation", weight: float = 1.0,
              need: dict[str, int] | None = None) -> Task:
    """Load `directory/{train,valid,test}.jsonl`; `need` maps a split to the samples asked (error when fewer)."""
    d = Path(directory)
    if not d.is_dir():
        raise InputError(f"{d}: task dir of {name!r} not found")
    task = Task(name, kind, weight)
    for split in ("valid", "test"):
        task.splits[split] = read_jsonl(d / f"{split}.jsonl", kind)
        asked = (need or {}).get(split)
        if asked is not None and len(task.splits[split]) < asked:
            raise InputError(
                f"{d / f'{split}.jsonl'}: {len(task.splits[split])} samples but {asked} asked "
                f"(lower problem.fitness.samples / problem.test_samples or add samples)"
            )
    return task
