"""`DagTopoProblem`: TOPO structure learning as a search over topological orders (genome = order)."""

from __future__ import annotations

import logging
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gfopt.core.operators import MoveBatch
from gfopt.core.operators.permutation import Insert, PositionSwaps, insert
from gfopt.core.problem import Problem
from gfopt.core.space import PERMUTATION, PermutationSpace
from gfopt.errors import ConfigError, InputError
from gfopt.problems.dag_topo.config import (
    DagBootstrapConfig,
    DagDataConfig,
    DagKnowledgeConfig,
    DagScoreConfig,
    DagSearchConfig,
)
from gfopt.problems.dag_topo.cpdag import cpdag_shd, dag_to_cpdag
from gfopt.problems.dag_topo.data import MAX_ABS, Dataset, load, simulate, topological_order, validate
from gfopt.problems.dag_topo.knowledge import Knowledge, parse_knowledge
from gfopt.problems.dag_topo.metrics import count_accuracy
from gfopt.problems.dag_topo.neighbourhood import TopoSwapNeighbourhood
from gfopt.problems.dag_topo.parent_sets import ParentSetScore
from gfopt.problems.dag_topo.penalty import bic_price, choose_multiplier, folds_for, with_ridge
from gfopt.problems.dag_topo.process_settings import apply_search_settings
from gfopt.problems.dag_topo.scores import LassoScore, LeastSquaresScore, LogisticScore, OrderFit, Score
from gfopt.problems.dag_topo.selection import UnbiasedCost, least_squares_cost, log_likelihood_cost
from gfopt.problems.dag_topo.starts import dagma_weights, order_from_file, order_from_weights

log = logging.getLogger("gfopt.dag_topo")

FIT_CACHE_BYTES = 64 * 2**20
"""Memory for cached exact fits (W and factor, 2 x d^2 floats each): 8 to 64 orders."""
EVAL_CHUNK = 8192
SWAP_TOLERANCE = 1e-12
"""Relative score changes below this count as no change (keeps rounding from creating fake improvements)."""


def singular_covariance(S: np.ndarray) -> bool:
    """S is singular: its correlation matrix (a scale-free test) has smallest eigenvalue <= 1e-10, or is undefined
    (a constant column)."""
    scale = np.sqrt(np.diag(S))
    with np.errstate(divide="ignore", invalid="ignore"):
        R = S / np.outer(scale, scale)
    return not (np.all(np.isfinite(R)) and np.linalg.eigvalsh(R)[0] > 1e-10)


def _as(cls: type, value: Any) -> Any:
    """A config section as its dataclass, whether Hydra passed a dataclass, a mapping or nothing."""
    if value is None:
        return cls()
    if isinstance(value, cls):
        return value
    if is_dataclass(value):
        return cls(**asdict(value))
    return cls(**dict(value))


_WARNED: weakref.WeakValueDictionary[int, Dataset] = weakref.WeakValueDictionary()
"""Datasets already warned about, by id (the two-stage default builds a second problem on the same dataset); weak, so
a new dataset that reuses a freed one's id is warned about too."""
SCREEN_PENALTY = 0.5
"""Candidate screening uses half the BIC penalty: missing a parent there cannot be undone by the search."""
SCREEN_PENALTY_SMALL_N = 0.1
"""... and this fraction with n <= 2d, where the screen is grow-shrink on all other nodes (at 0.5 it dropped 70 of
ER6 d=50 n=100's 300 true edges: SHD 221; 0.1: 145, since then 59). Unscreened moves SHD both ways on the d < n <= 2d
instances (worst case the same on the tuning pool, better on the check set) at up to 1.8x the time, which takes
the default past 3x the old one's (experiments/dag_screen_small_n.txt, docs/dag_topo.md)."""
SCREEN_MIN_N = 1
"""`score.screen` null screens only when n > SCREEN_MIN_N * d (n <= d: every allowed pair is a candidate)."""
HELD_OUT_MIN_N = 2
"""`score.penalty` null chooses the multiplier by held-out error when n > HELD_OUT_MIN_N * d (see `penalty`);
with n <= 2d and no ridge no rule beat the BIC's worst case on the tuning suite (experiments/dag_tune_small_n.txt);
there the ridge rule (`RIDGE_MAX_N`) makes the held-out choice on ridge fits instead."""
RIDGE_SMALL_N = 0.1
"""`score.ridge` null with n <= d: the sparse least-squares fits use S + 0.1 s2 I (s2 the smallest column variance),
`unbiased` off, and the parent price is the configured multiplier times one chosen by held-out error of ridge fits
in the first stage's best order (`_held_out_rule`). On the 36 n = d tuning instances
(experiments/dag_small_n_penalty_null.txt) SHD minus DAGMA's: worst +6 (+11 before the ridge, +10 at a fixed 0.85),
at or below DAGMA 33/36 (27; 34), summed -1138 (-732; -991)."""
RIDGE_MAX_N = 2
"""... and with d < n <= 2d at 0.1 d / n (0.05 at n = 2d), the rest of the rule the same. On the 26 n = 2d tuning
instances (seeds 1003-1065) SHD minus DAGMA's: worst +4 (+17 without the ridge there), at or below DAGMA 20/26
(18/26), summed -568 (-474): experiments/dag_small_n_2d.txt. At 0.1 it was +9 at d <= 20 but lost 2 -> 17 on the
suite's SF4 d=100 n=200 (DAGMA 14); experiments/dag_ridge_2d_check.txt checks n = 1.5d and more d = 100 n = 200."""
RIDGE_PRICE = 0.85
"""The parent price's factor under the ridge rule before the held-out choice (it ranks the first stage's optima and
so picks the order the choice is made in) and without a first stage (ridge 0.1 at a fixed price 1: worst +12 at
n = d, 0.5-0.85: +10; chosen by held-out error: +6, experiments/dag_small_n_penalty_null.txt)."""
BIC_PRICE = 2.0
"""The bic score's price per parent at `score.penalty` 1, in units of the textbook BIC's log(n) / (2n). On 32
standardized ER/SF instances (d = 20, 50; seeds 2000+, apart from dag_peers.py's) the CPDAG SHD minus the better of
GRaSP's and BOSS's was at worst +19 with the BIC itself (ER2 d=50: 19 vs 0), +3 with twice it and +4 with 4x
(causal-learn's own objective): experiments/dag_bic_price.txt."""
AUTO_RESTARTS_MAX_D = 200  # from here on one restart: full candidate sets cost ~d^2.4 per start


