"""The importance exponent beta from one trained model's data, end to end: tokenize a
corpus split with the model's own tokenizer, fit the Zipf exponent of its n-grams, stream
the model over the split for its layers' covariance spectra, and save an `ImportanceRecord`
in a run directory derived from the whole configuration (docs/theory.md, "beta from the
data")."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np

from empirics.analysis.eigenspectrum import fit_spectrum, spectrum_window
from empirics.analysis.importance import fit_zipf, implied_exponent, ngram_counts
from empirics.analysis.spectrum import chunk_moments
from empirics.capture.offline import Corpus, load_corpus
from empirics.capture.pair import context_length
from empirics.capture.windows import document_ids, token_windows
from empirics.models.hooks import layer_widths
from empirics.models.identity import file_identity, weights_identity
from empirics.models.load import load_model
from empirics.models.local import TRAINED_NAME, trained_family
from empirics.models.registry import ModelSpec
from empirics.models.tokenizer import saved_tokenizer
from empirics.records.importance import ImportanceRecord
from runstore import reuse_or_build, run_dir
from runstore.devices import device_name
from runstore.options import check_fields, flag
from theory.params import CLOSURES

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ImportanceSettings:
    """What `python -m empirics.importance` does: the corpus split, the models (names in
    `model_dir`; empty: the widest of each architecture, lowest seed), the Zipf window rule
    (ranks `rank_min`..`rank_max` counted at least `min_count`), the spectrum's window
    (indices `eig_min`..`eig_max`, 0: d_model / 2), the windows' context (0: the model's),
    the chunks and replicates of the bootstraps, the closure the implied slope is read from,
    and where records go and models run. `docs` > 0 keeps the first documents only."""

    corpus: Path = flag(help="a python -m empirics.corpus dir", type=Path)
    model_dir: Path = flag(help="a python -m empirics.train dir (one folder per model)",
                           type=Path)
    models: tuple = flag((), "a model of --model-dir (repeat for several; default: the widest "
                         "of each architecture, lowest seed)", name="--model", action="append",
                         metavar="MODEL")
    out: Path = flag(Path("runs"), "where records go")
    split: str = flag("heldout", "the corpus split tokenized and streamed",
                      choices=("heldout", "train"))
    docs: int = flag(0, "use the first DOCS documents of the split (0: all)", at_least=0)
    ngrams: tuple = flag((1, 2), "n-gram orders for Zipf", at_least=1)
    rank_min: int = flag(10, "first Zipf rank fitted", at_least=1)
    rank_max: int = flag(1000, "last Zipf rank fitted", at_least=1)
    min_count: float = flag(50.0, "fit only ranks counted at least this often", at_least=0.0)
    eig_min: int = flag(2, "first eigenvalue index fitted", at_least=1)
    eig_max: int = flag(0, "last eigenvalue index fitted (0: d_model / 2)", at_least=0)
    context: int = flag(0, "tokens per window (0: the model's context)", at_least=0)
    chunks: int = flag(100, "contiguous chunks of windows resampled by the spectrum's "
                       "bootstrap", at_least=1)
    batch: int = flag(64, "windows per forward pass", at_least=1)
    boot: int = flag(1000, "bootstrap replicates", at_least=1)
    level: float = flag(0.95, "interval coverage", above=0.0, below=1.0)
    seed: int = flag(0, "seed of the bootstraps")
    closure: str = flag("P1", "the closure whose slope of log R vs log N is printed",
                        choices=sorted(CLOSURES))
    device: str = flag("cpu", "auto (CUDA when present), cpu, cuda", type=device_name,
                       flag_default="auto")
    force: bool = flag(False, "recompute records already saved")

    def __post_init__(self):
        check_fields(self)

    def to_config(self) -> dict:
        """Every setting that changes the numbers (not where they go or run, nor the batch)."""
        skip = {"corpus", "model_dir", "models", "out", "batch", "device", "force"}
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in skip}


def chosen_models(settings: ImportanceSettings) -> list[tuple[ModelSpec, Path]]:
    """The models of `settings.model_dir` to measure: those named, or the widest of each
    architecture (its lowest seed) among the models named <architecture>-w<width>-s<seed>."""
    family = trained_family(settings.model_dir)
    if settings.models:
        by_name = {spec.name: (spec, path) for spec, path in family}
        missing = [name for name in settings.models if name not in by_name]
        if missing:
            raise LookupError(f"no model {', '.join(missing)} in {settings.model_dir}; it holds "
                              f"{', '.join(sorted(by_name))}")
        return [by_name[name] for name in settings.models]
    widest = {}
    for spec, path in family:
        match = TRAINED_NAME.match(spec.name)
        if match:
            key = (int(match["width"]), -int(match["seed"]))
            if key > widest.get(match["architecture"], ((-1, 0), None))[0]:
                widest[match["architecture"]] = (key, (spec, path))
    if not widest:
        raise LookupError(f"no model in {settings.model_dir} is named "
                          "<architecture>-w<width>-s<seed>; name one with --model")
    return [widest[arch][1] for arch in sorted(widest)]


def importance_config(spec: ModelSpec, path: Path, corpus: Corpus,
                      settings: ImportanceSettings) -> dict:
    """The configuration that names a model's run directory: the model and the content
    identity of its files, the corpus (sha256, recipe, split) and the estimation settings."""
    return {"model": spec.name, "architecture": spec.architecture,
            "weights": weights_identity(spec, path=path),
            "corpus": {"sha256": corpus.sha256, "recipe": corpus.manifest["recipe"],
                       "split": settings.split},
            "estimation": settings.to_config()}


def run_importance(settings: ImportanceSettings, *, progress: bool = False) -> list[Path]:
    """Measure every chosen model (reusing a record made with the same configuration unless
    `force`); return the record directories in order."""
    corpus = load_corpus(settings.corpus)
    written = []
    for spec, path in chosen_models(settings):
        config = importance_config(spec, path, corpus, settings)
        directory = run_dir(settings.out, "importance", config, spec.name)
        reuse_or_build(directory, ImportanceRecord,
                       lambda: measure_model(spec, path, corpus, config, settings,
                                             progress=progress),
                       force=settings.force, config=config, load=False)
        log.info("record: %s", directory)
        written.append(directory)
    return written


def measure_model(spec: ModelSpec, path: Path, corpus: Corpus, config: dict,
                  settings: ImportanceSettings, *, progress: bool = False) -> ImportanceRecord:
    """One model's `ImportanceRecord` (see the module notes)."""
    documents = corpus.documents(settings.split)
    documents = documents[: settings.docs] if settings.docs else documents
    tokenizer = saved_tokenizer(path)
    ids = document_ids(tokenizer, documents)
    estimates, sorted_counts = {}, {}
    for n in settings.ngrams:
        log.info("%s: Zipf law of %d-grams", spec.name, n)
        fits, sorted_counts[f"{n}gram"] = fit_zipf(
            ngram_counts(ids, n), rank_min=settings.rank_min, rank_max=settings.rank_max,
            min_count=settings.min_count, n_boot=settings.boot, level=settings.level,
            rng=np.random.default_rng([settings.seed, 1, n]))
        estimates |= {f"zipf-{method}-{n}gram": fit for method, fit in fits.items()}
    loaded = load_model(spec, path=path, device=settings.device)
    d_model = int(loaded.model.config.hidden_size)
    widths = layer_widths(loaded.model, loaded.architecture)
    windows = token_windows(ids, tokenizer.eos_token_id,
                            settings.context or context_length(loaded))
    window = spectrum_window(min(widths), eig_min=settings.eig_min,
                             eig_max=settings.eig_max or d_model // 2)
    log.info("%s: covariance spectra over %d windows of %d tokens", spec.name, *windows.shape)
    moments = chunk_moments(loaded.model, loaded.architecture, windows,
                            n_chunks=settings.chunks, batch=settings.batch, progress=progress)
    fits, spectra = fit_spectrum(moments, window, n_boot=settings.boot, level=settings.level,
                                 rng=np.random.default_rng([settings.seed, 2]))
    estimates |= {f"spectrum-{name}": fit for name, fit in fits.items()}
    return ImportanceRecord(
        config=config, model=spec.name, architecture=loaded.architecture,
        tokenizer=f"{type(tokenizer).__name__} sha256:{file_identity(path / 'tokenizer.json')}",
        corpus_sha256=corpus.sha256, split=settings.split, closure=settings.closure,
        n_documents=len(documents), n_tokens=int(sum(len(x) for x in ids)),
        n_windows=len(windows), d_model=d_model, layer_sizes=list(widths),
        estimates={name: _described(fit, settings.closure) for name, fit in estimates.items()},
        sorted_counts=sorted_counts,
        eigenvalues={f"layer{i}": values for i, values in enumerate(spectra)},
        replicates={name: fit.replicates for name, fit in estimates.items()})


def _described(fit, closure: str) -> dict:
    """An estimate's JSON fields with the beta it stands for and the slope that implies."""
    return fit.to_json() | {"implied_beta": [fit.estimate, fit.low, fit.high],
                            "implied_exponent": list(implied_exponent(fit, closure))}
