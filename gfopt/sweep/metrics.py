"""What a run returns to a sweeper: the result.json field(s) named by `optimized_metric` (default: objective)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from gfopt.core.config import ConfigError


def metric_values(summary: Mapping[str, Any], metric: Any) -> float | list[float]:
    """One float for a single metric (or none: `objective`), a list for several; dotted names reach nested fields
    (`metrics.shd`). A missing or non-numeric field is a ConfigError naming `optimized_metric`."""
    names = ["objective"] if metric is None else [metric] if isinstance(metric, str) else [str(m) for m in metric]
    if not names:
        raise ConfigError("optimized_metric: give a result.json field name or a list of them")
    out = [_field(summary, n) for n in names]
    return out[0] if metric is None or isinstance(metric, str) else out


def _field(summary: Mapping[str, Any], name: str) -> float:
    node: Any = summary
    for part in name.split("."):
        if not isinstance(node, Mapping) or part not in node:
            fields = ", ".join(sorted(k for k, v in summary.items() if _numeric(v)))
            raise ConfigError(f"optimized_metric: result.json has no field {name!r}; numeric fields: {fields}")
        node = node[part]
    if not _numeric(node):
        raise ConfigError(f"optimized_metric: result.json field {name!r} is {node!r}, not a number")
    return float(node)


def _numeric(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(float(v))
