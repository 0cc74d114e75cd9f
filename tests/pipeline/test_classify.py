"""Local triage classifier: shipped intents on held-out messages, thresholds, caching, fallback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline import classify as classify_mod
from pipeline import local_classifier as lc
from pipeline.classify import classify, warm_up
from pipeline.config import Config, load_config
from pipeline.models import Message, Ticket

ROOT = Path(__file__).resolve().parents[2]

# Written for this test, not copied from config/intents.yaml (checked below).
HELD_OUT = {
    "order_status": [
        "any idea when my stuff is going to ship? ordered monday",
        "I need the tracking code for my purchase from last Tuesday",
        "is order 20931 on its way yet?",
    ],
    "delivery_problem": [
        "the parcel came today but the lamp inside is in pieces",
        "app says delivered at 2pm, there is nothing at my door",
        "you packed a completely different product, not what I bought",
    ],
    "return_refund": [
        "these trousers are too small, how can I send them back for my money?",
        "still waiting for the refund for the boots I returned last month",
        "what do I need to do to get reimbursed for a faulty kettle",
    ],
    "cancel_order": [
        "please cancel the order I just made, I clicked buy by accident",
        "I'd like to call off my purchase from this morning before it ships",
    ],
    "change_order": [
        "can you send the parcel to my parents' house instead, new address below",
        "could you change the delivery address on my order to 5 Baker Street, I have moved",
    ],
    "billing": [
        "my bank statement shows two payments for one order",
        "checkout fails every time I enter my visa card",
        "I need a VAT invoice for my company's accounts",
    ],
    "account_access": [
        "the site won't accept my password even after resetting it",
        "I'm locked out of my profile and the reset mail is not arriving",
    ],
    "account_change": [
        "remove all my personal information and close my profile please",
        "how can I update the email I use for my account",
    ],
    "product_question": [
        "is the rain jacket fully waterproof or just water resistant?",
        "what are the measurements of the oak desk?",
        "does the blender work with 110V outlets?",
    ],
    "discount_promo": [
        "the 15% welcome code says invalid when I enter it",
        "do you have any coupon codes running this week?",
    ],
    "complaint": [
        "honestly the worst shopping experience I have had, very poor service",
        "I am really disappointed, the quality is awful and nobody cares",
    ],
    "human_request": [
        "let me speak with an actual human being please",
        "I want a supervisor to contact me about this",
    ],
    "other": [
        "thank you very much, all sorted!",
        "Automatic reply: I'm away on holiday with limited access to email",
    ],
}


pytestmark = pytest.mark.usefixtures("isolated_var")


@pytest.fixture(scope="module")
def cfg() -> Config:
    c = load_config(ROOT / "config")
    warm_up(c)  # fits the head once for the module (cached per process)
    return c


def test_held_out_messages_are_not_yaml_examples(cfg):
    yaml_examples = {e.strip().lower() for d in cfg.intents.intents.values() for e in d.examples}
    for msgs in HELD_OUT.values():
        for m in msgs:
            assert m.strip().lower() not in yaml_examples
    assert set(HELD_OUT) == set(cfg.intents.intents), "every shipped intent needs held-out messages"


# Known miss of the English head (bge, the default since the fifth session of 2026-11-30): it reads
# "tracking code for my purchase" as a discount code (discount_promo 0.56 vs order_status 0.41); the e5
# head got it right. Left failing on purpose rather than adding a yaml example written after seeing it:
# strict, so the day it passes the marker must go.
_KNOWN_MISSES = {"I need the tracking code for my purchase from last Tuesday"}


@pytest.mark.parametrize("intent,text", [
    pytest.param(i, t, marks=pytest.mark.xfail(strict=True, reason="English head reads 'code' as a discount code"))
    if t in _KNOWN_MISSES else (i, t)
    for i, ts in HELD_OUT.items() for t in ts])
def test_each_intent_recognised_on_held_out_messages(cfg, intent, text):
    t = classify(text, None, cfg)
    assert t.classifier == "local"
    assert t.intent == intent, (text, t.intent, t.confidence, t.alternatives)
    if intent != cfg.intents.oos_intent:
        assert not t.out_of_scope
        assert t.confidence >= cfg.intents.threshold
    else:
        assert t.out_of_scope


# Non-English held-out messages. MiniLM-L6 is an English model: other languages lean on the
# char n-grams and the few FR/ES/DE examples in intents.yaml, so this is a floor, not perfection
# (7 of 9 when written; the OpenAI path is the better choice for multilingual stores).
MULTILINGUAL = [
    ("Où est mon colis ? Je l'attends depuis dix jours.", "order_status"),
    ("El paquete llegó roto y la pantalla no funciona.", "delivery_problem"),
    ("Ich möchte die Schuhe zurückgeben und mein Geld erstattet bekommen.", "return_refund"),
    ("Merci d'annuler ma commande numéro 4432.", "cancel_order"),
    ("Mi tarjeta fue rechazada al pagar.", "billing"),
    ("Je n'arrive plus à me connecter, mot de passe refusé.", "account_access"),
    ("Bitte löschen Sie alle meine Daten.", "account_change"),
    ("¿Esta chaqueta es impermeable?", "product_question"),
    ("Quiero hablar con una persona, no con un robot.", "human_request"),
]


def test_multilingual_floor(cfg):
    got = [(classify(text, None, cfg).intent, want) for text, want in MULTILINGUAL]
    right = sum(g == w for g, w in got)
    assert right >= 6, got


def test_hard_case_keeps_right_intent_in_top_two(cfg):
    # Lexically close to a product question ("size", "medium"): the right intent must at least be
    # the runner-up, so the agent sees it in the note.
    t = classify("I picked size S by mistake, please make it a medium before you ship", None, cfg)
    top2 = [t.intent] + [a[0] for a in t.alternatives[:1]]
    assert "change_order" in top2


def test_confidence_below_global_threshold_is_out_of_scope(cfg):
    text = "is order 20931 on its way yet?"
    base = classify(text, None, cfg)
    assert base.intent == "order_status" and base.confidence < 1.0
    strict = cfg.intents.model_copy(update={"threshold": min(1.0, base.confidence + 0.01)})
    cfg2 = Config(intents=strict, rules=cfg.rules, folder=cfg.folder)
    t = classify(text, None, cfg2)
    assert t.intent == cfg.intents.oos_intent
    assert t.out_of_scope
    # What the model thought is kept for the agent.
    assert t.alternatives[0][0] == "order_status"
    assert t.confidence == pytest.approx(base.confidence, abs=1e-4)


def test_per_intent_threshold_overrides_global(cfg):
    text = "my bank statement shows two payments for one order"
    base = classify(text, None, cfg)
    assert base.intent == "billing"
    intents = dict(cfg.intents.intents)
    intents["billing"] = intents["billing"].model_copy(update={"threshold": min(1.0, base.confidence + 0.01)})
    cfg2 = Config(intents=cfg.intents.model_copy(update={"intents": intents}), rules=cfg.rules, folder=cfg.folder)
    assert classify(text, None, cfg2).out_of_scope
    # Other intents keep the global threshold.
    assert classify("is order 20931 on its way yet?", None, cfg2).intent == "order_status"


def test_gibberish_gets_low_confidence_or_other(cfg):
    # py3langid is unsure of it, so the English head on bge reads it (the default): 0.39.
    t = classify("zxqv plorb 7731 kkkk", None, cfg)
    assert t.out_of_scope or t.confidence < 0.6


@pytest.mark.xfail(strict=True, reason="known limitation (issue 13) without the English head: multilingual-e5 gives "
                   "keyboard noise a 0.70 product_question; a learned generic out-of-scope class fixed it but pulled "
                   "FR/NL/PT store messages into 'other' (docs/classifier.md)")
def test_gibberish_on_e5_alone(cfg):
    from knowledge import embedding as ke

    ke.select_english_triage(False)  # SIDECAR_TRIAGE_ENGLISH=0
    try:
        t = classify("zxqv plorb 7731 kkkk", None, cfg)
    finally:
        ke.select_english_triage(ke.DEFAULT_ENGLISH_TRIAGE)
    assert t.out_of_scope or t.confidence < 0.6


# Fundraising and job mail of kinds pipeline/data/non_support_mail.txt was given in the sixteenth session (helper 9),
# worded differently from its lines; and customer requests that share their words (a raffle, a school fair, a job
# application), which must keep their intent. Written for this test, in no eval set and no training file.
@pytest.mark.parametrize(("text", "intent"), [
    ("Good morning, our youth orchestra is holding a fundraising auction next month. Could you donate a gift basket or "
     "a voucher as a lot?", None),  # discount_promo 0.90 before those lines
    ("I won the giveaway on your Instagram last week but the voucher code you sent me doesn't work at checkout.",
     "discount_promo"),
    ("The flyer from the school fair had a 10% code for your shop, but it takes nothing off my basket.",
     "discount_promo"),
    ("J'ai gagné le concours sur votre page Facebook, quand est-ce que je reçois mon lot ?", "discount_promo"),
    ("Ich habe mich letzte Woche auf die Stelle im Lager beworben und mein Konto kann ich seitdem nicht mehr "
     "einloggen.", "account_access"),
])
def test_fundraising_mail_is_out_of_scope_and_look_alike_requests_are_not(cfg, text, intent):
    t = classify(text, None, cfg)
    if intent is None:
        assert t.out_of_scope, (t.intent, t.confidence)
    else:
        assert not t.out_of_scope and t.intent == intent, (t.intent, t.confidence)


@pytest.mark.xfail(strict=True, reason="known limitation: the non-support lines catch near-rewordings of their kinds, "
                   "little beyond (docs/measurements.md, sixteenth session, helper 9)")
@pytest.mark.parametrize("text", [
    "Hola, organizamos un torneo de pádel benéfico y buscamos empresas que regalen premios para los ganadores. "
    "¿Os animáis?",  # discount_promo 0.70
    "Goedemiddag, onze hockeyclub houdt een veiling voor het goede doel. Willen jullie een prijs beschikbaar stellen?",
    "Bonjour, je cherche un job d'été dans la préparation de commandes. Vous recrutez pour juillet ?",  # order_status
])
def test_fundraising_and_job_mail_of_other_wordings(cfg, text):
    assert classify(text, None, cfg).out_of_scope


def test_empty_text_is_out_of_scope(cfg):
    t = classify("   ", None, cfg)
    assert t.intent == cfg.intents.oos_intent and t.out_of_scope and t.confidence == 0.0


def test_confidence_is_calibrated_probability(cfg):
    model = lc.get_local_model(cfg)
    P = model.predict_proba(["where is my parcel", "refund please"])
    assert np.allclose(P.sum(axis=1), 1.0)
    for _name, head, _key in lc.head_keys("", model):  # each head ran its own CV pass and fitted a temperature
        assert head.cv.folds >= 3 and head.temperature != 1.0


def test_triage_carries_signals_priority_sentiment_language(cfg):
    ticket = Ticket(platform="zendesk", id="1", tags=["vip"],
                    messages=[Message(id="1", author_role="customer", body_text="hello")])
    t = classify("Mon colis est arrivé complètement cassé, c'est inadmissible !", ticket, cfg)
    assert t.language == "fr"
    assert t.priority in ("high", "urgent")
    t2 = classify("I am going to get my lawyer involved, you stole my money and this is a scam", None, cfg)
    assert "legal_threat" in t2.signals and "profanity" in t2.signals
    assert t2.priority == "urgent"
    assert t2.sentiment in ("negative", "very_negative") and t2.sentiment_score < 0


def test_local_model_failure_falls_back_to_keywords(cfg, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("model files missing")

    monkeypatch.setattr(lc, "classify_local", boom)
    t = classify_mod.classify_local_triage("where is my order? tracking number please", None, cfg)
    assert t.classifier == "keywords"
    assert t.intent == "order_status"
    assert t.fallback_reason and "local_model_unavailable" in t.fallback_reason


def test_learned_examples_join_training(cfg, tmp_path):
    store = tmp_path / lc.LEARNED_FILE
    store.write_text(
        '{"text": "parcel locker code never came through", "label": "delivery_problem"}\n'
        '{"text": "something for a removed intent", "label": "no_such_intent"}\n'
        "not json\n",
        encoding="utf-8",
    )
    texts, labels = lc.training_data(cfg, store)
    assert "parcel locker code never came through" in texts
    assert "no_such_intent" not in labels
    model = lc.get_local_model(_mini(cfg), store)
    assert "parcel locker code never came through" not in model.train_texts  # label not in the mini config
    texts, labels = lc.training_data(_mini(cfg), store)
    assert "parcel locker code never came through" not in texts
    store.write_text('{"text": "my card statement shows a mystery debit", "label": "billing"}\n', encoding="utf-8")
    model = lc.get_local_model(_mini(cfg), store)
    assert "my card statement shows a mystery debit" in model.train_texts
    few = model.nearest_examples("there is a mystery debit on my card statement", k=3)
    assert few[0] == ("my card statement shows a mystery debit", "billing")


# Refit tests last: they fit small models that push the full one out of the in-process cache.
def _mini(cfg: Config, extra: list[str] | None = None) -> Config:
    """A three-intent config: refit tests stay fast and leave the full model cached."""
    keep = {n: cfg.intents.intents[n] for n in ("order_status", "billing", "other")}
    if extra:
        keep["billing"] = keep["billing"].model_copy(update={"examples": keep["billing"].examples + extra})
    return Config(intents=cfg.intents.model_copy(update={"intents": keep}), rules=cfg.rules, folder=cfg.folder)


def test_model_cached_and_refit_when_examples_change(cfg):
    full = lc.get_local_model(cfg)
    assert lc.get_local_model(load_config(ROOT / "config")) is full  # same content, same model
    # A threshold edit does not refit...
    cfg_t = Config(intents=cfg.intents.model_copy(update={"threshold": 0.5}), rules=cfg.rules, folder=cfg.folder)
    assert lc.get_local_model(cfg_t) is full
    # ...new examples do.
    m1 = lc.get_local_model(_mini(cfg))
    m2 = lc.get_local_model(_mini(cfg, ["the invoice total does not match my receipt"]))
    assert m2 is not m1 and m1 is not full
    assert "the invoice total does not match my receipt" in m2.train_texts
    assert "the invoice total does not match my receipt" not in m1.train_texts
    assert sorted(m2.classes_) == ["billing", "order_status", "other"]
    assert lc.get_local_model(cfg) is full  # recent models stay cached


def test_disk_cache_skips_embedding_and_calibration(cfg, monkeypatch, tmp_path):
    mini = _mini(cfg, ["disk cache check: billing example"])
    learned = tmp_path / lc.LEARNED_FILE  # the cache lives beside the learned examples (the runtime's var/)
    first = lc.get_local_model(mini, learned)
    lc._models.pop(lc._cache_key(mini, learned))  # as if the worker restarted

    def no_cv(*a, **k):
        raise AssertionError("calibration should come from the disk cache")

    monkeypatch.setattr(lc.IntentModel, "_cross_validate", no_cv)
    again = lc.get_local_model(mini, learned)
    assert again is not first
    assert again.temperature == pytest.approx(first.temperature)
    np.testing.assert_allclose(again.train_emb, first.train_emb)


def test_disk_cache_restores_the_head_a_restart_would_refit(cfg, monkeypatch, tmp_path):
    # A worker restart must not refit the regression (seconds of CPU per start); the restored head
    # gives the very predictions of the fitted one.
    mini = _mini(cfg, ["head cache check: billing example"])
    learned = tmp_path / lc.LEARNED_FILE
    first = lc.get_local_model(mini, learned)
    assert not first.head_reused
    lc._models.pop(lc._cache_key(mini, learned))

    fits = []
    # Neither the regression nor the n-gram vectorizer is fitted again: the head's file carries both.
    real_clf, real_vec = lc.IntentModel._new_clf, lc.IntentModel._new_vectorizer
    monkeypatch.setattr(lc.IntentModel, "_new_clf", lambda self: fits.append("clf") or real_clf(self))
    monkeypatch.setattr(lc.IntentModel, "_new_vectorizer", lambda self: fits.append("vec") or real_vec(self))
    again = lc.get_local_model(mini, learned)
    assert again is not first and again.head_reused and fits == []
    probe = ["where is my parcel", "I was charged twice", "hello there"]
    np.testing.assert_allclose(again.predict_proba(probe), first.predict_proba(probe))


def test_disk_cache_refits_a_head_that_does_not_match(cfg, tmp_path):
    mini = _mini(cfg, ["head mismatch check: billing example"])
    learned = tmp_path / lc.LEARNED_FILE
    first = lc.get_local_model(mini, learned)
    key = lc._cache_key(mini, learned)
    lc._models.pop(key)
    # A head with the wrong shape (a corrupted or foreign file) is refit, never used.
    for _name, head, hkey in lc.head_keys(key, first):  # every head of a routed model
        h = head.head()
        lc._save_head(tmp_path, hkey, lc.Head(h.coef[:, :-1], h.intercept, h.classes))
    again = lc.get_local_model(mini, learned)
    assert not again.head_reused
    probe = ["where is my parcel", "I was charged twice"]
    np.testing.assert_allclose(again.predict_proba(probe), first.predict_proba(probe))
    lc._models.pop(key)
    assert lc.get_local_model(mini, learned).head_reused  # the refit head replaced the bad one


def test_the_fit_log_line_shows_each_heads_temperature_and_source(cfg, tmp_path, caplog):
    mini = _mini(cfg, ["fit log check: billing example"])
    learned = tmp_path / lc.LEARNED_FILE
    first = lc.get_local_model(mini, learned)
    lc._models.pop(lc._cache_key(mini, learned))  # as if the worker restarted
    caplog.clear()  # the first fit's line may have been captured too (another test set INFO)
    with caplog.at_level("INFO", logger="pipeline.local_classifier"):
        again = lc.get_local_model(mini, learned)
    line = [r.getMessage() for r in caplog.records if "local intent model fitted" in r.getMessage()][-1]
    assert " +  " not in line
    # The generic non-support lines are fitted too but are no intent: the line counts them apart.
    texts, labels = lc.training_data(mini, learned)
    generic = labels.count(lc.NON_SUPPORT_LABEL)
    assert generic > 0
    assert (f"{len(texts) - generic} examples (+{generic} non-support lines), "
            f"{len(set(labels)) - 1} intents") in line
    if isinstance(first, lc.RoutedModel):  # the default: both heads, each with its own temperature
        assert (f"english head temperature {again.english.temperature:.2f}, "
                f"e5 logits x {again.english.partner_weight:.2f} (cached fit), "
                f"other head temperature {again.other.temperature:.2f} (cached fit)") in line
    else:
        assert f"temperature {again.temperature:.2f} (cached fit)" in line


def test_a_head_cached_by_earlier_code_is_completed_once_then_read_alone(cfg, monkeypatch, tmp_path):
    # The previous code kept the weights only (coef, intercept, classes) and refit the n-gram vectorizer
    # at every start: such a file is still used (same predictions, no regression fitted), completed with
    # the vectorizer's vocabulary and idf, and the start after that fits nothing at all.
    mini = _mini(cfg, ["old head file check: billing example"])
    learned = tmp_path / lc.LEARNED_FILE
    first = lc.get_local_model(mini, learned)
    key = lc._cache_key(mini, learned)
    for _name, head, hkey in lc.head_keys(key, first):
        h = head.head()
        path = (tmp_path / "classifier_cache" / hkey[:32]).with_suffix(".head.npz")
        np.savez(path, coef=h.coef, intercept=h.intercept, classes=h.classes)  # the earlier code's file
    lc._models.pop(key)
    fits = []
    real_clf, real_vec = lc.IntentModel._new_clf, lc.IntentModel._new_vectorizer
    monkeypatch.setattr(lc.IntentModel, "_new_clf", lambda self: fits.append("clf") or real_clf(self))
    monkeypatch.setattr(lc.IntentModel, "_new_vectorizer", lambda self: fits.append("vec") or real_vec(self))
    upgraded = lc.get_local_model(mini, learned)
    assert upgraded.head_reused and "clf" not in fits and "vec" in fits
    probe = ["where is my parcel", "I was charged twice", "hello there", ""]
    np.testing.assert_allclose(upgraded.predict_proba(probe), first.predict_proba(probe), rtol=0, atol=1e-12)
    for _name, _head, hkey in lc.head_keys(key, first):
        with np.load((tmp_path / "classifier_cache" / hkey[:32]).with_suffix(".head.npz")) as z:
            assert "ngram_terms" in z
    lc._models.pop(key)
    fits.clear()
    again = lc.get_local_model(mini, learned)
    assert again.head_reused and fits == []
    np.testing.assert_allclose(again.predict_proba(probe), first.predict_proba(probe), rtol=0, atol=1e-12)
