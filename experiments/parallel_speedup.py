"""Wall time of one run with parallel=serial, processes x2 and ray x2, side by side, with the speed-up over serial.

- llm_evo: the default zoo, GENOME+ for a fixed 2 generations, no baselines, one torch thread per process
  (serial: problem.threads=1; workers: parallel.threads_per_worker=1).
- dag_topo: d=100, ER4, n=1000, the default search (random start + 4 restarts, full swap sets), one BLAS thread per
  process; the workers score the swap batches (restarts stay sequential).
Each setting is a fresh `python -m gfopt` process, all in this one script. Three times: the whole process (imports,
problem build, search, report), the search alone (`wall_time_s`: the run loop, which starts once every worker has
built its problem), and how long the parent waited for its workers after building its own problem (gfopt.log's
"workers ready" line); the objective must be the same in every row (same config and seed). Prints a markdown
table, writes experiments/parallel_speedup.md.
Run: python experiments/parallel_speedup.py [--only llm_evo|dag_topo]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CASES = {
    "llm_evo": ["problem=llm_evo", "engine.generations=2", "problem.baselines=[]", "problem.threads=1"],
    "dag_topo": ["problem=dag_topo", "problem.data.d=100", "problem.data.k=4", "problem.data.n=1000"],
}
SETTINGS = {"serial": [], "processes x2": ["parallel=processes", "parallel.workers=2", "parallel.threads_per_worker=1"],
            "ray x2": ["parallel=ray", "parallel.workers=2", "parallel.threads_per_worker=1"]}


def timed(args: list[str], out: Path) -> tuple[float, dict]:
    env = {**os.environ, "CI": "true", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "gfopt", *args, f"hydra.run.dir={out}"], check=True, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0, json.loads((out / "result.json").read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=list(CASES))
    args = ap.parse_args()
    rows = ["| problem | setting | process wall s | speed-up | search s (result.json wall_time_s) | speed-up | "
            "waited for workers s | objective | evaluations |", "|---" * 9 + "|"]
    with tempfile.TemporaryDirectory() as tmp:
        for case, case_args in CASES.items():
            if args.only and case != args.only:
                continue
            base = None
            for name, extra in SETTINGS.items():
                wall, res = timed(case_args + extra, Path(tmp) / f"{case}-{name.replace(' ', '')}")
                search = res["wall_time_s"]
                base = base or (wall, search)
                log = (Path(tmp) / f"{case}-{name.replace(' ', '')}" / "gfopt.log").read_text()
                waited = re.search(r"workers ready, ([\d.]+) s after", log)
                rows.append(f"| {case} | {name} | {wall:.1f} | {base[0] / wall:.2f}x | {search:.1f} | "
                            f"{base[1] / search:.2f}x | {waited.group(1) if waited else '-'} | "
                            f"{res['objective']:.6g} | {res['evaluations']} |")
                print(rows[-1], flush=True)
    note = (f"\nMeasured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} cores, load average "
            f"{os.getloadavg()[0]:.1f} at the end; one BLAS/torch thread per process.\n")
    text = "\n".join(rows) + "\n" + note
    print(note)
    (REPO / "experiments" / "parallel_speedup.md").write_text("# parallel=serial | processes | ray\n\n" + text)


if __name__ == "__main__":
    main()
