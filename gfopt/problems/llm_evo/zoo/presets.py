"""Zoo presets: model size, task family layout and training budgets, one frozen dataclass per preset."""

from __future__ import annotations

from dataclasses import dataclass

from gfopt.errors import ConfigError

# Bump when a build would come out differently (tasks, training, layout): older zoos on disk are rebuilt.
ZOO_VERSION = 3


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


PRESETS: dict[str, ZooPreset] = {
    "default": ZooPreset(name="default"),
    "tiny": ZooPreset(
        name="tiny",
        n_groups=8,
        pool=3,
        held_out=((0.5, 0.5, 0.0), (0.0, 0.5, 0.5), (0.4, 0.3, 0.3)),
        hidden=48,
        layers=2,
        heads=2,
        intermediate=96,
        base_steps=120,
        base_batch=32,
        lora_rank=4,
        lora_alpha=8,
        shared_steps=20,
        expert_steps=10,
        expert_batch=16,
        n_expert_train=200,
        n_test=500,
    ),
}


def get_preset(name: str) -> ZooPreset:
    """The preset called `name`, or a ConfigError listing the known ones."""
    if name not in PRESETS:
        raise ConfigError(f"zoo preset: unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[name]
