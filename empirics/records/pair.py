"""What the records of a matched pair share, and the interface of a point of a scaling series.

`PairSizes` gives a record with a pair's fields (family, both models, their parameter counts
`size_*` and neuron counts `n_neurons_*`, the null) its size N: the geometric mean of the
two models' neurons or parameters (so a pair of equal models has N equal to either). It is
the one definition of N used by the bridge's fits, the trends and the figures, and the
fraction R/N divides by this same N everywhere (`rosetta_fraction`: the match table, the
bridge's table and its R(N)/N panel), so a pair's R/N is one number wherever it is printed.

`ScalingPoint` is what the bridge fits: one count at one size of a family. A `MatchRecord`
is one (R at the pair's N); an `AnchorRecord` is one (the anchors at the geometric mean of
the anchor's size and the others'). Torch-free.
"""

from __future__ import annotations

import json
from typing import Protocol, runtime_checkable

import numpy as np

from empirics.records.toy import is_toy_pair, toy_network_identity, toy_series_key

#: How N is measured: the pair's MLP neurons, or its parameters.
SIZES = ("neurons", "params")


def geometric_mean(values) -> float:
    """The geometric mean of positive sizes (of two models: the size of their pair)."""
    values = np.asarray(values, dtype=float)
    if values.size == 0 or np.any(values <= 0):
        raise ValueError(f"sizes must be positive to form a pair size, got {values.tolist()}")
    return float(np.exp(np.mean(np.log(values))))


def check_size(size: str) -> str:
    if size not in SIZES:
        raise ValueError(f"size must be one of {SIZES}, got {size!r}")
    return size


#: Options of a pair's run that change none of its numbers: where weights came from, the
#: examples kept beside the match, the activation cache; and what the record restates of its
#: models' training (held-out loss, unigram baseline: `training`), which their files fix.
UNCOUNTED = ("download", "cache_dir", "cache_activations", "examples", "training")
#: Keys of a real pair's config that are not part of its series: the models and their files
#: (the size axis), the seed, the null kind, what the engine states of its result (its
#: `guarantee`: counts of one pair), and the extras that change no number (input ids: their
#: sha256 stays; `UNCOUNTED`).
PAIR_ONLY = ("model_a", "model_b", "width", "weights", "capture", "inputs", "seed", "init", "null",
             "guarantee", *UNCOUNTED)


#: The files of a checkpoint that make its network: the weights (as
#: `empirics.models.contents.WEIGHT_SUFFIXES`) and the architecture's configuration; tokenizer,
#: training log and model card do not change the network.
NETWORK_SUFFIXES = (".safetensors", ".bin", ".pth", ".pt")
NETWORK_FILES = ("config.json",)


def network_identity(config: dict, side: int) -> str | None:
    """Which network model A (`side` 0) or B (1) of a pair's config is, as canonical JSON,
    equal for the same network under another name; None when the config does not say.

    A trained model is its weight files and configuration (their content identities in
    `config["weights"]`, docs/matching.md "Identity"), or the repo id or tag it is fetched
    by. An untrained model is its configuration and the seed its weights were drawn from
    (`init_seed` in its weights' identity; in records made before it, the loaded model's
    identity in the capture manifest). A toy net is its sweep's settings,
    its width and its seed. Records made before pairs kept their weights' identity (no
    "weights"), and untrained models whose drawing seed is not stated, give None.
    """
    if is_toy_pair(config):
        return toy_network_identity(config, side)
    weights = config.get("weights")
    if not weights:
        return None
    entry = weights[side]
    network = {k: v for k, v in entry.items() if k not in ("name", "tokenizer", "files")}
    network["files"] = {name: digest for name, digest in entry.get("files", {}).items()
                        if name.endswith(NETWORK_SUFFIXES)
                        or name.rsplit("/", 1)[-1] in NETWORK_FILES}
    if entry.get("init") == "random" and "init_seed" not in entry:  # made before init_seed
        loaded = (config.get("capture") or {}).get(f"model_{'ab'[side]}") or {}
        if loaded.get("seed") is None:
            return None
        network["init_seed"] = loaded["seed"]
    return json.dumps(network, sort_keys=True)


def series_of(config: dict) -> dict:
    """The series key of a pair's config (real or toy: see `ScalingPoint.series_key`)."""
    if is_toy_pair(config):
        return toy_series_key(config)
    return {k: v for k, v in config.items() if k not in PAIR_ONLY}


def rosetta_fraction(count: float, size: float) -> float:
    """R/N: a count over its pair's N (`PairSizes.pair_size`, the geometric mean of the two
    models' sizes), the one definition of the fraction."""
    return float(count) / float(size)


class PairSizes:
    """Mixin of the records of one matched pair (fields n_neurons_a/b and size_a/b)."""

    def series_key(self) -> dict:
        """What must agree for this pair to join a scaling series (`ScalingPoint`)."""
        return {"family": self.family, **series_of(self.config)}

    def networks(self) -> tuple[str | None, str | None]:
        """The identities of the pair's two networks (`network_identity`; None: unstated)."""
        return network_identity(self.config, 0), network_identity(self.config, 1)

    def pair_size(self, size: str = "neurons") -> float:
        """N of the pair: the geometric mean of both models' neurons or parameters."""
        if check_size(size) == "neurons":
            return geometric_mean([self.n_neurons_a, self.n_neurons_b])
        return geometric_mean([self.size_a, self.size_b])


@runtime_checkable
class ScalingPoint(Protocol):
    """One point of a scaling series: a Rosetta count at a size, in a family, under a null."""

    family: str
    null: str

    @property
    def n_rosetta(self) -> int: ...

    @property
    def n_chunk_groups(self) -> int:
        """Chunk groups whose sums were kept (0: no data-level resampling possible)."""

    def pair_size(self, size: str = "neurons") -> float: ...

    def resampled_counts(self, weights: np.ndarray) -> np.ndarray:
        """The count under each row of chunk-group weights (n_resamples, n_chunk_groups)."""

    def series_key(self) -> dict:
        """What must agree for records to be fitted as one series: everything that sets the
        numbers except the pair's size, its models and its seeds (and the null kind, which
        the bridge separates itself)."""
