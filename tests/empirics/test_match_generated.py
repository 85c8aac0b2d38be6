"""python -m empirics.match --family generated-*: a pMF state dict against a tower on the
images it generates, end to end on tiny models saved in the test, with both nulls."""

import numpy as np
import pytest

from empirics.match import main
from empirics.models.detect import resolve_spec
from empirics.pipeline.options import InputChoice
from empirics.pipeline.pairs import inputs_for, pairs_for
from empirics.records.examples import ExamplesRecord
from empirics.records.match import MatchRecord
from runstore import find_records
from tests.empirics.tiny_models import save_dinov3, tiny_pmf

FLAGS = ["--images", "12", "--batch", "4", "--device", "cpu", "--examples", "3",
         "--groups", "3", "--candidates", "2"]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    root = tmp_path_factory.mktemp("generated")
    _, file = tiny_pmf(root)
    return file, save_dinov3(root / "dinov3", gated=True)


def test_a_generated_pair_and_its_nulls_write_records(saved, tmp_path):
    file, tower = saved
    pair = ["--family", "generated-dinov3", "--pair", str(file), str(tower)]
    for extra in ([], ["--null", "permuted"], ["--init", "random"]):
        assert len(main(pair + FLAGS + ["--out", str(tmp_path)] + extra)) == 1
    records = {record.null: record for _, record in find_records(tmp_path, MatchRecord)}
    assert set(records) == {"none", "permuted", "untrained"}
    trained = records["none"]
    capture = trained.config["capture"]
    assert capture["target_grid"] == [4, 4] and capture["canonical_grid"] == "generator"
    assert capture["prefix_tokens"] == [20, 5]
    assert capture["generation"]["steps"] == 1
    assert list(trained.layer_sizes_a) == [85] * 4 and list(trained.layer_sizes_b) == [48, 48]
    assert int(trained.chunks["tokens"].sum()) == 12 * 16
    assert records["untrained"].config["weights"][0]["init"] == "random"
    assert trained.n_rosetta > records["permuted"].n_rosetta
    directory = _directory(tmp_path, "none")
    examples = ExamplesRecord.load(directory / "examples")
    thumbnails = examples.images["thumbnails"]
    assert thumbnails.ndim == 4 and thumbnails.shape[-1] == 3 and thumbnails.std() > 0


def _directory(root, null):
    (found,) = [path for path, record in find_records(root, MatchRecord) if record.null == null]
    return found


def test_a_generator_is_model_a_of_a_generated_family_only(saved):
    file, tower = saved
    generator, dinov3 = resolve_spec(str(file)), resolve_spec(str(tower))
    assert generator.loader == "pmf" and generator.prefix_tokens == 20
    with pytest.raises(ValueError, match="pairs a generator"):
        pairs_for("generated-dinov3", (str(tower), str(file)))
    with pytest.raises(ValueError, match="matched on its own images"):
        pairs_for("vision", (str(file), str(tower)))
    with pytest.raises(ValueError, match="--image-dir does not apply"):
        inputs_for("generated-dinov3", InputChoice(image_dir=file.parent))
    assert dinov3.architecture == "dinov3_vit" and np.isclose(generator.n_params, sum(
        p.numel() for p in tiny_pmf()[0].parameters()))
