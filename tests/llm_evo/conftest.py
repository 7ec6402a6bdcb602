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


def _gold_cross_entropy(model, tokenizer, samples):
    """Oracle: mean negative log-likelihood per gold answer token (and eos) over the samples, one unpadded forward
    per sample (for multiple choice, of the right choice)."""
    from gfopt.problems.llm_evo.text import encode_pair

    nll, count = 0.0, 0
    with torch.inference_mode():
        for s in samples:
            ids, start = encode_pair(tokenizer, s.prompt, s.answer)
            logp = torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0].float(), -1)
            nll -= sum(float(logp[j - 1, ids[j]]) for j in range(start, len(ids)))
            count += len(ids) - start
    return nll / count


@pytest.fixture(scope="session")
def gold_cross_entropy():
    """The unpadded cross-entropy oracle (a fixture: test modules are imported without a package)."""
    return _gold_cross_entropy
