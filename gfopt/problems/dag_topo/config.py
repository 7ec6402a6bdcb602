"""Structured-config schema of the `dag_topo` problem (torch-free: imported before Hydra composes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gfopt.core.config import check

GRAPHS = ("ER", "SF")
NOISES = ("gauss", "exp", "gumbel", "uniform")
SEMS = ("linear", "logistic", "poisson")
SCORES = ("least_squares", "bic", "logistic", "mlp")
SELECT = ("bic", "all")


@dataclass
class DagDataConfig:
    """Where X comes from: a file (`path`) or a NOTEARS-style simulation (the other keys)."""

    path: str | None = None
    header: bool = True  # a .csv's first row names the nodes; false: every row is data, nodes are x0..x{d-1}
    graph: str = "ER"
    k: int = 2
    d: int = 20
    n: int = 1000
    noise: str = "gauss"
    sem: str = "linear"
    seed: int = 0
    center: bool | None = None
    standardize: bool = False

    def __post_init__(self) -> None:
        check(self.graph in GRAPHS, "problem.data.graph", f"must be one of {GRAPHS}, got {self.graph!r}")
        check(self.noise in NOISES, "problem.data.noise", f"must be one of {NOISES}, got {self.noise!r}")
        check(self.sem in SEMS, "problem.data.sem", f"must be one of {SEMS}, got {self.sem!r}")
        check(self.d >= 2, "problem.data.d", f"must be >= 2, got {self.d}")
        check(self.n >= 2, "problem.data.n", f"must be >= 2, got {self.n}")
        check(self.k >= 1, "problem.data.k", f"must be >= 1, got {self.k}")
        check(self.seed >= 0, "problem.data.seed", f"must be >= 0, got {self.seed}")


@dataclass
class DagScoreConfig:
    """The objective Q(W; X) and its per-node inner solver."""

    type: str = "least_squares"
    select: str = "bic"
    penalty: float | None = 1.0
    screen: bool | None = None
    unbiased: bool | None = None
    ridge: float | None = None
    lambda1: float = 0.0
    lambda2: float = 0.0
    hidden: int = 10
    max_iter: int = 500
    tol: float = 1e-6

    def __post_init__(self) -> None:
        check(self.type in SCORES, "problem.score.type", f"must be one of {SCORES}, got {self.type!r}")
        check(self.select in SELECT, "problem.score.select", f"must be one of {SELECT}, got {self.select!r}")
        check(self.penalty is None or self.penalty >= 0, "problem.score.penalty",
              f"must be >= 0 (a multiplier of the price per parent) or null (chosen from the data), got {self.penalty}")
        check(self.ridge is None or self.ridge >= 0, "problem.score.ridge",
              f"must be >= 0 (times the smallest column variance) or null (the small-n rule), got {self.ridge}")
        check(self.lambda1 >= 0, "problem.score.lambda1", f"must be >= 0, got {self.lambda1}")
        check(self.lambda2 >= 0, "problem.score.lambda2", f"must be >= 0, got {self.lambda2}")
        check(self.hidden >= 1, "problem.score.hidden", f"must be >= 1, got {self.hidden}")
        check(self.max_iter >= 1, "problem.score.max_iter", f"must be >= 1, got {self.max_iter}")
        check(self.tol > 0, "problem.score.tol", f"must be > 0, got {self.tol}")


@dataclass
class DagSearchConfig:
    """Where the search starts: `init` is the first start (random, dagma, notears, data or a .npy file).

    The swap neighbourhood's settings and the restarts are the engine's (`engine.neighbourhood.*`,
    `engine.restarts`; conf/operators/local_search_dag_topo.yaml).
    """

    init: str = "random"
    dagma_lambda1: float = 0.02
    notears_lambda1: float = 0.1
    sparse_starts: int | None = 2

    def __post_init__(self) -> None:
        check(self.sparse_starts is None or self.sparse_starts >= 1, "problem.search.sparse_starts",
              f"must be >= 1 or null (every start), got {self.sparse_starts}")
        check(isinstance(self.init, str) and self.init != "", "problem.search.init",
              "must be random, dagma, notears, data or a path to a .npy order / weight matrix")
        check(self.dagma_lambda1 >= 0, "problem.search.dagma_lambda1", "must be >= 0")
        check(self.notears_lambda1 >= 0, "problem.search.notears_lambda1", "must be >= 0")


@dataclass
class DagKnowledgeConfig:
    """Prior knowledge: edges 'a->b' (node names or indices) that must / must not appear, and tiers (lists of
    nodes; a node in an earlier tier never has a parent in a later one)."""

    required: list[str] = field(default_factory=list)
    forbidden: list[str] = field(default_factory=list)
    tiers: list[list[Any]] = field(default_factory=list)


@dataclass
class DagBootstrapConfig:
    """`samples` > 0: rerun the search on that many row resamples and write edge frequencies; `workers` > 1 runs
    the resamples in that many processes (same frequencies)."""

    samples: int = 0
    seed: int | None = None
    workers: int = 1

    def __post_init__(self) -> None:
        check(self.samples >= 0, "problem.bootstrap.samples", f"must be >= 0, got {self.samples}")
        check(self.workers >= 1, "problem.bootstrap.workers", f"must be >= 1 (1: in this process), got {self.workers}")


@dataclass
class DagTopoConfig:
    _target_: str = "gfopt.problems.dag_topo.problem.DagTopoProblem"
    name: str = "dag_topo"
    data: DagDataConfig = field(default_factory=DagDataConfig)
    score: DagScoreConfig = field(default_factory=DagScoreConfig)
    search: DagSearchConfig = field(default_factory=DagSearchConfig)
    knowledge: DagKnowledgeConfig = field(default_factory=DagKnowledgeConfig)
    bootstrap: DagBootstrapConfig = field(default_factory=DagBootstrapConfig)
    w_threshold: float = 0.3

    def __post_init__(self) -> None:
        check(self.w_threshold >= 0, "problem.w_threshold", f"must be >= 0, got {self.w_threshold}")


def register(cs: Any) -> None:
    """Store the schema in Hydra's ConfigStore under schema/problem/dag_topo."""
    cs.store(group="schema/problem", name="dag_topo", node=DagTopoConfig)
