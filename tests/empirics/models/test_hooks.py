"""MLP neuron capture on every architecture: the right tensor, every layer, hooks removed."""

import pytest
import torch
import transformers

from empirics.models.hooks import architecture_of, capture_mlp, layer_widths, mlp_modules
from tests.empirics.tiny_models import tiny_config, tiny_open_clip

TEXT = ("gpt2", "opt", "gpt_neox", "qwen2")


def _text_model(architecture):
    torch.manual_seed(0)
    return transformers.AutoModelForCausalLM.from_config(tiny_config(architecture)).eval()


def _vision_model(architecture):
    torch.manual_seed(0)
    return transformers.Dinov2Model(tiny_config(architecture)).eval()


def _mlps(model, architecture):
    """The MLP block of every layer (the module that owns the output projection)."""
    names = dict(model.named_modules())
    owners = []
    for projection in mlp_modules(model, architecture):
        name = next(n for n, m in names.items() if m is projection)
        owners.append(names[name.rsplit(".", 1)[0]])
    return owners


def _expected(owner, architecture, x):
    """The neuron vector recomputed from an MLP's input, by each architecture's formula."""
    if architecture in ("qwen2", "dinov2_swiglu"):
        return owner.act_fn(owner.gate_proj(x)) * owner.up_proj(x)
    if architecture == "opt":
        return owner.activation_fn(owner.fc1(x))
    if architecture == "gpt2":
        return owner.act(owner.c_fc(x))
    if architecture == "gpt_neox":
        return owner.act(owner.dense_h_to_4h(x))
    return owner.activation_fn(owner.fc1(x))  # DINOv2 MLP


def _mlp_inputs(model, architecture, run):
    """Run `run()` recording every MLP's input (OPT: the input of fc1)."""
    owners = _mlps(model, architecture)
    targets = [o.fc1 for o in owners] if architecture == "opt" else owners
    seen, handles = [], []
    for target in targets:
        handles.append(target.register_forward_pre_hook(lambda m, i: seen.append(i[0])))
    try:
        run()
    finally:
        for handle in handles:
            handle.remove()
    return owners, seen


@pytest.mark.parametrize("architecture", TEXT + ("dinov2", "dinov2_swiglu"))
def test_captured_tensor_is_the_post_nonlinearity_neuron(architecture):
    text = architecture in TEXT
    model = _text_model(architecture) if text else _vision_model(architecture)
    assert architecture_of(model) == architecture
    inputs = ({"input_ids": torch.randint(0, 300, (2, 5))} if text
              else {"pixel_values": torch.randn(2, 3, 56, 56)})
    batch = (2, 5) if text else (2, 17)
    with torch.no_grad(), capture_mlp(model) as captured:
        owners, seen = _mlp_inputs(model, architecture, lambda: model(**inputs))
        layers = captured.activations(batch)
    assert [x.shape[-1] for x in layers] == layer_widths(model) and len(layers) == 2
    for owner, x, got in zip(owners, seen, layers):
        want = _expected(owner, architecture, x).reshape(*batch, -1)
        torch.testing.assert_close(got, want)


def test_opt_flattened_layers_are_restored_to_batch_and_tokens():
    model = _text_model("opt")
    with torch.no_grad(), capture_mlp(model) as captured:
        model(input_ids=torch.randint(0, 300, (3, 4)))
    assert captured.layers[0].shape == (12, 64)
    assert captured.activations((3, 4))[0].shape == (3, 4, 64)


def test_open_clip_vit_and_storage_dtype():
    loaded = tiny_open_clip()
    with torch.no_grad(), capture_mlp(loaded.model, dtype=torch.float16) as captured:
        loaded.model(torch.randn(2, 3, 48, 48))
    layers = captured.activations((2, -1))
    assert [tuple(x.shape) for x in layers] == [(2, 10, 128)] * 2  # CLS + 3x3 patches
    assert all(x.dtype == torch.float16 for x in layers)
    assert architecture_of(loaded.model) == "open_clip_vit"


def _hook_count(model):
    return sum(len(m._forward_pre_hooks) + len(m._forward_hooks) for m in model.modules())


def test_hooks_are_removed_even_on_exception():
    model = _text_model("gpt2")
    before = _hook_count(model)
    with pytest.raises(RuntimeError, match="inside"):
        with capture_mlp(model):
            assert _hook_count(model) == before + 2
            raise RuntimeError("failure inside the block")
    assert _hook_count(model) == before


def test_missing_layers_and_unknown_architectures_raise():
    model = _text_model("gpt2")
    with capture_mlp(model) as captured:
        pass
    with pytest.raises(RuntimeError, match="did not run"):
        captured.activations((1, 1))
    with pytest.raises(ValueError, match="empirics.models.architectures"):
        architecture_of(torch.nn.Linear(2, 2))
