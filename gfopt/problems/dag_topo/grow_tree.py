"""Grow paths shared between candidate masks (as BOSS's grow-shrink trees): `GrowTree`.

Grow-shrink's grow stage (`selection._grow_chunk`) adds, step by step, the candidate with the largest gain
colj^2 / diag, where colj and diag are S's entries given the parents chosen so far. Those values depend only on
the node and the parents chosen so far, not on the mask; the mask only says which candidates may be taken. So
the states form a tree per node: the root has no parents, and the child of a state for candidate b has b added.
A state stores every node's gain (over all d nodes); a request (node, mask) walks from the root, taking at each
state the best gain inside its mask while the cost test accepts it, exactly as the batch grow would, and
creating the states it needs on the way. Masks that share the first choices share the work, and the shrink
stage is kept per grown set. The arithmetic is the batch grow's, entry for entry, so the results are
bit-identical (tests/dag_topo/test_grow_tree.py compares them on random masks). No required parents here.
"""

from __future__ import annotations

import numpy as np

from gfopt.problems.dag_topo.selection import COLLINEAR, MIN_VARIANCE, Fit, Transform, shrink_batch

TREE_BYTES = 512 * 2**20
"""The tree's states are dropped (results unchanged) when a batch starts with more than this many bytes of them."""
INITIAL_STATES_PER_NODE = 1024
"""Room for states made at first, per node (a small d does not reserve the whole budget)."""
CHUNK_DIVISOR = 16
"""Requests grown at once: the state budget over this (a request adds at most its grow depth in states)."""


