"""The unigram baseline: add-one smoothed token frequencies, scored on exactly the held-out
tokens a model's held-out loss scores."""

import numpy as np
import pytest

from empirics.analysis.unigram import scored_targets, unigram_counts, unigram_loss


def test_add_one_smoothing_over_the_vocabulary():
    counts = unigram_counts([np.array([0, 0, 1]), np.array([0])], vocab=4, eos=3)
    assert counts.tolist() == [3, 1, 0, 2]
    # p = (c + 1) / (6 + 4): a token never seen in training costs log(10), not infinity
    assert unigram_loss(counts, np.array([0, 2])) == pytest.approx(
        -(np.log(4 / 10) + np.log(1 / 10)) / 2)


def test_the_baseline_is_the_entropy_of_the_token_frequencies(rng):
    p = rng.dirichlet(np.ones(50))
    train, heldout = rng.choice(50, size=(2, 200_000), p=p)
    counts = unigram_counts([train], vocab=50, eos=None)
    assert unigram_loss(counts, heldout) == pytest.approx(-(p * np.log(p)).sum(), abs=0.01)
    with pytest.raises(ValueError, match="no held-out tokens"):
        unigram_loss(counts, np.zeros(0, dtype=np.int64))


def test_the_scored_tokens_are_those_the_held_out_loss_predicts():
    """The held-out loss of a model (empirics.pipeline.train.heldout_loss) is its mean
    cross-entropy on `scored_targets`, so the baseline and the model are scored alike."""
    import torch
    import transformers

    from empirics.pipeline.train import heldout_loss

    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=40, n_embd=8, n_layer=1, n_head=2,
                                     n_positions=16)
    model = transformers.GPT2LMHeadModel(config).eval()
    tokens = np.random.default_rng(1).integers(0, 40, size=5 * 9 + 4)
    context = 8
    targets = scored_targets(tokens, context).reshape(5, context - 1)
    windows = torch.from_numpy(tokens[:5 * 9].reshape(5, 9))
    with torch.no_grad():
        logits = model(windows[:, :context]).logits[:, :context - 1].log_softmax(-1)
    manual = -logits.gather(-1, torch.from_numpy(targets)[..., None]).mean().item()
    assert heldout_loss(model, tokens, context, "cpu") == pytest.approx(manual, rel=1e-5)
