"""The override grammar maps to the right Optuna distributions; values round-trip through Hydra's parser."""

from __future__ import annotations

import math

import pytest
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from gfopt.core.config import ConfigError
from gfopt.sweep.grammar import check_command_line, format_value, parse_search_space


def grid_values(expr: str) -> list:
    """Hydra's basic sweeper (the oracle): the values a grid sweep runs for `x=expr`."""
    parsed = OverridesParser.create().parse_overrides([f"x={expr}"])
    [jobs] = BasicSweeper.split_arguments(parsed, None)
    return [OverridesParser.create().parse_override(job[0]).value() for job in jobs]


def dist_values(d) -> list:
    """Every value a discrete distribution can produce, enumerated from its bounds and step."""
    if isinstance(d, CategoricalDistribution):
        return list(d.choices)
    n = int(math.floor((d.high - d.low) / d.step + 1e-9)) + 1
    return [d.low + k * d.step for k in range(n)]


@pytest.mark.parametrize("expr", ["range(1,10,3)", "range(5)", "range(10,0,-2)", "range(0.1,0.5,0.1)",
                                  "range(0,1,0.25)", "choice(a,b,3)", "x,y,z", "shuffle(range(4))"])
def test_discrete_sweeps_cover_exactly_what_the_grid_runs(expr: str) -> None:
    d = parse_search_space({"x": expr}).dists["x"]
    assert sorted(map(repr, (round(v, 9) if isinstance(v, float) else v for v in dist_values(d)))) == \
        sorted(map(repr, (round(v, 9) if isinstance(v, float) else v for v in grid_values(expr))))


def test_interval_forms_map_to_float_int_and_log_distributions() -> None:
    space = parse_search_space({
        "a": "interval(0.1, 0.9)",
        "b": "int(interval(2, 64))",
        "c": "tag(log, interval(1e-4, 1e-1))",
        "d": "tag(log, int(interval(1, 1024)))",
    })
    assert space.dists["a"] == FloatDistribution(0.1, 0.9)
    assert space.dists["b"] == IntDistribution(2, 64)
    assert space.dists["c"] == FloatDistribution(1e-4, 1e-1, log=True)
    assert space.dists["d"] == IntDistribution(1, 1024, log=True)


def test_range_types_follow_the_values() -> None:
    space = parse_search_space({"i": "range(2,11,4)", "f": "range(0.0,1.0,0.5)"})
    assert space.dists["i"] == IntDistribution(2, 10, step=4)
    assert space.dists["f"] == FloatDistribution(0.0, 0.5, step=0.5)


def test_fixed_values_pass_through_verbatim_and_command_line_wins() -> None:
    space = parse_search_space({"engine.crossover_rate": "interval(0,1)", "seed": 3, "flag": False},
                               ["problem=tsp", "progress=false", "engine.crossover_rate=0.5", "+extra=1", "~budget"])
    assert space.dists == {}
    assert space.fixed == {"seed": "seed=3", "flag": "flag=false", "problem": "problem=tsp",
                           "progress": "progress=false", "engine.crossover_rate": "engine.crossover_rate=0.5",
                           "+extra": "+extra=1", "~budget": "~budget"}
    over = parse_search_space({"x": "1"}, ["x=choice(1,2)", "+y=interval(0,1)"])
    assert set(over.dists) == {"x", "y"} and over.keys["y"] == "+y"
    assert over.overrides({"x": 2, "y": 0.25}) == ["x=2", "+y=0.25"]


@pytest.mark.parametrize("value", ["a b", "c,d", "it's", "1", "true", "null", "say \"hi\" it's", "x=y", "", 3, -2,
                                   0.1, 1e-7, True, False])
def test_sampled_values_round_trip_through_hydras_parser(value) -> None:
    parsed = OverridesParser.create().parse_override("k=" + format_value(value)).value()
    assert parsed == value and type(parsed) is type(value)


@pytest.mark.parametrize("expr, words", [
    ("interval(1)", ["hydra.sweeper.params.x", "interval(1)", "end"]),
    ("tag(lg, interval(1, 2))", ["hydra.sweeper.params.x", "unknown tag", "lg"]),
    ("tag(log, interval(0, 1))", ["hydra.sweeper.params.x", "low > 0"]),
    ("tag(log, choice(1, 2))", ["hydra.sweeper.params.x", "interval"]),
    ("interval(2, 1)", ["hydra.sweeper.params.x", "low > high"]),
    ("range(3, 1)", ["hydra.sweeper.params.x", "empty"]),
    ("choice([1], 2)", ["hydra.sweeper.params.x", "scalars"]),
    ("choice(1, 2", ["hydra.sweeper.params.x", "cannot parse"]),
])
def test_bad_grammar_is_one_line_naming_the_key(expr: str, words: list[str]) -> None:
    with pytest.raises(ConfigError) as e:
        parse_search_space({"x": expr})
    msg = str(e.value)
    assert "\n" not in msg and all(w in msg for w in words), msg


def test_bad_command_line_sweep_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"^engine\.crossover_rate: .*interval"):
        parse_search_space({}, ["engine.crossover_rate=interval(1)"])


def test_nested_params_from_the_command_line_are_dotted_keys() -> None:
    space = parse_search_space({"engine": {"mutation": {"sigma": "tag(log, interval(0.01, 1))"}}, "seed": 1})
    assert space.dists == {"engine.mutation.sigma": FloatDistribution(0.01, 1.0, log=True)}
    assert space.fixed == {"seed": "seed=1"}


def test_command_line_check_names_the_bad_override() -> None:
    check_command_line(["-m", "problem=tsp", "engine.crossover_rate=interval(0,1)", "x=a,b"])
    with pytest.raises(ConfigError, match=r"^engine\.crossover_rate: cannot parse .*interval\(1\).*'end'"):
        check_command_line(["-m", "engine.crossover_rate=interval(1)"])
