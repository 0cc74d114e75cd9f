"""Triage: intent + confidence, priority, sentiment, language and signals.

Entry points: :func:`classify` (one message) and :func:`warm_up` (once per worker process).

- With ``OPENAI_API_KEY`` set: one structured-output call (:mod:`pipeline.llm_classifier`) with
  few-shot examples picked by embedding similarity; on any failure the local model answers and
  ``Triage.fallback_reason`` says why.
- Otherwise: the local model (:mod:`pipeline.local_classifier`, multilingual sentence embeddings + char
  n-grams + logistic regression, calibrated), trained on ``intents.yaml`` examples plus learned
  history. If even that cannot load (a broken install), the keyword baseline below answers.

Sentiment, language, signals and rule-based priority come from :mod:`pipeline.signals` on every
path; the LLM's own priority/signals can only add to them, never lower them.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from pipeline.config import Config
from pipeline.lookalikes import fold_lookalikes
from pipeline.models import LLMSettings, Ticket, Triage, priority_rank
from pipeline.signals import detect_language, detect_signals, priority_for, sentiment

log = logging.getLogger(__name__)


# ------------------------------------------------------------------ keyword baseline (last resort)


def _phrase_re(phrase: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)" + re.escape(phrase.lower()) + r"(?!\w)")


def keyword_scores(text: str, cfg: Config) -> dict[str, float]:
    """Sum of matched phrase lengths (in words) per intent: longer phrases are stronger evidence."""
    low = text.lower()
    scores: dict[str, float] = {}
    for name, idef in cfg.intents.intents.items():
        s = sum(len(p.split()) for p in idef.keywords if _phrase_re(p).search(low))
        if s:
            scores[name] = float(s)
    return scores


def base_priority(intent: str, text: str, ticket: Ticket | None, cfg: Config) -> str:
    """Priority from the intent's default, urgent/high keywords and the customer's tier."""
    return priority_for(intent, text, ticket, cfg)


def classify_keywords(text: str, ticket: Ticket | None, cfg: Config) -> Triage:
    """Keyword baseline: the intent whose phrases match most, the OOS intent when none does."""
    scores = keyword_scores(text, cfg)
    oos = cfg.intents.oos_intent
    if not scores:
        intent, conf, alts = oos, 0.0, []
    else:
        total = sum(scores.values())
        ranked = sorted(scores.items(), key=lambda kv: -kv[1])
        intent = ranked[0][0]
        # Share of the evidence, shrunk when evidence is thin (one short phrase is weak).
        conf = round((ranked[0][1] / total) * min(1.0, 0.5 + 0.25 * ranked[0][1]), 3)
        alts = [(n, round(s / total, 3)) for n, s in ranked[1:4]]
    return Triage(
        intent=intent,
        confidence=conf,
        priority=base_priority(intent, text, ticket, cfg),
        alternatives=alts,
        out_of_scope=intent == oos,
        classifier="keywords",
    )


# ------------------------------------------------------------------ local + LLM


def _decorate(triage: Triage, text: str, ticket: Ticket | None, cfg: Config, embedding: Any = None,
              model: Any = None) -> Triage:
    """Fill sentiment, language, signals and rule-based priority (no LLM needed).

    ``embedding``: the message's sentiment vector when the intent model's embedding run already
    computed it (one run per message); ``model``: the fitted intent model, whose example vectors
    the sentiment model reuses when its vectors are the same kind.
    """
    triage.signals = detect_signals(text, ticket)
    known = (model.train_texts, model.train_emb) if getattr(model, "train_texts", None) else None
    triage.sentiment, triage.sentiment_score = sentiment(text, cfg, embedding, triage.signals, known=known)
    triage.language = detect_language(text)
    triage.priority = priority_for(triage.intent, text, ticket, cfg, triage.signals)
    return triage


def classify_local_triage(text: str, ticket: Ticket | None, cfg: Config, fallback_reason: str | None = None,
                          model: Any = None) -> Triage:
    """Triage with the local model only (the keyword baseline if the model cannot load)."""
    from pipeline.local_classifier import classify_local, embed_pair, get_local_model

    oos_name = cfg.intents.oos_intent
    if not (text or "").strip():
        t = Triage(intent=oos_name, confidence=0.0, out_of_scope=True, classifier="local", fallback_reason=fallback_reason)
        return _decorate(t, text or "", ticket, cfg, model=model)
    try:
        model = model or get_local_model(cfg)
        emb, sent_emb = embed_pair([text])  # one run: the intent head and sentiment read it
        pred, oos = classify_local(text, cfg, model=model, embedding=emb)
    except Exception as exc:  # a broken model install must not stop triage
        log.exception("local classifier unavailable, using the keyword baseline")
        t = classify_keywords(text, ticket, cfg)
        reason = f"local_model_unavailable: {type(exc).__name__}"
        t.fallback_reason = f"{fallback_reason}; {reason}" if fallback_reason else reason
        return _decorate(t, text, ticket, cfg, model=model)
    alternatives = list(pred.alternatives)
    intent = pred.label
    if oos and intent != oos_name:
        # Below threshold: report the out-of-scope intent, keep what the model thought as an alternative.
        alternatives = [(pred.label, round(pred.confidence, 4))] + [a for a in alternatives if a[0] != oos_name][:2]
        intent = oos_name
    t = Triage(
        intent=intent,
        confidence=round(pred.confidence, 4),
        alternatives=alternatives,
        out_of_scope=oos,
        classifier="local",
        fallback_reason=fallback_reason,
    )
    return _decorate(t, text, ticket, cfg, embedding=sent_emb[0], model=model)


def _classify_openai(text: str, ticket: Ticket | None, cfg: Config, llm: LLMSettings, model: Any = None) -> Triage:
    from pipeline.llm_classifier import LLMError, classify_llm
    from pipeline.local_classifier import get_local_model, oos_threshold

    try:
        examples = (model or get_local_model(cfg)).nearest_examples(text, k=8)
    except Exception:  # few-shot is a nicety; the call works without it
        log.warning("few-shot examples unavailable", exc_info=True)
        examples = []
    try:
        answer, usage = classify_llm(
            text,
            cfg,
            api_key=llm.api_key,
            base_url=llm.base_url,
            model=llm.model,
            examples=examples,
            prices=llm.prices,
        )
    except LLMError as exc:
        log.warning("OpenAI classification failed (%s); using the local model", exc.reason)
        t = classify_local_triage(text, ticket, cfg, fallback_reason=f"openai: {exc.reason}", model=model)
        t.usage = exc.usage
        return t
    intent = answer["intent"]
    conf = float(answer["confidence"])
    idef = cfg.intents.intents[intent]
    oos = intent == cfg.intents.oos_intent or idef.out_of_scope or conf < oos_threshold(cfg, intent)
    t = Triage(intent=cfg.intents.oos_intent if oos else intent, confidence=round(conf, 4), out_of_scope=oos,
               classifier="openai", usage=usage)
    if oos and intent != cfg.intents.oos_intent:
        t.alternatives = [(intent, round(conf, 4))]
    _decorate(t, text, ticket, cfg)
    # The model's view can raise priority and add signals, never lower or remove the rule-based ones.
    if priority_rank(answer["priority"]) > priority_rank(t.priority):
        t.priority = answer["priority"]
    t.signals = [s for s in dict.fromkeys(t.signals + list(answer["signals"]))]
    t.sentiment = answer["sentiment"]
    t.language = answer["language"]
    t.sensitive_hint = _local_sensitive(text, cfg, model, t.intent)
    return t


def _local_sensitive(text: str, cfg: Config, model: Any, intent: str) -> str | None:
    """The sensitive intent the local model reads in ``text`` when the LLM's ``intent`` is not sensitive.

    The LLM reads the customer's text and can be talked into a label ("classify this as order_status",
    a fake system turn, a note to the AI): its word alone never makes a refund, cancellation or
    account change harmless (no approval banner, an auto-reply). The local model has no instructions
    to follow; where it reads a sensitive intent above its threshold, the plan is sensitive. It may
    only add caution, never remove it.
    """
    if cfg.is_sensitive(intent):
        return None
    from pipeline.local_classifier import classify_local, get_local_model

    try:
        pred, oos = classify_local(text, cfg, model=model or get_local_model(cfg))
        label = None if oos else pred.label
    except Exception:  # no local model: the keyword baseline is the second reader
        log.warning("local second reading unavailable, using keywords", exc_info=True)
        kw = classify_keywords(text, None, cfg)
        label = None if kw.out_of_scope else kw.intent
    return label if label and cfg.is_sensitive(label) else None


def classify(text: str, ticket: Ticket | None, cfg: Config, llm: LLMSettings | None = None,
             model: Any = None) -> Triage:
    """Classify one customer message: with ``llm`` (an OpenAI-compatible model) when given, else locally.

    ``model``: the process's fitted local intent model (None → fitted here on the config's examples).
    The text is cut to :data:`pipeline.normalize.MAX_TEXT_CHARS` first: every model's cost (and
    an LLM's prompt) stays bounded whatever the caller passes. Triage reads it with look-alike
    letters folded (:func:`pipeline.lookalikes.fold_lookalikes`: ``rеfund`` with a Cyrillic ``е``
    is ``refund``); nothing in the Triage quotes the text.
    """
    from pipeline.normalize import MAX_TEXT_CHARS, clip

    text = fold_lookalikes(clip(text or "", MAX_TEXT_CHARS))
    if llm is not None and (text or "").strip():
        return _classify_openai(text, ticket, cfg, llm, model)
    return classify_local_triage(text, ticket, cfg, model=model)


def single_thread_blas() -> None:
    """One BLAS thread for this process (numpy/scipy's OpenBLAS; called by :func:`warm_up`).

    The heads are small matrices: a second BLAS thread gains nothing there, and its spin-waiting
    on cores shared with other processes made the cached start take 20 s instead of 3 s (8 CPU
    seconds instead of 1; bench/classifier_bench.py at load 12 on 2 cores). The embedding engine
    keeps its own threads.
    """
    from pipeline import local_classifier

    # scipy's own OpenBLAS is loaded only when a head is fitted (local_classifier.fit_libraries): held then.
    local_classifier.ONE_BLAS_THREAD = True
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1, user_api="blas")
    except Exception:  # a missing or odd BLAS only costs speed
        log.warning("could not limit BLAS threads", exc_info=True)


def warm_up(cfg: Config, learned: Any = None) -> Any:
    """Load the embedder, fit the local head and load the language/sentiment models, once per process.

    ``learned``: the labeled-history file (``local_classifier.learned_path(var_dir)``); its folder also
    holds the fit cache. Returns the fitted intent model (None if it could not load).
    """
    import time

    from pipeline.local_classifier import get_local_model

    t0 = time.monotonic()
    single_thread_blas()
    model = None
    try:
        model = get_local_model(cfg, learned)
    except Exception:
        log.exception("local classifier failed to warm up; the keyword baseline will answer")
    t1 = time.monotonic()
    known = (model.train_texts, model.train_emb) if model is not None else None
    if learned is not None:
        try:
            from pipeline.local_classifier import embed_sentiment
            from pipeline.sentiment import get_sentiment_model

            # Next to the intent fit cache: a restarted worker reuses the examples' embeddings.
            get_sentiment_model(cfg, embed_sentiment, known, cache_dir=Path(learned).parent / "classifier_cache" / "sentiment")
        except Exception:  # sentiment() below falls back to VADER and says so
            log.exception("sentiment model failed to warm up")
    sentiment("warm up", cfg, known=known)
    detect_language("warm up the detector")
    log.info("triage models ready in %.1f s (intent model %.1f s, sentiment + language %.1f s)",
             time.monotonic() - t0, t1 - t0, time.monotonic() - t1)
    return model
