"""Everything in a triage besides the intent, computed without an LLM.

- sentiment: VADER (``vaderSentiment``), compound score mapped to four labels;
- language: ``py3langid`` restricted to the languages a store is likely to receive;
- signals: asks_for_human, churn_risk, legal_threat, repeated_contact, all_caps, profanity;
- priority: the intent's default, raised by ``priority_keywords``, the customer's tier and
  signals (a legal threat is urgent whatever the intent).

The phrase lists are deliberately small and readable, with a few French/Spanish/German forms:
they flag, they never decide on their own (rules.yaml decides what a signal triggers).
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache

from pipeline.config import Config
from pipeline.models import PRIORITIES, Ticket, priority_rank

SENTIMENTS = ("very_negative", "negative", "neutral", "positive")
LANGUAGES = ("en", "fr", "de", "es", "it", "nl", "pt")
DEFAULT_LANGUAGE = "en"

SIGNALS = ("asks_for_human", "churn_risk", "legal_threat", "repeated_contact", "all_caps", "profanity")


def _rx(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


_ASKS_FOR_HUMAN = _rx(
    r"\b(speak|talk|chat)\s+(to|with)\s+(a|an|some|your)?\s*(real|actual|live)?\s*(human|person|people|agent|manager|supervisor|someone|somebody|representative|rep)\b",
    r"\breal (person|human)\b",
    r"\b(human being|not a bot|stop (the )?bot|no more bots?|get me a (human|person|manager))\b",
    r"\b(call me|phone me|give me a call)\b",
    r"\b(manager|supervisor)\b.{0,20}\b(please|now|asap)\b",
    r"\bparler (à|a|avec) (un|une) (humain|personne|conseill(er|ère)|responsable|agent)\b",
    r"\bhablar con (un|una|alguien)\s*(persona|humano|agente|responsable|encargado)?\b",
    r"\b(mit )?(einem|einer) (menschen|mitarbeiter(in)?|echten person|vorgesetzten)\b.{0,20}\bsprechen\b",
)
_CHURN = _rx(
    r"\bnever (shop|order|buy|purchase)(ing)?\b.{0,25}\bagain\b",
    r"\b(cancel|end|stop)\b.{0,10}\b(my )?(subscription|membership)\b",
    r"\b(close|delete) my account\b",
    r"\b(switch(ing)?|go(ing)?|mov(e|ing)) to (a |another |your )?competitors?\b",
    r"\b(take|taking) my (business|money) elsewhere\b",
    r"\b(lost|losing) (a|me as a) (loyal )?customer\b",
    r"\blast time i (order|buy|shop)",
    r"\bplus jamais\b",
    r"\bnunca m[aá]s\b",
    r"\bnie wieder\b",
)
_LEGAL = _rx(
    r"\b(lawyer|attorney|solicitor|legal action|lawsuit|sue|suing|small claims|court)\b",
    r"\b(consumer protection|trading standards|ombudsman|better business bureau|bbb)\b",
    r"\b(report|reporting) you to\b",
    r"\b(avocat|poursuites|tribunal|abogado|demanda|denuncia|anwalt|rechtsanwalt|klage|gericht)\b",
)
_REPEATED = _rx(
    r"\b(second|third|fourth|fifth|2nd|3rd|4th|5th|\d+th) (time|email|message|request)\b",
    r"\b(already|have) (contacted|emailed|written|called|asked|messaged)\b",
    r"\b(several|multiple|many|countless|numerous) times\b",
    r"\bstill (no|haven'?t had an?|not had an?) (answer|reply|response)\b",
    r"\b(again and again|over and over|yet again|once again)\b",
    r"\b(troisième|deuxième) fois\b|\bplusieurs fois\b|\b(tercera|segunda) vez\b|\bvarias veces\b|\b(dritte|zweite)s? mal\b|\bmehrmals\b",
)
# A small list on purpose (word-bounded); what matters is flagging, not completeness.
_PROFANITY = _rx(
    r"\b(fuck\w*|shit\w*|bullshit|crap|damn|bastard\w*|asshole\w*|bitch\w*|wtf|piss(ed)? off|dick\w*|scam(mers?)?)\b",
    r"\b(merde|putain|connards?|mierda|joder|cabr[oó]n\w*|scheiße|scheisse|verdammt|arschl[oö]ch\w*)\b",
)
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def _phrase_re(phrase: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)" + re.escape(phrase.lower()) + r"(?!\w)")


# ------------------------------------------------------------------ sentiment

_vader = None
_vader_lock = threading.Lock()


def _analyzer():
    global _vader
    if _vader is None:
        with _vader_lock:
            if _vader is None:
                from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

                _vader = SentimentIntensityAnalyzer()
    return _vader


def sentiment_label(score: float) -> str:
    """Map a VADER compound score (-1..1) to a label.

    Asymmetric on purpose: factual support messages often score mildly positive ("my order
    number is ..." ≈ 0.08), while any negativity is worth flagging; very_negative is a strong signal.
    """
    if score <= -0.6:
        return "very_negative"
    if score <= -0.05:
        return "negative"
    if score >= 0.3:
        return "positive"
    return "neutral"


# VADER's cost grows with the square of the text (22 KB: 3 s, 88 KB: 56 s) and langid's with its
# length: both look at the opening of the message, where the customer says what is wrong.
SENTIMENT_CHARS = 2_000
LANGUAGE_CHARS = 2_000
SIGNAL_CHARS = 20_000


def _head(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    return cut[:space] if space > limit * 0.8 else cut


def sentiment(text: str) -> tuple[str, float]:
    """(label, compound score) of ``text``; VADER is English-centric, other languages lean neutral.

    Only the first :data:`SENTIMENT_CHARS` characters are scored (bounded cost).
    """
    score = float(_analyzer().polarity_scores(_head(text or "", SENTIMENT_CHARS))["compound"])
    return sentiment_label(score), round(score, 4)


# ------------------------------------------------------------------ language


@lru_cache(maxsize=1)
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    ident.set_languages(list(LANGUAGES))
    return ident


def detect_language(text: str, default: str = DEFAULT_LANGUAGE) -> str:
    """ISO 639-1 code of ``text`` among :data:`LANGUAGES`.

    Short texts ("ok", "thanks") fool every detector, so they default to ``default`` unless the
    detector is very sure; longer texts need a moderate probability.
    """
    text = _head((text or "").strip(), LANGUAGE_CHARS)
    words = _WORD.findall(text)
    if not words:
        return default
    lang, prob = _identifier().classify(text)
    need = 0.9 if len(words) < 4 else 0.5
    return lang if prob >= need else default


# ------------------------------------------------------------------ signals


def _all_caps(text: str) -> bool:
    words = [w for w in _WORD.findall(text) if len(w) > 1]
    letters = "".join(words)
    if len(words) < 3 or len(letters) < 12:
        return False
    return sum(c.isupper() for c in letters) / len(letters) >= 0.7


def detect_signals(text: str, ticket: Ticket | None = None) -> list[str]:
    """Signals present in ``text`` (its first :data:`SIGNAL_CHARS`) and the ticket's history, in :data:`SIGNALS` order."""
    text = _head(text or "", SIGNAL_CHARS)
    found = set()
    if _ASKS_FOR_HUMAN.search(text):
        found.add("asks_for_human")
    if _CHURN.search(text):
        found.add("churn_risk")
    if _LEGAL.search(text):
        found.add("legal_threat")
    if _REPEATED.search(text) or (ticket is not None and len(ticket.customer_messages()) >= 3):
        found.add("repeated_contact")
    if _all_caps(text):
        found.add("all_caps")
    if _PROFANITY.search(text):
        found.add("profanity")
    return [s for s in SIGNALS if s in found]


# ------------------------------------------------------------------ priority


def _tier_level(ticket: Ticket, cfg: Config) -> str | None:
    """The priority the customer's tier asks for: from tags, or from a custom field's value."""
    tier = cfg.intents.tier or {}
    levels: list[str] = []
    tag_map = {str(k).lower(): v for k, v in (tier.get("tags") or {}).items()}
    levels += [tag_map[t.lower()] for t in ticket.tags if t.lower() in tag_map]
    fname = tier.get("field")
    if fname and fname in ticket.custom_fields:
        value = str(ticket.custom_fields[fname] or "").lower()
        value_map = {str(k).lower(): v for k, v in (tier.get("values") or tier.get("tags") or {}).items()}
        if value in value_map:
            levels.append(value_map[value])
    levels = [lv for lv in levels if lv in PRIORITIES]
    return max(levels, key=priority_rank) if levels else None


def priority_for(intent: str, text: str, ticket: Ticket | None, cfg: Config, signals: list[str] | None = None) -> str:
    """Priority: intent default < priority keywords < customer tier < signals (highest wins)."""
    idef = cfg.intents.intents.get(intent)
    prio = (idef.priority if idef and idef.priority else None) or "normal"

    def bump(level: str | None) -> None:
        nonlocal prio
        if level in PRIORITIES and priority_rank(level) > priority_rank(prio):
            prio = level

    low = (text or "").lower()
    for level in ("urgent", "high"):
        if any(_phrase_re(p).search(low) for p in cfg.intents.priority_keywords.get(level, [])):
            bump(level)
            break
    if ticket is not None:
        bump(_tier_level(ticket, cfg))
    sig = set(signals or ())
    if "legal_threat" in sig:
        bump("urgent")
    if sig & {"churn_risk", "repeated_contact"}:
        bump("high")
    return prio
