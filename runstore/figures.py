"""The one figure style of the package and how a figure is saved (PNG and PDF, atomically).

`theory.plot`, `bridge.plot` and `paper_figs.style` draw in this style, so a figure of
`theory.simulate`, of `bridge.compare` and its paper version look alike. Nothing here selects
a matplotlib backend: figures are drawn on `matplotlib.figure.Figure` objects outside
pyplot's state (`new_figure`) and saved to files, which needs no backend; code that uses
pyplot gets matplotlib's own choice, the non-interactive Agg on a machine without a display.
"""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

from runstore.files import atomic_write_bytes

STYLE = {
    "figure.dpi": 150,
    "savefig.dpi": 200,
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.labelsize": 8,
    "legend.fontsize": 7,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "pdf.fonttype": 42,  # TrueType: some venues reject Type-3 fonts
    "ps.fonttype": 42,
}
#: The colours of Rosetta units and of the rest (the bulk) in every figure.
ROSETTA_COLOUR, BULK_COLOUR = "#08519c", "#e6550d"


def apply_style() -> None:
    """Make `STYLE` matplotlib's settings (for figures made after this call)."""
    matplotlib.rcParams.update(STYLE)


def new_figure(**options) -> Figure:
    """A figure in `STYLE` outside pyplot's state (nothing to close, no backend, no window)."""
    apply_style()
    return Figure(**options)


def _two_and_five(value: float, _position) -> str:
    """A minor tick's label when it is 2 or 5 x 10^k, else none."""
    exponent = int(np.floor(np.log10(value) + 1e-9))
    mantissa = value / 10.0**exponent
    if min(abs(mantissa - 2), abs(mantissa - 5)) > 1e-6:
        return ""
    return rf"${mantissa:.0f}\times10^{{{exponent}}}$"


def tidy_log_ticks(fig) -> None:
    """On every log axis that spans more than a decade, keep minor labels readable:
    matplotlib labels every minor tick 2-9 x 10^k of a span under about two decades, and on a
    narrow panel those labels run into each other ("2x10^4 3x10^4 4x10^4..."). With two
    decades or more in view only the decades are labelled, with one also 2 and 5 x 10^k.
    Axes with explicit tick positions are left as they are."""
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            if axis.get_scale() != "log" or isinstance(axis.get_major_locator(), FixedLocator):
                continue
            low, high = sorted(axis.get_view_interval())
            if low <= 0 or np.log10(high / low) <= 1.0:
                continue
            decades = np.arange(np.ceil(np.log10(low)), np.floor(np.log10(high)) + 1)
            axis.set_minor_formatter(NullFormatter() if len(decades) >= 2
                                     else FuncFormatter(_two_and_five))


def save_figure(fig, stem: str | Path, *, tight: bool = True) -> list[Path]:
    """Save `fig` as stem.png and stem.pdf (each written atomically); return the paths.

    `tight=False` keeps the figure's own size (paper figures with a fixed width).
    """
    tidy_log_ticks(fig)
    paths = []
    for suffix in (".png", ".pdf"):
        path = Path(stem).with_suffix(suffix)
        buffer = BytesIO()
        fig.savefig(buffer, format=suffix[1:], bbox_inches="tight" if tight else None)
        atomic_write_bytes(path, buffer.getvalue())
        paths.append(path)
    return paths
