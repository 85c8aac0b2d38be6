"""Benchmark: the neuron browser of a large text run (10,000 Rosetta pairs, 16 examples per
neuron), its file size and time to first render in headless chromium, against a plain HTML
table of the same rows (no examples, nothing lazy) opened in the same run.

    python benchmarks/bench_report.py [--pairs 10000] [--k 16]

Prints the time to write the report (best of 3), its size, the time from navigation to a
laid-out first page (best of 3, wall clock around playwright calls) with the same time of
the static table as reference, and the time to open a neuron (best of 3, measured in the
page). Needs playwright and Debian's chromium (as the tests).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from playwright.sync_api import sync_playwright
from timing import best_of  # benchmarks/timing.py (benchmarks run as scripts)

from empirics.records.examples import ExamplesRecord
from empirics.records.match import MatchRecord
from empirics.report.build import write_report

LAYERS, WIDTH = 12, 3072
DOCS, DOC_BYTES = 2000, 2000


def synthetic_run(directory: Path, n_pairs: int, k: int, rng: np.random.Generator) -> None:
    """A match run with `n_pairs` pairs over 12 x 3072-neuron models and a text examples
    record: 2,000 documents of ~2 kB, 10-byte spans, k examples per neuron."""
    n = LAYERS * WIDTH
    words = np.array(["alpha", "beta", "gamma", "delta", "<tag>", "token", "é", "naïve"])
    texts = [" ".join(rng.choice(words, DOC_BYTES // 6)) for _ in range(DOCS)]
    n_samples = 500_000
    doc = rng.integers(0, DOCS, n_samples)
    start = rng.integers(0, DOC_BYTES // 2, n_samples)
    table = {"input": doc, "start": start, "end": start + 10}
    samples = rng.integers(0, n_samples, (n, k))
    values = -np.sort(-rng.gamma(2.0, 1.0, (n, k)), axis=1).astype(np.float32)
    ExamplesRecord(config={}, model_a="big-a", model_b="big-b", k=k,
                   layer_sizes_a=[WIDTH] * LAYERS, layer_sizes_b=[WIDTH] * LAYERS,
                   values_a=values, samples_a=samples, values_b=values, samples_b=samples,
                   sample_table=table, inputs=[f"doc{i}" for i in range(DOCS)], texts=texts,
                   images={}).save(directory / "examples")
    a, b = rng.choice(n, n_pairs, replace=False), rng.choice(n, n_pairs, replace=False)
    MatchRecord(
        config={}, family="bench", model_a="big-a", model_b="big-b", size_a=1e8, size_b=1e8,
        null="none", k=1, min_correlation=None, n_tokens=n_samples, n_neurons_a=n,
        n_neurons_b=n, n_rosetta=n_pairs, dead_a=0, dead_b=0,
        layer_sizes_a=[WIDTH] * LAYERS, layer_sizes_b=[WIDTH] * LAYERS,
        pairs={"layer_a": a // WIDTH, "unit_a": a % WIDTH, "layer_b": b // WIDTH,
               "unit_b": b % WIDTH, "r": rng.uniform(0.3, 1.0, n_pairs)},
        rosetta_per_layer_a=np.bincount(a // WIDTH, minlength=LAYERS),
        rosetta_per_layer_b=np.bincount(b // WIDTH, minlength=LAYERS), rechecked=False,
        max_recheck_change=None, changed_pairs=0, chunks={}).save(directory)


def static_table(path: Path, report: Path) -> None:
    """The reference: every row of the report's table as plain HTML, nothing lazy."""
    import json

    html = report.read_text()
    data = json.loads(html.split('id="data">')[1].split("</script>")[0])
    rows = "".join(
        f"<tr><td>{i}</td><td>{kind}</td><td>L{la} u{ua}</td><td>L{lb} u{ub}</td>"
        f"<td>{'' if r is None else f'{r:.3f}'}</td></tr>"
        for i, (kind, la, ua, lb, ub, r) in enumerate(zip(
            data["rowKind"], data["layers"][0], data["unitsInLayer"][0], data["layers"][1],
            data["unitsInLayer"][1], data["r"][1])))
    path.write_text(f"<!DOCTYPE html><html><body><table>{rows}</table>"
                    "<script>window.reportFirstRenderMs = performance.now();</script>"
                    "</body></html>")


def time_to_render(page, path: Path) -> float:
    """Wall seconds from navigation to the first page laid out (layout forced)."""
    start = time.perf_counter()
    page.goto(path.as_uri())
    page.wait_for_function("window.reportFirstRenderMs !== undefined")
    page.evaluate("document.body.getBoundingClientRect().height")
    return time.perf_counter() - start


def time_to_open(page, path: Path) -> float:
    """Seconds, measured in the page, to click the first row and lay out its examples."""
    page.goto(path.as_uri())
    page.wait_for_function("window.reportFirstRenderMs !== undefined")
    return page.evaluate("""() => {
        const start = performance.now();
        document.querySelector("tr.row").click();
        document.body.getBoundingClientRect();
        if (!document.querySelector("#detail mark")) throw new Error("no examples shown");
        return (performance.now() - start) / 1e3; }""")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=10_000)
    parser.add_argument("--k", type=int, default=16)
    parser.add_argument("--smoke", action="store_true", help="200 pairs, 2 examples (seconds)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.pairs, args.k = 200, 2
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        synthetic_run(root, args.pairs, args.k, np.random.default_rng(0))
        write_s, report = best_of(3, lambda: write_report(root, root / "report.html"))
        static_table(root / "static.html", report)
        size = report.stat().st_size
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=executable,
                                                 args=["--no-sandbox"])
            page = browser.new_page()
            ours, _ = best_of(3, lambda: time_to_render(page, report))
            reference, _ = best_of(3, lambda: time_to_render(page, root / "static.html"))
            opened = min(time_to_open(page, report) for _ in range(3))
            browser.close()
        rows = args.pairs + 2 * LAYERS * 20
        print(f"report of {args.pairs} pairs ({2 * args.pairs} neurons with {args.k} examples "
              f"each) + {rows - args.pairs} contrast rows, {DOCS} documents")
        print(f"write_report: {write_s:.2f} s; file: {size / 2**20:.1f} MiB "
              f"(static table of the rows: {(root / 'static.html').stat().st_size / 2**20:.1f}"
              " MiB)")
        print(f"first render: {ours * 1e3:.0f} ms; static table of all {rows} rows: "
              f"{reference * 1e3:.0f} ms; ratio {ours / reference:.2f}")
        print(f"open a neuron (click to laid-out examples): {opened * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
