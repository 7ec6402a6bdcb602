"""Prior knowledge for dag_topo: required and forbidden edges and tiers, by node name or index.

Required edges and tiers become order constraints (`precedes[i, j]`: i must come before j); forbidden edges and
edges into an earlier tier are never candidate parents, required edges always are. Starts are drawn among the
orders that satisfy the constraints and the swap neighbourhood drops moves that would break them
(`allowed_swaps`), so no order breaking the knowledge is ever visited.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from gfopt.core.config import ConfigError


@dataclass
class Knowledge:
    """Boolean d x d matrices: `required[i, j]` edge i -> j must be present, `forbidden[i, j]` must be absent,
    `precedes[i, j]` node i must come before node j in every order."""

    required: np.ndarray
    forbidden: np.ndarray
    precedes: np.ndarray

    @property
    def allowed(self) -> np.ndarray:
        """Edges that may be used: not forbidden and not against the order constraints."""
        return ~self.forbidden & ~self.precedes.T

    def order_ok(self, order: np.ndarray) -> bool:
        """True when `order` puts every constrained node before its successors."""
        pos = np.empty(len(order), dtype=np.int64)
        pos[np.asarray(order)] = np.arange(len(order))
        i, j = np.nonzero(self.precedes)
        return bool(np.all(pos[i] < pos[j]))

    def order_key(self, priority: np.ndarray) -> np.ndarray:
        """The order that satisfies the constraints and follows `priority` (smaller first) wherever they allow."""
        d = len(priority)
        indeg = self.precedes.sum(axis=0).astype(np.int64)
        heap = [(float(priority[i]), int(i)) for i in np.flatnonzero(indeg == 0)]
        heapq.heapify(heap)
        out = []
        while heap:
            _, i = heapq.heappop(heap)
            out.append(i)
            for j in np.flatnonzero(self.precedes[i]):
                indeg[j] -= 1
                if indeg[j] == 0:
                    heapq.heappush(heap, (float(priority[j]), int(j)))
        assert len(out) == d, "constraints were checked for cycles when parsed"
        return np.array(out, dtype=np.int64)

    def random_order(self, rng: np.random.Generator) -> np.ndarray:
        """A random order satisfying the constraints (Kahn's algorithm with random priorities)."""
        return self.order_key(rng.permutation(len(self.precedes)).astype(float))

    def repair(self, order: np.ndarray) -> np.ndarray:
        """`order` itself when valid, else the valid order closest to it in Kahn's sense (for given starts)."""
        order = np.asarray(order, dtype=np.int64)
        if self.order_ok(order):
            return order
        pos = np.empty(len(order))
        pos[order] = np.arange(len(order))
        return self.order_key(pos)

    def allowed_swaps(self, order: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Mask of position swaps a < b that keep `order` valid.

        Swapping moves order[a] after every node at positions a+1..b and order[b] before every node at a..b-1;
        the relative order of the others is unchanged, so those pairs are the only ones to check.
        """
        a = np.asarray(a, dtype=np.int64)
        b = np.asarray(b, dtype=np.int64)
        P = self.precedes[np.ix_(order, order)].astype(np.int32)  # P[p, q]: node at p must precede node at q
        rows = np.cumsum(P, axis=1)
        cols = np.vstack([np.zeros((1, len(order)), dtype=np.int64), np.cumsum(P, axis=0)])
        first_after = rows[a, b] - rows[a, a]  # order[a] must precede someone in a+1..b
        last_before = cols[b, b] - cols[a, b]  # someone in a..b-1 must precede order[b]
        return (first_after == 0) & (last_before == 0)

    def allowed_insertions(self, order: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        """Mask of insertions (the node at src moved to dst) that keep `order` valid.

        Moving left puts order[src] before the nodes at dst..src-1; moving right puts it after src+1..dst.
        """
        src = np.asarray(src, dtype=np.int64)
        dst = np.asarray(dst, dtype=np.int64)
        P = self.precedes[np.ix_(order, order)].astype(np.int32)  # P[p, q]: node at p must precede node at q
        rows = np.cumsum(P, axis=1)
        cols = np.vstack([np.zeros((1, len(order)), dtype=np.int64), np.cumsum(P, axis=0)])
        left = cols[src, src] - cols[np.minimum(dst, src), src]  # someone in dst..src-1 must precede order[src]
        right = rows[src, np.maximum(dst, src)] - rows[src, src]  # order[src] must precede someone in src+1..dst
        return np.where(dst < src, left == 0, right == 0)


def _node(ref: Any, names: Sequence[str], key: str, text: str) -> int:
    """A node given by name, or by index when no column has that name."""
    ref_s = str(ref).strip()
    if ref_s in names:
        return list(names).index(ref_s)
    if ref_s.lstrip("-").isdigit() and 0 <= int(ref_s) < len(names):
        return int(ref_s)
    raise ConfigError(f"{key}: unknown node {ref_s!r} in {text!r}; use a column name or an index 0..{len(names) - 1}")


def _edges(items: Sequence[Any], names: Sequence[str], key: str) -> list[tuple[int, int]]:
    out = []
    for item in items:
        text = str(item)
        if "->" not in text:
            raise ConfigError(f"{key}: {text!r} is not an edge; write it as 'a->b' (names or indices)")
        a, b = text.split("->", 1)
        i, j = _node(a, names, key, text), _node(b, names, key, text)
        if i == j:
            raise ConfigError(f"{key}: {text!r} is a self-loop")
        out.append((i, j))
    return out


def _find_cycle(precedes: np.ndarray) -> list[int] | None:
    """One directed cycle of the constraint graph as a node list (first node repeated at the end), or None."""
    d = len(precedes)
    color = np.zeros(d, dtype=np.int8)  # 0 new, 1 on the stack, 2 done
    parent = np.full(d, -1)
    for root in range(d):
        if color[root]:
            continue
        stack = [(root, iter(np.flatnonzero(precedes[root]).tolist()))]
        color[root] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                color[node] = 2
                stack.pop()
            elif color[nxt] == 1:
                cycle = [nxt]
                cur = node
                while cur != nxt:
                    cycle.append(cur)
                    cur = parent[cur]
                cycle.append(nxt)
                return cycle[::-1]
            elif color[nxt] == 0:
                parent[nxt] = node
                color[nxt] = 1
                stack.append((nxt, iter(np.flatnonzero(precedes[nxt]).tolist())))
    return None


def parse_knowledge(required: Sequence[Any], forbidden: Sequence[Any], tiers: Sequence[Sequence[Any]],
                    names: Sequence[str]) -> Knowledge | None:
    """Build `Knowledge` from config lists; None when empty. A contradiction is one ConfigError naming it."""
    if not required and not forbidden and not tiers:
        return None
    d = len(names)
    R = np.zeros((d, d), dtype=bool)
    F = np.zeros((d, d), dtype=bool)
    T = np.zeros((d, d), dtype=bool)
    for i, j in _edges(required, names, "problem.knowledge.required"):
        R[i, j] = True
    for i, j in _edges(forbidden, names, "problem.knowledge.forbidden"):
        F[i, j] = True
    both = np.argwhere(R & F)
    if len(both):
        i, j = both[0]
        raise ConfigError(f"problem.knowledge: {names[i]}->{names[j]} is both required and forbidden; drop one")
    tier_of: dict[int, int] = {}
    for t, tier in enumerate(tiers):
        for ref in tier:
            i = _node(ref, names, "problem.knowledge.tiers", str(list(tier)))
            if i in tier_of and tier_of[i] != t:
                raise ConfigError(f"problem.knowledge.tiers: {names[i]} is in tiers {tier_of[i]} and {t}; "
                                  "put each node in one tier")
            tier_of[i] = t
    for i, ti in tier_of.items():
        for j, tj in tier_of.items():
            if ti < tj:
                T[i, j] = True
    precedes = R | T
    cycle = _find_cycle(precedes)
    if cycle is not None:
        steps = []
        for u, v in zip(cycle[:-1], cycle[1:], strict=True):
            steps.append(f"{names[u]} -> {names[v]} ({'required' if R[u, v] else 'tiers'})")
        raise ConfigError("problem.knowledge: the required edges and tiers form a cycle: " + ", ".join(steps)
                          + "; remove one of them")
    return Knowledge(required=R, forbidden=F, precedes=precedes)
