"""Small analysis records for the figure tests (no torch): what `empirics.analyze` and
`bridge.compare` write, with planted values a figure test can find again."""

from __future__ import annotations

import numpy as np

from bridge.trends import polarization
from empirics.records.analysis import (
    DepthRecord,
    SpecializationRecord,
    StabilityRecord,
    TopKRecord,
)
from runstore import run_dir

CATEGORIES = ["code", "data", "prose"]
KS = (1, 2, 5, 10)


def pair(family: str, width: int) -> dict:
    """The pair fields of a pair of two models of `width` neurons, 10 * width parameters."""
    return dict(family=family, model_a=f"{family}-a{width}", model_b=f"{family}-b{width}",
                size_a=10.0 * width, size_b=10.0 * width, n_neurons_a=width,
                n_neurons_b=width, null="none")


def topk_counts(width: int) -> np.ndarray:
    """Planted mutual top-k counts: 2 N^0.6 times (1 + k / 10)."""
    return np.round(2 * width**0.6 * (1 + np.array(KS) / 10)).astype(np.int64)


def enrichment(width: int, rng) -> dict:
    """Rosetta neurons favour code more with size; the control sits at the baseline."""
    code = 1.0 + np.log2(width) / 4
    summary = {"rosetta": {"code": [code, code - 0.2, code + 0.2], "data": [0.8, 0.6, 1.0],
                           "prose": [0.5, 0.4, 0.6]},
               "control": {c: [1.0, 0.9, 1.1] for c in CATEGORIES}}
    rows = rng.uniform(0, 3, (5, len(CATEGORIES)))
    return dict(categories=CATEGORIES, frequency=np.array([0.2, 0.3, 0.5]), summary=summary,
                enrichment={"rosetta_a": rows, "control_a": rows, "rosetta_b": rows,
                            "control_b": rows}, top_k=8, level=0.95)


def depth_shares(n_bins: int, width: int) -> np.ndarray:
    """A profile peaking in the middle, narrower for larger models."""
    centres = (np.arange(n_bins) + 0.5) / n_bins
    weights = np.exp(-((centres - 0.5) ** 2) / (2 * (1.5 / np.log2(width)) ** 2))
    return weights / weights.sum()


def write_pair_analyses(root, family: str, width: int, rng, n_bins: int = 10) -> None:
    """Depth, top-k and specialization records inside the pair's match run directory."""
    directory = run_dir(root, "match", {"family": family, "width": width}, f"{family}-{width}")
    fields = pair(family, width)
    share = depth_shares(n_bins, width)
    DepthRecord(config={}, **fields, edges=np.linspace(0, 1, n_bins + 1), share_a=share,
                share_b=share[::-1], rate_a=share / 2, rate_b=share / 2, n_layers_a=12,
                n_layers_b=24).save(directory / "depth")
    TopKRecord(config={}, **fields, ks=np.array(KS), counts=topk_counts(width),
               keep=10).save(directory / "topk")
    SpecializationRecord(config={}, **fields, **enrichment(width, rng)).save(
        directory / "specialization")


def write_stability(root, family: str, width: int) -> StabilityRecord:
    """Counts that settle and overlaps that rise towards 1 over four budgets."""
    tokens = 1000.0 * 2 ** np.arange(4)
    record = StabilityRecord(config={"family": family, "width": width}, **pair(family, width),
                             method="rerun", n_tokens=tokens,
                             counts=np.array([30.0, 40.0, 44.0, 45.0]),
                             jaccard=np.array([np.nan, 0.6, 0.8, 0.9]),
                             kept=np.array([np.nan, 0.9, 0.95, 0.97]), sources=["a", "b"])
    record.save(run_dir(root, "analysis", record.config, f"stability-{width}"))
    return record


def write_polarization(root, family: str, widths) -> None:
    """Rosetta kurtosis rising with log N, the control flat, in a compare run directory."""
    sizes = np.array(widths, dtype=np.float64)
    rosetta = 1.0 + 0.5 * np.log(sizes)
    points = {"activation_kurtosis/rosetta": np.stack([rosetta, rosetta - 0.2, rosetta + 0.2], 1),
              "activation_kurtosis/control": np.tile([2.0, 1.8, 2.2], (len(sizes), 1))}
    result = polarization({"family": family}, family, "selectivity", sizes, points)
    result.save(run_dir(root, "compare", {"family": family}, family) / "polarization")


def write_analyses(root, rng, family: str = "vision", widths=(64, 256, 1024, 4096)) -> None:
    for width in widths:
        write_pair_analyses(root, family, width, rng)
        write_judge(root, family, width, rng)
    write_stability(root, family, widths[0])
    write_polarization(root, family, widths)


def write_judge(root, family: str, width: int, rng, ks=(2, 10)) -> None:
    """A JudgeRecord: Rosetta neurons judged better with size, the control at chance."""
    from empirics.records.judge import JudgeRecord

    directory = run_dir(root, "match", {"family": family, "width": width}, f"{family}-{width}")
    rosetta = min(0.95, 0.4 + np.log2(width) / 20)
    pooled = {f"k{k}": {"rosetta": {"neurons": 8, "mean_f1": [rosetta, rosetta - .1,
                                                              rosetta + .05],
                                    "mean_accuracy": [rosetta, rosetta - .1, rosetta + .05]},
                        "control": {"neurons": 8, "mean_f1": [0.49, 0.4, 0.58],
                                    "mean_accuracy": [0.5, 0.4, 0.6]}} for k in ks}
    composites = {f"k{k}_{p}_a": rng.integers(0, 256, (20, 40, 3)).astype(np.uint8)
                  for k in ks for p in ("rosetta", "control")}
    JudgeRecord(config={}, **pair(family, width), backend="http:test", modality="image",
                ks=list(ks), n_heldout=5, prompts={}, results={}, pooled=pooled,
                baseline={"accuracy": 0.5, "f1": 0.4865}, composites=composites,
                exemplars={"rosetta_a": 1, "control_a": 2}, level=0.95,
                ).save(directory / "judge" / "http-test")
