"""One rule for progress bars: labelled, drawn only on a terminal."""

import io

from runstore.progress import progress_bar


def test_a_bar_is_drawn_on_a_terminal_only_and_never_when_hidden():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    shown = progress_bar(range(3), desc="steps", file=Terminal())
    assert not shown.disable and shown.desc == "steps"
    assert list(shown) == [0, 1, 2]
    assert progress_bar(range(3), desc="steps", file=io.StringIO()).disable  # a log file
    assert progress_bar(range(3), desc="steps", show=False, file=Terminal()).disable
