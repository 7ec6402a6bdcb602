"""Is gfopt's +3 against BOSS on ER2 d=20 s405 (dag_peers.txt, bic at 4x the BIC) a search failure or the objective?

Scores gfopt's graph, BOSS's (a DAG in its CPDAG: every member has the same score) and the true DAG under the
objective both optimize: gfopt's bic score at `score.penalty=2` (twice its default price, 4x the textbook BIC's) and
causal-learn's own `local_score_BIC_from_cov` with lambda_value=2 (higher is better there).
Needs causal-learn (pip install -e ".[peers]").
Run: PYTHONPATH=. OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python experiments/dag_peers_s405.py
"""

from __future__ import annotations

import contextlib
import io

import numpy as np

from gfopt.core.engine import run
from gfopt.core.local_search import LocalSearchEngine
from gfopt.problems.dag_topo.cpdag import cpdag_shd, dag_to_cpdag
from gfopt.problems.dag_topo.data import simulate
from gfopt.problems.dag_topo.problem import DagTopoProblem

SEED = 405


def main() -> None:
    from causallearn.score.LocalScoreFunction import local_score_BIC_from_cov
    from causallearn.search.PermutationBased.BOSS import boss
    from causallearn.utils.PDAG2DAG import pdag2dag

    from experiments.dag_peers import _dataset, cpdag_of_general_graph, seed_peers

    ds = simulate("ER", 2, 20, 1000, "gauss", "linear", SEED)  # as dag_peers.py builds it
    X = (ds.X - ds.X.mean(0)) / ds.X.std(0)
    truth = dag_to_cpdag(ds.B_true)
    p = DagTopoProblem(data={"center": True}, score={"type": "bic", "penalty": 2.0}, dataset=_dataset(X))
    res = run(p, LocalSearchEngine(restarts=None), np.random.default_rng(SEED))
    B_gfopt = (p.fit(res.best).W != 0).astype(int)
    with contextlib.redirect_stdout(io.StringIO()):
        seed_peers(SEED)
        G = boss(X, "local_score_BIC_from_cov", verbose=False)
    g = np.asarray(pdag2dag(G).graph)
    B_boss = ((g.T == 1) & (g == -1)).astype(int)  # endpoint marks: g[j, i] = 1, g[i, j] = -1 is i -> j
    assert (dag_to_cpdag(B_boss) == cpdag_of_general_graph(G)).all()
    cov = np.cov(X.T)

    def causal_learn_score(B: np.ndarray) -> float:
        return sum(local_score_BIC_from_cov((cov, len(X)), j, list(np.flatnonzero(B[:, j])), {"lambda_value": 2})
                   for j in range(len(B)))

    for name, B in (("gfopt p2", B_gfopt), ("BOSS", B_boss), ("true DAG", ds.B_true.astype(int))):
        print(f"{name:10s} edges {int(B.sum()):3d}  CPDAG SHD {cpdag_shd(truth, dag_to_cpdag(B)):2d}  "
              f"gfopt score (lower better) {p.score.support_score(B != 0):.6f}  "
              f"causal-learn score (higher better) {causal_learn_score(B):.2f}")
    diff = np.argwhere(np.triu((B_gfopt + B_gfopt.T > 0) != (ds.B_true + ds.B_true.T > 0)))
    print("skeleton pairs where gfopt differs from the truth:", [tuple(map(int, e)) for e in diff])


if __name__ == "__main__":
    main()
