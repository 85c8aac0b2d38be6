"""The neuron browser: rendered from records, opened in a real headless chromium."""

import dataclasses
import json
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from empirics.analysis.examples import TopImages
from empirics.analysis.pair_records import selectivity_record
from empirics.anchors import main as anchors_main
from empirics.capture.stimuli import default_corpus, synthetic_images
from empirics.pipeline.match import match_pair
from empirics.pipeline.options import MatchOptions
from empirics.records.examples import ExamplesRecord
from empirics.records.guarantee import guarantee_text
from empirics.records.match import MatchRecord
from empirics.report.__main__ import main as report_main
from empirics.report.build import write_report
from empirics.report.facts import calibrated_exactness, match_facts
from runstore import Record, RecordError
from tests.empirics.tiny_models import save_text_model, save_vision_model, train_tokenizers

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
OPTIONS = MatchOptions(batch=4, tokens=128, candidates=2, groups=0, examples=4)
ODD_TEXTS = [
    "before <script>window.hacked = 1; alert('x')</script> after",
    'an image <img src=x onerror="window.hacked = 2"> and &amp; entities </textarea>',
    "long line " + "word " * 4000 + "<b>end</b>",
    "caf\udce9 bytes that are not UTF-8: \udcff\udcfe then </script><!-- done",
]
#: (document, span) of each planted example: the tags, the entity, the tail, the bad bytes.
SPANS = [(0, "<script>window.hacked = 1; alert('x')</script>"),
         (1, '<img src=x onerror="window.hacked = 2">'), (2, "<b>end</b>"), (3, "\udcff\udcfe")]


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable,
                                              args=["--no-sandbox"])
        yield launched
        launched.close()


def open_report(browser, path: Path):
    """The opened page and the lists its console errors and dialogs will land in."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors, dialogs = [], []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(path.as_uri())
    wait_until(page, "window.reportFirstRenderMs !== undefined")
    return page, errors, dialogs


def wait_until(page, expression: str, timeout_s: float = 20.0) -> None:
    """Poll `expression` from the test side. Playwright's wait_for_function polls inside the
    page with eval, which the report's content security policy (rightly) refuses once the
    condition is not already true on the first check."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"the page never satisfied {expression!r}")
        page.wait_for_timeout(50)


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def _byte_span(text: str, span: str) -> tuple[int, int]:
    raw, needle = (s.encode("utf-8", "surrogateescape") for s in (text, span))
    start = raw.index(needle)
    return start, start + len(needle)


@pytest.fixture
def odd_run(tmp_path):
    """A match run written by hand: pair p shares example SPANS[p] on both sides; a third
    pair has r = 0.2 (for the filter)."""
    table = {"input": [], "start": [], "end": []}
    for doc, span in SPANS:
        start, end = _byte_span(ODD_TEXTS[doc], span)
        for key, value in zip(table, (doc, start, end)):
            table[key].append(value)
    samples = np.full((8, 2), -1, dtype=np.int64)
    samples[[0, 1, 2, 3], 0] = [0, 1, 2, 3]
    values = np.where(samples >= 0, 5.0 - np.arange(8)[:, None], np.nan).astype(np.float32)
    ExamplesRecord(
        config={}, model_a="model<a>", model_b="model&b", k=2, layer_sizes_a=[4, 4],
        layer_sizes_b=[4, 4], values_a=values, samples_a=samples, values_b=values,
        samples_b=samples, sample_table={k: np.array(v, dtype=np.int64) for k, v in
                                         table.items()},
        inputs=[f"doc{i}" for i in range(4)], texts=ODD_TEXTS, images={},
    ).save(tmp_path / "examples")
    units = np.array([0, 1, 2, 3], dtype=np.int64)
    MatchRecord(
        config={}, family="odd", model_a="model<a>", model_b="model&b", size_a=1.0,
        size_b=1.0, null="none", k=1, min_correlation=None, n_tokens=4, n_neurons_a=8,
        n_neurons_b=8, n_rosetta=4, dead_a=0, dead_b=0, layer_sizes_a=[4, 4],
        layer_sizes_b=[4, 4],
        pairs={"layer_a": 0 * units, "unit_a": units, "layer_b": 0 * units, "unit_b": units,
               "r": np.array([0.9, 0.8, 0.7, 0.2])},
        rosetta_per_layer_a=np.array([4, 0]), rosetta_per_layer_b=np.array([4, 0]),
        rechecked=False, max_recheck_change=None, changed_pairs=0, chunks={},
    ).save(tmp_path)
    return tmp_path


