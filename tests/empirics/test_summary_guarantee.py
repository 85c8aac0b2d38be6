"""The match summary says what each record's pairs are guaranteed to be."""

from empirics.pipeline.summary import COLUMNS, format_summary, guarantee_text


def test_the_guarantee_in_words():
    assert guarantee_text(None) == guarantee_text({"mode": "block"}) == "exact"
    assert guarantee_text({"mode": "official"}) == "official"
    two_stage = {"mode": "two-stage", "rechecked": False, "uncertain_pairs": 0}
    assert guarantee_text(two_stage) == "exact (certified)"
    assert guarantee_text(two_stage | {"uncertain_pairs": 191}) == "191 unproven"
    assert guarantee_text(two_stage | {"uncertain_pairs": 191, "rechecked": True}) == \
        "exact (rechecked)"


def test_the_table_shows_it_beside_the_counts():
    row = {"model_a": "a", "model_b": "b", "n_neurons_a": 4, "n_neurons_b": 4, "n_tokens": 9,
           "n_rosetta": 2, "rosetta_fraction": 0.5, "median_r": 0.7, "dead_a": 0, "dead_b": 0,
           "null": "none", "guarantee": "3 unproven", "seconds": 1.0, "record": "runs/x"}
    header, line = format_summary([row]).splitlines()
    assert "pairs" in [name for name, _ in COLUMNS] and "3 unproven" in line
    assert header.index("pairs") == line.index("3 unproven")
