"""Genomes in the adapters' dtype, memory-mapped past a host budget, and the plan logged before the run."""

import logging

import numpy as np
import pytest

from gfopt.core.engine import Budget, run
from gfopt.core.evolution import PopulationEngine
from gfopt.core.operators.real import GaussianMask
from gfopt.core.operators.selection import EliteRoulette
from gfopt.core.operators.succession import ParticleSwarm
from gfopt.problems.llm_evo.memory import GenomeStore, numpy_dtype
from gfopt.problems.llm_evo.operators import LoraMerge
from gfopt.problems.llm_evo.problem import LlmEvoProblem
from gfopt.problems.llm_evo.toy import toy_kwargs


def _engine():
    return PopulationEngine(4, EliteRoulette(), LoraMerge("linear", layerwise=True, concentration=20.0),
                            GaussianMask(0.1, 0.05), ParticleSwarm(extremes="ever"), individual_mutation_rate=0.3,
                            max_population=6, generations=3)


def test_store_casts_and_maps(tmp_path):
    bf16 = numpy_dtype("bfloat16")
    x = np.linspace(-1, 1, 101, dtype=np.float32)
    ram = GenomeStore(101, bf16).new(x)
    mapped = GenomeStore(101, bf16, tmp_path).new(x)
    assert ram.dtype == mapped.dtype == bf16 and isinstance(mapped, np.memmap) and not isinstance(ram, np.memmap)
    assert ram.tobytes() == mapped.tobytes() and np.abs(np.asarray(ram, np.float32) - x).max() < 4e-3
    assert list(tmp_path.iterdir()) == []  # unlinked at once: the file goes with the genome


def test_bf16_memory_mapped_population_runs_like_float32(toy_dir, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="gfopt.llm_evo"):
        p16 = LlmEvoProblem(**toy_kwargs(toy_dir, memory={"genome_dtype": "bfloat16", "host_gb": 1e-9,
                                                          "dir": str(tmp_path), "max_population": 6}))
    assert "memory plan" in caplog.text and "memory-mapped" in caplog.text
    plan = p16.memory_plan
    assert plan.mapped and plan.adapter_bytes == 2 * p16.layout.size
    assert plan.population_bytes == 15 * plan.adapter_bytes  # 2.5 x max_population genomes
    assert p16.experts.dtype == numpy_dtype("bfloat16")
    r = run(p16, _engine(), np.random.default_rng(5), Budget())
    assert r.evaluations > 10
    for g in r.population:  # every genome of the final population: bf16 and memory-mapped
        assert g.dtype == numpy_dtype("bfloat16") and isinstance(g, np.memmap)
    # a genome's fitness does not depend on where it lives: the same values in float32 in RAM score the same
    p32 = LlmEvoProblem(**toy_kwargs(toy_dir))
    assert not p32.memory_plan.mapped and p32.experts.dtype == np.float32
    f = p32.evaluate([np.asarray(g, np.float32) for g in r.population])
    np.testing.assert_allclose(f, r.fitness, atol=1e-6)


def test_bad_genome_dtype_is_one_line():
    from gfopt.core.config import ConfigError
    from gfopt.problems.llm_evo.config import LlmEvoConfig, MemoryConfig

    with pytest.raises(ConfigError, match="problem.memory.genome_dtype"):
        LlmEvoConfig(memory=MemoryConfig(genome_dtype="int8"))


def test_bf16_genomes_survive_a_checkpoint_into_the_store(toy_dir, tmp_path):
    from gfopt.core.checkpoint import load_state, save_state

    p = LlmEvoProblem(**toy_kwargs(toy_dir, memory={"genome_dtype": "bfloat16", "host_gb": 1e-9,
                                                    "dir": str(tmp_path / "pop")}))
    g = p.initial(4, np.random.default_rng(0))[-1]
    save_state({"genomes": [p.space.to_array(g)]}, tmp_path / "c.npz")
    back = p.space.from_array(load_state(tmp_path / "c.npz")["genomes"][0])
    assert back.dtype == g.dtype and back.tobytes() == g.tobytes() and isinstance(back, np.memmap)
