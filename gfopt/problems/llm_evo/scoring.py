"""Scoring the live model on a task split: teacher-forced exact match and partial credit, multiple-choice
log-likelihood, and real greedy generation with answer extraction (for votes and chat models).

Samples are tokenized once with `text.encode_pair`, sorted by length, left-padded per batch so that every
answer ends at the last position: one forward pass with `logits_to_keep` = longest answer + eos scores a batch.
Exact match under teacher forcing (every answer token and eos is the argmax) equals greedy-generation exact match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from gfopt.problems.llm_evo.data import Sample
from gfopt.problems.llm_evo.text import encode_pair, encode_prompt


@dataclass
class Batch:
    """A left-padded batch: inputs without the final eos, targets of the last `A` positions and their mask."""

    rows: np.ndarray  # indices of the sequences in this batch
    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    position_ids: torch.Tensor
    targets: torch.Tensor  # [B, A]
    mask: torch.Tensor  # [B, A] bool: scored positions


@dataclass
class Prepared:
    """A tokenized split: batches over sequences; for multiple choice, `owner` maps sequences to samples."""

    kind: str
    n_samples: int
    n_seqs: int
    batches: list[Batch]
    owner: np.ndarray | None = None
    labels: np.ndarray | None = None


def _pad_id(tok: Any) -> int:
    for tid in (tok.pad_token_id, tok.eos_token_id, 0):
        if tid is not None:
            return int(tid)
    return 0


def prepare(tok: Any, samples: list[Sample], kind: str, device: torch.device, batch_size: int) -> Prepared:
    """Tokenize and batch a split once (sorted by length to keep padding small)."""
    seqs, owner, labels = [], [], []
    for i, s in enumerate(samples):
        if kind == "multiple_choice":
            for c in s.choices:
                seqs.append(encode_pair(tok, s.prompt, c))
                owner.append(i)
            labels.append(s.label)
        else:
            seqs.append(encode_pair(tok, s.prompt, s.answer))
    pad = _pad_id(tok)
    order = np.argsort([len(ids) for ids, _ in seqs], kind="stable")
    batches = []
    for lo in range(0, len(order), batch_size):
        rows = order[lo:lo + batch_size]
        group = [seqs[r] for r in rows]
        length = max(len(ids) for ids, _ in group)
        n_scored = [len(ids) - start for ids, start in group]
        a = max(n_scored)
        ids = torch.full((len(rows), length), pad, dtype=torch.long)
        att = torch.zeros((len(rows), length), dtype=torch.long)
        for j, (s_ids, _) in enumerate(group):
            ids[j, length - len(s_ids):] = torch.tensor(s_ids)
            att[j, length - len(s_ids):] = 1
        pos = (att.cumsum(1) - 1).clamp(min=0)
        mask = torch.arange(a)[None, :] >= (a - torch.tensor(n_scored))[:, None]
        batches.append(Batch(
            rows=rows, input_ids=ids[:, :-1].to(device), attention_mask=att[:, :-1].to(device),
            position_ids=pos[:, :-1].to(device), targets=ids[:, length - a:].to(device), mask=mask.to(device),
        ))
    return Prepared(kind, len(samples), len(seqs), batches,
                    np.asarray(owner) if owner else None, np.asarray(labels) if labels else None)


@torch.inference_mode()
def _answer_logits(model: Any, b: Batch) -> torch.Tensor:
    out = model(input_ids=b.input_ids, attention_mask=b.attention_mask, position_ids=b.position_ids,
                logits_to_keep=b.targets.shape[1], use_cache=False)
    return out.logits[:, -b.targets.shape[1]:, :]


@torch.inference_mode()
def token_loglik(model: Any, prep: Prepared) -> tuple[np.ndarray, np.ndarray]:
    """Per sequence: summed log-likelihood of its answer tokens and eos, and how many tokens that is."""
    ll, n_tok = np.empty(prep.n_seqs), np.empty(prep.n_seqs)
    for b in prep.batches:
        logp = torch.log_softmax(_answer_logits(model, b).float(), dim=-1)
        tok_ll = logp.gather(-1, b.targets.unsqueeze(-1)).squeeze(-1)
        ll[b.rows] = (tok_ll * b.mask).sum(1).cpu().numpy()
        n_tok[b.rows] = b.mask.sum(1).cpu().numpy()
    return ll, n_tok


def choice_loglik(model: Any, prep: Prepared) -> np.ndarray:
    """Summed log-likelihood of every (sample, choice) sequence's answer tokens and eos."""
    return token_loglik(model, prep)[0]


