"""`engine=genome_paper` / `genome_plus_paper`: the GENOME authors' settings compose and build as documented."""

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

REPO = Path(__file__).resolve().parents[2]


def _engine(name: str):
    from gfopt.config import register_configs

    register_configs()
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=["problem=llm_evo", f"engine={name}"])
    return cfg, instantiate(cfg.engine, _convert_="object")


def test_genome_paper_preset():
    cfg, eng = _engine("genome_paper")
    assert (eng.population_size, eng.max_population, eng.patience) == (10, None, 5)
    assert eng.selection.replace is False and eng.selection.tournament_size == 3
    assert (eng.mutation.sigma, eng.mutation.gene_rate, eng.individual_mutation_rate) == (0.01, 0.01, 0.15)
    assert eng.crossover.concentration is None and not eng.crossover.layerwise
    assert cfg.problem.memory.population_size == 10  # the memory plan reads the engine's sizes


def test_genome_plus_paper_preset():
    cfg, eng = _engine("genome_plus_paper")
    assert (eng.population_size, eng.max_population, eng.patience) == (10, 20, 5)
    assert (eng.mutation.sigma, eng.mutation.gene_rate, eng.individual_mutation_rate) == (0.05, 0.1, 0.3)
    assert eng.succession.extremes == "ever" and eng.crossover.concentration is None
    assert cfg.problem.memory.max_population == 20


@pytest.mark.parametrize("name", ["genome", "genome_plus"])
def test_tuned_presets_keep_their_choices(name):
    _, eng = _engine(name)
    assert eng.population_size == 20 and eng.crossover.layerwise
    if name == "genome":
        assert eng.selection.replace  # tournaments with repeats; engine.selection.replace=false avoids copies
    else:
        assert eng.succession.extremes == "population"
