"""Scoring: teacher-forced exact match agrees with real greedy generation; live swaps equal PEFT loading."""

import numpy as np
import pytest
import torch

from gfopt.problems.llm_evo.data import Sample
from gfopt.problems.llm_evo.models import load_model
from gfopt.problems.llm_evo.scoring import extract_answer, fitness_of, prepare, score, score_with_loss, vote


def test_teacher_forced_exact_equals_greedy_generation(toy_problem):
    p = toy_problem
    g = p.experts[1]
    samples = p.tasks["rev"].splits["test"] + p.tasks["inc"].splits["test"]
    gen = [a for a in (p.answers(g, "rev", "test", None) + p.answers(g, "inc", "test", None))]
    ended = [i for i, a in enumerate(gen) if a and not a.endswith("\u2026")]
    assert len(ended) >= 10
    # the model's own greedy outputs as gold: teacher forcing must call every one an exact match
    own = [Sample(samples[i].prompt, gen[i]) for i in ended]
    p.write(g)
    exact, partial = score(p.model, prepare(p.tokenizer, own, "generation", p.device, 8))
    assert exact.all() and np.allclose(partial, 1.0)
    # the real gold answers: teacher forcing and generation agree sample by sample
    exact, _ = score(p.model, prepare(p.tokenizer, samples, "generation", p.device, 8))
    assert exact.tolist() == [float(a == s.answer) for a, s in zip(gen, samples, strict=True)]
    # one changed answer character breaks the exact match
    changed = [Sample(s.prompt, s.answer[:-1] + ("0" if s.answer[-1] != "0" else "1")) for s in own]
    exact, partial = score(p.model, prepare(p.tokenizer, changed, "generation", p.device, 8))
    assert not exact.any() and (partial < 1).all()


def test_live_swap_equals_fresh_peft_load(toy_dir, toy_problem):
    p = toy_problem
    ids = torch.tensor([[1, 10, 11, 12, 13, 14]])
    p.write(p.experts[2])
    with torch.inference_mode():
        live = p.model(input_ids=ids).logits
    _, fresh = load_model(toy_dir / "base", toy_dir / "experts" / "e2", torch.device("cpu"), torch.float32)
    with torch.inference_mode():
        ref = fresh(input_ids=ids).logits
    torch.testing.assert_close(live, ref)


def test_merged_evaluation_scores_like_the_lora_branch(toy_dir, toy_problem):
    """Folding W0 + scaling*BA into the base weights (the fp32 default) gives the LoRA branch's scores."""
    from gfopt.problems.llm_evo.layout import LiveAdapter, LoraLayout

    p = toy_problem
    assert p.live.merged  # CPU fp32 default
    _, plain = load_model(toy_dir / "base", toy_dir / "experts" / "e0", torch.device("cpu"), torch.float32)
    live = LiveAdapter(plain, LoraLayout.from_model(plain), merged=False)
    rng = np.random.default_rng(0)
    samples = p.tasks["rev"].splits["test"] + p.tasks["inc"].splits["test"]
    prep = prepare(p.tokenizer, samples, "generation", p.device, 16)
    for g in [p.experts[1], p.random_merge([0, 1, 2], rng, layerwise=True)]:
        p.write(g)
        live.write(g)
        merged, lora = score(p.model, prep), score(plain, prep)
        np.testing.assert_array_equal(merged[0], lora[0])
        np.testing.assert_allclose(merged[1], lora[1])
    assert p.live.read().tobytes() == np.asarray(g, np.float32).tobytes()  # the LoRA tensors still hold the genome


def test_batching_and_padding_do_not_change_scores(toy_problem):
    p = toy_problem
    samples = p.tasks["rev"].splits["test"]
    p.write(p.experts[0])
    a = score(p.model, prepare(p.tokenizer, samples, "generation", p.device, 1))
    b = score(p.model, prepare(p.tokenizer, samples, "generation", p.device, 64))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_allclose(a[1], b[1])


def test_fitness_metrics_by_hand():
    exact, partial = np.array([1.0, 0.0, 0.0, 1.0]), np.array([1.0, 0.5, 0.0, 1.0])
    assert fitness_of(exact, partial, "exact", 0.2) == 0.5
    assert fitness_of(exact, partial, "partial", 0.2) == 0.625
    assert np.isclose(fitness_of(exact, partial, "blend", 0.2), (1 + 0.1 + 0 + 1) / 4)


def test_vote_breaks_ties_by_rank_not_label():
    assert vote([["a", "x"], ["b", "y"], ["b", "x"]]) == ["b", "x"]
    assert vote([["a"], ["b"]]) == ["a"]  # a tie goes to the best-ranked member


def test_extract_answer():
    assert extract_answer("Let me think.\nAnswer: 42\nmore", "answer") == "42"
    assert extract_answer(" 17 \n", "answer") == "17"
    assert extract_answer(" abc ", "eos") == "abc"


def test_multiple_choice_loglik_matches_unpadded_forward(toy_problem):
    from gfopt.problems.llm_evo.scoring import choice_loglik
    from gfopt.problems.llm_evo.text import encode_pair

    p = toy_problem
    p.write(p.experts[0])
    samples = [Sample("rev:12>", "21", choices=["21", "12", "9"], label=0),
               Sample("inc:305>", "416", choices=["416", "4", "4161"], label=0)]
    prep = prepare(p.tokenizer, samples, "multiple_choice", p.device, 2)
    ll = choice_loglik(p.model, prep)
    ref = []
    with torch.inference_mode():
        for s in samples:
            for c in s.choices:
                ids, start = encode_pair(p.tokenizer, s.prompt, c)
                logp = torch.log_softmax(p.model(input_ids=torch.tensor([ids])).logits[0].float(), -1)
                ref.append(sum(float(logp[j - 1, ids[j]]) for j in range(start, len(ids))))
    np.testing.assert_allclose(ll, ref, rtol=1e-4, atol=1e-4)
    exact, partial = score(p.model, prep)
    for i in range(2):
        cand = np.array(ref[3 * i:3 * i + 3])
        assert exact[i] == float(np.argmax(cand) == 0)
        assert partial[i] == pytest.approx(np.exp(cand[0]) / np.exp(cand).sum(), rel=1e-4)



def test_cross_entropy_of_gold_answers_matches_unpadded_forward(toy_problem, gold_cross_entropy):
    """LoraHub's objective term: the padded, batched loss equals a per-sample oracle, for generation and for
    multiple choice (where only the right choice counts), and the exact/partial scores are `score`'s."""
    p = toy_problem
    p.write(p.experts[1])
    gen = p.tasks["rev"].splits["test"][:7] + p.tasks["inc"].splits["test"][:5]
    prep = prepare(p.tokenizer, gen, "generation", p.device, 4)
    exact, partial, loss = score_with_loss(p.model, prep)
    assert loss == pytest.approx(gold_cross_entropy(p.model, p.tokenizer, gen), rel=1e-4)
    np.testing.assert_array_equal(np.stack([exact, partial]), np.stack(score(p.model, prep)))
    mc = [Sample("rev:12>", "12", choices=["21", "12", "9"], label=1),
          Sample("inc:305>", "416", choices=["416", "4", "4161"], label=0)]
    _, _, loss = score_with_loss(p.model, prepare(p.tokenizer, mc, "multiple_choice", p.device, 2))
    assert loss == pytest.approx(gold_cross_entropy(p.model, p.tokenizer, mc), rel=1e-4)