class GrowTree:
    """Grow states of every node for covariance S, cost f(v, k) and penalty per parent (see module doc)."""

    def __init__(self, S: np.ndarray, cost: Transform, penalty: float, shrunk: dict[tuple[int, bytes], Fit],
                 max_bytes: int = TREE_BYTES) -> None:
        self.S, self.cost, self.penalty, self.shrunk = S, cost, float(penalty), shrunk
        self.d = len(S)
        self.own = np.diag(S).copy()
        self.floor = MIN_VARIANCE * self.own
        self.max_states = max(4 * self.d, max_bytes // (self.d * 41 + 64))
        self.reset()

    def reset(self) -> None:
        """Drop every state (memory bound); the next requests rebuild what they need."""
        d = self.d
        self.size = 0
        self.root = np.full(d, -1, dtype=np.int64)
        # zero-filled, so pages cost memory only once a state is written there; runs up to d = 100 used fewer than
        # 1000 d states, and a batch that needs more doubles the arrays
        self._alloc(min(2 * self.max_states, INITIAL_STATES_PER_NODE * d))
        self.leaf_fit: dict[int, Fit] = {}

    def _alloc(self, capacity: int) -> None:
        """(Re)allocate the state arrays with room for `capacity` states, keeping the first `size`."""
        d, old, n = self.d, getattr(self, "gains", None), self.size
        fields = {"q": (d, float), "diag": (d, float), "colj": (d, float), "gains": (d, float),
                  "chosen": (d, bool), "child": (d, np.int32)}  # child: its id + 1, 0 = none
        for name, (width, dtype) in fields.items():
            arr = np.zeros((capacity, width), dtype)
            if old is not None and n:
                arr[:n] = getattr(self, name)[:n]
            setattr(self, name, arr)
        for name, dtype in (("node", np.int64), ("parent", np.int64), ("depth", np.int64), ("v", float),
                            ("current", float)):
            arr = np.zeros(capacity, dtype=dtype)
            if old is not None and n:
                arr[:n] = getattr(self, name)[:n]
            setattr(self, name, arr)

    def _new_states(self, count: int) -> np.ndarray:
        """Ids for `count` new states (growing the arrays)."""
        need = self.size + count
        if need > len(self.v):
            self._alloc(max(need, 2 * len(self.v)))
        ids = np.arange(self.size, need)
        self.size = need
        return ids

    def _gains(self, ids: np.ndarray, nodes: np.ndarray, diag: np.ndarray, colj: np.ndarray,
               chosen: np.ndarray) -> None:
        """Store the gains colj^2 / diag of states `ids` (-inf: taken, collinear, or the node itself)."""
        ok = ~chosen & (diag > COLLINEAR * self.own)
        ok[np.arange(len(ids)), nodes] = False
        with np.errstate(divide="ignore", invalid="ignore"):
            self.gains[ids] = np.where(ok, colj**2 / np.where(ok, diag, 1.0), -np.inf)

    def _roots(self, nodes: np.ndarray) -> np.ndarray:
        """The root state of each node (created where missing)."""
        missing = np.unique(nodes[self.root[nodes] < 0])
        if len(missing):
            ids = self._new_states(len(missing))
            self.root[missing] = ids
            self.node[ids], self.parent[ids], self.depth[ids] = missing, -1, 0
            self.diag[ids] = self.own
            self.colj[ids] = self.S[:, missing].T
            self.chosen[ids] = False
            zero = np.zeros(len(ids), dtype=np.int64)
            self.v[ids] = np.maximum(self.S[missing, missing], self.floor[missing])
            self.current[ids] = self.cost(self.v[ids], zero) + self.penalty * zero
            self._gains(ids, missing, self.diag[ids], self.colj[ids], self.chosen[ids])
        return self.root[nodes]

    def _children(self, parents: np.ndarray, pivots: np.ndarray, v: np.ndarray, current: np.ndarray) -> np.ndarray:
        """New states: `parents[i]` (all at one depth) plus `pivots[i]`, with the accepted v and cost."""
        ids = self._new_states(len(parents))
        nodes = self.node[parents]
        depth = int(self.depth[parents[0]]) if len(parents) else 0
        chain = np.empty((depth, len(parents)), dtype=np.int64)  # the states whose pivots came before, in order
        at = parents
        for t in range(depth - 1, -1, -1):
            chain[t] = at
            at = self.parent[at]
        col = self.S[:, pivots].T.copy()
        rows = np.arange(len(parents))
        if depth:
            Q = self.q[chain]  # (depth, requests, d)
            coef = Q[:, rows, pivots]
            for t in range(depth):
                col -= Q[t] * coef[t][:, None]
        q = col / np.sqrt(col[rows, pivots])[:, None]
        diag = self.diag[parents] - q**2
        colj = self.colj[parents] - q * q[rows, nodes][:, None]
        chosen = self.chosen[parents]
        chosen[rows, pivots] = True
        self.q[ids], self.diag[ids], self.colj[ids], self.chosen[ids] = q, diag, colj, chosen
        self.child[parents, pivots] = ids + 1
        self.node[ids], self.parent[ids], self.depth[ids] = nodes, parents, depth + 1
        self.v[ids], self.current[ids] = v, current
        self._gains(ids, nodes, diag, colj, chosen)
        return ids

    def grow(self, nodes: np.ndarray, masks: np.ndarray) -> np.ndarray:
        """The final grow state of each request (node, candidate mask)."""
        return self._walk(nodes, masks)[0]

    def sensitivity(self, nodes: np.ndarray, masks: np.ndarray, wide: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Which candidate changes can alter each request's grow-shrink result: (path, intrude), rows over d nodes.

        `path[r, c]`: c was added by the grow of (nodes[r], masks[r]) or was the best candidate at the step that
        stopped it. `intrude[r, c]`: c is in `wide[r]` (a superset of masks[r]) and its gain at some grow step was at
        least that step's best among masks[r] (any finite gain where there was none). The grow then picks the same
        parents for any mask that drops only nodes outside `path` and adds only `wide` nodes outside `intrude` (each
        step's argmax and the stopping test see the same values), so the result is the same.
        """
        _, path, intrude = self._walk(nodes, masks, np.asarray(wide, dtype=bool))
        return path, intrude

    def _walk(self, nodes: np.ndarray, masks: np.ndarray,
              wide: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Walk every request down its node's tree (making states as needed); with `wide`, record `sensitivity`."""
        if self.size > self.max_states:
            self.reset()
        nodes = np.asarray(nodes, dtype=np.int64)
        ids = self._roots(nodes)
        live = np.arange(len(nodes))
        path = intrude = None
        if wide is not None:
            path, intrude = np.zeros((2, len(nodes), self.d), dtype=bool)
        while len(live):
            at = ids[live]
            gains = self.gains[at]
            g_all = np.where(masks[live], gains, -np.inf)
            best = np.argmax(g_all, axis=1)
            g = g_all[np.arange(len(live)), best]
            fin = np.isfinite(g)
            if wide is not None:
                path[live[fin], best[fin]] = True
                intrude[live] |= wide[live] & np.isfinite(gains) & (gains >= g[:, None])
            k = self.depth[at]
            v_new = np.maximum(self.v[at] - np.where(fin, g, 0.0), self.floor[nodes[live]])
            new = self.cost(v_new, k + 1) + self.penalty * (k + 1)
            cur = self.current[at]
            accept = fin & (new < cur - 1e-15 * np.abs(cur))
            live, at, best, v_new, new = live[accept], at[accept], best[accept], v_new[accept], new[accept]
            nxt = self.child[at, best].astype(np.int64) - 1
            miss = np.flatnonzero(nxt < 0)
            if len(miss):
                key = at[miss] * self.d + best[miss]
                _, first, inv = np.unique(key, return_index=True, return_inverse=True)
                made = self._children(at[miss[first]], best[miss[first]], v_new[miss[first]], new[miss[first]])
                nxt[miss] = made[inv.ravel()]
            ids[live] = nxt
        return ids, path, intrude

    def fits(self, nodes: np.ndarray, masks: np.ndarray) -> list[Fit]:
        """(cost, parents, weights) of each request: the grow by the tree, then the shrink (kept per grown set).

        In chunks of requests, so that one call's new states stay near the memory budget (a chunk may start by
        dropping the states: its results are taken first).
        """
        step = max(16, self.max_states // CHUNK_DIVISOR)
        out: list[Fit] = []
        for lo in range(0, len(nodes), step):
            out.extend(self._fits(nodes[lo:lo + step], masks[lo:lo + step]))
        return out

    def _fits(self, nodes: np.ndarray, masks: np.ndarray) -> list[Fit]:
        """`fits` for one chunk: grow, then shrink the grown sets not seen before."""
        leaves = self.grow(nodes, masks)
        todo = np.unique(leaves[[int(x) not in self.leaf_fit for x in leaves.tolist()]])
        if len(todo):
            parents = [np.flatnonzero(c) for c in self.chosen[todo]]
            at = self.node[todo]
            fits = shrink_batch(self.S, at, parents, self.cost, self.penalty,
                                np.zeros((len(todo), self.d), dtype=bool), self.floor[at], self.shrunk)
            self.leaf_fit.update(zip(todo.tolist(), fits, strict=True))
        return [self.leaf_fit[x] for x in leaves.tolist()]
