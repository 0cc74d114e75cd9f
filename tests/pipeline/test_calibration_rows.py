"""The English head is calibrated on the rows it reads only when they are enough in-scope rows:
a store whose English rows are only its out-of-scope examples (or one intent's) is calibrated on all rows."""

from __future__ import annotations

import zlib

import numpy as np

from pipeline.local_classifier import IntentModel

INTENTS = {
    "livraison": ["où est mon colis", "ma commande n'est pas arrivée", "quand arrive ma livraison",
                  "le suivi ne bouge pas", "colis perdu", "livraison en retard"],
    "remboursement": ["je veux être remboursé", "rendez-moi mon argent", "remboursement svp",
                      "mon remboursement n'est pas arrivé", "annulez et remboursez", "je veux un avoir"],
    "compte": ["mot de passe oublié", "je ne peux pas me connecter", "compte bloqué",
               "réinitialiser mon mot de passe", "code de connexion jamais reçu", "changer mon e-mail"],
    "facture": ["il me faut une facture", "facture avec TVA", "télécharger ma facture",
                "erreur sur la facture", "facture au nom de la société", "envoyez la facture"],
}
OTHER = ["hello", "test", "thanks", "ok", "hi there", "good morning", "bye", "cool", "lol", "yes",
         "no", "hey", "great", "fine", "sure", "what", "nothing", "asdf", "ping", "hmm", "sup", "yo"]


def _emb(texts):
    out = []
    for t in texts:
        v = np.random.default_rng(zlib.crc32(t.encode())).normal(size=16).astype(np.float32)
        out.append(v / np.linalg.norm(v))
    return np.array(out)


def test_english_rows_that_are_only_out_of_scope_examples_do_not_leave_the_head_uncalibrated():
    texts = [t for ts in INTENTS.values() for t in ts] + OTHER
    labels = [lab for lab, ts in INTENTS.items() for _ in ts] + ["other"] * len(OTHER)
    every = IntentModel(cv_folds=3)
    every.embedder = _emb
    every.fit(texts, labels, oos_label="other")
    english = IntentModel(cv_folds=3)
    english.embedder = _emb
    english.reads = lambda ts: np.array([t in OTHER for t in ts])  # the English rows: "other"'s only
    english.fit(texts, labels, oos_label="other")
    assert every.cv.temperature != 1.0 and every.cv.threshold is not None
    assert english.cv.temperature == every.cv.temperature and english.cv.threshold == every.cv.threshold
