"""Nonlinear score: one small MLP per node on its predecessors (torch, imported lazily).

Q = sum_j [1/(2n) ||x_j - f_j(X_pred)||^2 + lambda1 |A_j|_1 + lambda2 ||A_j||^2] with f_j(z) = sigmoid(z A_j + c) v + e.
The edge weight i -> j used to rank swaps is the L2 norm of the first-layer weights leaving input i.
Training is full-batch L-BFGS (at most `max_iter` iterations, checked every 20) until the loss changes by less
than tol * max(1, |loss|) between two checks (the reference compared a loss with itself, so it never stopped
early). Small per-node networks are dominated by per-op overhead: run with OMP_NUM_THREADS=1.
"""

from __future__ import annotations

import numpy as np

from gfopt.problems.dag_topo.scores import SeparableScore

LBFGS_ITERS = 20
"""L-BFGS iterations between two convergence checks; `max_iter` bounds the total."""


class MlpScore(SeparableScore):
    """Per-node MLPs with `hidden` sigmoid units; deterministic given `seed` (seeded per node and parent set)."""

    name = "mlp"

    def __init__(self, X: np.ndarray, hidden: int = 10, lambda1: float = 0.0, lambda2: float = 0.0,
                 max_iter: int = 200, tol: float = 1e-6, seed: int = 0) -> None:
        n, d = X.shape
        super().__init__(d)
        import torch

        self.torch = torch
        self.X = torch.as_tensor(X, dtype=torch.float64)
        self.hidden, self.lambda1, self.lambda2 = hidden, float(lambda1), float(lambda2)
        self.max_iter, self.tol, self.seed = max_iter, tol, seed
        self.iterations: list[int] = []  # convergence checks per fit (each after LBFGS_ITERS iterations)

    def _node_fit(self, j: int, parents: np.ndarray) -> tuple[float, np.ndarray]:
        torch = self.torch
        x = self.X[:, j]
        if len(parents) == 0:
            return float(0.5 * torch.mean((x - x.mean()) ** 2)), np.zeros(0)
        Z = self.X[:, parents]
        gen = torch.Generator().manual_seed(int(np.random.SeedSequence([self.seed, j, *parents]).generate_state(1)[0]))
        k, h = Z.shape[1], self.hidden
        A = (torch.randn(k, h, generator=gen, dtype=torch.float64) / np.sqrt(k)).requires_grad_()
        c = torch.zeros(h, dtype=torch.float64, requires_grad=True)
        v = (torch.randn(h, generator=gen, dtype=torch.float64) / np.sqrt(h)).requires_grad_()
        e = x.mean().clone().requires_grad_()
        params = [A, c, v, e]
        opt = torch.optim.LBFGS(params, lr=1.0, max_iter=LBFGS_ITERS, line_search_fn="strong_wolfe")

        def objective() -> torch.Tensor:
            pred = torch.sigmoid(Z @ A + c) @ v + e
            return 0.5 * torch.mean((x - pred) ** 2) + self.lambda1 * A.abs().sum() + self.lambda2 * (A * A).sum()

        def closure() -> torch.Tensor:
            opt.zero_grad()
            loss = objective()
            loss.backward()
            return loss

        prev = float("inf")
        it = 0
        for it in range(1, -(-self.max_iter // LBFGS_ITERS) + 1):  # noqa: B007 (kept for the iteration count)
            opt.step(closure)
            with torch.no_grad():
                cur = float(objective())
            if abs(prev - cur) <= self.tol * max(1.0, abs(cur)):
                break
            prev = cur
        self.iterations.append(it)
        with torch.no_grad():
            cost = float(objective())
            w = torch.linalg.norm(A, dim=1).numpy().copy()
        return cost, w
