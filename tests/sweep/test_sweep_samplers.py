"""Sampler factory: every named sampler runs, unknown names fail in one line, one seed reproduces a sweep and
workers sharing a study with that seed still draw different points."""

from __future__ import annotations

import importlib.util

import optuna
import pytest
from optuna.distributions import FloatDistribution, IntDistribution

from gfopt.core.config import ConfigError
from gfopt.sweep.grammar import parse_search_space
from gfopt.sweep.loop import Outcome, optimize
from gfopt.sweep.samplers import EXHAUSTIVE, SAMPLERS, TrialSeededSampler, directions_of, grid_size, make_sampler

SPACE = {"x": FloatDistribution(-1.0, 1.0), "n": IntDistribution(1, 8)}

optuna.logging.set_verbosity(optuna.logging.WARNING)


def run(sampler, n: int, study=None, directions=("minimize",)) -> list[dict]:
    study = study or optuna.create_study(sampler=sampler, directions=list(directions))
    out = []
    for _ in range(n):
        t = study.ask(fixed_distributions=SPACE)
        study.tell(t, [t.params["x"] ** 2 + t.params["n"]] * len(directions))
        out.append(t.params)
    return out


@pytest.mark.parametrize("name", sorted(set(SAMPLERS) - set(EXHAUSTIVE)))
def test_every_named_sampler_runs_a_few_trials(name: str) -> None:
    if name == "cmaes" and importlib.util.find_spec("cmaes") is None:  # optional: a clear error instead
        with pytest.raises(ConfigError, match="pip install cmaes"):
            make_sampler(name, seed=1)
        return
    directions = ("minimize", "maximize") if name == "nsgaii" else ("minimize",)
    params = run(make_sampler(name, seed=1), 4, directions=directions)
    assert len(params) == 4 and all(-1 <= p["x"] <= 1 and 1 <= p["n"] <= 8 for p in params)


def test_unknown_sampler_is_one_line_listing_the_choices() -> None:
    with pytest.raises(ConfigError, match=r"^hydra\.sweeper\.sampler\.name: unknown sampler 'tpee'.*tpe, random"):
        make_sampler("tpee")


def test_bad_sampler_option_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"^hydra\.sweeper\.sampler\.options: "):
        make_sampler("tpe", seed=0, options={"n_startup_trailz": 3})


def test_one_seed_reproduces_the_sweep() -> None:
    assert run(make_sampler("tpe", seed=7), 12) == run(make_sampler("tpe", seed=7), 12)
    assert run(make_sampler("random", seed=7), 5) != run(make_sampler("random", seed=8), 5)


def worker(sampler, storage, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=storage, sampler=sampler)


def test_workers_sharing_a_study_draw_different_points() -> None:
    storage = optuna.storages.InMemoryStorage()
    optuna.create_study(storage=storage, study_name="plain")
    optuna.create_study(storage=storage, study_name="ours")
    # Oracle: plain Optuna samplers with the same seed in two workers propose the same first point.
    a, b = (run(None, 1, worker(optuna.samplers.RandomSampler(seed=3), storage, "plain")) for _ in range(2))
    assert a == b
    # Ours, seeded per trial number, do not: each worker's next trial has a different number.
    ours = [make_sampler("random", seed=3) for _ in range(2)]
    a, b = (run(None, 1, worker(s, storage, "ours")) for s in ours)
    assert a != b
    assert isinstance(ours[0], TrialSeededSampler)


def test_directions() -> None:
    assert [d.name for d in directions_of("maximize")] == ["MAXIMIZE"]
    assert [d.name for d in directions_of(["minimize", "maximize"])] == ["MINIMIZE", "MAXIMIZE"]
    with pytest.raises(ConfigError, match=r"^hydra\.sweeper\.direction: "):
        directions_of("lower")


@pytest.mark.parametrize("name", EXHAUSTIVE)
@pytest.mark.parametrize("seed", [None, 3])
def test_grid_and_bruteforce_visit_every_point_once(name: str, seed: int | None) -> None:
    space = parse_search_space({"k": "choice(a, b, c)", "n": "range(1, 8, 2)", "w": "range(0.0, 1.0, 0.5)"})
    assert grid_size(space.dists) == 3 * 4 * 2
    expected = {(k, n, w) for k in "abc" for n in (1, 3, 5, 7) for w in (0.0, 0.5)}  # Hydra's own grid
    study = optuna.create_study(sampler=make_sampler(name, seed=seed, space=space.dists))

    def launch(batch, trials):
        return [Outcome(value=float(t.params["n"])) for t in trials]

    optimize(study, space, 24, launch, n_jobs=5)
    seen = [(t.params["k"], t.params["n"], t.params["w"]) for t in study.get_trials()]
    assert len(seen) == 24 and set(seen) == expected  # exhaustive, no repeat, nothing outside


def test_grid_needs_finite_values_named_in_one_line() -> None:
    space = parse_search_space({"k": "choice(a, b)", "x": "interval(0, 1)"})
    with pytest.raises(ConfigError, match=r"^hydra\.sweeper\.params\.x: the grid and bruteforce samplers need "
                                          "finite values"):
        make_sampler("grid", space=space.dists)