def test_odd_text_is_shown_as_text_and_never_runs(odd_run, browser):
    path = write_report(odd_run, contrast=2)
    html = path.read_text()
    assert "<script>window" not in html and "<img" not in html and "</textarea>" not in html
    assert html.count("<script") == 2 and "http" not in html.replace("http-equiv", "")
    page, errors, dialogs = open_report(browser, path)
    assert page.locator("tr.row").count() == 4 + 2 * 2  # layer 0 is all Rosetta
    for row, (doc, span) in enumerate(SPANS):
        page.click(f"tr.row[data-row='{row}']")
        marks = page.locator("#detail .model[data-model='0'] mark")
        shown = span.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        assert marks.first.text_content() == shown
        assert page.locator("#detail .model").count() == 2
    assert "\ufffd\ufffd" in page.locator("#detail mark").first.text_content()
    assert page.evaluate("window.hacked") is None and dialogs == []
    assert page.locator("script").count() == 2 and page.locator("img").count() == 0
    assert page.locator("h1").text_content().startswith("model<a> x model&b")
    page.click("tr.row[data-row='0']")
    screenshot(page, "report-odd-text")
    page.fill("#min-r", "0.5")
    assert page.locator("tr.row").count() == 3
    page.select_option("#kind", "1")
    page.fill("#min-r", "")
    assert page.locator("tr.row").count() == 4
    assert errors == []


def test_a_clicked_row_opens_its_examples_in_view(odd_run, browser):
    report = odd_run / "report.html"
    report_main([str(odd_run), "--out", str(report)])
    page, errors, _ = open_report(browser, report)
    page.set_viewport_size({"width": 1400, "height": 300})
    before = page.evaluate("document.getElementById('detail').getBoundingClientRect().top")
    assert before > 300  # the examples panel starts below a short window
    page.locator("tr.row").last.click()
    top = page.evaluate("document.getElementById('detail').getBoundingClientRect().top")
    assert 0 <= top < 300 and errors == []
    assert "(mutual top-1, no r threshold)" in page.locator("h1").text_content()


def test_a_matched_text_pair_shows_each_neurons_top_spans(tmp_path, browser):
    bpe, unigram = train_tokenizers()
    spec_a = save_text_model(tmp_path / "a", "gpt_neox", bpe, seed=1)
    spec_b = save_text_model(tmp_path / "b", "opt", unigram, seed=2)
    docs = default_corpus()[:12]
    directory = match_pair(spec_a, spec_b, family="language", inputs=docs, options=OPTIONS,
                           out=tmp_path / "runs", device=torch.device("cpu"),
                           paths=(tmp_path / "a", tmp_path / "b"))
    out = report_main([str(directory), "--out", str(tmp_path / "report.html"),
                       "--contrast", "3"])
    record, examples = MatchRecord.load(directory), ExamplesRecord.load(directory / "examples")
    page, errors, dialogs = open_report(browser, out)
    strongest = int(np.argmax(record.pairs["r"]))
    assert page.locator("tr.row").first.get_attribute("data-row") == str(strongest)
    page.locator("tr.row").first.click()
    unit = (record.pairs["unit_a"][strongest]
            + sum(record.layer_sizes_a[:record.pairs["layer_a"][strongest]]))
    for j in range(examples.k):
        sample = examples.samples_a[unit, j]
        doc, start, end = (int(examples.sample_table[key][sample])
                           for key in ("input", "start", "end"))
        expected = docs[doc].text.encode()[start:end].decode("utf-8", "replace")
        example = page.locator("#detail .model[data-model='0'] .example").nth(j)
        assert example.locator("mark").text_content() == expected
        assert float(example.locator(".value").text_content()) == pytest.approx(
            examples.values_a[unit, j], abs=1e-3)
    assert page.locator("#detail .model[data-model='1'] .example").count() == examples.k
    assert errors == [] and dialogs == []
    screenshot(page, "report-text-pair")


