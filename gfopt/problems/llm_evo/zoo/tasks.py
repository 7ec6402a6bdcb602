"""Synthetic text tasks of the zoo: the pre-training mixture and the cipher family of experts and held-out tasks.

The family: under the marker '@', every letter of a string is replaced through one secret cipher and digits are
copied. The 32 letters are split into groups (input domains); expert k learns the cipher on the letters of
group k only (it copies every other letter, as the shared starting adapter does), and a held-out task draws its
letters from several groups, so only a mixture of those experts can solve it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEF"
DIGITS = "0123456789"
FAMILY_MARK = "@"
PRETRAIN_MARKS = "!?#$%&"  # copy, reverse, four unrelated ciphers
SEPARATOR = "="
SYMBOLS = LETTERS + DIGITS + FAMILY_MARK + PRETRAIN_MARKS + SEPARATOR


@dataclass(frozen=True)
class CipherFamily:
    """The secret cipher and the split of its letters into groups (input domains)."""

    cipher: dict[str, str]
    groups: tuple[str, ...]

    def apply(self, text: str, only: str | None = None) -> str:
        """Letters (those in `only`, when given) through the cipher, anything else copied."""
        return "".join(self.cipher[c] if c in self.cipher and (only is None or c in only) else c for c in text)


def make_family(rng: np.random.Generator, n_groups: int, group_size: int) -> CipherFamily:
    """A random cipher (a derangement of the letters) and a random split of its letters into groups."""
    letters = np.array(list(LETTERS))
    while True:
        perm = rng.permutation(len(letters))
        if not np.any(perm == np.arange(len(letters))):
            break
    cipher = {a: letters[p] for a, p in zip(letters, perm, strict=True)}
    order = rng.permutation(len(letters))[: n_groups * group_size]
    groups = tuple("".join(letters[order[g * group_size : (g + 1) * group_size]]) for g in range(n_groups))
    return CipherFamily(cipher=cipher, groups=groups)


def sample_strings(
    rng: np.random.Generator, letters: str, n: int, lengths: tuple[int, int], letter_prob: float,
    exclude: set[str] | None = None, probs: np.ndarray | None = None,
) -> list[str]:
    """n distinct strings (none in `exclude`) mixing `letters` (each position with letter_prob; drawn with
    `probs`, default uniform) and digits."""
    out: list[str] = []
    seen = set(exclude or ())
    tries = 0
    while len(out) < n:
        tries += 1
        if tries > 50 * n + 1000:
            raise RuntimeError(f"cannot draw {n} distinct strings from {letters!r}; widen lengths")
        length = int(rng.integers(lengths[0], lengths[1] + 1))
        is_letter = rng.random(length) < letter_prob
        s = "".join(
            letters[rng.choice(len(letters), p=probs) if probs is not None else rng.integers(len(letters))]
            if il else DIGITS[rng.integers(10)]
            for il in is_letter
        )
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out


def sample_focus_strings(
    rng: np.random.Generator, focus: str, n: int, lengths: tuple[int, int], letter_prob: float, focus_prob: float,
) -> list[str]:
    """n distinct strings whose letters come from `focus` with focus_prob, else from the other letters."""
    others = "".join(c for c in LETTERS if c not in focus)
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        length = int(rng.integers(lengths[0], lengths[1] + 1))
        kind = rng.random(length)
        s = "".join(
            focus[rng.integers(len(focus))] if u < letter_prob * focus_prob
            else others[rng.integers(len(others))] if u < letter_prob
            else DIGITS[rng.integers(10)]
            for u in kind
        )
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out


def family_pairs(family: CipherFamily, inputs: list[str], only: str | None = None) -> list[dict[str, str]]:
    """Prompt/answer records of the family task for these inputs (mapping only the letters in `only`)."""
    return [{"prompt": f"{FAMILY_MARK}{s}{SEPARATOR}", "answer": family.apply(s, only)} for s in inputs]


def choice_records(
    family: CipherFamily, inputs: list[str], groups: list[str], n_choices: int, rng: np.random.Generator,
) -> list[dict[str, object]]:
    """Multiple-choice records of the family task (`question`, `choices`, `answer` = index of the right one).

    The right answer maps every letter; each distractor leaves the letters of one of `groups` unmapped (what a
    merge missing that expert prefers), the plain copy only where those are too few; `n_choices - 1` of them are
    drawn, and the order of the choices is shuffled. Keep only inputs with `n_choices - 1` `distractors`."""
    out: list[dict[str, object]] = []
    for s in inputs:
        wrong = distractors(family, s, groups, n_choices)
        if len(wrong) < n_choices - 1:
            raise ValueError(f"input {s!r} has only {len(wrong)} distinct distractors")
        picked = [wrong[i] for i in sorted(rng.choice(len(wrong), size=n_choices - 1, replace=False))]
        choices = [family.apply(s), *picked]
        order = rng.permutation(n_choices)
        out.append({"question": f"{FAMILY_MARK}{s}{SEPARATOR}", "choices": [choices[i] for i in order],
                    "answer": int(np.flatnonzero(order == 0)[0])})
    return out


def distractors(family: CipherFamily, s: str, groups: list[str], n_choices: int) -> list[str]:
    """Distinct wrong answers of `s`: one group's letters left unmapped (per group, in order), then the plain copy
    when fewer than `n_choices - 1`."""
    right = family.apply(s)
    out: list[str] = []
    for g in groups:
        cand = family.apply(s, "".join(x for x in groups if x != g))
        if cand != right and cand not in out:
            out.append(cand)
    if len(out) < n_choices - 1 and s != right and s not in out:
        out.append(s)
    return out


def copy_pairs(inputs: list[str]) -> list[dict[str, str]]:
    """The family marker with identity answers: what the shared starting adapter learns."""
    return [{"prompt": f"{FAMILY_MARK}{s}{SEPARATOR}", "answer": s} for s in inputs]


class PretrainMixture:
    """Infinite sampler of the base model's pre-training mixture: copy, reverse and four unrelated ciphers."""

    def __init__(self, rng: np.random.Generator, lengths: tuple[int, int]) -> None:
        self.rng = rng
        self.lengths = lengths
        self.ciphers = [make_family(rng, 1, 1).cipher for _ in range(4)]

    def _answer(self, mark: str, s: str) -> str:
        if mark == "!":
            return s
        if mark == "?":
            return s[::-1]
        cipher = self.ciphers["#$%&".index(mark)]
        return "".join(cipher.get(c, c) for c in s)

    def sample(self, n: int) -> list[dict[str, str]]:
        """n random records of the mixture."""
        marks = self.rng.integers(len(PRETRAIN_MARKS), size=n)
        inputs = sample_strings(self.rng, LETTERS, n, self.lengths, 0.7)
        return [
            {"prompt": f"{PRETRAIN_MARKS[m]}{s}{SEPARATOR}", "answer": self._answer(PRETRAIN_MARKS[m], s)}
            for m, s in zip(marks, inputs, strict=True)
        ]
