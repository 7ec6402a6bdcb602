"""A character-level tokenizer built locally with `tokenizers`, saved so `AutoTokenizer.from_pretrained` loads it."""

from __future__ import annotations

from typing import Any

SPECIALS = ["<pad>", "<s>", "</s>", "<unk>"]


def build_tokenizer(symbols: str) -> Any:
    """One token per character of `symbols` plus pad/bos/eos/unk, as a PreTrainedTokenizerFast."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(SPECIALS + list(dict.fromkeys(symbols)))}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    core.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(
        tokenizer_object=core, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>"
    )
