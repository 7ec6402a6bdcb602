"""`DagTopoProblem`: TOPO structure learning as a search over topological orders (genome = order)."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gfopt.core.config import ConfigError
from gfopt.core.problem import Problem
from gfopt.errors import InputError
from gfopt.problems.dag_topo.config import DagDataConfig, DagScoreConfig, DagSearchConfig
from gfopt.problems.dag_topo.data import MAX_ABS, Dataset, load, simulate, validate
from gfopt.problems.dag_topo.metrics import count_accuracy
from gfopt.problems.dag_topo.neighbourhood import TopoSwapNeighbourhood, auto_sizes
from gfopt.problems.dag_topo.scores import LassoScore, LeastSquaresScore, LogisticScore, OrderFit, Score
from gfopt.problems.dag_topo.starts import dagma_weights, order_from_file, order_from_weights

log = logging.getLogger("gfopt.dag_topo")

FIT_CACHE = 8
EVAL_CHUNK = 8192
SWAP_TOLERANCE = 1e-12
"""Relative score changes below this count as no change (keeps rounding from creating fake improvements)."""


def _as(cls: type, value: Any) -> Any:
    """A config section as its dataclass, whether Hydra passed a dataclass, a mapping or nothing."""
    if value is None:
        return cls()
    if isinstance(value, cls):
        return value
    if is_dataclass(value):
        return cls(**asdict(value))
    return cls(**dict(value))


AUTO_RESTARTS_MAX_D = 200  # from here on one restart: full candidate sets cost ~d^2.4 per start


class DagTopoProblem(Problem):
    """Minimize the score of the DAG fitted on a topological order; `evaluate` batches swaps of one base order.

    Batches that are all two-position swaps of the order last prepared by `fit` (what the neighbourhood
    asks for) are scored incrementally from that order's fit; anything else is fitted exactly.
    """

    sense = "min"

    def __init__(self, name: str = "dag_topo", data: Any = None, score: Any = None, search: Any = None,
                 w_threshold: float = 0.3, dataset: Dataset | None = None) -> None:
        self.name = name
        self.data_cfg: DagDataConfig = _as(DagDataConfig, data)
        self.score_cfg: DagScoreConfig = _as(DagScoreConfig, score)
        self.search_cfg: DagSearchConfig = _as(DagSearchConfig, search)
        self.w_threshold = float(w_threshold)
        dc, sc = self.data_cfg, self.score_cfg
        if dataset is None:
            if dc.path is not None:
                dataset = load(dc.path, header=dc.header)
            else:
                dataset = simulate(dc.graph, dc.k, dc.d, dc.n, dc.noise, dc.sem, dc.seed)
        validate(dataset, sc.type, standardize=dc.standardize)
        self.dataset = dataset
        self.names = list(dataset.names)
        self.X = self._prepare(dataset.X)
        self.n, self.d = self.X.shape
        self.score = self._make_score()
        self._fits: OrderedDict[bytes, OrderFit] = OrderedDict()
        self._base: OrderFit | None = None
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
        if dc.standardize:  # bring huge columns (up to 1e308) into range first; unit-scale results are unchanged
            big = np.max(np.abs(X), axis=0) > MAX_ABS
            X[:, big] /= np.max(np.abs(X[:, big]), axis=0)
        if center:
            X -= X.mean(axis=0)
        if dc.standardize:
            X /= X.std(axis=0)
        scale = X.std(axis=0)
        if not dc.standardize and scale.max() > 1e3 * scale.min():
            log.warning("column scales differ by %.0fx; consider problem.data.standardize=true "
                        "(w_threshold is on the data's scale)", scale.max() / scale.min())
        return X

    def _make_score(self) -> Score:
        sc = self.score_cfg
        if sc.type == "least_squares":
            if sc.lambda1 > 0:
                return LassoScore(self.X, sc.lambda1, sc.lambda2, sc.max_iter, sc.tol)
            score = LeastSquaresScore(self.X, sc.lambda2)
            scale = np.sqrt(np.diag(score.S))
            if np.linalg.eigvalsh(score.S / np.outer(scale, scale))[0] <= 1e-10:  # scale-free (correlation) test
                raise InputError("problem.data: the columns are linearly dependent (singular covariance); drop "
                                 "duplicated or derived columns, or set problem.score.lambda2 > 0")
            return score
        if sc.type == "logistic":
            return LogisticScore(self.X, sc.lambda1, sc.max_iter, sc.tol)
        from gfopt.problems.dag_topo.mlp import MlpScore

        return MlpScore(self.X, sc.hidden, sc.lambda1, sc.lambda2, sc.max_iter, sc.tol, seed=self.data_cfg.seed)

    def sizes(self) -> tuple[int, int, int | None, int | None]:
        """(size_small, size_large, no_large_search, size_full) from `search.sizes` and explicit values.

        auto: the reference's sizes, no full level. full: the same two levels, then every forbidden pair,
        with unlimited escalation (the search ends at a true local optimum of the swap neighbourhood).
        """
        s = self.search_cfg
        small, large, nls = auto_sizes(self.d)
        full = None
        if s.sizes == "full":
            full, nls = self.d * (self.d - 1) // 2, None
        small = s.size_small if s.size_small is not None else small
        large = s.size_large if s.size_large is not None else large
        nls = s.no_large_search if s.no_large_search is not None else nls
        return small, large, nls, (full if full is not None and full > large else None)

    @property
    def default_restarts(self) -> int:
        """Random restarts after the first start, used when the engine's `restarts` is null (auto: 4, 1 at d >= 200)."""
        r = self.search_cfg.restarts
        return r if r is not None else (4 if self.d < AUTO_RESTARTS_MAX_D else 1)

    def default_neighbourhood(self) -> TopoSwapNeighbourhood:
        """The G_h-ranked swap neighbourhood with this problem's sizes."""
        small, large, nls, full = self.sizes()
        return TopoSwapNeighbourhood(small, large, nls, h=self.search_cfg.h, grad_filter=self.search_cfg.grad_filter,
                                     size_full=full)

    # ------------------------------------------------------------------ fitting
    def fit(self, order: np.ndarray) -> OrderFit:
        """Exact fit of `order` (cached); it becomes the base that swap batches are scored against."""
        order = np.asarray(order, dtype=np.int64)
        key = order.tobytes()
        f = self._fits.get(key)
        if f is None:
            f = self.score.fit_order(order)
            self.exact_evaluations += 1
            self._fits[key] = f
            if len(self._fits) > FIT_CACHE:
                self._fits.popitem(last=False)
        else:
            self._fits.move_to_end(key)
        self._base = f
        return f

    def evaluate(self, genomes: Sequence[np.ndarray]) -> np.ndarray:
        out = np.full(len(genomes), np.nan)
        base = self._base
        if base is not None:
            for start in range(0, len(genomes), EVAL_CHUNK):  # bounded copies of the batch
                chunk = np.asarray(genomes[start:start + EVAL_CHUNK], dtype=np.int64).reshape(-1, self.d)
                out[start:start + len(chunk)] = self._swap_scores(base, chunk)
        for r in np.flatnonzero(np.isnan(out)):
            out[r] = self.fit(genomes[r]).score
        return out

    def _swap_scores(self, base: OrderFit, orders: np.ndarray) -> np.ndarray:
        """Scores of the rows that equal `base.order` or swap two of its positions; NaN for the others."""
        out = np.full(len(orders), np.nan)
        diff = orders != base.order
        count = diff.sum(axis=1)
        out[count == 0] = base.score
        rows = np.flatnonzero(count == 2)
        if len(rows):
            pos = np.nonzero(diff[rows])[1].reshape(-1, 2)
            new = self.score.swap_scores(base, pos[:, 0], pos[:, 1])
            tiny = np.abs(new - base.score) <= SWAP_TOLERANCE * max(abs(base.score), 1.0)
            out[rows] = np.where(tiny, base.score, new)
            self.fast_evaluations += len(rows)
        return out

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
            starts.append(rng.permutation(self.d).astype(np.int64))
            kinds.append("random")
        self.start_kinds = kinds[:n]
        return starts[:n]

    def to_array(self, genome: np.ndarray) -> np.ndarray:
        return np.asarray(genome, dtype=np.int64)

    def from_array(self, array: np.ndarray) -> np.ndarray:
        return np.asarray(array, dtype=np.int64)

    # ------------------------------------------------------------------ outputs
    def thresholded(self, W: np.ndarray) -> np.ndarray:
        """W with entries below `w_threshold` in absolute value set to zero."""
        return np.where(np.abs(W) >= self.w_threshold, W, 0.0)

    def weights_score(self, W: np.ndarray) -> float:
        """The objective of a given weight matrix (e.g. another method's output) on the data as used."""
        sc = self.score_cfg
        if sc.type == "logistic":
            R = self.X @ W
            return float(np.mean(np.logaddexp(0, R) - self.X * R) * self.d + sc.lambda1 * np.abs(W).sum())
        resid = self.X - self.X @ W
        return float(0.5 / self.n * (resid**2).sum() + sc.lambda1 * np.abs(W).sum() + sc.lambda2 * (W**2).sum())

    def finalize(self, result: Any, outdir: Path) -> dict[str, Any]:
        from gfopt.problems.dag_topo.outputs import draw_graph, write_graphml, write_weights_csv

        outdir = Path(outdir)
        f = self.fit(result.best)
        W_est = self.thresholded(f.W)
        np.save(outdir / "W_raw.npy", f.W)
        write_weights_csv(W_est, self.names, outdir / "W_est.csv")
        write_graphml(W_est, self.names, outdir / "graph.graphml")
        draw_graph(W_est, self.names, outdir / "graph.png", self.dataset.B_true)
        small, large, nls, full = self.sizes()
        out: dict[str, Any] = {
            "score": f.score,
            "order": [int(i) for i in f.order],
            "order_names": [self.names[i] for i in f.order],
            "n_edges": int(np.count_nonzero(W_est)),
            "d": self.d,
            "n": self.n,
            "score_type": self.score_cfg.type,
            "starts": self.start_kinds,
            "sizes": {"size_small": small, "size_large": large, "no_large_search": nls, "size_full": full},
            "fast_evaluations": self.fast_evaluations,
            "exact_evaluations": self.exact_evaluations,
        }
        if self.dataset.B_true is not None:
            out["metrics"] = count_accuracy(self.dataset.B_true, W_est)
        for method, W in self.start_weights.items():  # the method we post-processed, for comparison
            W_t = self.thresholded(W)
            out[method] = {"score": self.weights_score(W_t)}
            if self.dataset.B_true is not None:
                out[method]["metrics"] = count_accuracy(self.dataset.B_true, W_t)
        return out
