"""How long a shared sweep takes to recover a killed worker's slot, with the default heartbeat settings.

Two workers run the same sweep command (n_trials=2, small tsp trials of --trial-s seconds). Once both have a trial
in flight, worker A is killed with SIGKILL; worker B finishes its own trial, finds no free slot (A's RUNNING trial
holds it), waits, fails A's trial when its heartbeat is older than the grace period, and runs the slot again.
Printed per run: kill -> A's trial marked FAIL, and kill -> the re-run trial started, in seconds.

    python experiments/sweep_recovery.py                       # journal file (always) and PostgreSQL when
                                                                # GFOPT_TEST_POSTGRES_URL is set
    python experiments/sweep_recovery.py --repeats 3 --heartbeat-interval 10

Expected: between grace - interval and grace + poll seconds (the last beat came up to one interval before the
kill; a waiting worker looks every min(interval, 5) s): 10-25 s for the defaults (interval 10 s, grace 20 s).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import optuna

from gfopt.sweep.storage import open_storage

optuna.logging.set_verbosity(optuna.logging.WARNING)


def one_run(storage: str, tmp: Path, trial_s: float, interval: int | None, grace: int | None) -> tuple[float, float]:
    name = f"recovery-{uuid.uuid4().hex[:8]}"
    args = [sys.executable, "-m", "gfopt", "-m", "hydra/sweeper=gfopt_optuna", "problem=tsp", "engine=ga",
            "problem.cities=8", "engine.generations=null", f"budget.wall_time_s={trial_s}",
            "engine.crossover_rate=interval(0.1, 1.0)",
            f"hydra.sweeper.storage={storage}", f"hydra.sweeper.study_name={name}", "hydra.sweeper.n_trials=2",
            "hydra.sweeper.plots=false"]
    if interval is not None:
        args.append(f"hydra.sweeper.heartbeat_interval={interval}")
    if grace is not None:
        args.append(f"hydra.sweeper.grace_period={grace}")
    env = {**os.environ, "CI": "true", "OMP_NUM_THREADS": "1"}
    procs = {}
    for label in ("a", "b"):
        log = open(tmp / f"{name}-{label}.log", "w")  # noqa: SIM115
        procs[label] = subprocess.Popen([*args, f"hydra.sweep.dir={tmp / name / label}"], cwd=tmp, env=env,
                                        stdout=log, stderr=subprocess.STDOUT)
    study = None
    deadline = time.time() + 180
    while True:  # both workers have a trial in flight, and A's job has started
        assert time.time() < deadline, "the workers did not start"
        try:
            study = study or optuna.load_study(study_name=name, storage=open_storage(storage))
            running = [t for t in study.get_trials() if t.state.name == "RUNNING"]
        except KeyError:
            running = []
        if len(running) == 2 and list((tmp / name / "a").glob("*/*/.config_hash")):
            break
        time.sleep(0.1)
    time.sleep(1.0)
    killed = time.time()
    procs["a"].send_signal(signal.SIGKILL)
    procs["a"].wait()
    code = procs["b"].wait(timeout=600)
    assert code == 0, (tmp / f"{name}-b.log").read_text()[-3000:]
    trials = study.get_trials()
    failed = [t for t in trials if t.state.name == "FAIL" and "gfopt_stale" in t.user_attrs]
    assert len(failed) == 1 and sum(t.state.name == "COMPLETE" for t in trials) == 2
    rerun = max(trials, key=lambda t: t.number)
    return failed[0].datetime_complete.timestamp() - killed, rerun.datetime_start.timestamp() - killed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--trial-s", type=float, default=6.0, help="length of each trial (budget.wall_time_s)")
    ap.add_argument("--heartbeat-interval", type=int, default=None, help="default: the sweeper's (10 s)")
    ap.add_argument("--grace-period", type=int, default=None, help="default: the sweeper's (2 x interval)")
    ap.add_argument("--postgres", default=os.environ.get("GFOPT_TEST_POSTGRES_URL"))
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        storages = {"journal": f"journal:{tmp}/study.log"}
        if a.postgres:
            storages["postgresql"] = a.postgres
        print(f"heartbeat_interval={a.heartbeat_interval or 10} s, grace_period={a.grace_period or 'default'}, "
              f"trials of {a.trial_s:g} s, {a.repeats} run(s) per storage")
        print(f"{'storage':<12} {'run':>3} {'kill->FAIL s':>13} {'kill->re-run s':>15}")
        for label, url in storages.items():
            for r in range(a.repeats):
                fail_s, rerun_s = one_run(url, tmp, a.trial_s, a.heartbeat_interval, a.grace_period)
                print(f"{label:<12} {r:>3} {fail_s:>13.1f} {rerun_s:>15.1f}", flush=True)


if __name__ == "__main__":
    main()
