"""Find and load a pMF checkpoint: a local ``.pt`` file (or a folder holding the spec's file)
or the file in the Hugging Face cache (repository Lyy0725/pMF), read with
``torch.load(weights_only=True)`` into `empirics.models.pmf.PixelMeanFlow` with strict key
checks; or the untrained twin at the same configuration.

Notes
-----
The network is implemented in this package (`empirics.models.pmf_net`) rather than imported
from a clone of the authors' repository: a clone's code would run from outside the package
(its ``sys.path`` entry, its import of cv2 and of its own distributed helpers), its eval-mode
load is ``strict=False`` (a wrong file would load silently), and the untrained null needs the
network without weights. The names of its parameters are the authors', so their files load
key for key.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import torch

from empirics.models.adapters import Loader
from empirics.models.contents import file_identity
from empirics.models.loaded import LoadedModel
from empirics.models.missing import MissingModelError, in_hub_cache, missing_message
from empirics.models.pmf import (
    ARCHITECTURE,
    PREFIX_TOKENS,
    ROPE_KEY,
    UNUSED_PREFIXES,
    PixelMeanFlow,
    PmfConfig,
    load_state,
    randomise_zero_init,
)
from empirics.models.registry import PMF, ModelSpec

SAMPLING = ("noise_scale", "omega", "t_min", "t_max")
#: The authors' sampling defaults (Lyy-iiis/pMF `evaluate.py`: the B/16 settings).
DEFAULT_SAMPLING = dict(noise_scale=1.0, omega=7.5, t_min=0.1, t_max=0.8)


def checkpoint_name(spec: ModelSpec) -> str:
    """The spec's file in its hub repository (``pMF-B-16.pt``)."""
    name = spec.config.get("file")
    if not name:
        raise ValueError(f"{spec.name}: a pMF spec names its checkpoint file (config 'file')")
    return name


def pmf_checkpoint(spec: ModelSpec, path: str | Path | None, download: bool,
                   cache_dir: str | Path | None) -> Path:
    """The checkpoint file to load: `path` (a file, or a folder with the spec's file), else
    the hub cache's copy (downloaded only with `download`); `MissingModelError` otherwise."""
    name = checkpoint_name(spec)
    if path is not None:
        path = Path(path)
        found = path / name if path.is_dir() else path
        if not found.is_file():
            raise MissingModelError(missing_message(spec, [name], str(path),
                                                    cache_dir=cache_dir,
                                                    repo=f"{spec.hf_id} {name}"))
        return found
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(hf_hub_download(spec.hf_id, name, local_files_only=not download,
                                    cache_dir=cache_dir))
    except LocalEntryNotFoundError:
        raise MissingModelError(missing_message(spec, [name],
                                                f"{in_hub_cache(cache_dir)}, repo {spec.hf_id}",
                                                cache_dir=cache_dir,
                                                repo=f"{spec.hf_id} {name}")) from None


