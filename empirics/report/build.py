"""python -m empirics.report RUN_DIR: a self-contained HTML neuron browser of a run.

    python -m empirics.report runs/match/pythia-70m--opt-125m-<hash> [--out report.html]
    python -m empirics.report runs/anchors/<anchor>-<hash>

RUN_DIR holds a MatchRecord (`empirics.match`, examples in RUN_DIR/examples) or an
AnchorRecord (`empirics.anchors`; each model's examples come from the examples records of the
matches it names). The page lists the Rosetta pairs or anchors with their correlation, layer
and (when RUN_DIR/selectivity holds per-neuron arrays) selectivity, plus non-Rosetta neurons of
the same layers for contrast; clicking a row shows each model's top-activating contexts (text
with the activating span highlighted) or top images with activation-map overlays, side by
side. Everything is rendered from records, inlined in one file (no server, no external
assets); all record text is escaped (docs/report.md).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from importlib import resources
from pathlib import Path

import numpy as np

from empirics.records.analysis import SelectivityRecord
from empirics.records.anchors import AnchorRecord
from empirics.records.match import MatchRecord
from empirics.records.neurons import global_units, hook_name, layer_units
from empirics.records.toy import TOY_FAMILY
from empirics.report.data import model_examples, shared_inputs
from empirics.report.facts import anchor_facts, kept_rule, match_facts
from runstore import RecordError, atomic_write_text, read_header

log = logging.getLogger("empirics.report")

ROSETTA, CONTRAST = 0, 1
#: How the page names the inputs of each kind: the toy family's examples travel as text (one
#: line per input, its active features), but they are feature vectors, not text.
INPUT_LABELS = {"text": "text", "image": "images", "none": "none recorded",
                TOY_FAMILY: "toy feature inputs (each line: the input's active features)"}

#: The page (HTML, CSS and JavaScript; package data). `__TITLE__` is replaced by the escaped
#: title and `__DATA__` by the payload as JSON in which every <, > and & is a \\u escape,
#: inside a non-executed application/json script element. The script builds every element
#: with the DOM (textContent, never innerHTML), renders one page of rows at a time and a
#: neuron's examples only when it is opened (docs/report.md). Its content security policy
#: forbids every network request.
PAGE = resources.files("empirics.report").joinpath("page.html").read_text(encoding="utf-8")


@dataclasses.dataclass(frozen=True)
class ModelView:
    """One model's column: its layers, its side in an examples record and its metrics."""

    name: str
    layer_sizes: list
    examples: object | None  # ExamplesRecord
    side: str
    selectivity: dict


@dataclasses.dataclass(frozen=True)
class Rows:
    """Browser rows: `units` (rows, models) global neuron indices (-1: not in the row),
    `r` (rows, models) correlation with the row's first model (NaN where none), `kind`
    (rows,) ROSETTA or CONTRAST."""

    units: np.ndarray
    r: np.ndarray
    kind: np.ndarray


@dataclasses.dataclass(frozen=True)
class RunFacts:
    """What the page states beside the rows: the family, the lines of `empirics.report.facts`
    and the chance levels of the run's nulls ({"name", "r"}, offered as min r)."""

    family: str
    lines: list
    levels: list = dataclasses.field(default_factory=list)


