"""The embedded default text corpus: short public-domain documents, code and data.

Prose is public domain (historical documents, pre-1900 literature, scripture in old
translations); code and data documents were written for this package. Several documents are
non-ASCII (accents, Greek, Cyrillic, CJK, symbols, emoji) so that byte-level token alignment is
exercised on every run. Each entry is (document id, text); `empirics.capture.stimuli` wraps them.
"""

from __future__ import annotations

PROSE = (
    ("gettysburg", "Four score and seven years ago our fathers brought forth on this continent, "
     "a new nation, conceived in Liberty, and dedicated to the proposition that all men are "
     "created equal. Now we are engaged in a great civil war, testing whether that nation, or "
     "any nation so conceived and so dedicated, can long endure. We are met on a great "
     "battle-field of that war."),
    ("constitution-preamble", "We the People of the United States, in Order to form a more "
     "perfect Union, establish Justice, insure domestic Tranquility, provide for the common "
     "defence, promote the general Welfare, and secure the Blessings of Liberty to ourselves "
     "and our Posterity, do ordain and establish this Constitution for the United States of "
     "America."),
    ("genesis", "In the beginning God created the heaven and the earth. And the earth was "
     "without form, and void; and darkness was upon the face of the deep. And the Spirit of "
     "God moved upon the face of the waters. And God said, Let there be light: and there was "
     "light."),
    ("psalm-23", "The LORD is my shepherd; I shall not want. He maketh me to lie down in green "
     "pastures: he leadeth me beside the still waters. He restoreth my soul: he leadeth me in "
     "the paths of righteousness for his name's sake."),
    ("sonnet-18", "Shall I compare thee to a summer's day?\nThou art more lovely and more "
     "temperate:\nRough winds do shake the darling buds of May,\nAnd summer's lease hath all "
     "too short a date."),
    ("hamlet", "To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to "
     "suffer\nThe slings and arrows of outrageous fortune,\nOr to take arms against a sea of "
     "troubles\nAnd by opposing end them."),
    ("pride-and-prejudice", "It is a truth universally acknowledged, that a single man in "
     "possession of a good fortune, must be in want of a wife. However little known the "
     "feelings or views of such a man may be on his first entering a neighbourhood, this truth "
     "is so well fixed in the minds of the surrounding families."),
    ("two-cities", "It was the best of times, it was the worst of times, it was the age of "
     "wisdom, it was the age of foolishness, it was the epoch of belief, it was the epoch of "
     "incredulity, it was the season of Light, it was the season of Darkness."),
    ("moby-dick", "Call me Ishmael. Some years ago—never mind how long precisely—having little "
     "or no money in my purse, and nothing particular to interest me on shore, I thought I "
     "would sail about a little and see the watery part of the world."),
    ("origin-of-species", "When on board H.M.S. 'Beagle,' as naturalist, I was much struck "
     "with certain facts in the distribution of the inhabitants of South America, and in the "
     "geological relations of the present to the past inhabitants of that continent."),
    ("declaration", "When in the Course of human events, it becomes necessary for one people "
     "to dissolve the political bands which have connected them with another, and to assume "
     "among the powers of the earth, the separate and equal station to which the Laws of "
     "Nature and of Nature's God entitle them."),
    ("euclid", "A point is that which has no part. A line is breadthless length. The extremities "
     "of a line are points. A straight line is a line which lies evenly with the points on "
     "itself. A surface is that which has length and breadth only."),
)

