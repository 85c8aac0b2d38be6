"""The one style of the paper's figures: rcParams, colours, panel grid and saving.

It extends the style of `bridge.compare`'s scaling plot (`bridge.plot.FIGURE_RC`), itself the
package's (`runstore.figures.STYLE`), so a figure drawn by `theory.simulate` or
`bridge.compare` and its paper version look alike. Paper figures have a fixed size (panels of
`PANEL` inches) so that a page layout can rely on it: they are saved without a tight bounding
box, and constrained layout keeps labels and legends inside the canvas.
"""

from __future__ import annotations

import math
from pathlib import Path

from matplotlib.figure import Figure

from bridge.plot import FIGURE_RC
from runstore.figures import BULK_COLOUR, ROSETTA_COLOUR
from runstore.figures import save_figure as save_stem

#: Resolution of the PNG files (dots per inch).
DPI = 200
#: Width and height of one panel, inches.
PANEL = (3.4, 2.8)
RC = {**FIGURE_RC, "savefig.dpi": DPI, "figure.dpi": DPI}
COLOURS = {
    "rosetta": ROSETTA_COLOUR,
    "non_rosetta": BULK_COLOUR,
    "theory": "black",
    "null": "0.55",
}


def new_figure() -> Figure:
    """An empty figure outside pyplot's state (nothing to close, nothing shown)."""
    return Figure(layout="constrained")


def grid_shape(n_panels: int, max_columns: int = 3) -> tuple[int, int]:
    """Rows and columns of a grid holding `n_panels` panels, at most `max_columns` wide."""
    if n_panels < 1:
        raise ValueError(f"a figure needs at least one panel, got {n_panels}")
    columns = min(n_panels, max_columns)
    return math.ceil(n_panels / columns), columns


def figure_inches(n_rows: int, n_columns: int) -> tuple[float, float]:
    return n_columns * PANEL[0], n_rows * PANEL[1]


def figure_pixels(n_rows: int, n_columns: int) -> tuple[int, int]:
    """Width and height in pixels of the PNG of a grid of panels."""
    width, height = figure_inches(n_rows, n_columns)
    return round(width * DPI), round(height * DPI)


def panel_grid(fig: Figure, n_panels: int, max_columns: int = 3) -> list:
    """Size `fig` for `n_panels` panels and return their axes (unused grid cells hidden)."""
    rows, columns = grid_shape(n_panels, max_columns)
    fig.set_size_inches(*figure_inches(rows, columns))
    axes = fig.subplots(rows, columns, squeeze=False).ravel()
    for ax in axes[n_panels:]:
        ax.set_axis_off()
    return list(axes[:n_panels])


def outside_legend(ax) -> None:
    """The legend beside the panel, right of it (a legend of many sizes or models would
    cover the data inside), each label once."""
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    ax.legend(unique.values(), unique.keys(), loc="upper left", bbox_to_anchor=(1.02, 1.0),
              fontsize="x-small", borderaxespad=0.0)


def save_figure(fig: Figure, out: str | Path, name: str) -> list[Path]:
    """Write out/name.png and out/name.pdf (each atomically); return the paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    return save_stem(fig, out / name, tight=False)