@torch.inference_mode()
def score(model: Any, prep: Prepared) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample (exact, partial) for the adapter now in `model`.

    generation: exact = every answer token and eos is the argmax; partial = fraction of them that are.
    multiple choice: exact = the label has the highest summed log-likelihood; partial = its softmax share.
    """
    exact, partial, _ = score_with_loss(model, prep)
    return exact, partial


@torch.inference_mode()
def score_with_loss(model: Any, prep: Prepared) -> tuple[np.ndarray, np.ndarray, float]:
    """`score`'s (exact, partial) and, from the same forward passes, the cross-entropy of the gold answers: the
    mean negative log-likelihood per answer token (and eos) over the split (for multiple choice, of the right
    choice's tokens), as a language-model loss on these samples would be."""
    if prep.kind == "multiple_choice":
        ll, n_tok = token_loglik(model, prep)
        exact, partial = np.zeros(prep.n_samples), np.zeros(prep.n_samples)
        gold_ll, gold_n = 0.0, 0.0
        for i in range(prep.n_samples):
            rows = np.flatnonzero(prep.owner == i)
            cand = ll[rows]
            p = np.exp(cand - cand.max())
            p /= p.sum()
            exact[i] = float(np.argmax(cand) == prep.labels[i])
            partial[i] = p[prep.labels[i]]
            gold_ll += cand[prep.labels[i]]
            gold_n += n_tok[rows[prep.labels[i]]]
        return exact, partial, float(-gold_ll / gold_n)
    exact, partial = np.empty(prep.n_samples), np.empty(prep.n_samples)
    nll, count = 0.0, 0.0
    for b in prep.batches:
        logits = _answer_logits(model, b)
        hit = (logits.argmax(-1) == b.targets) & b.mask
        n = b.mask.sum(1)
        exact[b.rows] = (hit.sum(1) == n).cpu().numpy()
        partial[b.rows] = (hit.sum(1).float() / n.float()).cpu().numpy()
        tok_ll = torch.log_softmax(logits.float(), dim=-1).gather(-1, b.targets.unsqueeze(-1)).squeeze(-1)
        nll -= float((tok_ll * b.mask).sum())
        count += float(n.sum())
    return exact, partial, nll / count


def fitness_of(exact: np.ndarray, partial: np.ndarray, metric: str, partial_weight: float,
               loss: float = float("nan"), tiebreak_weight: float = 0.0) -> float:
    """One task's fitness: exact-match rate, mean partial credit, exact with partial credit on misses, or
    (`likelihood`) exp(-loss), the gold answers' mean per-token likelihood; minus `tiebreak_weight` x loss (the
    cross-entropy tiebreak: a slope where the metric is flat)."""
    if metric == "likelihood":
        value = float(np.exp(-loss))
    elif metric == "exact":
        value = float(exact.mean())
    elif metric == "partial":
        value = float(partial.mean())
    else:
        value = float(np.where(exact > 0, 1.0, partial_weight * partial).mean())
    return value - tiebreak_weight * loss if tiebreak_weight else value


_ANSWER = re.compile(r"Answer:\s*(.*)")


def extract_answer(text: str, mode: str = "eos") -> str:
    """`eos`: the text itself (generation stops at eos); `answer`: after the last 'Answer:' up to a newline,
    else the first line."""
    if mode == "answer":
        found = _ANSWER.findall(text)
        if found:
            return found[-1].split("\n")[0].strip()
        return text.strip().split("\n")[0].strip() if text.strip() else ""
    return text.strip()


@torch.inference_mode()
def generate(model: Any, tok: Any, samples: list[Sample], device: torch.device, batch_size: int,
             max_new_tokens: int, mode: str = "eos") -> list[str]:
    """Greedy generation from each prompt (left-padded batches, KV cache); extracted answers in sample order.

    In `eos` mode an answer that never reaches eos within `max_new_tokens` is returned with a trailing marker
    so it never equals a gold answer (teacher-forced exact match also requires eos)."""
    prompts = [encode_prompt(tok, s.prompt) for s in samples]
    order = np.argsort([len(p) for p in prompts], kind="stable")
    pad = _pad_id(tok)
    out: list[str] = [""] * len(samples)
    for lo in range(0, len(order), batch_size):
        rows = order[lo:lo + batch_size]
        length = max(len(prompts[r]) for r in rows)
        ids = torch.full((len(rows), length), pad, dtype=torch.long)
        att = torch.zeros((len(rows), length), dtype=torch.long)
        for j, r in enumerate(rows):
            ids[j, length - len(prompts[r]):] = torch.tensor(prompts[r])
            att[j, length - len(prompts[r]):] = 1
        gen = model.generate(input_ids=ids.to(device), attention_mask=att.to(device), max_new_tokens=max_new_tokens,
                             do_sample=False, pad_token_id=pad, eos_token_id=tok.eos_token_id)
        for j, r in enumerate(rows):
            new = gen[j, length:].tolist()
            ended = tok.eos_token_id in new
            if ended:
                new = new[:new.index(tok.eos_token_id)]
            text = tok.decode(new, skip_special_tokens=True)
            out[r] = extract_answer(text, mode) + ("" if ended or mode != "eos" else "\u2026")
    return out


def vote(answers: list[list[str]]) -> list[str]:
    """Per-sample majority vote over members (best-ranked first); ties go to the best-ranked member's answer."""
    result = []
    for per_sample in zip(*answers, strict=True):
        counts: dict[str, int] = {}
        for a in per_sample:
            counts[a] = counts.get(a, 0) + 1
        top = max(counts.values())
        result.append(next(a for a in per_sample if counts[a] == top))
    return result
