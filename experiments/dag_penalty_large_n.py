"""The parent price at n > 2d: the default multiplier 1 (the BIC's) against `score.penalty=null` (chosen by held-out
error, `penalty.choose_multiplier`), on every n > 2d instance with a stored DAGMA row.

Instances (raw data, NOTEARS simulator, ER / SF, k = 2, 4, 6, gauss / exp / gumbel noise): the 10 n = 10d ones of
experiments/dag_suite.py (seeds 100+, DAGMA in dag_suite.json), the 24 n = 10d ones of dag_starts.py (seeds 9700+,
dag_fresh_dagma.json) and the 36 of dag_large_n_check.py (seeds 7000+: n = 10d and n = 1000, DAGMA from
dag_large_n_check.txt). Both columns are the default search (restarts null, seed 0) as in dag_suite.py. Prints SHD
and time per instance, then per setting the worst SHD minus DAGMA's, the count at or below it, the sum and the time.
Run: PYTHONPATH=. OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 python experiments/dag_penalty_large_n.py
    > experiments/dag_penalty_large_n.txt
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import dag_large_n_check  # noqa: E402
import dag_starts  # noqa: E402
import dag_suite  # noqa: E402

SETTINGS = {"penalty=1 (default)": 1.0, "penalty=null": None}


def cases() -> list[tuple[dict, int]]:
    """(instance, DAGMA's SHD) for every stored n > 2d instance."""
    ref = dag_starts.dagma_rows()
    text = (HERE / "dag_large_n_check.txt").read_text()
    ref.update({int(s): int(shd) for s, shd in re.findall(r" s(\d+) .*\| dagma SHD +(\d+)", text)})
    pool = dag_suite.instances() + dag_starts.fresh_instances() + dag_large_n_check.instances()
    return [(inst, ref[inst["seed"]]) for inst in pool if inst["n"] > 2 * inst["d"]]


def main() -> None:
    rows = []
    for inst, ref in cases():
        ds = dag_starts.simulated(inst)
        cells = {name: dag_starts.default_run(ds, score={"penalty": pen}) for name, pen in SETTINGS.items()}
        rows.append((ref, cells))
        name = f"{inst['graph']}{inst['k']} d={inst['d']} n={inst['n']} {inst['noise']} s{inst['seed']}"
        print(name.ljust(30) + f" dagma {ref:3d} | "
              + " | ".join(f"{s} {shd:3d} {t:5.2f}s (x{m:g})" for s, (shd, t, m) in cells.items()), flush=True)
    print(f"\n{len(rows)} instances, SHD minus DAGMA's:")
    for s in SETTINGS:
        diff = [cells[s][0] - ref for ref, cells in rows]
        print(f"  {s:20s} worst {max(diff):+3d}, at or below {sum(x <= 0 for x in diff)}/{len(diff)}, "
              f"summed {sum(diff):+5d}, time {sum(cells[s][1] for _, cells in rows):5.1f} s")


if __name__ == "__main__":
    main()
