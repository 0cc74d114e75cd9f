"""bench/ingest_profile.py, whose per-pass figures docs/measurements.md quotes, counts runs, tokens and padding right.

Its padding share is what told the sixteenth session that length grouping leaves nothing to gain; a wrapper that
counted the padded width as real tokens (or dropped the runs' rows) would say 0% padding whatever the batches.
"""

from __future__ import annotations

import numpy as np


class _FakeSession:
    def __init__(self) -> None:
        self.seen: list[tuple[int, int]] = []

    def run(self, output_names, feeds, run_options=None):
        self.seen.append(feeds["mask"].shape)
        return ["out"]


def test_counts_rows_real_tokens_and_padding():
    from bench.ingest_profile import _Shapes

    sess = _FakeSession()
    shapes = _Shapes(sess, "ids", "mask")
    # Two runs: 2 texts of 3 and 1 tokens padded to 3; 1 text of 4 tokens, no padding.
    assert sess.run(None, {"mask": np.array([[1, 1, 1], [1, 0, 0]])}) == ["out"]
    sess.run(None, {"mask": np.array([[1, 1, 1, 1]])}, None)
    assert sess.seen == [(2, 3), (1, 4)]  # the real run still ran, with its feeds
    line = shapes.take()
    assert line.startswith("2 runs, 1.5 rows a run, tokens 8 (+2 padding, 20.0%)")
    assert shapes.take() == "no model run"  # taken: the next pass starts from zero


def test_known_sentences_never_run_the_model():
    from bench.ingest_profile import _Known

    calls = []

    def unit(k):
        calls.append(k)
        return np.ones((k, 4), dtype=np.float32)

    known = _Known(unit)
    assert known and "any text" in known  # sentences.add treats every text as stored
    v = known["heading: a sentence"]
    assert v.shape == (4,) and calls == [1]
    assert known["heading: a sentence"] is v and calls == [1]  # one vector per text, drawn once
