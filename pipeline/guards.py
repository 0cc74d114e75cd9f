"""Guards on what the sidecar writes for a customer: links, promises, authority claims, secrets, quotes.

Every draft (LLM or template) goes through :func:`review` before it reaches a note, and
:func:`allow_auto_reply <pipeline.rules.allow_auto_reply>` re-checks the final text with
:func:`unsafe_reasons` before anything is sent publicly. The checks work on a *folded* copy of
the text (Unicode NFKC, so full-width ``ｅｖｉｌ．ｅｘａｍｐｌｅ`` becomes ``evil.example``;
zero-width characters dropped; Cyrillic/Greek look-alikes mapped to Latin; accents removed;
case-folded), so look-alike spellings do not slip through.

What they promise, and what they do not:

* :func:`strip_links` removes every URL, markdown/HTML link and *host-like token* (any
  ``label.label`` ending in letters, with or without a path, and "evil dot example slash x"
  spellings) from model text. It cannot tell a harmless file name (``invoice.pdf``) from a
  host: both go. Links in notes only ever come from knowledge metadata.
* :func:`promises` finds refund / credit / discount / replacement / free shipping /
  compensation / "on us" / exception vocabulary in EN, FR, ES, DE, IT, NL and PT. A promise is
  *backed* only when the sentence that makes it appears word for word in a policy or article
  passage (a template quoting the policy); a paraphrase is never "backed" without an LLM
  judge, so it is flagged and never auto-replied. Negations count too ("no refund").
* :func:`authority_claims` and :func:`secret_requests` flag a draft that speaks as a manager /
  approves / authorises, or that mentions card numbers, CVV, PINs, passwords or one-time codes.
  A flagged draft can still help the agent; it is never sent by itself.
* :func:`quotes_past_ticket` finds text copied from a past ticket (8 words in a row).

These are vocabulary guards, bounded in time (the text is cut to :data:`MAX_CHARS`): a
determined paraphrase in a language not listed can pass them, which is why sensitive intents
are never auto-replied whatever the guards say.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable

from pipeline.lookalikes import drop_invisible, lowercase_translation, prefold_translation
from pipeline.models import Draft, Source

MAX_CHARS = 20_000  # guards look at this much of a draft (drafts are capped far below)
LINK_REMOVED = "[link removed]"

# ---------------------------------------------------------------- folding

# Zero-width characters removed from what strip_links returns (the folds drop every invisible one).
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e\u2061\u2062\u2063\u2064"), None)
# What the look-alike table (pipeline.lookalikes.lowercase_translation, applied after it) does not
# map: two letters folded here since before it (ё, ї) and the dashes, slashes and dots a spelled-out
# link or promise can be written with. The look-alikes NFKC or case folding would turn into another
# letter (lunate sigma ϲ, Greek Η) are mapped before both (pipeline.lookalikes.prefold_translation):
# listed here, "ϲ" was dead, NFKC had already made it a sigma, read as o.
_CONFUSABLES = str.maketrans({
    "ё": "e", "ї": "i",
    "‐": "-", "‑": "-", "‒": "-", "–": "-", "—": "-", "−": "-", "⁄": "/", "∕": "/", "⧸": "/", "。": ".", "｡": ".",
    "·": ".", "•": ".", "∙": ".", "․": ".",
})


# Texts longer than this are folded without the cache: what repeats (knowledge-base sentences, a
# draft of a few hundred characters) is short, and 2048 keys of up to MAX_CHARS each would not be
# the few MB the cache is meant to hold.
FOLD_CACHE_CHARS = 2000


def fold(text: str) -> str:
    """The text as the guards read it: NFKC, no zero-width characters, look-alikes mapped, no accents, lower case.

    Cached (bounded, texts up to ``FOLD_CACHE_CHARS``): every draft folds the sentences of the
    passages it quotes to find the store's own words, the same knowledge base sentences ticket
    after ticket, and its own text three times (links, authority, promises): ~1,300 calls per
    draft, 8-14 ms of CPU at load 6-7.
    """
    if len(text or "") > FOLD_CACHE_CHARS:
        return _fold(text)
    return _fold_cached(text)


@functools.lru_cache(maxsize=2048)
def _fold_cached(text: str) -> str:
    return _fold(text)


def _fold(text: str) -> str:
    t = unicodedata.normalize("NFKC", drop_invisible((text or "")[:MAX_CHARS]).translate(prefold_translation()))
    t = t.casefold().translate(_CONFUSABLES).translate(lowercase_translation())
    t = "".join(c for c in unicodedata.normalize("NFD", t) if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", t)


_SPACED = re.compile(r"\b(?:\w[ .\-_*]{1,3}){4,}\w\b")


# A word split by markup or a hyphen inside it ("re-fund", "*re*fund", "re_fund", "`re`fund", "re- fund"):
# the customer reads the reply as plain text, and reads the word. Only between letters, so "3-4 May"
# and a list's "- item" stay as they are.
_IN_WORD = re.compile(r"(?<=[^\W\d_])(?:[-_*`~|]+|-[ \t]*\n?[ \t]*)(?=[^\W\d_])")
# A word hyphenated at a line break ("re-\nfund") is one word, not the end of a sentence (see _split).
_HYPHENATED = re.compile(r"(?<=[^\W\d_])-[ \t]*\n[ \t]*(?=[^\W\d_])")


def _joined(folded: str) -> str:
    """``folded`` with the markup and hyphens inside words removed (see :data:`_IN_WORD`)."""
    return _IN_WORD.sub("", folded)


def _despaced(folded: str, keep_dots: bool = False) -> str:
    """``r e f u n d`` / ``r.e.f.u.n.d`` joined back into words, for a second look (``e v i l . c o m`` → ``evil.com``)."""
    drop = r"[ \-_*]" if keep_dots else r"[ .\-_*]"
    return _SPACED.sub(lambda m: re.sub(drop, "", m.group(0)), folded)


# ---------------------------------------------------------------- links

_URL = re.compile(r"(?i)\b(?:https?|ftp|file|javascript|data|mailto|tel|sms|vbscript):[^\s<>()\"']*|\bwww\.[^\s<>()\"']+")
_MD_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]*)\]\((?:[^)]*)\)")
_HTML_TAG = re.compile(r"<\s*/?\s*[a-zA-Z!][^>]*>")
_REF_LINK = re.compile(r"^\s*\[[^\]]+\]:\s*\S+.*$", re.M)
_AUTOLINK = re.compile(r"<[^<>\s]+[:@.][^<>\s]*>")
# Any host-like token: labels joined by dots (or spaced " . "), the last one letters only. At most
# 127 labels (DNS's limit): "(label.)+" read "a.a.a.a..." to its end from every label of it, ~26 s
# of CPU for 20,000 characters in unsafe_reasons + strip_links.
_HOST = re.compile(
    r"(?i)(?<![\w@])(?:[a-z0-9](?:[a-z0-9-]{0,62})(?:\.|\s\.\s)){1,127}[a-z][a-z-]{1,62}(?![\w])(?::\d{1,5})?"
    r"(?:/[^\s<>()\"']*)?")
_EMAIL = re.compile(r"[\w.+'-]{1,64}@[\w-]+(?:\s?\.\s?[\w-]+)+")  # a local part is at most 64 characters
# "evil dot example slash track", "evil[.]example", "evil (dot) com", "evil punto com".
_DOT_WORD = r"(?:\[\s*(?:\.|dot|point|punto|punkt|punt|ponto)\s*\]|\(\s*(?:\.|dot|point|punto|punkt|punt|ponto)\s*\)" \
            r"|\{\s*(?:\.|dot)\s*\}|\bdot\b|\bpunto\b|\bpunkt\b|\bponto\b|\bpunt\b)"
# It starts where a run of label characters starts (a word boundary would let it start again after
# every "-" of "a-a-a-...", each start scanning to the run's end: 6,000 characters of a draft took
# seconds of CPU in every guard pass).
_SPELLED_HOST = re.compile(
    rf"(?i)(?<![a-z0-9-])-*[a-z0-9][a-z0-9-]*(?:\s*{_DOT_WORD}\s*[a-z0-9][a-z0-9-]*)+"
    r"(?:\s*(?:\bslash\b|\bbarra\b|\bschragstrich\b|/)\s*[a-z0-9][a-z0-9_-]*)*")


def _host_like(token: str) -> bool:
    """A ``label.label`` token that is a host, not an abbreviation or a number (``e.g.``, ``2.5``, ``U.S.``)."""
    core = re.split(r"[/:]", token, maxsplit=1)[0]
    labels = [x.strip() for x in core.split(".")]
    return len(labels) >= 2 and len(labels[-1]) >= 2 and any(len(x) >= 2 for x in labels[:-1])


def find_links(text: str) -> list[str]:
    """Link-like things in ``text`` (URLs, markup links, host-like and spelled-out hosts), on the folded text."""
    t = fold(text)
    out = [m.group(0) for rx in (_URL, _MD_LINK, _MD_IMAGE, _AUTOLINK, _REF_LINK, _EMAIL) for m in rx.finditer(t)]
    out += [m.group(0) for m in _HOST.finditer(t) if _host_like(m.group(0))]
    out += [m.group(0) for m in _SPELLED_HOST.finditer(t)]
    for m in _SPACED.finditer(t):  # "e v i l . c o m"
        joined = _despaced(m.group(0), keep_dots=True)
        out += [h.group(0) for h in _HOST.finditer(joined) if _host_like(h.group(0))]
    return out


def strip_links(text: str) -> tuple[str, bool]:
    """``text`` without images, links, URLs, HTML tags and host-like tokens; True when something was removed.

    The text is NFKC-normalised first (full-width characters become ASCII), so what remains is
    what the checks saw. Look-alike letters are only mapped for detection, in :func:`find_links`,
    which is run again on the result: anything still link-like is removed word by word.
    """
    orig = (text or "")[:MAX_CHARS]
    t = unicodedata.normalize("NFKC", orig).translate(_ZERO_WIDTH)
    t = _MD_IMAGE.sub("", t)
    t = _MD_LINK.sub(lambda m: m.group(1), t)
    t = _REF_LINK.sub("", t)
    t = _AUTOLINK.sub(LINK_REMOVED, t)
    t = _HTML_TAG.sub("", t)
    t = _URL.sub(LINK_REMOVED, t)
    t = _EMAIL.sub(LINK_REMOVED, t)
    t = _HOST.sub(lambda m: LINK_REMOVED if _host_like(m.group(0)) else m.group(0), t)
    t = _SPELLED_HOST.sub(LINK_REMOVED, t)
    # Look-alike letters ("еvil.соm" in Cyrillic) pass the ASCII patterns: drop any word that
    # still reads as a link once folded.
    t = _SPACED.sub(lambda m: LINK_REMOVED if find_links(m.group(0)) else m.group(0), t)
    if find_links(t.replace(LINK_REMOVED, " ")):
        words = t.split(" ")
        t = " ".join(LINK_REMOVED if find_links(w) else w for w in words)
    t = re.sub(r"[ \t]{2,}", " ", t)
    t = re.sub(r"\n{3,}", "\n\n", t).strip()
    return t, t != orig.strip()


# ---------------------------------------------------------------- promises

PROMISE_TERMS: dict[str, tuple[str, ...]] = {
    "refund": ("refund", "reimburs", "money back", "pay you back", "rembours", "reembols", "devolver el dinero",
               "devolucion del dinero", "devolveremos", "erstatt", "ruckerstatt", "zuruckerstatt", "geld zuruck",
               "rimbors", "restituzione", "restituiremo", "terugbetal", "geld terug", "terugstort", "restitu",
               "devolucao do dinheiro", "devolver o dinheiro", "estorno", "estornar", "chargeback"),
    "credit": ("store credit", "credit note", "account credit", "a credit", "credit of", "credited", "avoir",
               "credit sur", "credito", "gutschrift", "guthaben", "gutgeschrieben", "tegoed", "creditnota",
               "saldo a favor", "accredit"),
    "discount": ("discount", "% off", "percent off", "coupon", "voucher", "promo code", "promotional code",
                 "remise", "reduction", "bon d'achat", "code promo", "descuento", "cupon", "rabatt", "gutschein",
                 "preisnachlass", "sconto", "buono", "codice promo", "korting", "waardebon", "desconto", "cupom",
                 "cupao", "vale-desconto", "vale de desconto"),
    "replacement": ("replacement", "replace", "send you a new", "send a new", "new one", "remplac", "renvoyer un",
                    "reemplaz", "sustitu", "reenviar", "ersatz", "ersetzen", "neue zusenden", "neu zusenden",
                    "sostitu", "rimpiazz", "vervang", "nieuwe sturen", "substitu", "reposicao", "enviaremos um novo",
                    "enviaremos outro"),
    "free_shipping": ("free shipping", "free delivery", "free return", "shipping is free", "livraison gratuite",
                      "frais de port offerts", "port offert", "envio gratis", "envio gratuito", "kostenloser versand",
                      "kostenlose lieferung", "versandkostenfrei", "spedizione gratuita", "spedizione gratis",
                      "gratis verzending", "gratis bezorg", "frete gratis", "envio gratis", "portes gratis",
                      "entrega gratuita"),
    "compensation": ("compensat", "goodwill", "gesture", "dedommag", "indemni", "geste commercial",
                     "compensacion", "indemniz", "entschadig", "kulanz", "risarci", "compensazion", "indennizz",
                     "vergoeding", "schadevergoeding", "compensatie", "compensacao", "indeniza"),
    "on_us": ("on us", "on the house", "free of charge", "at no cost", "at no charge", "for free", "a nos frais",
              "offert", "gratuit", "a nuestro cargo", "por nuestra cuenta", "sin coste", "sin costo", "gratis",
              "auf unsere kosten", "geht auf uns", "kostenlos", "a nostre spese", "offerto", "a carico nostro",
              "op onze kosten", "kosteloos", "por nossa conta", "sem custo", "gratuito"),
    "exception": ("exception", "one-off", "one off", "just this once", "ausnahme", "excepcion", "eccezione",
                  "uitzondering", "excecao", "a titre exceptionnel", "exceptionnellement", "excepcionalmente",
                  "eccezionalmente", "ausnahmsweise", "uitzonderlijk"),
}
# Separable verbs and split phrases ("we betalen u het bedrag terug", "zahlen Ihnen den Betrag zurück").
_MONEY = r"(?:\d+(?:[.,]\d+)?\s?(?:eur|euros?|usd|dollars?|gbp|pounds?|chf|€|\$|£)|(?:€|\$|£)\s?\d+)"
_SPLIT_TERMS: dict[str, tuple[str, ...]] = {
    "refund": (r"betal\w*\b.{0,60}\bterug", r"(?:zahl|uberweis|buch)\w*\b.{0,60}\b(?:zuruck|wieder)",
               r"(?:give|send|pay|put)\b.{0,30}\bmoney\b.{0,20}\bback", r"storn\w*",
               # Money given back without the word "refund" (review of 2026-11-30): "return the full
               # amount", "get the 80 EUR back", "nous vous rendons les 80 euros", "le devolvemos los
               # 80 euros", "restituiamo l'importo"; an item returned or "devolver el artículo" is not money.
               r"return\w*\b.{0,20}\b(?:amount|sum|money|payment|purchase price)\b",
               r"\b(?:amount|sum|money|price|cost|" + _MONEY + r")\b.{0,30}\bback\b",
               r"\b(?:rend|rendr)(?:ons|ez|ont|ai|a|re|u|us)\b.{0,40}\b(?:argent|montant|somme|" + _MONEY + r")\b",
               r"\bdevolv\w*\b.{0,40}\b(?:dinero|dinheiro|importe|valor|montante|" + _MONEY + r")\b",
               r"\brestitu\w*\b.{0,40}\b(?:soldi|importo|denaro|" + _MONEY + r")\b",
               # Review of 2026-12-01: money sent or handed back in other words ("your money will be
               # returned", "we will transfer 80 EUR to your account", "we'll reverse the charge").
               r"\bmoney\b.{0,30}\b(?:return|refund|repa|transfer|credit|sent|send|wired)\w*",
               r"\byou(?:'ll|\s+will|\s+should|\s+can)?\s+(?:get|receive)\b.{0,15}\bmoney\b",
               r"\b(?:transfer|send|wire|credit|pay)\w*\s+(?:you\s+|back\s+|to\s+you\s+)?(?:the\s+|an?\s+)?"
               r"(?:(?:sum|amount)\s+of\s+)?" + _MONEY,
               r"\b(?:revers|cancel|void)\w*\s+(?:the|this|that|your)\s+(?:charge|payment|transaction|debit)\b"),
    "discount": (r"\d{1,2}\s?%", r"\bpercent\b", r"prozent", r"por ?ciento", r"pour ?cent", r"per ?cento", r"procent",
                 r"por ?cento"),
    "credit": (r"schrijven\b.{0,40}\bbij", r"schreiben\b.{0,40}\bgut"),
    # "We will cover the cost of a new jacket", "we'll pay for the repair".
    "on_us": (r"\bcover\w*\b.{0,20}\b(?:cost|price|expense|bill)", r"\bwe(?:'ll| will| shall)?\s+pay\s+for\b",
              # "We'll waive the fee", "waiving the return shipping cost" (review of 2026-12-01).
              r"\bwaiv\w*\b"),
}
_TERM_RX = {cat: re.compile(r"(?<![a-z])(?:" + "|".join([re.escape(t) for t in terms] + list(_SPLIT_TERMS.get(cat, ())))
                            + ")")
            for cat, terms in PROMISE_TERMS.items()}
_SENTENCES = re.compile(r"(?<=[.!?;:])\s+|\n+")


def _categories_of(folded: str) -> set[str]:
    found: set[str] = set()
    for variant in dict.fromkeys((folded, _despaced(folded), _joined(folded))):
        found |= {cat for cat, rx in _TERM_RX.items() if rx.search(variant)}
    return found


def promises(text: str) -> set[str]:
    """Promise categories mentioned anywhere in ``text`` (any of the seven languages, look-alikes folded)."""
    return _categories_of(fold(text))


def _norm_words(text: str) -> str:
    return " ".join(re.findall(r"\w+", fold(text)))


TRUSTED_TYPES = ("policy", "article")  # the store's own knowledge; past tickets are another customer's words
# A draft sentence is the store's own words only when it is a *whole* sentence (or ``;``/``:``
# clause) of a policy or article passage, or of the operator's template lines. Any part of one is
# not: "we will refund you in full" cut out of "If the item arrives faulty, we will refund you in
# full." drops the condition, "remove VAT or refund it" drops "We cannot", and a card-number
# request cut short of its "hidden" is a request (review of 2026-11-30).
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


_EMPHASIS = re.compile(r"\*\*|__")


def _split(text: str) -> list[str]:
    """Sentences and ``;``/``:`` clauses, Markdown emphasis dropped first: a passage's
    "click **Forgot password?** and enter" is quoted as "click Forgot password? and enter"."""
    return _SENTENCES.split(_HYPHENATED.sub("-", _EMPHASIS.sub("", (text or "")[:MAX_CHARS])))


def _pieces(text: str) -> list[str]:
    return [w for w in (_norm_words(p) for p in _split(text)) if w]


@functools.lru_cache(maxsize=4096)
def _line_pieces(line: str) -> tuple[str, ...]:
    # The operator's template lines are the same ~100 strings for every draft: normalised once.
    return tuple(_pieces(line))


def trusted_sentences(sources: Iterable[Source], operator_text: Iterable[str] = ()) -> list[str]:
    """The sentences a draft may repeat as the store's own words, normalised (see :func:`is_backed`).

    Every sentence of the policy and article passages in ``sources``, and of ``operator_text``:
    the operator's own template lines (``drafting.yaml``: intros, "About ...:" lines). A template
    line's ``{title}`` is filled with the trusted passages' titles; a line with any other
    placeholder (the customer's ``{name}``, ``{order}``) is skipped, since the customer chooses
    what fills it.
    """
    trusted = [s for s in sources if s.source_type in TRUSTED_TYPES]
    out = [p for s in trusted for p in _pieces(s.text)]  # a list: callers may make it a set
    titles = {t for s in trusted for t in (s.title, s.title.split(" - ")[0]) if t}
    for line in operator_text:
        names = set(_PLACEHOLDER.findall(line))
        if not names:
            out += _line_pieces(line)
        elif names == {"title"}:
            for t in titles:  # str.replace, not format: a title may hold braces
                out += _pieces(line.replace("{title}", t))
    return out


def is_backed(sentence: str, trusted: list[str] | set[str]) -> bool:
    """True when ``sentence`` is, word for word, one of the ``trusted`` sentences (whole)."""
    words = _norm_words(sentence)
    return not words or words in trusted


def unbacked_promises(text: str, sources: Iterable[Source], operator_text: Iterable[str] = ()) -> list[str]:
    """Promise categories in ``text`` that no policy or article passage states *word for word*.

    Backing is per sentence: the sentence making the promise must be a sentence of a passage of
    type ``policy`` or ``article`` (a template quoting the policy), whole (see
    :func:`is_backed`), or one of the operator's own template lines (``operator_text``). A passage
    that merely mentions refunds does not back an invented refund; past tickets never back
    anything. There is no LLM judge here, so a paraphrase is treated as unbacked (conservative on
    purpose: the cost of a false warning is an agent's glance, of a missed one an invented refund).
    """
    return _unbacked_categories(text, set(trusted_sentences(sources, operator_text)))


def _unbacked_categories(text: str, trusted: set[str]) -> list[str]:
    unbacked: set[str] = set()
    rest: list[str] = []
    for sentence in _split(text):
        if not is_backed(sentence, trusted):
            unbacked |= promises(sentence)
            rest.append(sentence)
    # "r. e. f. u. n. d." is cut at every ". ": spaced-out letters are read across the unbacked
    # sentences too, and only they ("Ihre Buchung ... / ... zurück" is no refund).
    for m in _SPACED.finditer(fold(" ".join(rest))):
        unbacked |= _categories_of(_despaced(m.group(0)))
    return sorted(unbacked)


def _unbacked_part(text: str, trusted: set[str]) -> str:
    """``text`` without the sentences that are the store's own words (see :func:`is_backed`).

    The rest is joined with spaces, as a draft's sentences are: joined with newlines, the letters of
    "p. a. s. s. w. o. r. d." would no longer be read as one word by the despacing checks."""
    return " ".join(p for p in _split(text) if not is_backed(p, trusted))


def promise_warning(cats: list[str]) -> str:
    """The warning shown in the note for unbacked promise categories."""
    return (f"Ungrounded claim: the draft promises or mentions {', '.join(c.replace('_', ' ') for c in cats)} "
            "and no policy passage states it word for word. Check the policy before sending.")


# ---------------------------------------------------------------- authority and secrets

_AUTHORITY = re.compile(r"(?x)(?<![a-z])(?:"
    r"as\s+(?:the|a|your)\s+(?:store\s+|shop\s+|customer\s+service\s+|support\s+)?(?:manager|supervisor|owner|director|ceo|head|team\s+lead|administrator)"  # noqa: E501
    r"|i\s+(?:hereby\s+|have\s+|personally\s+|can\s+)?(?:approve|approved|authori[sz]e|authori[sz]ed|guarantee|grant|granted|sign\s+off|override|overrode)"  # noqa: E501
    r"|(?:i\s+am|i'm)\s+(?:authori[sz]ed|the\s+manager|the\s+owner|a\s+manager|the\s+supervisor)"
    r"|on\s+behalf\s+of\s+(?:the\s+)?(?:management|the\s+company|the\s+ceo)|manager\s+approval|approved\s+by\s+(?:the\s+)?(?:manager|management|me)"  # noqa: E501
    r"|en\s+tant\s+que\s+(?:gerant|responsable|directeur|directrice|manager|proprietaire|superviseur)|j'approuve|j'autorise|je\s+garantis|j'ai\s+approuve|j'ai\s+autorise"  # noqa: E501
    r"|(?:como|en\s+calidad\s+de)\s+(?:el\s+|la\s+)?(?:gerente|encargad[oa]|director[a]?|responsable|supervisor[a]?|duen[oa])|(?:yo\s+)?apruebo|autorizo|garantizo|he\s+aprobado|he\s+autorizado"  # noqa: E501
    r"|als\s+(?:filialleiter(?:in)?|geschaftsfuhrer(?:in)?|manager(?:in)?|leiter(?:in)?|inhaber(?:in)?|vorgesetzte[r]?)|ich\s+genehmige|ich\s+autorisiere|ich\s+garantiere|ich\s+habe\s+(?:das\s+)?genehmigt"  # noqa: E501
    r"|in\s+qualita\s+di\s+(?:responsabile|direttore|direttrice|manager|titolare)|come\s+(?:responsabile|direttore|manager|titolare)|approvo|autorizzo|garantisco|ho\s+approvato|ho\s+autorizzato"  # noqa: E501
    r"|als\s+(?:de\s+)?(?:manager|bedrijfsleider|eigenaar|directeur|leidinggevende|supervisor)|ik\s+keur\b.{0,40}\bgoed|ik\s+geef\s+toestemming|ik\s+garandeer|ik\s+heb\s+goedgekeurd"  # noqa: E501
    r"|(?:como|na\s+qualidade\s+de)\s+(?:o\s+|a\s+)?(?:gerente|diretor[a]?|responsavel|supervisor[a]?|dono|dona)|aprovo|garanto|eu\s+autorizo|aprovei|autorizei"  # noqa: E501
    r")(?![a-z])")

_SECRET = re.compile(r"(?x)(?<![a-z])(?:"
    r"card\s*(?:number|no\b|num\b|details|digits)|credit\s*card|debit\s*card|full\s+card|long\s+number\s+on|expiry\s+date"
    r"|cvv2?|cvc2?|cid\b|security\s+code|card\s+verification|pin(?:\s+code|\s+number)?\b|passcode|password|passphrase"
    r"|one[\s-]?time\s+(?:code|password|passcode)|otp\b|2fa|two[\s-]factor\s+code|verification\s+code|login\s+details|credentials"  # noqa: E501
    r"|numero\s+de\s+(?:la\s+)?carte|carte\s+bancaire|cryptogramme|mot\s+de\s+passe|code\s+(?:pin|secret|de\s+securite)"
    r"|numero\s+de\s+(?:la\s+)?tarjeta|tarjeta\s+de\s+credito|codigo\s+de\s+seguridad|contrasena|clave\s+secreta"
    r"|kartennummer|kreditkarte|prufnummer|kartenprufnummer|sicherheitscode|passwort|kennwort|zugangsdaten"
    r"|numero\s+(?:della\s+)?carta|carta\s+di\s+credito|codice\s+(?:di\s+sicurezza|segreto)|parola\s+d'ordine"
    r"|kaartnummer|creditcard|beveiligingscode|wachtwoord|pincode"
    r"|numero\s+do\s+cartao|cartao\s+de\s+credito|codigo\s+de\s+seguranca|senha"
    # Review of 2026-11-30: the card's digits, a code just texted, banking logins, "la clave de tu tarjeta".
    r"|(?:three|3|four|4)\s+digits|digits\s+on\s+the\s+back|code\s+(?:that\s+)?we\s+(?:just\s+)?(?:texted|sent|emailed|messaged)"
    r"|online\s+banking|bank(?:ing)?\s+(?:login|log-in|username|details)|clave(?:\s+de\s+(?:tu|su)\s+tarjeta)?"
    r")(?![a-z])")


# Lines a customer may get the model to write *for the agent*, not the customer: a forged approval
# ("Approved by supervisor, safe to send as is"), the note's own labels ("AI triage", "Recommended
# action", "APPROVAL REQUIRED"), a second "Suggested reply:" section or our tags (review of 2026-12-01).
# The draft sits in a quote under its label, but a line like these reads as the sidecar's or a
# colleague's word. English, with the usual forms in French, Spanish and German.
_NOTE_IMITATION = re.compile(r"(?x)(?<![a-z])(?:"
    r"note\s+(?:to|for)\s+(?:the\s+)?(?:agent|reviewer|support\s+team|staff|team)|(?:agent|internal|reviewer|staff)[\s-]+(?:note|only)\b"  # noqa: E501
    r"|(?:approved|verified|checked|reviewed|signed\s+off|cleared|validated|authori[sz]ed)\s+by\s+(?:an?\s+|the\s+|our\s+)?(?:agent|supervisor|team\s*lead|lead|manager|admin\w*|reviewer|qa|human|support|compliance|ai)"  # noqa: E501
    r"|(?:this|the)\s+(?:draft|reply|answer|response)\s+(?:is|was|has\s+been)\s+(?:already\s+)?(?:approved|checked|verified|reviewed|validated|cleared)"  # noqa: E501
    r"|(?:safe|ok|okay|fine|cleared|approved)\s+to\s+(?:send|auto-?send|publish)|ready\s+to\s+send\s+(?:as\s+is|to\s+the\s+customer)"  # noqa: E501
    r"|send\s+(?:it\s+|this\s+)?(?:as\s+is|unchanged|without\s+(?:any\s+)?(?:changes|edits|review))"
    r"|no\s+(?:further\s+)?(?:review|changes|edits|checks?|approval)\s+(?:is\s+|are\s+)?(?:needed|required|necessary)|do\s+not\s+(?:edit|modify|review)\b"  # noqa: E501
    r"|(?:all\s+)?(?:guards?|checks)\s+(?:passed|ok|cleared)|no\s+warnings"
    r"|ai\s+triage|approval\s+(?:required|not\s+required|granted|given)|recommended\s+action|confidence\s+band|slack\s+was\s+alerted"  # noqa: E501
    r"|ungrounded\s+claim|sidecar-event|(?:suggested|proposed|final|approved|draft)\s+(?:reply|answer|response)\s*:"
    r"|ai-(?:approved|processed|intent|approval|needs-review|low-confidence|reject|handoff|wrong-intent)"
    r"|approuve\s+par|valide\s+par|(?:pret|prete)\s+a\s+(?:etre\s+)?envoye|aprobado\s+por|revisado\s+por|listo\s+para\s+enviar"
    r"|genehmigt\s+von|gepruft\s+von|kann\s+so\s+(?:gesendet|verschickt)\s+werden"
    r")(?![a-z])")


def _first_matches(pattern: re.Pattern[str], text: str, limit: int = 5) -> list[str]:
    """``pattern``'s matches in ``text`` folded, then in its de-spaced and joined spellings ("r e f u n d"), at most ``limit``."""
    t = fold(text)
    found = [m.group(0) for m in pattern.finditer(t)]
    for variant in dict.fromkeys((_despaced(t), _joined(t))):
        if variant != t:
            found += [m.group(0) for m in pattern.finditer(variant)]
    return found[:limit]


def note_imitation(text: str) -> list[str]:
    """Phrases of ``text`` addressed to the agent or copying the note's own structure (see :data:`_NOTE_IMITATION`)."""
    return _first_matches(_NOTE_IMITATION, text)


def authority_claims(text: str) -> list[str]:
    """Phrases where the draft speaks with authority it does not have ("as the store manager I approve")."""
    t = fold(text)
    found = [m.group(0) for m in _AUTHORITY.finditer(t)][:5]
    for variant in dict.fromkeys((_despaced(t), _joined(t))):
        if variant != t:
            found += [m.group(0) for m in _AUTHORITY.finditer(variant)][:5]
    return found


def secret_requests(text: str) -> list[str]:
    """Mentions of card numbers, CVV, PINs, passwords or one-time codes (a draft must never ask for them)."""
    return _first_matches(_SECRET, text)


# ---------------------------------------------------------------- languages the guards read

GUARD_LANGUAGES = ("en", "fr", "es", "de", "it", "nl", "pt")
_LETTER = re.compile(r"[^\W\d_]")


def unread_language(text: str) -> str | None:
    """Why the guards above cannot vouch for ``text`` (None when they can read it).

    Their vocabularies are English, French, Spanish, German, Italian, Dutch and Portuguese: a refund
    promised in Polish ("Zwrócimy Ci pełną kwotę"), Indonesian or Russian is no promise to them, so such
    a text is never sent by itself (review of 2026-12-01). Letters of another script (look-alikes
    folded first), the whole text, or one of its sentences of 4+ words read as another language.
    """
    from pipeline.langid import other_language
    from pipeline.lookalikes import fold_lookalikes

    t = fold_lookalikes((text or "")[:MAX_CHARS])
    odd = sorted({c for c in _LETTER.findall(t) if c not in "ºª" and not unicodedata.name(c, "").startswith("LATIN")})
    if odd:
        return f"letters of a script the guards do not read ({''.join(odd[:5])})"
    lang = other_language(t)
    if lang is None:
        lang = next((x for s in _split(t) if len(_LETTER.findall(s)) >= 12 and len(s.split()) >= 4
                     for x in [other_language(s, 0.9)] if x), None)
    return f"written in a language the guards do not read ({lang})" if lang else None


# ---------------------------------------------------------------- personal data

# What a reply sent without a human must never carry, whoever's it is (names aside: greetings use them).
_PII_PLACEHOLDERS = ("[iban]", "[card number]", "[cvv]", "[id number]", "[phone]", "[address]", "[postcode]",
                     "[email]", "[number]")


def personal_data(text: str) -> list[str]:
    """Kinds of personal data in ``text`` (IBANs, cards, CVVs, ID numbers, phones, addresses, e-mails, long numbers)."""
    from knowledge.redact import redact

    redacted = redact(text or "")
    return [p.strip("[]") for p in _PII_PLACEHOLDERS if p in redacted and p not in (text or "")]


# ---------------------------------------------------------------- past tickets

QUOTE_WORDS = 8


def quotes_past_ticket(text: str, sources: Iterable[Source]) -> bool:
    """True when ``text`` repeats :data:`QUOTE_WORDS` words in a row from a past-ticket passage."""
    words = _norm_words(text).split()
    if len(words) < QUOTE_WORDS:
        return False
    grams = {" ".join(words[i:i + QUOTE_WORDS]) for i in range(len(words) - QUOTE_WORDS + 1)}
    for s in sources:
        if s.source_type != "ticket":
            continue
        tw = _norm_words(s.text).split()
        for i in range(len(tw) - QUOTE_WORDS + 1):
            if " ".join(tw[i:i + QUOTE_WORDS]) in grams:
                return True
    return False


def only_past_tickets(draft: Draft) -> bool:
    """True when every passage the draft used (or, if it names none, every passage) is a past ticket."""
    by_id = {s.id: s for s in draft.sources}
    used = [by_id[i] for i in draft.used_source_ids if i in by_id] or list(draft.sources)
    return bool(used) and all(s.source_type == "ticket" for s in used)


# ---------------------------------------------------------------- entry points


def unsafe_reasons(text: str, sources: list[Source], operator_text: Iterable[str] = ()) -> list[str]:
    """Every reason ``text`` must not reach a customer by itself (empty list = nothing found).

    Secrets and personal data are looked for outside the sentences the store's own passages and
    template lines say word for word (``operator_text``, see :func:`trusted_sentences`): a password
    reset article quoted in a template names the password and the store's ``noreply@`` address,
    and warning on every such draft taught agents to skip the warnings. Links are flagged wherever
    they are: they are never sent automatically.
    """
    reasons: list[str] = []
    links = find_links(text)
    if links:
        reasons.append("Link removed or link-like text in the draft: links are never sent automatically.")
    trusted = set(trusted_sentences(sources, operator_text))
    rest = _unbacked_part(text, trusted)
    cats = _unbacked_categories(text, trusted)
    if cats:
        reasons.append(promise_warning(cats))
    if authority_claims(text):
        reasons.append("The draft claims authority (a manager's approval, a guarantee): "
                       "only a human can decide that. Never sent automatically.")
    if secret_requests(rest):
        reasons.append("The draft mentions card numbers, security codes, PINs or passwords: "
                       "never ask a customer for them. Never sent automatically.")
    pii = personal_data(rest)
    if pii:
        reasons.append(f"The draft contains personal data ({', '.join(pii)}): check whose it is. "
                       "Never sent automatically.")
    if note_imitation(rest):
        reasons.append("The draft speaks to the agent or copies the note (an approval, \"safe to send\", a label or "
                       "tag of ours): the customer may have asked the model for it. Nothing in the draft comes from "
                       "the sidecar or a colleague. Never sent automatically.")
    if quotes_past_ticket(text, sources):
        reasons.append("The draft repeats text from another customer's ticket: remove it before sending.")
    return reasons


def review(draft: Draft, operator_text: Iterable[str] = ()) -> Draft:
    """Add the guards' warnings to ``draft`` (each once); a draft with warnings is never auto-replied.

    ``operator_text``: the operator's template lines (see :func:`unsafe_reasons`)."""
    reasons = unsafe_reasons(draft.text, draft.sources, operator_text)
    if only_past_tickets(draft):
        reasons.append("Grounded only on similar past tickets, not on a policy: an agent must check it.")
    for r in reasons:
        # Same kind of warning from the drafter (e.g. its own link or promise check): keep one.
        if r not in draft.warnings and not any(w.split(":")[0] == r.split(":")[0] for w in draft.warnings):
            draft.warnings.append(r)
    return draft