def test_top_images_keep_each_neurons_best_images_with_their_maps(rng):
    grid, k = (2, 3), 3
    batches = [torch.from_numpy(rng.standard_normal((n * 6, 4)).astype(np.float32))
               for n in (2, 1, 3)]
    top = TopImages(4, k, grid)
    for batch in batches:
        top.update(batch)
    found = top.result()
    whole = torch.cat(batches).numpy().reshape(6, 6, 4)
    peaks = whole.max(axis=1)
    for neuron in range(4):
        order = np.argsort(-peaks[:, neuron], kind="stable")[:k]
        assert np.array_equal(found["inputs"][neuron], order)
        assert np.allclose(found["values"][neuron], peaks[order, neuron])
        expected = np.clip(whole[order, :, neuron] / peaks[order, neuron, None], 0, 1) * 255
        assert np.abs(found["maps"][neuron].reshape(k, 6) - expected).max() <= 1.0
    with pytest.raises(ValueError, match=r"whole \(2, 3\) grids"):
        top.update(torch.zeros(7, 4))


def test_a_matched_image_pair_shows_images_with_activation_maps(tmp_path, browser):
    spec = save_vision_model(tmp_path / "v1", seed=1)
    spec_b = dataclasses.replace(save_vision_model(tmp_path / "v2", seed=2), name="tiny-b")
    images = synthetic_images(5, size=64)
    directory = match_pair(spec, spec_b, family="vision", inputs=images,
                           options=dataclasses.replace(OPTIONS, batch=2, examples=3),
                           out=tmp_path / "runs", device=torch.device("cpu"),
                           paths=(tmp_path / "v1", tmp_path / "v2"))
    examples = ExamplesRecord.load(directory / "examples")
    assert examples.images["maps_a"].shape[1:] == (3, 4, 4)
    assert examples.images["maps_a"].max() == 255 and examples.images["thumbnails"].shape[1:] \
        == (64, 64, 3)
    path = write_report(directory, contrast=1)
    page, errors, dialogs = open_report(browser, path)
    page.locator("tr.row").first.click()
    wait_until(page, "document.querySelectorAll('canvas[data-drawn]').length == 6")
    row = int(page.locator("#detail").get_attribute("data-row"))
    captions = page.locator("#detail .model[data-model='0'] figcaption").all_text_contents()
    unit = _global(MatchRecord.load(directory), row)
    expected = examples.images["inputs_a"][unit]
    assert [int(re.search(r"image (\d+)", c).group(1)) for c in captions] == expected.tolist()
    corner = page.evaluate("""() => {
        const c = document.querySelector('canvas[data-drawn]');
        return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data
                          .slice(0, 4)); }""")
    assert corner[3] == 255  # the thumbnail was drawn under the overlay
    first = page.locator("#detail .model[data-model='0'] figure").first
    plain, lit = (json.loads(first.locator(f"canvas.{name}").evaluate(
        "c => JSON.stringify(Array.from(c.getContext('2d').getImageData("
        "0, 0, c.width, c.height).data))")) for name in ("plain", "lit"))
    plain, lit = (np.array(v, dtype=float).reshape(112, 112, 4)[..., :3] for v in (plain, lit))
    cells = examples.images["maps_a"][unit, 0].astype(float) / 255  # (4, 4): 28 px a cell
    peak = np.unravel_index(np.argmax(cells), cells.shape)
    centre = (slice(28 * peak[0] + 12, 28 * peak[0] + 16), slice(28 * peak[1] + 12,
                                                                  28 * peak[1] + 16))
    assert np.abs(lit[centre] - plain[centre]).max() < 40  # lit where the neuron fires
    if cells.min() < 0.2:  # darkened where it does not
        low = np.unravel_index(np.argmin(cells), cells.shape)
        dark = (slice(28 * low[0] + 12, 28 * low[0] + 16), slice(28 * low[1] + 12,
                                                                 28 * low[1] + 16))
        assert lit[dark].mean() < 0.5 * plain[dark].mean() + 1
    assert errors == [] and dialogs == []
    screenshot(page, "report-image-pair")


