"""pMF: the authors' parameter names load strictly, one-step generation regenerates exactly,
and every new architecture's hook reads the MLP's hidden units at every token."""

import dataclasses

import pytest
import torch
import transformers

from empirics.capture.generated import generated_images, generated_pair_source
from empirics.capture.pair import prefix_tokens, tower_forward
from empirics.models.hooks import capture_mlp, layer_widths
from empirics.models.load import LoadedModel, load_model
from empirics.models.missing import MissingModelError
from empirics.models.pmf import CheckpointKeyError, PixelMeanFlow, generate, image_noise
from empirics.models.pmf_net import apply_rope, rope_tables
from empirics.models.registry import get_spec
from tests.empirics.tiny_models import save_dinov3, tiny_eva, tiny_pmf


def _loaded_pmf(model) -> LoadedModel:
    spec = dataclasses.replace(get_spec("pmf-b-16"), name="tiny-pmf", n_params=0,
                               d_mlp=model.config.d_mlp, n_layers=model.config.depth)
    return LoadedModel(spec, model, model.config, "pmf_dit", "random", {"name": "tiny-pmf"})


def _tokens(loaded: LoadedModel, batch: int = 2):
    """Every layer's captured (batch, tokens, width) tensor of one forward pass."""
    with capture_mlp(loaded.model, loaded.architecture) as captured:
        if loaded.architecture == "pmf_dit":
            generate(loaded.model, range(batch), seed=0)
        else:
            size = 28 if loaded.architecture == "open_clip_eva" else 32
            tower_forward(loaded, torch.randn(batch, 3, size, size))
        return captured.activations((batch, -1))


@pytest.mark.parametrize("architecture", ["pmf_dit", "dinov3_vit", "dinov3_gated",
                                          "open_clip_eva"])
def test_the_hook_reads_the_hidden_units_at_every_token(tmp_path, architecture):
    """Hook width = the MLP's hidden width and tokens = prefix + grid^2: hooking a block's
    input or an input projection instead would give the model width or other tokens."""
    if architecture == "pmf_dit":
        loaded = _loaded_pmf(tiny_pmf()[0])
        hidden, grid, prefix = int(32 * 8 / 3), 4, 20
    elif architecture == "open_clip_eva":
        loaded = tiny_eva()
        hidden, grid, prefix = loaded.model.trunk.blocks[0].mlp.fc1.out_features, 2, 1
    else:
        folder = save_dinov3(tmp_path / "dinov3", gated=architecture == "dinov3_gated")
        config = transformers.AutoConfig.from_pretrained(folder)
        spec = dataclasses.replace(get_spec("dinov3-vits16"), n_params=0, d_mlp=48,
                                   n_layers=2, config_items=())
        loaded = load_model(spec, path=folder)
        hidden, grid, prefix = config.intermediate_size, 4, 1 + config.num_register_tokens
        assert prefix == 5 and loaded.architecture == "dinov3_vit"
    assert prefix_tokens(loaded) == prefix
    tokens = _tokens(loaded)
    assert [x.shape[-1] for x in tokens] == layer_widths(loaded.model) == [hidden] * len(tokens)
    assert {x.shape[1] for x in tokens} == {prefix + grid * grid}
    model_width = {"pmf_dit": 32, "open_clip_eva": 28}.get(architecture, 32)
    assert hidden != model_width


def test_the_generator_reads_shared_blocks_then_the_u_head():
    model, _ = tiny_pmf()
    modules = [id(m) for m in __import__("empirics.models.hooks", fromlist=["x"]).mlp_modules(
        model, "pmf_dit")]
    blocks = [*model.net.shared_blocks, *model.net.u_heads]
    assert modules == [id(b.mlp.w2._flax_linear) for b in blocks] and len(modules) == 4


def test_rope_equals_the_authors_complex_rotation():
    head_dim, n_patches = 16, 16
    tables = rope_tables(head_dim, n_patches)
    dim, side = head_dim // 2, 4  # pmfDiT.precompute_rope_freqs, written out as the authors do
    freqs = 1.0 / (10000.0 ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))
    rows = torch.einsum("i,j->ij", torch.arange(side, dtype=torch.float32), freqs)
    grid = torch.cat([torch.tile(rows[:, None, :], (1, side, 1)),
                      torch.tile(rows[None, :, :], (side, 1, 1))], dim=-1).reshape(n_patches,
                                                                                     dim)
    cis = torch.complex(torch.cos(grid), torch.sin(grid))
    x = torch.randn(2, 20 + n_patches, 3, head_dim)
    z = torch.view_as_complex(x.clone().reshape(*x.shape[:-1], -1, 2))
    z[:, -n_patches:] = z[:, -n_patches:] * cis[None, :, None]
    expected = torch.view_as_real(z).flatten(-2)
    assert torch.allclose(apply_rope(x, tables), expected, atol=1e-6)