MULTILINGUAL = (
    ("droits-de-l-homme", "Article premier. Les hommes naissent et demeurent libres et égaux "
     "en droits. Les distinctions sociales ne peuvent être fondées que sur l'utilité commune. "
     "Déclaration des Droits de l'Homme et du Citoyen, 1789 — « liberté, égalité »."),
    ("goethe", "Über allen Gipfeln ist Ruh, in allen Wipfeln spürest du kaum einen Hauch; die "
     "Vögelein schweigen im Walde. Warte nur, balde ruhest du auch."),
    ("john-greek", "Ἐν ἀρχῇ ἦν ὁ λόγος, καὶ ὁ λόγος ἦν πρὸς τὸν θεόν, καὶ θεὸς ἦν ὁ λόγος. "
     "οὗτος ἦν ἐν ἀρχῇ πρὸς τὸν θεόν."),
    ("pushkin", "Я помню чудное мгновенье: передо мной явилась ты, как мимолётное виденье, "
     "как гений чистой красоты."),
    ("analects", "子曰：學而時習之，不亦說乎？有朋自遠方來，不亦樂乎？人不知而不慍，不亦君子乎？"),
    ("iroha", "いろはにほへと ちりぬるを わかよたれそ つねならむ うゐのおくやま けふこえて "
     "あさきゆめみし ゑひもせす"),
    ("cervantes", "En un lugar de la Mancha, de cuyo nombre no quiero acordarme, no ha mucho "
     "tiempo que vivía un hidalgo de los de lanza en astillero, adarga antigua, rocín flaco y "
     "galgo corredor."),
    ("symbols", "Units and symbols: 25 °C ≈ 298.15 K; µ = 3·10⁻⁶; ∑ᵢ xᵢ² ≤ ‖x‖²; α → β ⇒ γ. "
     "Prices: €12.50, £9, ¥1200. Arrows ⭢ ⇄ and marks ✓ ✗. Weather: ☀️🌧️❄️ 🙂👍🏽."),
)

CODE = (
    ("code-mean", "def running_mean(values):\n    \"\"\"Mean of an iterable in one pass.\"\"\"\n"
     "    total, count = 0.0, 0\n    for value in values:\n        total += value\n"
     "        count += 1\n    return total / count if count else float('nan')\n"),
    ("code-fib", "def fibonacci(n: int) -> list[int]:\n    sequence = [0, 1]\n"
     "    while len(sequence) < n:\n        sequence.append(sequence[-1] + sequence[-2])\n"
     "    return sequence[:n]\n\n\nprint(fibonacci(10))  # [0, 1, 1, 2, 3, 5, 8, 13, 21, 34]\n"),
    ("code-class", "class Stack:\n    def __init__(self):\n        self._items = []\n\n"
     "    def push(self, item):\n        self._items.append(item)\n\n    def pop(self):\n"
     "        if not self._items:\n            raise IndexError('pop from an empty stack')\n"
     "        return self._items.pop()\n"),
    ("code-c", "#include <stdio.h>\n\nint main(void) {\n    for (int i = 0; i < 3; i++) {\n"
     "        printf(\"line %d\\n\", i);\n    }\n    return 0;\n}\n"),
    ("code-sql", "SELECT city, COUNT(*) AS n, AVG(temperature) AS mean_t\nFROM readings\n"
     "WHERE year >= 2020\nGROUP BY city\nHAVING COUNT(*) > 10\nORDER BY mean_t DESC;\n"),
    ("code-shell", "#!/bin/sh\nset -eu\nfor f in *.txt; do\n    wc -l \"$f\"\ndone | sort -n "
     "| tail -n 3\n"),
)

DATA = (
    ("data-json", '{"name": "station-7", "lat": 48.8566, "lon": 2.3522, "readings": '
     '[12.5, 13.1, 12.9], "active": true, "tags": ["urban", "rooftop"]}'),
    ("data-csv", "date,city,temperature,humidity\n2021-01-01,Oslo,-3.5,0.81\n2021-01-01,Lima,"
     "22.1,0.77\n2021-01-02,Oslo,-4.0,0.84\n2021-01-02,Lima,23.4,0.73\n"),
    ("data-markdown", "# Notes\n\n- **Bold** item with `inline code`\n- A [link](https://"
     "example.org) and an image ![alt](img.png)\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"),
    ("data-arithmetic", "12 + 7 = 19\n144 / 12 = 12\n3.14159 * 2 = 6.28318\n2 ** 10 = 1024\n"
     "1000000 - 1 = 999999\n0.1 + 0.2 = 0.30000000000000004\n"),
    ("data-log", "2024-03-01 12:00:01 INFO  server started on port 8080\n2024-03-01 12:00:05 "
     "WARN  slow request: GET /api/items took 1532 ms\n2024-03-01 12:01:17 ERROR connection "
     "reset by peer (errno 104)\n"),
    ("data-url-email", "Contact: jane.doe@example.com, +1 (555) 010-2030. Docs at "
     "https://example.org/docs/v2/index.html?lang=en#install — mirror: ftp://mirror.example.net/"),
)

DOCUMENTS: tuple[tuple[str, str], ...] = PROSE + MULTILINGUAL + CODE + DATA
