"""The intent head's char n-grams read the text the encoders read (look-alike letters folded), at
fit time (learned examples from real tickets) as at predict time (classify_local folds first; app eval does not)."""

from __future__ import annotations

import numpy as np

from pipeline.local_classifier import IntentModel
from pipeline.lookalikes import fold_lookalikes

TRAIN = {
    "shipping": ["where is my parcel", "when will my package arrive", "has my order shipped yet",
                 "tracking number please", "my delivery has not come", "is my box on the way"],
    "refund": ["I want my money back", "how do I get a refund", "refund my purchase please",
               "please reimburse me", "the refund has not reached my card", "can I get a refund for this"],
}


def _fake_embedder(texts):
    # What the encoders do: read the folded text (local_classifier._unshout); vectors from its bytes.
    out = []
    for t in texts:
        rng = np.random.default_rng(abs(hash(fold_lookalikes(t))) % 2**32)
        v = rng.normal(size=8).astype(np.float32)
        out.append(v / np.linalg.norm(v))
    return np.array(out)


def test_char_ngrams_read_the_folded_text_like_the_encoders():
    texts = [t for ts in TRAIN.values() for t in ts]
    labels = [lab for lab, ts in TRAIN.items() for _ in ts]
    # A learned example (an agent's label on a real ticket) written with Cyrillic look-alikes.
    texts.append("I nееd а rеfund fоr thе brоkеn lаmр")
    labels.append("refund")
    m = IntentModel(cv_folds=2)
    m.embedder = _fake_embedder
    m.fit(texts, labels, calibrate=False)
    latin = m.predict_proba(["I need a refund for the broken lamp"])
    spoofed = m.predict_proba(["I nееd а rеfund fоr thе brоkеn lаmр"])
    np.testing.assert_allclose(spoofed, latin, atol=1e-6)
    # The fit's n-grams are the folded text's: the learned example scores like its Latin spelling.
    assert "rеfund" not in " ".join(m.head().ngrams.terms)
