"""How many evaluations pruning saves on the dag_topo sweep preset, for what best value.

For each seed, the same sweep (`hparams_search=dag_topo`, TPE seeded with that seed, n_trials trials) runs twice:
`hydra.sweeper.pruner=none` and `median` (MedianPruner, 5 startup trials). Evaluations are summed over all
trials: a complete trial's from its result.json, a pruned one's from the last line of its history.jsonl (where it
stopped). Printed side by side: best value, trials pruned, total evaluations, and their ratio.

    python experiments/sweep_pruning.py                      # seeds 0 1 2, 30 trials, the preset's default data
    python experiments/sweep_pruning.py --seeds 0 --n-trials 20 -- problem.data.d=30 problem.data.k=4
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna

optuna.logging.set_verbosity(optuna.logging.WARNING)


def sweep(tmp: Path, seed: int, n_trials: int, pruner: str, extra: list[str]) -> dict:
    name = f"{pruner}-s{seed}"
    url = f"sqlite:///{tmp}/{name}.db"
    cmd = [sys.executable, "-m", "gfopt", "-m", "hparams_search=dag_topo", f"seed={seed}",
           f"hydra.sweeper.n_trials={n_trials}", f"hydra.sweeper.storage={url}", f"hydra.sweeper.study_name={name}",
           f"hydra.sweeper.pruner={pruner}", "hydra.sweeper.plots=false", f"hydra.sweep.dir={tmp}/{name}", *extra]
    if pruner == "median":
        cmd.append("+hydra.sweeper.pruner_options={n_startup_trials: 5}")
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True,
                          env={**os.environ, "CI": "true", "OMP_NUM_THREADS": "1"})
    wall = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr[-3000:]
    trials = optuna.load_study(study_name=name, storage=url).trials
    evaluations = 0
    for t in trials:
        job = tmp / name / name / str(t.number)
        if t.state.name == "COMPLETE":
            evaluations += json.loads((job / "result.json").read_text())["evaluations"]
        elif t.state.name == "PRUNED":
            evaluations += json.loads((job / "history.jsonl").read_text().splitlines()[-1])["evaluations"]
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    return {"best": min(t.value for t in complete), "pruned": sum(t.state.name == "PRUNED" for t in trials),
            "evaluations": evaluations, "wall_s": wall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--n-trials", type=int, default=30)
    ap.add_argument("extra", nargs="*", help="overrides for every trial (after --)")
    a = ap.parse_args()
    print(f"hparams_search=dag_topo, {a.n_trials} trials, extra overrides {a.extra or 'none'}")
    print(f"{'seed':>4} | {'best none':>10} {'best median':>11} | {'pruned':>6} | {'evals none':>10} "
          f"{'evals median':>12} {'ratio':>6} | {'wall none s':>11} {'wall median s':>13}")
    with tempfile.TemporaryDirectory() as d:
        for seed in a.seeds:
            off = sweep(Path(d), seed, a.n_trials, "none", a.extra)
            on = sweep(Path(d), seed, a.n_trials, "median", a.extra)
            print(f"{seed:>4} | {off['best']:>10.4f} {on['best']:>11.4f} | {on['pruned']:>6} | "
                  f"{off['evaluations']:>10} {on['evaluations']:>12} {on['evaluations'] / off['evaluations']:>6.2f} | "
                  f"{off['wall_s']:>11.1f} {on['wall_s']:>13.1f}", flush=True)


if __name__ == "__main__":
    main()
