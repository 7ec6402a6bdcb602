"""End-of-sweep files in the sweep dir: optimization_results.yaml and PNG plots (history, importances)."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

from optuna.study import Study, StudyDirection
from optuna.trial import FrozenTrial, TrialState

from gfopt.core.checkpoint import atomic_write_text
from gfopt.sweep.loop import JOB_DIR, OUTCOME

log = logging.getLogger("gfopt.sweep")

RESULTS_FILE = "optimization_results.yaml"


def summary(study: Study, storage: str | None = None) -> dict[str, Any]:
    """Best params and value (or the Pareto front), the baseline trial, and trial counts by state."""
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    out: dict[str, Any] = {
        "name": "gfopt_optuna",
        "study_name": study.study_name,
        "storage": storage,
        "directions": [d.name.lower() for d in study.directions],
        "trials": {s.name.lower(): sum(t.state == s for t in trials) for s in TrialState if
                   any(t.state == s for t in trials)},
    }
    if not complete:
        return out
    if len(study.directions) == 1:
        best = study.best_trial
        out.update(best_params=dict(best.params), best_value=float(best.value), best_trial=best.number,
                   best_job_dir=best.user_attrs.get(JOB_DIR))
        base = next((t for t in complete if t.user_attrs.get(OUTCOME) == "baseline"), None)
        if base is not None:
            sign = 1.0 if study.direction == StudyDirection.MAXIMIZE else -1.0
            out["baseline"] = {"params": dict(base.params), "value": float(base.value), "trial": base.number,
                               "improvement": sign * (float(best.value) - float(base.value))}
    else:
        out["solutions"] = [{"trial": t.number, "params": dict(t.params), "values": [float(v) for v in t.values]}
                            for t in study.best_trials]
    return out


def write_results(study: Study, sweep_dir: Path, storage: str | None = None, plots: bool = True) -> Path:
    """Write optimization_results.yaml (and plots when asked) into `sweep_dir`; return the YAML's path."""
    from omegaconf import OmegaConf

    sweep_dir = Path(sweep_dir)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    data = summary(study, storage)
    path = sweep_dir / RESULTS_FILE
    atomic_write_text(path, OmegaConf.to_yaml(OmegaConf.create(data)))
    if plots:
        write_plots(study, sweep_dir)
    return path


def write_plots(study: Study, sweep_dir: Path) -> list[Path]:
    """optimization_history*.png and param_importances*.png (one per objective); skips what cannot be drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as ovm

    complete = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    if not complete:
        return []
    written = []
    n_obj = len(study.directions)
    for i in range(n_obj):
        suffix = "" if n_obj == 1 else f"_{i}"
        target = None if n_obj == 1 else _objective(i)
        name = "objective" if n_obj == 1 else f"objective {i}"
        for stem, draw in (("optimization_history", ovm.plot_optimization_history),
                           ("param_importances", ovm.plot_param_importances)):
            path = Path(sweep_dir) / f"{stem}{suffix}.png"
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    ax = draw(study, target=target, target_name=name)
                ax.figure.tight_layout()
                ax.figure.savefig(path, dpi=120)
                plt.close(ax.figure)
                written.append(path)
            except Exception as e:  # e.g. importances need >= 2 complete trials with varied params
                log.warning("no %s: %s", path.name, " ".join(str(e).split()))
                plt.close("all")
    return written


def _objective(i: int) -> Any:
    def target(t: FrozenTrial) -> float:
        return float(t.values[i])

    return target

