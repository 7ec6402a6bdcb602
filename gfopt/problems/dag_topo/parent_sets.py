"""`ParentSetScore`: per node, parents chosen among its predecessors (and its candidates), scored from S.

Used for the sparse least-squares default (`score.select=bic`), the unit-free `bic` score and any run with
knowledge (forbidden parents are never candidates, required ones always kept). Node fits are cached by (node,
predecessors that are candidates). A swap of positions a < b refits the two moved nodes and only those middle
nodes whose grow-shrink could see the change (`sensitivity`: the node leaving was on their grow path, or the node
arriving would have been picked); an insertion likewise. All of it gives the plain grow-shrink's numbers bit for bit.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from gfopt.problems.dag_topo.scores import CACHE_LIMIT, OrderFit, Score, least_squares_grad
from gfopt.problems.dag_topo.selection import (
    Fit,
    Transform,
    grow_sensitivity,
    grow_shrink_batch,
    log_likelihood_cost,
    residual_variance,
    screen,
)

SENSITIVITY_ORDERS = 8
"""Orders whose `ParentSetScore.sensitivity` is kept (the search scores many moves of one order in a row)."""


def prefixes(order: np.ndarray) -> np.ndarray:
    """prefix[k, i]: node i sits at a position < k of `order`, for k = 0..d (row d: every node)."""
    d = len(order)
    prefix = np.ones((d + 1, d), dtype=bool)
    prefix[:d, order] = np.tril(np.ones((d, d), dtype=bool), -1)
    return prefix


class ParentSetScore(Score):
    """Q = sum_j f(v_j) + penalty |A_j|, A_j chosen within the predecessors of j that are candidates for j.

    `candidates[i, j]`: i may be a parent of j (forbidden edges removed; when `screen_penalty` is set, a
    Markov-blanket screen with the log-likelihood cost, by partial correlations with `precision_screen`, see
    `selection.screen`; `add_candidates` widens it).
    `required[i, j]`: i is always a parent of j (the order must put i first). `select=False` keeps every
    candidate predecessor (plain regression on the allowed predecessors). `screened`: the screen's result from an
    earlier score with the same S, screen penalty and `allowed` (its `screened`), so a rebuild at another penalty
    does not rerun it.
    """

    def __init__(self, S: np.ndarray, cost: Transform, penalty: float, name: str, select: bool = True,
                 allowed: np.ndarray | None = None, required: np.ndarray | None = None,
                 screen_penalty: float | None = None, precision_screen: bool = False,
                 screened: np.ndarray | None = None) -> None:
        d = len(S)
        self.S, self.cost, self.penalty, self.name, self.select = S, cost, float(penalty), name, select
        self.d = d
        allowed = np.ones((d, d), dtype=bool) if allowed is None else np.asarray(allowed, dtype=bool).copy()
        np.fill_diagonal(allowed, False)
        self.required = np.zeros((d, d), dtype=bool) if required is None else np.asarray(required, dtype=bool)
        self._allowed = allowed.copy()
        self.screened: np.ndarray | None = None
        if select and screen_penalty is not None:
            self.screened = screen(S, log_likelihood_cost, screen_penalty, allowed, precision_screen) \
                if screened is None else np.asarray(screened, dtype=bool)
            allowed = self.screened | self.required
        self.candidates = allowed
        self._base_candidates = allowed.copy()  # what `set_extra_candidates` adds to
        self._cache: dict[bytes, Fit] = {}  # by (node, candidate mask): see `_keys`
        self._sensitive: OrderedDict[bytes, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self.node_fits_done = 0

    def add_candidates(self, extra: np.ndarray) -> None:
        """Widen the candidate parents (before the search: cached fits would not match otherwise)."""
        allowed = self._allowed & np.asarray(extra, dtype=bool)
        self.candidates = self.candidates | allowed
        self._cache.clear()
        self._sensitive.clear()

    def set_extra_candidates(self, extra: np.ndarray) -> None:
        """Candidates = the screened ones plus `extra` (allowed pairs only); cached fits are dropped."""
        self.candidates = self._base_candidates | (self._allowed & np.asarray(extra, dtype=bool))
        self._cache.clear()
        self._sensitive.clear()

    def node_fit(self, j: int, predecessors: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """(cost, parents, weights) of node j given a boolean mask of its predecessors (cached)."""
        return self.node_fits(np.array([j]), predecessors[None, :])[0]

    def node_fits(self, nodes: np.ndarray, predecessors: np.ndarray) -> list[tuple[float, np.ndarray, np.ndarray]]:
        """`node_fit` for many requests; the cache misses are fitted in one call of the compiled loops."""
        masks = predecessors & self.candidates[:, nodes].T
        keys = self._keys(nodes, masks)
        out: list = [self._cache.get(k) for k in keys]
        miss = [r for r, hit in enumerate(out) if hit is None]
        if miss:
            first: dict[bytes, int] = {}
            todo = [first.setdefault(keys[r], r) for r in miss]
            uniq = sorted(set(todo))
            if len(self._cache) + len(uniq) > CACHE_LIMIT:
                self._cache.clear()
            if self.select:
                fits = self._select(nodes[uniq], masks[uniq])
            else:
                fits = []
                for r in uniq:
                    cand = np.flatnonzero(masks[r])
                    v, w = residual_variance(self.S, int(nodes[r]), cand)
                    fits.append((float(self.cost(v, len(cand))), cand, w))
            self.node_fits_done += len(uniq)
            for r, fit in zip(uniq, fits, strict=True):
                self._cache[keys[r]] = fit
            for r in miss:
                out[r] = self._cache[keys[r]]
        return out

    def node_costs(self, nodes: np.ndarray, predecessors: np.ndarray) -> np.ndarray:
        """The costs of `node_fits` as an array (what move scoring needs)."""
        fits = self.node_fits(np.asarray(nodes, dtype=np.int64), predecessors)
        return np.fromiter((f[0] for f in fits), dtype=float, count=len(fits))

    @staticmethod
    def _keys(nodes: np.ndarray, masks: np.ndarray) -> list[bytes]:
        """One bytes key per request: the node (8 bytes) and its packed candidate mask."""
        rows = np.concatenate([np.asarray(nodes, dtype=np.int64)[:, None].view(np.uint8),
                               np.packbits(masks, axis=1)], axis=1)
        rows = np.ascontiguousarray(rows)
        return rows.view(np.dtype((np.void, rows.shape[1]))).ravel().tolist()

    def sensitivity(self, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(path, intrude) in position space for `order`: [s, q] says the node at q matters to the fit at s.

        path[s, q]: dropping the node at q from the predecessors of the node at s can change its fit; intrude[s, q]:
        adding it can (see `selection.grow_sensitivity`). A move that only drops non-path and adds non-intruding
        nodes leaves a node's fit, and its cost, exactly as in the base order, so the move scoring skips it. Nodes
        with required parents, and `select=False`, count every candidate as both. Cached for the last few orders.
        """
        order = np.asarray(order, dtype=np.int64)
        key = order.tobytes()
        hit = self._sensitive.get(key)
        if hit is not None:
            self._sensitive.move_to_end(key)
            return hit
        d = self.d
        prefix = prefixes(order)[:d]
        wide = self.candidates[:, order].T
        path, intrude = wide.copy(), wide.copy()
        plain = ~self.required[:, order].any(axis=0) if self.select else np.zeros(d, dtype=bool)
        if plain.any():
            path[plain], intrude[plain] = grow_sensitivity(self.S, order[plain], (prefix & wide)[plain], wide[plain],
                                                           self.cost, self.penalty)
        hit = (path[:, order], intrude[:, order])
        self._sensitive[key] = hit
        if len(self._sensitive) > SENSITIVITY_ORDERS:
            self._sensitive.popitem(last=False)
        return hit

    def _select(self, nodes: np.ndarray, masks: np.ndarray) -> list[Fit]:
        """Grow-shrink fits (required parents always in)."""
        return grow_shrink_batch(self.S, nodes, masks, self.cost, self.penalty, self.required[:, nodes].T & masks)

    def fit_order(self, order: np.ndarray) -> OrderFit:
        order = np.asarray(order, dtype=np.int64)
        d = self.d
        fits = self.node_fits(order, prefixes(order)[:d])
        costs = np.array([f[0] for f in fits])
        W = np.zeros((d, d))
        for j, (_, parents, w) in zip(order.tolist(), fits, strict=True):
            W[parents, j] = w
        return OrderFit(order=order, costs=costs, W=W)

    def swap_scores(self, base: OrderFit, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        order = base.order
        d = self.d
        prefix = prefixes(order)
        path, intrude = self.sensitivity(order)
        lo, hi = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
        x, y = order[lo], order[hi]
        span = np.arange(d)
        # the middle positions whose fit can change (the others keep theirs): swap c, position s
        c_mid, s_mid = np.nonzero((path[:, lo].T | intrude[:, hi].T) & (span > lo[:, None]) & (span < hi[:, None]))
        pm = prefix[s_mid]
        pm[np.arange(len(s_mid)), x[c_mid]] = False
        pm[np.arange(len(s_mid)), y[c_mid]] = True
        # y moves to lo and loses the nodes at lo..hi-1, x moves to hi and gains those at lo+1..hi: each keeps its
        # fit (a delta of exactly 0) unless one of them is on its grow path / intrudes
        on_path = np.concatenate([np.zeros((d, 1), dtype=np.int64), np.cumsum(path, axis=1)], axis=1)
        intruding = np.concatenate([np.zeros((d, 1), dtype=np.int64), np.cumsum(intrude, axis=1)], axis=1)
        fit_y = np.flatnonzero(on_path[hi, hi] > on_path[hi, lo])
        fit_x = np.flatnonzero(intruding[lo, hi + 1] > intruding[lo, lo + 1])
        px = prefix[hi[fit_x] + 1]
        px[np.arange(len(fit_x)), x[fit_x]] = False
        # per swap the new fits come in the order y, x, middles by position (the order the deltas are summed in)
        swap_of = np.concatenate([fit_y, fit_x, c_mid])
        pos_of = np.concatenate([hi[fit_y], lo[fit_x], s_mid])  # the base position whose cost each new fit replaces
        nodes = np.concatenate([y[fit_y], x[fit_x], order[s_mid]])
        new = self.node_costs(nodes, np.concatenate([prefix[lo[fit_y]], px, pm]))
        delta = new - base.costs[pos_of]
        return base.score + np.bincount(swap_of, weights=delta, minlength=len(lo))

    def insert_scores(self, base: OrderFit, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        """Scores of the orders that move the node at position src[c] to position dst[c] of `base.order`.

        For a node x at position p, let o be the order without x. Putting x at index t of o changes x's own
        predecessors (o[:t]), adds x to the predecessors of the nodes at p's left from t on, and removes it from
        those at its right up to t; only nodes that have x as a candidate parent change their fit. So every t is
        scored from one fit of x per distinct predecessor set and one refit per candidate neighbour (prefix sums).
        """
        order = base.order
        d = self.d
        src = np.asarray(src, dtype=np.int64)
        dst = np.asarray(dst, dtype=np.int64)
        prefix = prefixes(order)
        path, intrude = self.sensitivity(order)
        ps = np.unique(src)
        nodes, preds, owner, kind, where = [], [], [], [], []
        for r, p in enumerate(ps.tolist()):
            x = order[p]
            own = np.concatenate([prefix[:p], prefix[p + 1:]])  # x at index t of o: its predecessors o[:t]
            own[p:, x] = False
            # t < p drops the nodes at p's positions t..p-1, t > p adds those at p+1..t: x keeps its fit while no
            # dropped one is on its grow path and no added one intrudes (the table starts at its base cost)
            on_path = np.flatnonzero(path[p, :p])
            keep_from = on_path[-1] + 1 if len(on_path) else 0
            intruders = np.flatnonzero(intrude[p, p + 1:])
            keep_to = p + intruders[0] if len(intruders) else d - 1
            ts = np.flatnonzero((np.arange(d) < keep_from) | (np.arange(d) > keep_to))
            nodes.append(np.full(len(ts), x))
            preds.append(own[ts])
            owner.append(np.full(len(ts), r))
            kind.append(np.zeros(len(ts), dtype=np.int8))
            where.append(ts)
            left = np.flatnonzero(intrude[:p, p])  # these gain x when t <= s (the others keep their fit)
            right = p + 1 + np.flatnonzero(path[p + 1:, p])  # these lose x when t >= s
            for group, k, add in ((left, 1, True), (right, 2, False)):
                m = prefix[group].copy()
                m[:, x] = add
                nodes.append(order[group])
                preds.append(m)
                owner.append(np.full(len(group), r))
                kind.append(np.full(len(group), k, dtype=np.int8))
                where.append(group)
        nodes_a, owner_a, kind_a, where_a = (np.concatenate(v) for v in (nodes, owner, kind, where))
        cost = self.node_costs(nodes_a, np.concatenate(preds))
        table = np.repeat(base.costs[ps][:, None], d, axis=1)  # table[r, t]: score with x = order[ps[r]] at index t
        k0 = kind_a == 0
        table[owner_a[k0], where_a[k0]] = cost[k0]
        table += (base.score - base.costs[ps])[:, None]
        delta = cost - base.costs[where_a]
        gain_left = np.zeros((len(ps), d))  # at s, applies for t <= s: reverse cumulative sum
        k1 = kind_a == 1
        np.add.at(gain_left, (owner_a[k1], where_a[k1]), delta[k1])
        table += np.cumsum(gain_left[:, ::-1], axis=1)[:, ::-1]
        gain_right = np.zeros((len(ps), d))  # at s, applies for t >= s
        k2 = kind_a == 2
        np.add.at(gain_right, (owner_a[k2], where_a[k2]), delta[k2])
        table += np.cumsum(gain_right, axis=1)
        return table[np.searchsorted(ps, src), dst]

    def support_score(self, B: np.ndarray) -> float:
        """The score of the DAG B with its parents as given (refit per node, same costs and penalty)."""
        total = 0.0
        for j in range(self.d):
            parents = np.flatnonzero(B[:, j])
            v, _ = residual_variance(self.S, j, parents)
            total += self.cost(max(v, 1e-12 * self.S[j, j]), len(parents)) + self.penalty * len(parents)
        return total

    def loss_grad(self, W: np.ndarray) -> np.ndarray:
        return least_squares_grad(self.S, 0.0, W)
