"""Adapters: what an architecture, a loader or a match family provides, and the registry
that holds them.

An architecture is where a network's MLP neurons are (the modules whose *input* is the
neuron vector), how a loaded module is recognised as one, and its quirks (the final norm
folded into the unembedding; for the small families `empirics.train` builds, the MLP width,
the configuration and the kind of tokenizer). A loader is how a spec's weights come in (a
model, its preprocessing and the identity of what was read). A match family is which pairs
``python -m empirics.match --family`` runs, on which inputs, captured how. Each is one module
plus one line in its registry (`empirics.models.architectures`, `empirics.models.loaders`,
`empirics.pipeline.pairs`); nothing else dispatches on their names.

Notes
-----
A registry is filled once, at import, by its registry lines; `Registry.added` registers an
entry for the duration of a block only (a test's own architecture, or a user's extension
run from a script), so no registration outlives the code that made it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

#: What the neurons of an architecture read: its inputs decide the family it can join.
MODALITIES = ("text", "vision", "generator", "toy")


class Registry(Generic[T]):
    """Entries with a unique `name`, in the order they were added.

    Parameters
    ----------
    what : what an entry is ("architecture", "loader"), for the messages.
    entries : the registry lines.
    where : the module that holds the registry lines, named by an unknown name's error.
    """

    def __init__(self, what: str, entries=(), *, where: str = ""):
        self.what, self.where = what, where
        self._entries: dict[str, T] = {}
        for entry in entries:
            self.add(entry)

    def add(self, entry: T) -> T:
        """Register `entry`; a second, different entry under the same name is refused."""
        name = entry.name
        if self._entries.get(name, entry) != entry:
            raise ValueError(f"another {self.what} is registered as {name!r}")
        self._entries[name] = entry
        return entry

    def get(self, name: str) -> T:
        """The entry called `name`; a KeyError naming the known ones otherwise."""
        try:
            return self._entries[name]
        except KeyError:
            hint = f" (add its line to {self.where})" if self.where else ""
            raise KeyError(f"unknown {self.what} {name!r}; known: "
                           f"{', '.join(self._entries)}{hint}") from None

    @contextmanager
    def added(self, entry: T) -> Iterator[T]:
        """`entry` registered inside the block only (removed in ``finally``)."""
        if entry.name in self._entries:
            raise ValueError(f"the {self.what} {entry.name!r} is registered already")
        self.add(entry)
        try:
            yield entry
        finally:
            del self._entries[entry.name]

    def names(self) -> tuple[str, ...]:
        return tuple(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[T]:
        return iter(tuple(self._entries.values()))


@dataclass(frozen=True)
class Architecture:
    """Where an architecture's MLP neurons are, and its quirks.

    Parameters
    ----------
    name : the key a `ModelSpec.architecture` and the records use (``"gpt2"``).
    hook_points : module paths ({layer} = index) whose *input* is the neuron vector; several
        are module lists read one after the other (their layers numbered on).
    modality : what the network reads (`MODALITIES`): ``"text"`` (a causal LM),
        ``"vision"`` (an image tower), ``"generator"`` (noise in, images out) or ``"toy"``.
    model_types : the Hugging Face ``config.model_type`` values it covers.
    recognises_module : a test of a loaded module, for networks without a model type or
        where one model type holds two architectures (DINOv2 plain or SwiGLU); replaces the
        model-type test.
    final_norm : module paths of the norm before the unembedding (text; ``{last}`` = the
        last layer), tried in order (`empirics.models.unembedding`).
    depth_field, width_field : the configuration keys of the layer count and d_model.
    tokenizer : the kind of tokenizer `empirics.train` trains for it (``"bpe"``,
        ``"unigram"``); None where it trains none.
    mlp_width : d_mlp of a trained member of width d_model (`empirics.train`).
    small_config : the transformers configuration of a trained member:
        ``small_config(width, layers, heads, d_mlp, context, **token_ids)``.
    standard_processor : ``standard_processor()``: the image preprocessing an untrained
        model of it uses when it has no processor of its own (None: it needs its own).
    """

    name: str
    hook_points: tuple[str, ...]
    modality: str
    model_types: tuple[str, ...] = ()
    recognises_module: Callable[[object], bool] | None = None
    final_norm: tuple[str, ...] = ()
    depth_field: str | None = None
    width_field: str | None = None
    tokenizer: str | None = None
    mlp_width: Callable[[int], int] | None = None
    small_config: Callable[..., object] | None = None
    standard_processor: Callable[[], object] | None = None

    def __post_init__(self):
        if self.modality not in MODALITIES:
            raise ValueError(f"architecture {self.name}: modality must be one of "
                             f"{MODALITIES}, not {self.modality!r}")
        unindexed = not self.hook_points or any("{layer}" not in p for p in self.hook_points)
        if unindexed and self.modality != "toy":
            raise ValueError(f"architecture {self.name}: every hook point names its "
                             f"layer index ({{layer}}), got {self.hook_points}")

    def recognises(self, model: object) -> bool:
        """Whether a loaded module is of this architecture."""
        if self.recognises_module is not None:
            return bool(self.recognises_module(model))
        return model_type(model) in self.model_types

    @property
    def hook_point(self) -> str:
        """Which tensor the neurons are: the input of this module, in every layer."""
        return "input of " + ", then ".join(self.hook_points)

    @property
    def trainable(self) -> bool:
        """Whether `empirics.train` can build a family of it."""
        return None not in (self.tokenizer, self.mlp_width, self.small_config)


@dataclass(frozen=True)
class Loader:
    """How a spec's weights come in (`ModelSpec.loader` names one).

    Parameters
    ----------
    name : the name a spec's `loader` gives (``"transformers"``).
    load : ``load(spec, path, *, init, dtype, device, placement, download, cache_dir,
        seed) -> LoadedModel`` in eval mode; `placement` is ``{"device_map", "max_memory"}``
        (accelerate's), None values unless the loader `spreads`. A missing file raises
        `MissingModelError` naming it.
    identity : ``identity(spec, path, *, init, download, cache_dir) -> dict``: the content
        identity of what `load` would read, known before loading (the files, their
        configuration), JSON-ready; its run directory hashes it.
    spreads : whether a model may be spread over devices by a device_map.
    file_suffixes, spec_from_file : a single checkpoint file it reads (pMF's ``.pt`` state
        dict), and ``spec_from_file(name, file) -> ModelSpec``: the spec of such a file
        outside the registry (`empirics.models.detect.resolve_model`).
    """

    name: str
    load: Callable[..., object]
    identity: Callable[..., dict]
    spreads: bool = False
    file_suffixes: tuple[str, ...] = ()
    spec_from_file: Callable[..., object] | None = None


@dataclass(frozen=True)
class MatchFamily:
    """What ``python -m empirics.match --family NAME`` matches, and on what.

    Parameters
    ----------
    name : the ``--family`` value.
    sides : the registry families (`ModelSpec.family`) whose matched-scale pairs ``--all``
        runs, model A from the first.
    kind : every model's `ModelSpec.kind` (``"text"`` or ``"vision"``).
    inputs : ``inputs(choice) -> (inputs, provenance)``: the documents or images of its pairs
        from the input flags (`empirics.pipeline.options.InputChoice`), and what the records
        state of where they come from (None: nothing beyond their ids and sha256).
    source : ``source(model_a, model_b, inputs, *, options, device, cache_dir)``: the pair's
        aligned activation stream (`empirics.capture.pair.CapturedPair`) under the match
        options.
    generator : model A is a generator (an architecture of modality ``"generator"``) and
        model B a tower; a family without it takes no generator.
    replay : whether ``--replay official`` covers it (the official code's pipeline).

    Notes
    -----
    The family's pairs, inputs and capture are all it adds: the engine, the records and the
    bridge see only the activation stream and the records it gives.
    """

    name: str
    sides: tuple[str, str]
    kind: str
    inputs: Callable[[object], tuple[list, dict | None]]
    source: Callable[..., object]
    generator: bool = False
    replay: bool = False


def model_type(model: object) -> str | None:
    """The Hugging Face model type of a loaded module's configuration (None: no such)."""
    return getattr(getattr(model, "config", None), "model_type", None)
