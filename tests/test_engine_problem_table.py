"""Every engine x problem pair of docs/engines.md either runs (tiny settings) or is refused in one line before the
problem is built: a refused llm_evo cell is given a model dir that does not exist, so only a check made before any
model load can produce the pairing error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from gfopt.app import execute
from gfopt.config import register_configs
from gfopt.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
ENGINES = ["ga", "memetic", "local_search", "cmaes", "genome", "genome_plus"]
PROBLEMS = ["tsp", "dag_topo", "llm_evo", "llm_evo_coefficients"]
REFUSED = {
    ("ga", "llm_evo"), ("ga", "llm_evo_coefficients"),
    ("cmaes", "tsp"), ("cmaes", "dag_topo"),
    ("genome", "tsp"), ("genome", "dag_topo"), ("genome", "llm_evo_coefficients"),
    ("genome_plus", "tsp"), ("genome_plus", "dag_topo"), ("genome_plus", "llm_evo_coefficients"),
}
SMALL_ENGINE = {
    "ga": ["engine.generations=2", "engine.population_size=4"],
    "memetic": ["engine.generations=2", "engine.population_size=4"],
    "local_search": ["engine.restarts=0"],
    "cmaes": ["budget.evaluations=12"],
    "genome": ["engine.generations=2", "engine.population_size=4"],
    "genome_plus": ["engine.generations=2", "engine.population_size=4", "engine.max_population=6"],
}


def problem_overrides(problem: str, toy: Path | None) -> list[str]:
    if problem == "tsp":
        return ["problem=tsp", "problem.cities=6"]
    if problem == "dag_topo":
        return ["problem=dag_topo", "problem.data.d=5", "problem.data.n=100"]
    base = str(toy / "base") if toy else "/nonexistent/base"
    experts = [str(toy / "experts" / f"e{i}") for i in range(3)] if toy else ["/nonexistent/a", "/nonexistent/b"]
    out = ["problem=llm_evo", f"problem.model.base={base}", f"problem.model.experts=[{','.join(experts)}]",
           f"+problem.tasks.rev.dir={toy / 'tasks' / 'rev' if toy else '/nonexistent/rev'}",
           "problem.target_tasks=[rev]", "problem.fitness.samples=20", "problem.batch_size=8", "problem.baselines=[]",
           "problem.threads=1", "budget.evaluations=12"]
    return out + (["problem.space=coefficients"] if problem == "llm_evo_coefficients" else [])


def composed(overrides: list[str]):
    register_configs()
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    pytest.importorskip("torch")
    from gfopt.problems.llm_evo.toy import build_toy

    return build_toy(tmp_path_factory.mktemp("toy"), n_experts=3, seed=0)


@pytest.mark.parametrize("problem", PROBLEMS)
@pytest.mark.parametrize("engine", ENGINES)
def test_every_pair_runs_or_is_refused_before_the_problem_is_built(engine, problem, tmp_path, request):
    refused = (engine, problem) in REFUSED
    toy = None if refused or not problem.startswith("llm_evo") else request.getfixturevalue("toy")
    cfg = composed([f"engine={engine}", *problem_overrides(problem, toy), *SMALL_ENGINE[engine], "progress=false"])
    if refused:
        with pytest.raises(ConfigError) as e:
            execute(cfg, tmp_path / "run", engine_name=engine)
        msg = str(e.value)
        assert "\n" not in msg and msg.startswith(f"engine={engine}: ") and " works on " in msg
        assert "(pick engine=" in msg and engine not in msg.split("(pick engine=")[1].split(", ")
        assert not (tmp_path / "run").exists()  # nothing was built or written
    else:
        execute(cfg, tmp_path / "run", engine_name=engine)
        res = json.loads((tmp_path / "run" / "result.json").read_text())
        assert res["engine"] == engine and res["evaluations"] > 0 and res["stopped_by"]