def test_a_generated_pair_shows_the_regenerated_images_with_their_maps(tmp_path, browser,
                                                                       one_torch_thread):
    from empirics.analysis.examples import thumbnail
    from empirics.capture.generated import to_pil
    from empirics.match import main as match_main
    from empirics.models.pmf import generate
    from empirics.report.data import png_data_uri
    from tests.empirics.tiny_models import save_dinov3, tiny_pmf

    model, file = tiny_pmf(tmp_path)
    tower = save_dinov3(tmp_path / "dinov3")
    (directory,) = match_main(["--family", "generated-dinov3", "--pair", str(file), str(tower),
                               "--images", "6", "--image-seed", "3", "--batch", "4",
                               "--device", "cpu", "--examples", "3", "--groups", "0",
                               "--candidates", "2", "--out", str(tmp_path / "runs")])
    examples = ExamplesRecord.load(directory / "examples")
    assert examples.images["maps_a"].shape[2:] == (4, 4) == examples.images["maps_b"].shape[2:]
    path = write_report(directory, contrast=1)
    payload = json.loads(re.search(r'<script type="application/json" id="data">(.*?)</script>',
                                   path.read_text(), re.S).group(1))
    shown = examples.images["thumbnail_inputs"]
    again = [png_data_uri(thumbnail(to_pil(image))) for image in generate(model, shown, seed=3)]
    assert payload["thumbs"] == again and payload["grid"] == [4, 4]  # made again, exactly
    page, errors, dialogs = open_report(browser, path)
    facts = page.locator("#facts").inner_text()
    assert "6 images generated by tiny-pmf (generated-3-000000 to generated-3-000005)" in facts
    page.locator("tr.row").first.click()
    wait_until(page, "document.querySelectorAll('canvas[data-drawn]').length == 6")
    row = int(page.locator("#detail").get_attribute("data-row"))
    record = MatchRecord.load(directory)
    for side, model_index in (("a", 0), ("b", 1)):
        captions = page.locator(f"#detail .model[data-model='{model_index}'] figcaption")
        unit = (_global(record, row) if side == "a" else int(
            record.pairs["unit_b"][row] + sum(record.layer_sizes_b[:record.pairs["layer_b"][row]])))
        expected = examples.images[f"inputs_{side}"][unit]
        assert [int(re.search(r"image (\d+)", c).group(1))
                for c in captions.all_text_contents()] == expected.tolist()
    plain, lit = (np.array(json.loads(page.locator("#detail canvas." + name).first.evaluate(
        "c => JSON.stringify(Array.from(c.getContext('2d').getImageData("
        "0, 0, c.width, c.height).data))")), dtype=float) for name in ("plain", "lit"))
    assert plain.std() > 0 and not np.array_equal(plain, lit)  # the image, and its map on it
    assert errors == [] and dialogs == []
    screenshot(page, "report-generated-pair")


def _global(record: MatchRecord, row: int) -> int:
    layer = record.pairs["layer_a"][row]
    return int(record.pairs["unit_a"][row] + sum(record.layer_sizes_a[:layer]))