def test_a_fresh_pmf_generates_zeros_and_the_tiny_one_does_not():
    fresh = PixelMeanFlow(tiny_pmf()[0].config).eval()
    assert torch.count_nonzero(generate(fresh, range(2), seed=0)) == 0
    images = generate(tiny_pmf()[0], range(4), seed=0)
    assert images.std() > 0.1 and not torch.allclose(images[0], images[1])


def test_images_are_regenerated_exactly_whatever_the_batching():
    model, _ = tiny_pmf()
    whole = generate(model, range(6), seed=3)
    again = generate(model, range(6), seed=3)
    parts = torch.cat([generate(model, range(i, i + 2), seed=3) for i in (0, 2, 4)])
    assert torch.equal(whole, again)
    assert torch.allclose(whole, parts, atol=1e-5)
    assert torch.equal(image_noise([4], seed=3, config=model.config),
                       image_noise(range(6), seed=3, config=model.config)[4:5])
    assert not torch.equal(generate(model, range(2), seed=4), whole[:2])


def test_every_pass_of_a_generated_pair_yields_the_same_stream(tmp_path):
    generator = _loaded_pmf(tiny_pmf()[0])
    tower = tiny_eva()
    pair = generated_pair_source(generator, tower, generated_images(6, seed=1),
                                 images_per_batch=4)
    first, second = list(pair.source()), list(pair.source())
    assert len(first) == pair.n_batches == 2
    for (a1, b1), (a2, b2) in zip(first, second):
        assert torch.equal(a1, a2) and torch.equal(b1, b2)
    assert first[0][0].shape == (4 * 16, 4 * 85) and first[0][1].shape == (4 * 16, 2 * 240)
    assert pair.manifest["target_grid"] == [4, 4]
    assert pair.manifest["tower_input"]["size"] == [28, 28]
    assert pair.render(0).size == (32, 32)


def test_a_state_dict_loads_key_for_key_and_a_wrong_one_is_refused(tmp_path):
    model, file = tiny_pmf(tmp_path)
    spec = dataclasses.replace(get_spec("pmf-b-16"), name="tiny-pmf", n_params=0, d_mlp=85,
                               n_layers=4, config_items=tuple(sorted(dict(
                                   model.config.__dict__, file=file.name).items())))
    loaded = load_model(spec, path=tmp_path)
    assert torch.equal(generate(loaded.model, range(3), seed=0), generate(model, range(3), seed=0))
    state = torch.load(file, weights_only=True)
    released = dict(state)  # as the authors' files may hold them: the v head, a complex rope
    released["net.v_heads.0.norm1.weight"] = torch.ones(32)
    released["net.rope_freqs"] = torch.view_as_complex(model.net.rope_freqs.contiguous())
    torch.save(released, tmp_path / "released.pt")
    assert load_model(spec, path=tmp_path / "released.pt").identity["unused_keys"] == 1
    for name, broken in (("missing", {k: v for k, v in state.items() if "w3" not in k}),
                         ("unexpected", state | {"net.extra.weight": torch.ones(1)}),
                         ("misshapen", state | {"net.pos_embed": torch.zeros(1, 3, 32)})):
        torch.save(broken, tmp_path / f"{name}.pt")
        with pytest.raises(CheckpointKeyError, match=name):
            load_model(spec, path=tmp_path / f"{name}.pt")


def test_a_missing_checkpoint_names_the_file_and_the_flags(tmp_path):
    with pytest.raises(MissingModelError) as error:
        load_model(get_spec("pmf-l-32"), cache_dir=tmp_path)
    message = str(error.value)
    for part in ("pMF-L-32.pt", "Lyy0725/pMF", "hf download Lyy0725/pMF pMF-L-32.pt",
                 "--path-a", "--cache-dir", "--download", str(tmp_path)):
        assert part in message
    with pytest.raises(MissingModelError, match="pMF-B-16.pt"):
        load_model(get_spec("pmf-b-16"), path=tmp_path)
