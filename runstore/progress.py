"""Progress bars, one rule for every long step: labelled, drawn only on a terminal.

tqdm's `disable=None` turns a bar off when its stream is not a terminal, so a job whose
output goes to a log file gets no bar fragments in it (the steps log their own lines).
"""

from __future__ import annotations


def progress_bar(iterable=None, *, desc: str, show: bool = True, **options):
    """A tqdm bar labelled `desc` over `iterable`, drawn only on a terminal and never when
    `show` is false; `options` go to tqdm (total, unit, initial...)."""
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, disable=None if show else True, **options)
