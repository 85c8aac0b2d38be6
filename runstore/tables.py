"""Records as tables: `frame`, the one place pandas is imported, and only when a table is
asked for (a record loads without it)."""

from __future__ import annotations

from typing import Any, Mapping


def frame(columns: Mapping[str, Any]):
    """A pandas DataFrame of `columns` (name -> values, all of one length), in their order."""
    try:
        import pandas
    except ImportError:
        raise ImportError("a record's table (to_frame) needs pandas: pip install pandas"
                          ) from None
    return pandas.DataFrame(dict(columns))
