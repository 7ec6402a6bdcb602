"""How a (prompt, answer) pair becomes token ids: shared by zoo training and fitness evaluation.

One format everywhere keeps what the experts were trained on identical to what evolution scores:
[bos] + prompt tokens + answer tokens + [eos], where only the answer tokens and eos are scored.
"""

from __future__ import annotations

from typing import Any


def encode_pair(tokenizer: Any, prompt: str, answer: str) -> tuple[list[int], int]:
    """Token ids of prompt+answer(+eos) and the index where the scored answer part starts."""
    ids: list[int] = []
    if getattr(tokenizer, "bos_token_id", None) is not None:
        ids.append(tokenizer.bos_token_id)
    ids += tokenizer.encode(prompt, add_special_tokens=False)
    start = len(ids)
    ids += tokenizer.encode(answer, add_special_tokens=False)
    if tokenizer.eos_token_id is not None:
        ids.append(tokenizer.eos_token_id)
    return ids, start


def encode_prompt(tokenizer: Any, prompt: str) -> list[int]:
    """Token ids of a prompt alone (for free generation): [bos] + prompt tokens."""
    ids = [tokenizer.bos_token_id] if getattr(tokenizer, "bos_token_id", None) is not None else []
    return ids + tokenizer.encode(prompt, add_special_tokens=False)