def load_run(run_dir: Path) -> tuple[str, list[ModelView], Rows, RunFacts]:
    """The title, model columns, Rosetta rows and facts of a match or anchor run
    directory."""
    kind = read_header(run_dir).get("kind")
    if kind == MatchRecord.kind:
        record = MatchRecord.load(run_dir)
        examples = _examples(run_dir / "examples")
        selectivity = _selectivity(run_dir / "selectivity")
        models = [ModelView(record.model_a, record.layer_sizes_a, examples, "a",
                            selectivity.get("a", {})),
                  ModelView(record.model_b, record.layer_sizes_b, examples, "b",
                            selectivity.get("b", {}))]
        p = record.pairs
        units = np.stack([global_units(p["layer_a"], p["unit_a"], record.layer_sizes_a),
                          global_units(p["layer_b"], p["unit_b"], record.layer_sizes_b)], 1)
        r = np.stack([np.full(len(p["r"]), np.nan), p["r"]], axis=1)
        title = (f"{record.model_a} x {record.model_b}: {record.n_rosetta} Rosetta pairs "
                 f"({kept_rule(record.k, record.min_correlation)})")
        facts = RunFacts(record.family, *match_facts(run_dir, record))
    elif kind == AnchorRecord.kind:
        record = AnchorRecord.load(run_dir)
        models = _anchor_models(record)
        u = record.units
        units = np.concatenate([
            global_units(u["layer"], u["unit"], record.layer_sizes_anchor)[:, None],
            np.stack([global_units(u["partner_layer"][:, i], u["partner_unit"][:, i], sizes)
                      for i, sizes in enumerate(record.layer_sizes_others)], axis=1)
            if record.n_anchors else np.zeros((0, len(record.others)), np.int64)], axis=1)
        r = np.concatenate([np.full((record.n_anchors, 1), np.nan), u["r"]], axis=1)
        title = (f"anchor {record.anchor} x {len(record.others)} models: "
                 f"{record.n_anchors} Rosetta anchors")
        facts = RunFacts(record.family, anchor_facts(record))
    else:
        raise RecordError(f"{run_dir} holds a {kind!r} record; the report needs a match or "
                          "anchors run directory")
    rows = Rows(units.astype(np.int64), r.astype(np.float64),
                np.full(len(units), ROSETTA, dtype=np.int64))
    return f"{title} ({record.family}, null: {record.null})", models, rows, facts


def _anchor_models(record: AnchorRecord) -> list[ModelView]:
    """The anchor's and every other model's view, from the examples of their matches."""
    views, anchor_view = [], None
    for source, other, sizes in zip(record.config.get("matches", []), record.others,
                                    record.layer_sizes_others):
        directory = Path(source["path"])
        examples = _examples(directory / "examples")
        header = read_header(directory)
        anchor_side = "a" if header["fields"]["model_a"] == record.anchor else "b"
        other_side = "b" if anchor_side == "a" else "a"
        selectivity = _selectivity(directory / "selectivity")
        if anchor_view is None or (anchor_view.examples is None and examples is not None):
            anchor_view = ModelView(record.anchor, record.layer_sizes_anchor, examples,
                                    anchor_side, selectivity.get(anchor_side, {}))
        views.append(ModelView(other, sizes, examples, other_side,
                               selectivity.get(other_side, {})))
    if anchor_view is None:  # a record built in code, without the matches it came from
        anchor_view = ModelView(record.anchor, record.layer_sizes_anchor, None, "a", {})
        views = [ModelView(o, s, None, "b", {}) for o, s in zip(record.others,
                                                                 record.layer_sizes_others)]
    return [anchor_view, *views]


def _examples(directory: Path):
    from empirics.records.examples import ExamplesRecord

    if not (directory / "record.json").is_file():
        log.info("no examples record in %s: the report lists neurons without examples",
                 directory)
        return None
    return ExamplesRecord.load(directory)


def _selectivity(directory: Path) -> dict[str, dict[str, np.ndarray]]:
    """The per-neuron metrics NAME_a / NAME_b of the SelectivityRecord in `directory` (as
    `empirics.analyze` writes it) -> {"a": {NAME: ...}, "b": {...}}; checked like any load."""
    if not (directory / "record.json").is_file():
        return {}
    found = {"a": {}, "b": {}}
    for name, values in SelectivityRecord.load(directory).metrics.items():
        stem, _, side = name.rpartition("_")
        if side in found and values.ndim == 1 and np.issubdtype(values.dtype, np.number):
            found[side][stem] = values.astype(np.float64)
    return found


