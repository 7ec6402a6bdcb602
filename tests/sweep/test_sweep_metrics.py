"""`optimized_metric`: the result.json field(s) a run returns to the sweeper; one float, or a list for several."""

from __future__ import annotations

import pytest

from gfopt.core.config import ConfigError
from gfopt.sweep.metrics import metric_values

RESULT = {"objective": 3.5, "wall_time_s": 1.25, "evaluations": 40, "metrics": {"shd": 4, "tpr": 0.9},
          "stopped_by": "steps", "converged": True}


def test_one_name_gives_a_float_and_a_list_gives_a_list() -> None:
    assert metric_values(RESULT, None) == 3.5
    assert metric_values(RESULT, "wall_time_s") == 1.25
    assert metric_values(RESULT, ["objective", "metrics.shd"]) == [3.5, 4.0]
    assert metric_values(RESULT, ["evaluations"]) == [40.0]


@pytest.mark.parametrize("metric, words", [
    ("walltime", ["optimized_metric: result.json has no field 'walltime'", "evaluations, objective, wall_time_s"]),
    ("metrics.fdr", ["no field 'metrics.fdr'"]),
    ("stopped_by", ["field 'stopped_by' is 'steps', not a number"]),
    ("converged", ["not a number"]),
    ([], ["give a result.json field name"]),
])
def test_a_missing_or_non_numeric_field_is_one_line_naming_the_key(metric, words) -> None:
    with pytest.raises(ConfigError) as e:
        metric_values(RESULT, metric)
    assert all(w in str(e.value) for w in words) and "\n" not in str(e.value)
