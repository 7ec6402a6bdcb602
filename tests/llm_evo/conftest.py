"""A throwaway tiny model + experts + tasks on disk (seconds), so backend tests never wait for the zoo."""

import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def toy_dir(tmp_path_factory):
    from gfopt.problems.llm_evo.toy import build_toy

    return build_toy(tmp_path_factory.mktemp("toy"), n_experts=3, seed=0)


@pytest.fixture(scope="session")
def toy_problem(toy_dir):
    from gfopt.problems.llm_evo.problem import LlmEvoProblem
    from gfopt.problems.llm_evo.toy import toy_kwargs

    return LlmEvoProblem(**toy_kwargs(toy_dir))