def config_digest(spec: ModelSpec) -> str:
    """sha256 (16 hex digits) of the spec's configuration, sampling settings included."""
    text = json.dumps(spec.config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_pmf(spec: ModelSpec, *, path=None, init: str = "pretrained",
             dtype: torch.dtype = torch.float32, device="cpu", download: bool = False,
             cache_dir=None, seed: int = 0) -> tuple[PixelMeanFlow, dict]:
    """The model in eval mode on `device` and its identity.

    ``init="random"`` builds the configuration with weights from `seed` and draws the
    parameters pMF initialises to zero (`randomise_zero_init`), so that its images vary.
    """
    config = PmfConfig.from_items(spec.config)
    identity = dict(name=spec.name, loader="pmf", init=init, dtype=str(dtype),
                    config=config_digest(spec))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = PixelMeanFlow(config)
    if init == "random":
        randomise_zero_init(model, torch.Generator().manual_seed(seed))
        identity |= {"seed": seed, "zero_init": "drawn"}
    else:
        file = pmf_checkpoint(spec, path, download, cache_dir)
        state = torch.load(file, map_location="cpu", weights_only=True)
        identity |= {"source": str(file), **load_state(model, state, str(file))}
    return model.to(device=device, dtype=dtype).eval(), identity


def load_generator(spec: ModelSpec, path, *, init, dtype, device, placement, download,
                   cache_dir, seed) -> LoadedModel:
    """`load_pmf` as a loader: the generator, its configuration as its processor (one
    device; `placement` does not apply)."""
    model, identity = load_pmf(spec, path=path, init=init, dtype=dtype, device=device,
                               download=download, cache_dir=cache_dir, seed=seed)
    return LoadedModel(spec, model, model.config, ARCHITECTURE.name, init, identity)


def pmf_identity(spec: ModelSpec, path, *, init: str, download: bool, cache_dir) -> dict:
    """What the pMF loader would read: the configuration's digest (sampling settings
    included) and, trained, the checkpoint file."""
    identity = {"config": config_digest(spec)}
    if init == "random":
        return identity
    file = pmf_checkpoint(spec, path, download, cache_dir)
    return identity | {"files": {file.name: file_identity(file)}}




def spec_from_pmf_file(name: str, file: Path) -> ModelSpec:
    """The `ModelSpec` of a pMF state dict outside the registry, its configuration read from
    the shapes of its tensors (width, depth, heads from the query norm, patch, grid, classes).

    The sampling settings are not in the file: those of the registry's pMF of the same
    width, depth and patch are taken, else the authors' defaults (their `evaluate.py`);
    either way they go into the spec's configuration, hence the record's identity and its
    capture manifest.
    """
    state = {k.removeprefix("net."): v
             for k, v in torch.load(file, map_location="meta", weights_only=True).items()}
    try:
        d_model = state["pos_embed"].shape[-1]
        patch = state["x_embedder.proj1.weight"].shape[-1]
        grid = math.isqrt(state["pos_embed"].shape[1] - PREFIX_TOKENS)
        items = dict(image_size=grid * patch, patch_size=patch, d_model=d_model,
                     depth=len(_block_names(state)),
                     n_heads=d_model // state["shared_blocks.0.attn.q_norm.weight"].shape[0],
                     head_depth=len(_block_names(state, "u_heads")),
                     n_classes=state["y_embedder.embedding_table._flax_embedding.weight"]
                     .shape[0] - 1)
    except KeyError as error:
        raise ValueError(f"{file} is not a pMF state dict (no {error.args[0]})") from None
    same = [s for s in PMF if (s.config["d_model"], s.config["depth"], s.config["patch_size"])
            == (items["d_model"], items["depth"], items["patch_size"])]
    sampling = {k: same[0].config[k] for k in SAMPLING} if same else DEFAULT_SAMPLING
    config = PmfConfig(**items, **sampling)
    items |= sampling | {"file": file.name}
    n_params = sum(v.numel() for k, v in state.items()
                   if k != ROPE_KEY and not k.startswith(UNUSED_PREFIXES))
    return ModelSpec(name=name, family="local", kind="vision", loader="pmf",
                     n_params=n_params, d_mlp=config.d_mlp, n_layers=config.depth,
                     architecture="pmf_dit", config_items=tuple(sorted(items.items())),
                     prefix_tokens=PREFIX_TOKENS)


def _block_names(state: dict, group: str | None = None) -> set[str]:
    """The blocks ("shared_blocks.3", ...) of a state dict, or of one group of them."""
    groups = (group,) if group else ("shared_blocks", "u_heads")
    return {".".join(k.split(".")[:2]) for k in state if k.split(".")[0] in groups}


LOADER = Loader(name="pmf", load=load_generator, identity=pmf_identity, file_suffixes=(".pt",),
                spec_from_file=spec_from_pmf_file)