def test_anchor_runs_show_every_model_of_the_set(tmp_path, browser):
    bpe, _ = train_tokenizers()
    spec = save_text_model(tmp_path / "a", "gpt_neox", bpe, seed=1)
    docs = default_corpus()[:6]
    for name in ("copy-1", "copy-2"):
        match_pair(spec, dataclasses.replace(spec, name=name), family="language", inputs=docs,
                   options=OPTIONS, out=tmp_path / "runs", device=torch.device("cpu"),
                   paths=(tmp_path / "a", tmp_path / "a"))
    [directory] = anchors_main(["--family", "language", "--records", str(tmp_path / "runs"),
                                "--anchor", spec.name, "--report"])
    page, errors, _ = open_report(browser, directory / "report.html")
    page.locator("tr.row").first.click()
    assert page.locator("#detail .model").count() == 3
    marks = [page.locator(f"#detail .model[data-model='{m}'] mark").first.text_content()
             for m in range(3)]
    assert marks[0] == marks[1] == marks[2]  # the same weights: the same top span
    assert errors == []


def test_selectivity_columns_come_from_the_analysis_beside_the_match(odd_run, browser):
    assert json.loads(_payload(write_report(odd_run)))["metrics"] == []
    match = MatchRecord.load(odd_run)
    metrics = {"kurtosis_a": np.arange(8.0), "kurtosis_b": 2 * np.arange(8.0),
               "sparsity_a": np.full(8, 0.5), "sparsity_b": np.full(8, np.nan)}
    selectivity_record(match, metrics, config={}, rng=np.random.default_rng(0)).save(
        odd_run / "selectivity")
    path = write_report(odd_run, contrast=0)
    payload = json.loads(_payload(path))
    assert payload["metrics"] == ["kurtosis", "sparsity"]  # the masks are not metrics
    assert payload["selectivity"]["kurtosis"] == [[0.0, 1.0, 2.0, 3.0], [0.0, 2.0, 4.0, 6.0]]
    assert payload["selectivity"]["sparsity"][1] == [None] * 4
    page, errors, _ = open_report(browser, path)
    headers = page.locator("#head th").all_text_contents()
    assert headers[-2:] == ["kurtosis", "sparsity"]
    page.locator("#head th").nth(len(headers) - 2).click()  # sort by kurtosis, largest first
    assert page.locator("tr.row").first.get_attribute("data-row") == "3"
    page.fill("#min-sel", "2")  # row means 0, 1.5, 3, 4.5
    assert page.locator("tr.row").count() == 2 and errors == []


def _payload(path: Path) -> str:
    html = path.read_text()
    return html.split('<script type="application/json" id="data">')[1].split("</script>")[0]


def test_a_directory_without_a_run_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        report_main([str(tmp_path)])
    assert "no record at" in capsys.readouterr().err
    Record(config={}).save(tmp_path)
    with pytest.raises(RecordError, match="needs a match or anchors run"):
        write_report(tmp_path)


