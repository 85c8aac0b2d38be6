"""The match summary says what each record's pairs are guaranteed to be."""

from empirics.pipeline.summary import COLUMNS, format_summary
from empirics.records.guarantee import (
    certified_down_to,
    exact_from,
    guarantee_fields,
    guarantee_text,
    is_exact,
)

TWO_STAGE = {"mode": "two-stage", "rechecked": False, "uncertified_a": 0, "uncertified_b": 0,
             "uncertain_pairs": 0, "certified_down_to": -1.0}


def test_the_guarantee_in_words():
    assert guarantee_text(None) == guarantee_text({"mode": "block"}) == "exact"
    assert guarantee_text({"mode": "official"}) == "official"
    assert guarantee_text(TWO_STAGE) == "exact (certified)"
    assert guarantee_text(TWO_STAGE | {"uncertified_a": 3, "uncertain_pairs": 191,
                                       "rechecked": True}) == "exact (rechecked)"


def test_exact_only_when_every_live_neuron_is_certified():
    """A record whose found pairs touch no uncertified neuron is still not exact while some
    neuron is uncertified: a true pair between two of them can be missing (this read
    "exact (certified)" before)."""
    missed = TWO_STAGE | {"uncertified_a": 75, "uncertified_b": 80, "certified_down_to": 0.61}
    assert not is_exact(missed)
    assert guarantee_text(missed) == ("not exact: 75/80 uncertified, 0 pairs touch them, "
                                      "exact for r >= 0.610")
    assert certified_down_to(missed) == 0.61
    assert exact_from(missed, 0.7) is True and exact_from(missed, 0.5) is False
    assert guarantee_text(missed | {"certified_down_to": 1.4}).endswith("exact at no r")


def test_records_saved_before_the_floor_say_it_is_unknown():
    old = {"mode": "two-stage", "rechecked": False, "uncertified_a": 2, "uncertified_b": 0,
           "uncertain_pairs": 0}
    assert not is_exact(old) and certified_down_to(old) is None
    assert exact_from(old, 0.9) is None
    assert guarantee_text(old).endswith("floor unknown")
    assert certified_down_to({"mode": "official"}) is None
    assert certified_down_to({"mode": "block"}) == certified_down_to(TWO_STAGE) == -1.0


def test_the_json_row_carries_the_guarantee():
    fields = guarantee_fields(TWO_STAGE | {"uncertified_b": 4, "uncertain_pairs": 1,
                                           "certified_down_to": 0.5})
    assert fields == {"guarantee": "not exact: 0/4 uncertified, 1 pairs touch them, exact "
                                   "for r >= 0.500", "exact": False, "certified_down_to": 0.5,
                      "uncertified_a": 0, "uncertified_b": 4, "uncertain_pairs": 1}
    assert guarantee_fields({"mode": "block"})["exact"] is True


def test_the_table_shows_it_beside_the_counts():
    row = {"model_a": "a", "model_b": "b", "n_neurons_a": 4, "n_neurons_b": 4, "n_tokens": 9,
           "n_rosetta": 2, "rosetta_fraction": 0.5, "median_r": 0.7, "dead_a": 0, "dead_b": 0,
           "null": "none", "guarantee": "not exact: 1/0 uncertified", "seconds": 1.0,
           "record": "runs/x"}
    header, line = format_summary([row]).splitlines()
    assert "pairs" in [name for name, _ in COLUMNS] and "not exact: 1/0 uncertified" in line
    assert header.index("pairs") == line.index("not exact")
