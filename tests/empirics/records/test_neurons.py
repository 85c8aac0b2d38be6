"""(layer, unit) <-> global index: one conversion, exact both ways."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from empirics.records.neurons import global_units, layer_offsets, layer_units, neuron_layers

SIZES = st.lists(st.integers(1, 50), min_size=1, max_size=8)


@given(SIZES, st.data())
def test_every_index_round_trips(sizes, data):
    index = np.array(data.draw(st.lists(st.integers(0, sum(sizes) - 1), max_size=20)),
                     dtype=np.int64)
    layer, unit = layer_units(index, sizes)
    assert np.all(unit < np.asarray(sizes)[layer])
    np.testing.assert_array_equal(global_units(layer, unit, sizes), index)
    np.testing.assert_array_equal(neuron_layers(sizes)[index], layer)
    assert layer_offsets(sizes).tolist() == [sum(sizes[:i]) for i in range(len(sizes))]


def test_missing_entries_stay_missing_and_the_rest_is_refused_out_of_range():
    layer, unit = layer_units(np.array([-1, 0, 5, 9]), [4, 4, 2], missing=-1)
    assert layer.tolist() == [-1, 0, 1, 2] and unit.tolist() == [-1, 0, 1, 1]
    with pytest.raises(ValueError, match="out of range"):
        layer_units(np.array([-1]), [4, 4, 2])
    with pytest.raises(ValueError, match="out of range"):
        global_units([1], [4], [4, 4, 2])