def test_the_page_names_hooks_nulls_and_the_calibrated_count(tmp_path, browser):
    from bridge.calibration import calibrate

    bpe, unigram = train_tokenizers()
    spec_a = save_text_model(tmp_path / "a", "gpt_neox", bpe, seed=1)
    spec_b = save_text_model(tmp_path / "b", "opt", unigram, seed=2)
    common = dict(family="language", inputs=default_corpus()[:12], out=tmp_path / "runs",
                  device=torch.device("cpu"), paths=(tmp_path / "a", tmp_path / "b"))
    directory = match_pair(spec_a, spec_b, options=OPTIONS, **common)
    page, errors, _ = open_report(browser, write_report(directory, contrast=0))
    assert "no null run of this pair beside it" in page.locator("#facts").text_content()
    nulls = [match_pair(spec_a, spec_b, options=dataclasses.replace(OPTIONS, null="permuted",
                                                                     seed=seed), **common)
             for seed in (0, 1)]
    [(_, point)], _ = calibrate([(p, MatchRecord.load(p)) for p in [directory, *nulls]],
                                rule="mutual-quantile")
    page, errors, _ = open_report(browser, write_report(directory, contrast=2))
    every = page.locator("tr.row").count()
    facts = page.locator("#facts li").all_text_contents()
    record = MatchRecord.load(directory)
    assert facts[0] == (f"mutual top-1, no r threshold; {record.n_neurons_a} x "
                        f"{record.n_neurons_b} neurons (dead {record.dead_a}/{record.dead_b}),"
                        f" {record.n_tokens:,} samples")
    counts = ", ".join(str(MatchRecord.load(p).n_rosetta) for p in sorted(nulls))
    assert facts[1] == f"pairs: {guarantee_text(record.config['guarantee'])}"
    assert facts[2] == (f"permutation null (2 runs): {counts} mutual pairs; their r's 0.99 "
                        f"quantile {point.threshold:.3f}, cleared by {point.n_rosetta:.0f} of the "
                        f"{record.n_rosetta} pairs here (the calibrated count under mutual-quantile"
                        f"{calibrated_exactness(record, point.threshold)})")
    page.locator("#levels button").click()  # the null's chance level as the min r
    assert page.locator("tr.row").count() == point.n_rosetta < every
    shown = [float(t) for t in page.locator("tr.row td:nth-child(5)").all_text_contents()]
    assert min(shown) >= round(point.threshold, 3) - 5e-4
    first = page.locator("tr.row").first
    layer, unit = (int(v) for v in re.findall(r"\d+", first.locator("td").nth(2).text_content()))
    assert first.locator("td").nth(2).get_attribute("title") == \
        f"blocks.{layer}.mlp.hook_post[..., {unit}]"
    first.click()
    assert page.locator("#detail .model[data-model='0'] .hook").text_content() == \
        f"blocks.{layer}.mlp.hook_post[..., {unit}]"
    assert errors == []


def test_toy_inputs_are_named_as_toy_feature_inputs(odd_run, browser):
    record = MatchRecord.load(odd_run)
    dataclasses.replace(record, family="toy").save(odd_run)
    page, errors, _ = open_report(browser, write_report(odd_run, contrast=0))
    assert "inputs: toy feature inputs" in page.locator("#summary").text_content()
    assert errors == []


def _record_with(guarantee: dict | None, r=(0.9, 0.8, 0.3)) -> MatchRecord:
    units = np.arange(len(r), dtype=np.int64)
    return MatchRecord(
        config={} if guarantee is None else {"guarantee": guarantee}, family="odd",
        model_a="a", model_b="b", size_a=1.0, size_b=1.0, null="none", k=1,
        min_correlation=None, n_tokens=4, n_neurons_a=8, n_neurons_b=8, n_rosetta=len(r),
        dead_a=0, dead_b=0, layer_sizes_a=[8], layer_sizes_b=[8],
        pairs={"layer_a": 0 * units, "unit_a": units, "layer_b": 0 * units, "unit_b": units,
               "r": np.array(r)},
        rosetta_per_layer_a=np.array([len(r)]), rosetta_per_layer_b=np.array([len(r)]),
        rechecked=False, max_recheck_change=None, changed_pairs=0, chunks={})


def test_the_facts_state_the_guarantee_and_whether_the_calibrated_count_is_exact(tmp_path):
    """No browser: the lines the page shows. A two-stage record with uncertified neurons is
    not called exact, and its calibrated count is exact only at or above its floor."""
    two_stage = {"mode": "two-stage", "rechecked": False, "uncertified_a": 3,
                 "uncertified_b": 1, "uncertain_pairs": 0, "certified_down_to": 0.5}
    lines, _ = match_facts(tmp_path / "run", _record_with(two_stage))
    assert "pairs: not exact: 3/1 uncertified, 0 pairs touch them, exact for r >= 0.500" in lines
    record = _record_with(two_stage)
    assert "exact: the level is at or above" in calibrated_exactness(record, 0.6)
    assert "not certified exact" in calibrated_exactness(record, 0.4)
    old = {key: value for key, value in two_stage.items() if key != "certified_down_to"}
    assert "not known to be exact" in calibrated_exactness(_record_with(old), 0.9)
    assert calibrated_exactness(_record_with({"mode": "block"}), 0.1) == ""
    assert "pairs: exact" in match_facts(tmp_path / "run", _record_with(None))[0]
