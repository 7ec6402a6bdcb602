"""`problem.init.anchor`: one start in place of the last (the shared adapter, or the experts' element-wise mean),
the other starts unchanged; off by default; a bad value or a missing shared adapter is one clear error."""

import numpy as np
import pytest
from safetensors.numpy import load_file

from gfopt.errors import ConfigError, InputError
from gfopt.problems.llm_evo.config import InitConfig, LlmEvoConfig


def test_default_has_no_anchor(toy_problem):
    assert toy_problem.init_cfg["anchor"] == "none"


@pytest.mark.parametrize("n", [2, 5])
def test_anchor_replaces_the_last_start_and_leaves_the_others(toy_problem, n):
    plain = toy_problem.initial(n - 1, np.random.default_rng(3))
    for anchor in ("shared", "mean"):
        pop = toy_problem.view(init={"anchor": anchor}).initial(n, np.random.default_rng(3))
        assert len(pop) == n
        for got, want in zip(pop[:-1], plain, strict=True):
            np.testing.assert_array_equal(got, want)


def test_shared_anchor_is_the_shared_adapter_file(toy_dir, toy_problem):
    """Oracle: the saved shared adapter's entries, read straight from safetensors; the genome holds the same
    values in its own layout order, so the sorted values agree."""
    a = toy_problem.view(init={"anchor": "shared"}).initial(3, np.random.default_rng(0))[-1]
    saved = load_file(str(toy_dir / "adapters" / "shared" / "adapter_model.safetensors"))
    want = sorted(np.concatenate([v.astype(np.float64).ravel() for v in saved.values()]))
    np.testing.assert_allclose(sorted(np.asarray(a, np.float64)), want, rtol=1e-6, atol=1e-7)


def test_mean_anchor_is_the_experts_mean(toy_problem):
    a = toy_problem.view(init={"anchor": "mean"}).initial(3, np.random.default_rng(0))[-1]
    e = toy_problem.experts.astype(np.float64)
    want = sum(e[k] for k in range(len(e))) / len(e)
    np.testing.assert_allclose(np.asarray(a, np.float64), want, rtol=1e-6, atol=1e-7)


def test_shared_anchor_without_a_shared_adapter_is_an_input_error(toy_dir):
    from gfopt.problems.llm_evo.problem import LlmEvoProblem
    from gfopt.problems.llm_evo.toy import toy_kwargs

    kw = toy_kwargs(toy_dir, init={"anchor": "shared"})
    kw["model"] = {**kw["model"], "shared_adapter": None}
    with pytest.raises(InputError, match=r"problem\.init\.anchor.*mean"):
        LlmEvoProblem(**kw)


def test_bad_anchor_is_a_one_line_config_error():
    with pytest.raises(ConfigError) as e:
        LlmEvoConfig(init=InitConfig(anchor="zero"))
    assert "problem.init.anchor" in str(e.value) and "\n" not in str(e.value)