def add_contrast(rows: Rows, models: list[ModelView], per_layer: int, *,
                 rng: np.random.Generator) -> Rows:
    """Append, for every model and layer, up to `per_layer` of its neurons that are in no
    Rosetta row (drawn uniformly by `rng`), as single-model contrast rows."""
    extra = []
    for m, model in enumerate(models):
        taken = np.zeros(int(sum(model.layer_sizes)), dtype=bool)
        taken[rows.units[:, m][rows.units[:, m] >= 0]] = True
        start = 0
        for size in model.layer_sizes:
            free = start + np.flatnonzero(~taken[start:start + size])
            chosen = np.sort(rng.choice(free, min(per_layer, len(free)), replace=False))
            block = np.full((len(chosen), len(models)), -1, dtype=np.int64)
            block[:, m] = chosen
            extra.append(block)
            start += size
    units = np.concatenate([rows.units, *extra]) if extra else rows.units
    n_new = len(units) - len(rows.units)
    return Rows(units, np.concatenate([rows.r, np.full((n_new, len(models)), np.nan)]),
                np.concatenate([rows.kind, np.full(n_new, CONTRAST, dtype=np.int64)]))


def build_payload(title: str, models: list[ModelView], rows: Rows, *, max_images: int = 8,
                  facts: RunFacts | None = None) -> dict:
    """The JSON data of the page: rows, per-model examples, documents or thumbnails, each
    layer's TransformerLens hook name, and the run's facts."""
    inputs = shared_inputs(models)
    facts = facts or RunFacts("", [])
    metrics = sorted({name for model in models for name in model.selectivity})
    kind = TOY_FAMILY if facts.family == TOY_FAMILY and inputs["kind"] == "text" else inputs["kind"]
    payload = {"title": title, "kind": kind, "inputs": INPUT_LABELS[kind],
               "facts": facts.lines, "levels": facts.levels,
               "hooks": [[hook_name(layer) for layer in range(len(m.layer_sizes))]
                         for m in models], "models": [m.name for m in models],
               "metrics": metrics, "rowKind": rows.kind.tolist(),
               "layers": [], "unitsInLayer": [], "r": [], "selectivity": {},
               "examples": [], "documents": inputs["documents"], "thumbs": inputs["thumbs"],
               "grid": inputs["grid"]}
    for m, model in enumerate(models):
        units = rows.units[:, m]
        layer, unit = layer_units(units, model.layer_sizes, missing=-1)
        payload["layers"].append(layer.tolist())
        payload["unitsInLayer"].append(unit.tolist())
        payload["r"].append(_floats(rows.r[:, m], digits=9))  # float32 exactly: the
        # null's chance level as min r keeps the very pairs the calibrated count keeps
        payload["examples"].append(model_examples(model, units, inputs, max_images=max_images))
    for name in metrics:
        payload["selectivity"][name] = [
            _floats(np.where(rows.units[:, m] >= 0,
                             model.selectivity[name][np.maximum(rows.units[:, m], 0)], np.nan))
            if name in model.selectivity else [None] * len(rows.kind)
            for m, model in enumerate(models)]
    return payload


def _floats(values: np.ndarray, digits: int = 4) -> list:
    """Floats rounded to `digits` significant digits, None for NaN (strict JSON)."""
    return [None if not np.isfinite(v) else float(f"{v:.{digits}g}") for v in values]


def render_html(payload: dict) -> str:
    """The page with the payload inlined as JSON that no byte sequence can break out of."""
    data = json.dumps(payload, separators=(",", ":"), allow_nan=False)
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    head, _, rest = PAGE.partition("__TITLE__")
    middle, _, tail = rest.partition("__DATA__")
    return head + _escape(payload["title"]) + middle + data + tail


def _escape(text: str) -> str:
    import html

    return html.escape(text, quote=True)


def write_report(run_dir: str | Path, out: str | Path | None = None, *, contrast: int = 20,
                 max_images: int = 8, seed: int = 0) -> Path:
    """Render the report of `run_dir` into `out` (default RUN_DIR/report.html), atomically."""
    run_dir = Path(run_dir)
    title, models, rows, facts = load_run(run_dir)
    rows = add_contrast(rows, models, contrast, rng=np.random.default_rng(seed))
    path = Path(out) if out is not None else run_dir / "report.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, render_html(build_payload(title, models, rows, facts=facts,
                                                      max_images=max_images)))
    return path