class DagTopoProblem(Problem):
    """Minimize the score of the DAG fitted on a topological order (genome = order).

    Evaluation is fast where it can be: a `MoveBatch` of position swaps is scored incrementally from its base
    order's fit; in a list of orders, one that swaps two positions of a recently fitted order (a GA's swap
    mutant) is scored from that fit too; anything else is fitted exactly. `fast_evaluations` and
    `exact_evaluations` count both kinds.
    """

    sense = "min"
    space_kind = PERMUTATION

    def __init__(self, name: str = "dag_topo", data: Any = None, score: Any = None, search: Any = None,
                 w_threshold: float = 0.3, dataset: Dataset | None = None, knowledge: Any = None,
                 bootstrap: Any = None, resample: bool = False) -> None:
        self.name = name
        self.resample = bool(resample)  # rows drawn with replacement (a bootstrap resample): see `singular`
        self.data_cfg: DagDataConfig = _as(DagDataConfig, data)
        self.score_cfg: DagScoreConfig = _as(DagScoreConfig, score)
        self.search_cfg: DagSearchConfig = _as(DagSearchConfig, search)
        self.knowledge_cfg: DagKnowledgeConfig = _as(DagKnowledgeConfig, knowledge)
        self.bootstrap_cfg: DagBootstrapConfig = _as(DagBootstrapConfig, bootstrap)
        apply_search_settings()  # one BLAS thread (small matrices): see process_settings
        self.w_threshold = float(w_threshold)
        dc, sc = self.data_cfg, self.score_cfg
        if dataset is None:
            if dc.path is not None:
                dataset = load(dc.path, header=dc.header)
            else:
                dataset = simulate(dc.graph, dc.k, dc.d, dc.n, dc.noise, dc.sem, dc.seed)
        validate(dataset, sc.type, standardize=dc.standardize or sc.type == "bic")
        self.dataset = self.dataset_raw = dataset
        self.names = list(dataset.names)
        kc = self.knowledge_cfg
        self.knowledge: Knowledge | None = parse_knowledge(kc.required, kc.forbidden, kc.tiers, self.names)
        self.X = self._prepare(dataset.X)
        self.n, self.d = self.X.shape
        # a singular covariance: n <= d, or a resample whose repeated rows leave d or fewer distinct ones (with n > d
        # the data's own dependent columns are refused in _make_score instead); the small-n paths handle it
        self.singular = self.n <= self.d or (self.resample and self._dependent_columns())
        self._check_bootstrap_rows()
        self.penalty_multiplier = 1.0 if sc.penalty is None else float(sc.penalty)  # null: see _held_out_rule
        if sc.ridge is not None and sc.ridge > 0 and not self._sparse_least_squares():
            raise ConfigError("problem.score.ridge: applies to the sparse least-squares score (type=least_squares, "
                              "select=bic, lambda1=0); set it to null or 0 (select=all has lambda2)")
        if self._ridge_rule():
            self.penalty_multiplier *= RIDGE_PRICE
        self.score = self._make_score()
        self._space = PermutationSpace(self.d)
        self._fits: OrderedDict[bytes, OrderFit] = OrderedDict()
        self.fit_cache = int(np.clip(FIT_CACHE_BYTES // (16 * self.d**2), 8, 64))
        self.fast_evaluations = 0
        self.exact_evaluations = 0
        self.start_weights: dict[str, np.ndarray] = {}  # other methods' raw W (dagma / notears starts)
        self.start_kinds: list[str] = []

    # ------------------------------------------------------------------ setup
    def _prepare(self, X: np.ndarray) -> np.ndarray:
        dc, kind = self.data_cfg, self.score_cfg.type
        center = dc.center if dc.center is not None else kind != "logistic"
        if kind == "logistic" and (center or dc.standardize):
            raise ConfigError("problem.data.center: logistic scores need the raw 0/1 data; set center=false, "
                              "standardize=false")
        X = np.array(X, dtype=float, copy=True)
        if dc.standardize or kind == "bic":  # bring huge columns (up to 1e308) into range first (unit-free results)
            big = np.max(np.abs(X), axis=0) > MAX_ABS
            X[:, big] /= np.max(np.abs(X[:, big]), axis=0)
        if center:
            X -= X.mean(axis=0)
        if dc.standardize or kind == "bic":  # bic is unit-free; standardizing makes the swap ranking unit-free too
            X /= X.std(axis=0)
        scale = X.std(axis=0)
        squared_error = kind in ("least_squares", "mlp")  # equal noise variances: edges oriented by variance
        warning = None
        if squared_error and dc.standardize:
            warning = (f"problem.data.standardize=true with {kind.replace('_', ' ')}: its equal-noise-variance model "
                       "orients edges by the columns' variances, which standardizing removes (generated ER4 d=50 "
                       "n=1000, least squares: SHD 0 raw, 309 standardized)")
        elif squared_error and scale.max() > 1e3 * scale.min():
            warning = (f"column scales differ by {scale.max() / scale.min():.0f}x: squared-error scores orient edges "
                       "by variance, so the graph depends on the units (w_threshold too)")
        if warning is not None and _WARNED.get(id(self.dataset_raw)) is not self.dataset_raw:
            _WARNED[id(self.dataset_raw)] = self.dataset_raw
            log.warning("%s; for data in arbitrary units use problem.score.type=bic (unit-free)", warning)
        return X

    def _make_score(self) -> Score:
        sc = self.score_cfg
        if sc.type == "bic" and self.singular:
            what = (f"a bootstrap resample's {self.n} rows hold {self._distinct_rows()} distinct ones, not more than "
                    f"d = {self.d}" if self.n > self.d else f"n = {self.n} <= d = {self.d}")
            raise InputError(f"problem.score.type=bic: {what}; with one noise variance per node a node whose "
                             "predecessors can fit it exactly makes the likelihood unbounded (a score of -inf); use "
                             "problem.score.type=least_squares (sparse parents, one noise scale) or more rows")
        if sc.type in ("least_squares", "bic") and self.n > self.d and not self.resample:
            self._check_independent_columns()
        if sc.type == "bic" or (sc.type == "least_squares" and sc.lambda1 == 0
                                and (sc.select == "bic" or self.knowledge is not None)):
            return self._parent_set_score()
        if sc.type == "least_squares":
            if sc.lambda1 > 0:
                return LassoScore(self.X, sc.lambda1, sc.lambda2, sc.max_iter, sc.tol)
            score = LeastSquaresScore(self.X, sc.lambda2)
            self._check_full_rank(score.S)
            return score
        if sc.type == "logistic":
            return LogisticScore(self.X, sc.lambda1, sc.max_iter, sc.tol)
        from gfopt.problems.dag_topo.mlp import MlpScore

        return MlpScore(self.X, sc.hidden, sc.lambda1, sc.lambda2, sc.max_iter, sc.tol, seed=self.data_cfg.seed)

    def _dependent_columns(self) -> bool:
        """The data's covariance is singular (`singular_covariance`)."""
        return singular_covariance(self.X.T @ self.X / self.n)

    def _distinct_rows(self) -> int:
        """How many different rows X has (a bootstrap resample repeats some)."""
        return len(np.unique(self.X, axis=0))

    def _check_bootstrap_rows(self) -> None:
        """Scores that need more distinct rows than columns (bic, select=all without lambda2) cannot be bootstrapped
        when a resample of the n rows holds, in expectation, n (1 - (1 - 1/n)^n) ~ 0.63 n <= d distinct ones."""
        sc = self.score_cfg
        if self.bootstrap_cfg.samples <= 0 or self.resample or self.n <= self.d:
            return
        needs_rank = sc.type == "bic" or (sc.type == "least_squares" and sc.select == "all" and sc.lambda1 == 0
                                          and sc.lambda2 == 0)
        distinct = self.n * (1.0 - (1.0 - 1.0 / self.n) ** self.n)
        if needs_rank and distinct <= self.d:
            raise InputError(f"problem.bootstrap.samples: a resample of the n = {self.n} rows holds about "
                             f"{distinct:.0f} distinct ones, not more than d = {self.d}, and this score needs more "
                             "(its fits are exact there); use more rows (n > 1.6 d), or the default sparse "
                             "least-squares score (score.type=least_squares, select=bic), which handles them")

    def _check_independent_columns(self) -> None:
        """With n > d a singular covariance means exactly derived columns: no score can orient those."""
        if self._dependent_columns():
            raise InputError("problem.data: the columns are linearly dependent (singular covariance with n > d); "
                             "drop duplicated or derived columns")

    def _check_full_rank(self, S: np.ndarray) -> None:
        """`select=all` regresses a node on every predecessor: the last one needs all d - 1 others, so n > d."""
        if singular_covariance(S):
            why = (f"n = {self.n} <= d = {self.d}" if self.n <= self.d else "a bootstrap resample's repeated rows"
                   if self.resample else "some columns are linear combinations")
            raise InputError(f"problem.score.select=all: every predecessor as a regressor needs a nonsingular "
                             f"covariance ({why}); use problem.score.select=bic (sparse parents), "
                             "problem.score.lambda2 > 0, or drop duplicated / derived columns")

    def _parent_set_score(self, screened: np.ndarray | None = None) -> ParentSetScore:
        """Parents chosen per node (grow-shrink with a BIC penalty), or every allowed predecessor (select=all).

        least squares: 0.5 v n / (n - |A|) + lambda |A| (`score.unbiased`; null = on for n <= 2d with ridge 0; by
        default the ridge rule is on there instead, 0.5 v on S + ridge s2 I), lambda = penalty *
        s2 log(n) / (2n) with s2 = the smallest column variance (a source node's variance is its noise variance):
        the BIC of an equal-variance Gaussian model, linearized, with the residual variance's small-sample bias
        removed. bic: 0.5 log(2 pi e v) + penalty * BIC_PRICE * log(n) / (2n) |A|, one variance per node (unit-free).
        `screened`: an earlier score's screen result (see `ParentSetScore`); the screen does not depend on the
        multiplier (`_screen_multiplier`), so a rebuild after the held-out choice passes the old one.
        """
        sc = self.score_cfg
        S = self.X.T @ self.X / self.n
        select = sc.select == "bic"
        if sc.type == "bic":
            cost, penalty = log_likelihood_cost, self.penalty_multiplier * BIC_PRICE * np.log(self.n) / (2 * self.n)
        else:
            cost = least_squares_cost
            penalty = self.penalty_multiplier * bic_price(S, self.n) if select else 0.0
            if select and self._ridge() > 0:  # ridge regressions: no parent set fits a node (or its noise) exactly
                S = with_ridge(S, self._ridge())
            if sc.lambda2 > 0:
                S = S + 2.0 * sc.lambda2 * np.eye(self.d)
        if not select:
            self._check_full_rank(S)
        if self._unbiased(select):
            cost = UnbiasedCost(cost, self.n)  # residual variance over n - k: see selection.UnbiasedCost
        k = self.knowledge
        fraction = SCREEN_PENALTY if self.n > 2 * self.d else SCREEN_PENALTY_SMALL_N
        return ParentSetScore(S, cost, penalty if select else 0.0, sc.type, select=select,
                              allowed=None if k is None else k.allowed, required=None if k is None else k.required,
                              screen_penalty=self._screen_multiplier() * np.log(self.n) / (2 * self.n) * fraction
                              if (select and self._screen()) else None,
                              precision_screen=self.n > 2 * self.d and not self.singular, screened=screened)

    def _ridge(self) -> float:
        """`score.ridge` as set; null = `RIDGE_SMALL_N` x min(1, d / n) for the sparse least-squares score with
        n <= RIDGE_MAX_N * d, else 0."""
        r = self.score_cfg.ridge
        if r is not None:
            return float(r)
        small = self._sparse_least_squares() and self.n <= RIDGE_MAX_N * self.d
        return RIDGE_SMALL_N * min(1.0, self.d / self.n) if small else 0.0

    def _ridge_rule(self) -> bool:
        """`score.ridge` null and the ridge on: the parent price is also scaled by `RIDGE_PRICE`."""
        return self.score_cfg.ridge is None and self._ridge() > 0

    def _sparse_least_squares(self) -> bool:
        """The sparse least-squares score (grow-shrink parents): the only one `score.ridge` applies to."""
        sc = self.score_cfg
        return sc.type == "least_squares" and sc.select == "bic" and sc.lambda1 == 0

    def _screen_multiplier(self) -> float:
        """The screen's penalty multiplier: the configured one, or under the held-out rule 1 whatever it chooses
        (the candidate set, and with it which multipliers can matter, then does not depend on the choice)."""
        return 1.0 if self.score_cfg.penalty is None else float(self.score_cfg.penalty)

    def _held_out_rule(self) -> bool:
        """A multiplier chosen by held-out error in the first stage's best order (`penalty.choose_multiplier`) on
        the two-stage sparse least-squares default: with `score.penalty` null and n > 2d, or under the ridge rule
        (n <= 2d, ridge fits, the configured multiplier times the choice). Otherwise the multiplier is as set (null:
        1; times RIDGE_PRICE under the ridge rule without a first stage)."""
        if not self._two_stage():
            return False
        return self._ridge_rule() or (self.score_cfg.penalty is None and self.n > HELD_OUT_MIN_N * self.d)

    def _choose_penalty(self, order: np.ndarray) -> None:
        """Set the multiplier by held-out error in `order` and rebuild the score with it (before the search)."""
        k = self.knowledge
        chosen = choose_multiplier(self.X, order, folds=folds_for(self.n, self.d), unbiased=self._unbiased(True),
                                   allowed=None if k is None else k.allowed,
                                   required=None if k is None else k.required, ridge=self._ridge())
        base = 1.0 if self.score_cfg.penalty is None or not self._ridge_rule() else float(self.score_cfg.penalty)
        self.penalty_multiplier = base * chosen
        self.score = self._parent_set_score(screened=self.score.screened)

    def _unbiased(self, select: bool) -> bool:
        """`score.unbiased` as set, null = `_small_sample_default`."""
        sc = self.score_cfg
        return sc.unbiased if sc.unbiased is not None else self._small_sample_default(select)

    def _small_sample_default(self, select: bool) -> bool:
        """`score.unbiased` null: on for sparse least squares with n <= 2d, unless `score.ridge` is on (the ridge
        already keeps late nodes from fitting exactly; with both at ridge 0.2, n = d: 23/30 tuning instances at or
        below DAGMA's against 26/30 without). Since the ridge rule covers n <= 2d, that is with `score.ridge=0`.

        Measured on generated instances (seeds 5000+): with n <= 2d it lowered the mean SHD by 4 per instance; with
        n = 10d it cost hubs parents (greedy growth stops early when every parent's price scales with the
        node's variance: SF4 d=20 n=200 went from SHD 2 to 10), and the bias it removes is small there anyway.
        """
        return self.score_cfg.type == "least_squares" and select and self.n <= 2 * self.d and self._ridge() == 0

    def _screen(self) -> bool:
        """`score.screen`, null = on for least squares with n > d (its first stage adds the edges it saw), else off.

        With small n the screen (grow-shrink of each node on all others) dropped true parents that the first stage's
        supports did not bring back: unscreened, SF4 d=100 n=100 went from SHD 219 to 107 (DAGMA 158).
        """
        sc = self.score_cfg
        return sc.screen if sc.screen is not None else (sc.type == "least_squares" and self.n > SCREEN_MIN_N * self.d)

    @property
    def space(self) -> PermutationSpace:
        """Topological orders: permutations of the d nodes."""
        return self._space

    def default_restarts(self) -> int:
        """Random restarts after the first start when `engine.restarts` is null: 4 (bic: 9), or 1 from d = 200 on."""
        if self.d >= AUTO_RESTARTS_MAX_D:
            return 1
        return 9 if self.score_cfg.type == "bic" else 4

    def default_neighbourhood(self) -> TopoSwapNeighbourhood:
        """The G_h-ranked swap neighbourhood with full sizes (bic: node insertion passes, see its `passes`)."""
        return TopoSwapNeighbourhood()

    # ------------------------------------------------------------------ fitting
    def fit(self, order: np.ndarray, count: bool = True) -> OrderFit:
        """Exact fit of `order` (cached by content)."""
        order = np.asarray(order, dtype=np.int64)
        key = order.tobytes()
        f = self._fits.get(key)
        if f is None:
            f = self.score.fit_order(order)
            self.exact_evaluations += int(count)
            self._fits[key] = f
            if len(self._fits) > self.fit_cache:
                self._fits.popitem(last=False)
        else:
            self._fits.move_to_end(key)
        return f

    def evaluate(self, genomes: Sequence[np.ndarray]) -> np.ndarray:
        if isinstance(genomes, MoveBatch) and isinstance(genomes.neighbourhood, PositionSwaps):
            return self.score_swaps(genomes.base, genomes.moves)
        out = np.empty(len(genomes))
        for start in range(0, len(genomes), EVAL_CHUNK):  # bounded copies of the batch
            chunk = np.asarray(genomes[start:start + EVAL_CHUNK], dtype=np.int64).reshape(-1, self.d)
            for r, order in enumerate(chunk):
                out[start + r] = self._score_order(order)
        return out

    def remote_batch(self, genomes: Sequence[np.ndarray]) -> Sequence[np.ndarray] | None:
        """Batches of swap moves go to parallel workers; lists of orders (small, cache-dependent) stay here.

        The two-stage sparse default stays here too: its candidate parents grow in `initial` from the first
        stage's optima, which a worker built from the config does not have.
        """
        if self._two_stage():
            return None
        if isinstance(genomes, MoveBatch) and isinstance(genomes.neighbourhood, PositionSwaps):
            return genomes
        return None

    def absorb(self, genomes: Sequence[np.ndarray], fitness: np.ndarray, extras: list[Any]) -> np.ndarray:
        """The workers' swap scores; the counts move as if scored here (so result.json equals a serial run's)."""
        self.fit(genomes.base)
        self.fast_evaluations += len(genomes)
        return fitness

    def score_swaps(self, base: np.ndarray, moves: Sequence[tuple[int, int]]) -> np.ndarray:
        """Scores of the orders that swap positions (a, b) of `base`, from `base`'s fit (no refit).

        `Insert` moves are scored from the fit too where the score can (parent-set scores), else refitted.
        """
        f = self.fit(base)
        pos = np.asarray(moves, dtype=np.int64).reshape(-1, 2)
        if not len(pos):
            return np.empty(0)
        is_insert = np.fromiter((isinstance(m, Insert) for m in moves), dtype=bool, count=len(pos))
        if is_insert.any():
            return self._insert_scores(f, pos, is_insert, moves)
        lo, hi = pos.min(axis=1), pos.max(axis=1)
        out = np.empty(len(pos))
        for start in range(0, len(pos), EVAL_CHUNK):
            sl = slice(start, start + EVAL_CHUNK)
            out[sl] = self._settle(f.score, self.score.swap_scores(f, lo[sl], hi[sl]))
        self.fast_evaluations += len(pos)
        return out

    def _insert_scores(self, f: OrderFit, pos: np.ndarray, is_insert: np.ndarray,
                       moves: Sequence[tuple[int, int]]) -> np.ndarray:
        """Scores of a batch with `Insert` moves (swaps in it go through the swap scoring)."""
        out = np.empty(len(pos))
        if (~is_insert).any():
            out[~is_insert] = self.score_swaps(f.order, [m for m, k in zip(moves, is_insert, strict=True) if not k])
        src, dst = pos[is_insert, 0], pos[is_insert, 1]
        if isinstance(self.score, ParentSetScore):
            out[is_insert] = self._settle(f.score, self.score.insert_scores(f, src, dst))
            self.fast_evaluations += int(is_insert.sum())
        else:
            out[is_insert] = [self.fit(insert(f.order, a, b)).score for a, b in zip(src, dst, strict=True)]
        return out

    def _settle(self, base_score: float, new: np.ndarray) -> np.ndarray:
        tiny = np.abs(new - base_score) <= SWAP_TOLERANCE * max(abs(base_score), 1.0)
        return np.where(tiny, base_score, new)

    def _score_order(self, order: np.ndarray) -> float:
        """From a cached fit of the same order or of one two positions away; else an exact fit."""
        if self.knowledge is not None and not self.knowledge.order_ok(order):
            return np.inf  # an order against the knowledge (a GA's child, say) is never a candidate
        if self._fits:
            cached = np.frombuffer(b"".join(self._fits), dtype=np.int64).reshape(-1, self.d)
            diff = cached != order
            count = diff.sum(axis=1)
            same = np.flatnonzero(count == 0)
            if len(same):
                return self.fit(order).score
            near = np.flatnonzero(count == 2)
            if len(near):
                base = self._fits[cached[near[-1]].tobytes()]
                a, b = np.flatnonzero(diff[near[-1]])
                self.fast_evaluations += 1
                return float(self._settle(base.score, self.score.swap_scores(base, np.array([a]), np.array([b])))[0])
        return self.fit(order).score

    # ------------------------------------------------------------------ starts
    def initial(self, n: int, rng: np.random.Generator) -> list[np.ndarray]:
        """The configured start first (random, dagma, notears, data or a .npy file), then random orders."""
        init = self.search_cfg.init
        starts, kinds = [], []
        if init == "dagma":
            loss = "logistic" if self.score_cfg.type == "logistic" else "l2"
            self.start_weights["dagma"] = dagma_weights(self.X, self.search_cfg.dagma_lambda1, loss)
        elif init == "notears":
            if self.score_cfg.type != "least_squares":
                raise ConfigError("problem.search.init: notears is the least-squares version; use dagma or random")
            from gfopt.problems.dag_topo.notears import notears_linear

            self.start_weights["notears"] = notears_linear(self.X, self.search_cfg.notears_lambda1)
        if init in self.start_weights:
            starts.append(order_from_weights(self.start_weights[init]))
            kinds.append(init)
        elif init == "data":
            if self.dataset.init_order is None:
                raise InputError("problem.search.init: init=data needs an init_order array in the .npz data file")
            starts.append(self.dataset.init_order.copy())
            kinds.append("data")
        elif init != "random":
            starts.append(order_from_file(init, self.d))
            kinds.append(init)
        while len(starts) < n:
            starts.append(rng.permutation(self.d).astype(np.int64) if self.knowledge is None
                          else self.knowledge.random_order(rng))
            kinds.append("random")
        if self.knowledge is not None:  # given starts are moved to the nearest order the knowledge allows
            starts = [self.knowledge.repair(o) for o in starts]
        starts, kinds = starts[:n], kinds[:n]
        if self._two_stage():
            from gfopt.problems.dag_topo.two_stage import least_squares_optima

            starts, supports = least_squares_optima(self, starts, rng)
            kinds = [f"{k}+least_squares" for k in kinds]
            self.score.add_candidates(np.logical_or.reduce(supports))  # rank every optimum in one score
            keep = self._best_sparse_starts(starts)
            if self._held_out_rule():
                self._choose_penalty(starts[keep[0]])
            starts, kinds = [starts[i] for i in keep], [kinds[i] for i in keep]
            self.score.set_extra_candidates(np.logical_or.reduce([supports[i] for i in keep]))
            self._fits.clear()  # fitted with the wider candidates
        self.start_kinds = kinds
        return starts

    def _best_sparse_starts(self, starts: list[np.ndarray]) -> list[int]:
        """Indices of the first stage's distinct optima, best sparse score first, `search.sparse_starts` at most."""
        seen: dict[bytes, int] = {}
        for i, o in enumerate(starts):
            seen.setdefault(o.tobytes(), i)
        scores = {i: self.score.fit_order(starts[i]).score for i in seen.values()}
        return sorted(seen.values(), key=lambda i: (scores[i], i))[: self.search_cfg.sparse_starts]

    def _two_stage(self) -> bool:
        """The sparse least-squares default starts from the all-predecessors search's optima (see two_stage)."""
        sc = self.score_cfg
        return isinstance(self.score, ParentSetScore) and sc.type == "least_squares" and sc.select == "bic" \
            and sc.screen is not False

    # ------------------------------------------------------------------ checkpoint
    def state_dict(self) -> dict[str, Any]:
        """Starts taken, the other method's W, evaluation counts and the fit cache's orders (refitted on load)."""
        return {"start_kinds": list(self.start_kinds), "start_weights": dict(self.start_weights),
                "fast_evaluations": self.fast_evaluations, "exact_evaluations": self.exact_evaluations,
                "cached_orders": [np.frombuffer(k, dtype=np.int64) for k in self._fits],
                "penalty_multiplier": self.penalty_multiplier,
                "candidates": self.score.candidates.copy() if isinstance(self.score, ParentSetScore) else None}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.start_kinds = [str(k) for k in state["start_kinds"]]
        self.start_weights = {k: np.asarray(v) for k, v in state["start_weights"].items()}
        if float(state.get("penalty_multiplier", self.penalty_multiplier)) != self.penalty_multiplier:
            self.penalty_multiplier = float(state["penalty_multiplier"])  # the held-out rule's choice
            self.score = self._parent_set_score(screened=self.score.screened)
        if state.get("candidates") is not None and isinstance(self.score, ParentSetScore):
            self.score.add_candidates(np.asarray(state["candidates"], dtype=bool))  # the first stage's widening
        for order in state["cached_orders"]:  # the same cache as the uninterrupted run, so the same counts
            self.fit(order, count=False)
        self.fast_evaluations = int(state["fast_evaluations"])
        self.exact_evaluations = int(state["exact_evaluations"])

    # ------------------------------------------------------------------ outputs
    def thresholded(self, W: np.ndarray) -> np.ndarray:
        """The graph's weights: W without entries below `w_threshold` in absolute value (required edges stay).

        The `bic` score keeps its chosen parents as they are: its weights are in data units, its choice is not.
        """
        if self.score_cfg.type == "bic":
            return W.copy()
        keep = np.abs(W) >= self.w_threshold
        if self.knowledge is not None:
            keep |= self.knowledge.required
        return np.where(keep, W, 0.0)

    def true_order_score(self) -> float | None:
        """The score of a true topological order, fitted the same way (None when the truth is unknown)."""
        if self.dataset.B_true is None:
            return None
        return float(self.score.fit_order(topological_order(self.dataset.B_true)).score)

    def weights_score(self, W: np.ndarray) -> float:
        """The objective of a given weight matrix (e.g. another method's output) on the data as used."""
        sc = self.score_cfg
        if isinstance(self.score, ParentSetScore):
            return self.score.support_score(W != 0)
        if sc.type == "logistic":
            R = self.X @ W
            return float(np.mean(np.logaddexp(0, R) - self.X * R) * self.d + sc.lambda1 * np.abs(W).sum())
        resid = self.X - self.X @ W
        return float(0.5 / self.n * (resid**2).sum() + sc.lambda1 * np.abs(W).sum() + sc.lambda2 * (W**2).sum())

    def finalize(self, result: Any, outdir: Path, comparisons: dict[str, Any] | None = None) -> dict[str, Any]:
        from gfopt.problems.dag_topo.outputs import draw_graph, write_graphml, write_weights_csv

        outdir = Path(outdir)
        f = self.fit(result.best)
        W_est = self.thresholded(f.W)
        np.save(outdir / "W_raw.npy", f.W)
        write_weights_csv(W_est, self.names, outdir / "W_est.csv")
        write_graphml(W_est, self.names, outdir / "graph.graphml")
        draw_graph(W_est, self.names, outdir / "graph.png", self.dataset.B_true)
        out: dict[str, Any] = {
            "score": f.score,
            "order": [int(i) for i in f.order],
            "order_names": [self.names[i] for i in f.order],
            "n_edges": int(np.count_nonzero(W_est)),
            "d": self.d,
            "n": self.n,
            "score_type": self.score_cfg.type,
            "penalty_multiplier": self.penalty_multiplier,
            "starts": self.start_kinds,
            "fast_evaluations": self.fast_evaluations,
            "exact_evaluations": self.exact_evaluations,
        }
        if self.dataset.B_true is not None:
            out["metrics"] = count_accuracy(self.dataset.B_true, W_est)
            true_score = self.true_order_score()
            out["true_order_score"] = true_score
            out["search_gap"] = f.score - true_score
        if self.score_cfg.type == "bic":  # the score identifies an equivalence class: report its CPDAG
            C = dag_to_cpdag(W_est)
            write_weights_csv(C.astype(float), self.names, outdir / "cpdag.csv")
            out["cpdag_edges"] = {"directed": int((C & (1 - C.T)).sum()), "undirected": int((C & C.T).sum() // 2)}
            if self.dataset.B_true is not None:
                out["metrics"]["cpdag_shd"] = cpdag_shd(dag_to_cpdag(self.dataset.B_true), C)
        bc = self.bootstrap_cfg
        if bc.samples > 0:
            from gfopt.core.callbacks import progress_enabled
            from gfopt.problems.dag_topo.bootstrap import draw_frequencies, edge_frequencies

            freq = edge_frequencies(self, bc.samples, bc.seed if bc.seed is not None else self.data_cfg.seed,
                                    state_path=outdir / "bootstrap_state.npz", progress=progress_enabled("auto"),
                                    workers=bc.workers)
            write_weights_csv(freq, self.names, outdir / "edge_frequencies.csv")
            draw_frequencies(freq, self.names, outdir / "edge_frequencies.png")
            E = W_est != 0
            out["bootstrap"] = {"samples": bc.samples, "mean_frequency_of_result_edges": float(freq[E].mean())
                                if E.any() else None, "edges_above_half": int((freq >= 0.5).sum())}
        if self.knowledge is not None:
            out["knowledge"] = {"required": int(self.knowledge.required.sum()),
                                "forbidden": int(self.knowledge.forbidden.sum()),
                                "order_constraints": int(self.knowledge.precedes.sum())}
        for method, W in self.start_weights.items():  # the method we post-processed, for comparison
            W_t = self.thresholded(W)
            out[method] = {"score": self.weights_score(W_t)}
            if self.dataset.B_true is not None:
                out[method]["metrics"] = count_accuracy(self.dataset.B_true, W_t)
        return out
