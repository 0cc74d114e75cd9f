"""The multilingual (e5) head of a RoutedModel, which answers non-English messages, multiplies its char n-grams'
share of its own logits by MULTILINGUAL_NGRAM_BOOST at prediction, for texts py3langid surely reads as another
language (BOOST_LANGUAGE_P); what it was fitted and calibrated on, and the logits it lends the English head as a
partner, are unchanged (English messages read as before)."""

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from pipeline import local_classifier as lc
from pipeline.lookalikes import fold_lookalikes

TEXTS = ["Où est mon colis ?", "Annulez ma commande svp", "Wo ist mein Paket?", "Bitte Bestellung stornieren",
         "¿Dónde está mi paquete?", "Cancelad mi pedido", "Dov'è il mio pacco?", "Annullate il mio ordine",
         "Waar blijft mijn pakket?", "Annuleer mijn bestelling"]
LABELS = ["order_status", "cancel_order"] * 5
QUERIES = ["annulez la commande 4471 svp, je me suis trompée de taille", "wo bleibt das Paket, ich warte seit Montag",
           "Ｃａｎｃｅｌａｄ el pedido por favor, ya no lo necesito", "<b>annullate</b> l'ordine, grazie mille",
           "ne PAS annuler, je veux juste savoir où est le colis",
           # Short texts py3langid is unsure about (CLINC150 `val` rows the e5 head reads): never boosted.
           "perhaps", "sync phone", "wassup"]


def _vectors(texts):
    # Fixed pseudo-random unit vectors per text: the tests are about the n-gram block, not a model.
    out = np.stack([np.random.default_rng(sum(map(ord, t)) * 7919 + len(t)).normal(size=16) for t in texts])
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def _routed():
    m = lc.RoutedModel(knn_percentile=0)
    m.other.embedder = m.english.embedder = _vectors
    m.other.fit(TEXTS, LABELS, embeddings=_vectors(TEXTS), calibrate=False)
    m.english.fit(TEXTS, LABELS, embeddings=_vectors(TEXTS), calibrate=False)
    return m


def test_only_the_multilingual_head_is_boosted():
    m = lc.RoutedModel()
    assert lc.MULTILINGUAL_NGRAM_BOOST == 2.5
    assert m.other.ngram_boost == lc.MULTILINGUAL_NGRAM_BOOST
    assert m.english.ngram_boost == lc.IntentModel().ngram_boost == 1.0  # e5 alone (SIDECAR_TRIAGE_ENGLISH=0) too
    assert m.other.char_weight == m.english.char_weight == 0.6  # the fit is unchanged


def test_the_boost_multiplies_the_ngram_share_of_the_fitted_logits():
    m = _routed()
    head = m.other.head()
    dim = 16
    folded = [fold_lookalikes(t) for t in QUERIES]  # full-width letters and markup as classify_local reads them
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=lc.NGRAM_RANGE, sublinear_tf=True, min_df=1,
                          max_features=60000).fit([fold_lookalikes(t) for t in m.other.train_texts])
    assert tuple(vec.get_feature_names_out()) == tuple(sorted(head.ngrams.terms))
    order = [vec.vocabulary_[t] for t in head.ngrams.terms]
    tf = vec.transform(folded).toarray()[:, order]
    dense = m.other._centred(_vectors(QUERIES), m.other._vec.mean) @ head.coef[:, :dim].T + head.intercept
    grams = (tf * m.other.char_weight) @ head.coef[:, dim:].T
    assert np.abs(grams).max() > 0.05  # the queries share n-grams with the examples: the boost has work to do
    fitted = m.other.decision(QUERIES, _vectors(QUERIES), boost=False)
    boosted = m.other.decision(QUERIES, _vectors(QUERIES))
    # Two intents: the head's two halves (IntentModel.decision) of scikit-learn's one column.
    np.testing.assert_allclose(fitted, np.stack([-(dense + grams)[:, 0], (dense + grams)[:, 0]], axis=1) / 2, atol=1e-9)
    sure = lc._sure_other_language(QUERIES)
    assert sure.tolist() == [True] * 5 + [False] * 3
    want = dense + np.where(sure[:, None], lc.MULTILINGUAL_NGRAM_BOOST, 1.0) * grams
    np.testing.assert_allclose(boosted, np.stack([-want[:, 0], want[:, 0]], axis=1) / 2, atol=1e-9)
    assert not np.allclose(boosted[:5], fitted[:5], atol=1e-6)
    # And the probabilities classify_local reads are the boosted logits'.
    np.testing.assert_allclose(m.other.predict_proba(QUERIES, _vectors(QUERIES)),
                               lc.softmax(boosted / m.other.temperature, axis=1), atol=1e-12)


@pytest.mark.parametrize("weight", [0.25, 0.5])
def test_the_english_head_borrows_the_fitted_logits(weight):
    m = _routed()
    m.english.partner_weight = weight
    own = m.english._head.decision(m.english._centred(_vectors(QUERIES), m.english._vec.mean),
                                   [fold_lookalikes(t) for t in QUERIES], m.english.char_weight)
    own = np.stack([-own, own], axis=1) / 2
    got = m.english.decision(QUERIES, _vectors(QUERIES))
    np.testing.assert_allclose(got, own + weight * m.other.decision(QUERIES, boost=False), atol=1e-9)
    assert not np.allclose(got, own + weight * m.other.decision(QUERIES), atol=1e-6)  # the boosted ones differ
