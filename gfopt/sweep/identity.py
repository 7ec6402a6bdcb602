"""A study's identity: what sweep made it, so that another sweep pointed at it by name is refused in one line.

The study's user attribute `gfopt_identity` holds the search space, the fixed overrides, the directions, the
optimized metric and the problem, with a digest of them all. A worker whose own identity differs stops before any
trial, unless `hydra.sweeper.extend_study=true` says that adding to the study on purpose is meant; even then
a parameter may not change its kind of distribution (Optuna refuses that mid-study).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from optuna.distributions import check_distribution_compatibility
from optuna.study import Study
from optuna.trial import TrialState

from gfopt.core.config import ConfigError
from gfopt.sweep.grammar import SearchSpace

ATTR = "gfopt_identity"


def identity(space: SearchSpace, directions: Sequence[str], metric: Any, problem: Any) -> dict[str, Any]:
    """The description of one sweep command, with its digest."""
    desc: dict[str, Any] = {
        "params": {k: repr(v) for k, v in sorted(space.dists.items())},
        "fixed": sorted(space.fixed.values()),
        "directions": [str(d) for d in directions],
        "metric": metric if metric is None or isinstance(metric, str) else [str(m) for m in metric],
        "problem": None if problem is None else str(problem),
    }
    desc["digest"] = hashlib.sha256(json.dumps(desc, sort_keys=True).encode()).hexdigest()[:16]
    return desc


def difference(old: dict[str, Any], new: dict[str, Any]) -> str:
    """What differs between two identities, in a few words."""
    parts = []
    if old.get("problem") != new.get("problem"):
        parts.append(f"problem {old.get('problem')} there, {new.get('problem')} here")
    if old.get("metric") != new.get("metric"):
        parts.append(f"optimized_metric {old.get('metric')} there, {new.get('metric')} here")
    op, np_ = old.get("params", {}), new.get("params", {})
    changed = sorted(k for k in set(op) | set(np_) if op.get(k) != np_.get(k))
    if changed:
        parts.append(f"swept keys differ: {', '.join(changed)}")
    of, nf = set(old.get("fixed", [])), set(new.get("fixed", []))
    if of != nf:
        gone, added = sorted(of - nf), sorted(nf - of)
        parts.append("fixed overrides differ: " + "; ".join(
            x for x in (f"there only {gone}" if gone else "", f"here only {added}" if added else "") if x))
    return "; ".join(parts) or "digest differs"


def guard(study: Study, mine: dict[str, Any], space: SearchSpace, extend: bool) -> None:
    """Record `mine` on a study without an identity; refuse (ConfigError) a study made by another sweep."""
    old = study.user_attrs.get(ATTR)
    if old is None:
        study.set_user_attr(ATTR, mine)
        return
    if old.get("digest") == mine["digest"]:
        return
    if not extend:
        raise ConfigError(f"hydra.sweeper.study_name: study {study.study_name!r} was made by another sweep "
                          f"({difference(old, mine)}); use a new study_name, or hydra.sweeper.extend_study=true "
                          "to add these trials to it")
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)):
        for name, dist in t.distributions.items():
            if name in space.dists:
                try:
                    check_distribution_compatibility(dist, space.dists[name])
                except ValueError:
                    raise ConfigError(f"hydra.sweeper.params.{name}: the study samples it as {dist!r}; a sweep "
                                      f"that extends it cannot use {space.dists[name]!r}") from None
