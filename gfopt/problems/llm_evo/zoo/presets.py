"""Zoo presets: model size, task family layout and training budgets, one frozen dataclass per preset."""

from __future__ import annotations

from dataclasses import dataclass

from gfopt.errors import ConfigError

# Bump when a build would come out differently (tasks, training, layout): older zoos on disk are rebuilt.
ZOO_VERSION = 4  # 4: multiple-choice held-out tasks (default: its v3 files unchanged); a tiny preset that learns


@dataclass(frozen=True)
class ZooPreset:
    """Everything that shapes a zoo build; the seed decides all random choices inside these bounds."""

    name: str
    # task family: a letter cipher whose letters are split into `n_groups` domains of `group_size` letters
    n_groups: int = 16
    group_size: int = 2
    lengths: tuple[int, int] = (5, 7)
    letter_prob: float = 0.7
    focus_prob: float = 0.5  # share of an expert's training letters from its own group (the rest are copied)
    # held-out tasks draw letters from the groups of one pool of `pool` experts (chosen by the seed); each task
    # gives each pool member a share of its letters (0: absent), so one merge can serve every held-out task at once
    pool: int = 3
    held_out: tuple[tuple[float, ...], ...] = ((0.6, 0.2, 0.2), (0.2, 0.6, 0.2), (0.2, 0.2, 0.6), (0.5, 0.5, 0.0))
    # multiple-choice held-out tasks `mcN` over the same pool (scored by the log-likelihood of each choice): the
    # right answer maps every letter, distractors leave one needed expert's letters unmapped
    mc_held_out: tuple[tuple[float, ...], ...] = ((1 / 3, 1 / 3, 1 / 3),)
    mc_choices: int = 3
    mc_valid: int = 100  # validation samples (n_choices sequences each): the fitness cost of one generation task
    # model (Llama family)
    hidden: int = 96
    layers: int = 3
    heads: int = 4
    intermediate: int = 192
    # pre-training of the base on a mixture of synthetic tasks
    base_steps: int = 800
    base_batch: int = 64
    base_lr: float = 3e-3
    pretrain_lengths: tuple[int, int] = (4, 8)
    # LoRA: shared starting adapter, then experts as small B-only fine-tunes from it
    lora_rank: int = 32  # rank 8/16 experts interfered in 3- and 4-way merges (measured; docs/llm_zoo.md)
    lora_alpha: int = 64
    shared_steps: int = 200
    shared_lr: float = 3e-3
    expert_steps: int = 100
    expert_lr: float = 3e-3
    expert_batch: int = 32
    scale_min: float = 0.1
    # split sizes
    n_expert_train: int = 2000
    n_valid: int = 200
    n_heldout_train: int = 200
    n_test: int = 1000

    def __post_init__(self) -> None:
        if self.n_groups * self.group_size > 32:
            raise ConfigError(f"zoo preset {self.name}: n_groups * group_size must be <= 32 letters")
        if self.pool > self.n_groups or any(len(t) != self.pool or sum(t) <= 0 for t in self.held_out):
            raise ConfigError(f"zoo preset {self.name}: held_out entries need one share per pool member (pool <= "
                              "n_groups)")
        if any(len(t) != self.pool or sum(s > 0 for s in t) < 2 for t in self.mc_held_out) or self.mc_choices < 2:
            raise ConfigError(f"zoo preset {self.name}: mc_held_out entries need one share per pool member, two or "
                              "more of them > 0, and mc_choices >= 2")


PRESETS: dict[str, ZooPreset] = {
    "default": ZooPreset(name="default"),
    # a smoke test that shows the method in about a minute: 6 experts that learn their letters (0.85-0.94 exact match
    # alone), held-out tasks that the best expert solves at ~0.2 and a merge of the needed experts at 0.9-0.99;
    # scale_min 0.3 keeps the uniform merge (1/6 each) weak. Built in ~20 s on one thread.
    "tiny": ZooPreset(
        name="tiny",
        n_groups=6,
        pool=3,
        lengths=(3, 5),
        held_out=((0.5, 0.5, 0.0), (0.0, 0.5, 0.5), (0.4, 0.3, 0.3)),
        hidden=64,
        layers=2,
        heads=2,
        intermediate=128,
        base_steps=400,
        base_batch=32,
        pretrain_lengths=(3, 5),
        lora_rank=16,
        lora_alpha=32,
        shared_steps=60,
        expert_steps=100,
        expert_lr=6e-3,
        expert_batch=16,
        scale_min=0.3,
        n_expert_train=200,
        n_test=500,
    ),
}


def get_preset(name: str) -> ZooPreset:
    """The preset called `name`, or a ConfigError listing the known ones."""
    if name not in PRESETS:
        raise ConfigError(f"zoo preset: unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[name]
