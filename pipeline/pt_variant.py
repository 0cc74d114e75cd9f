"""Brazilian or European Portuguese: which wording a Portuguese template draft uses.

Language identification gives "pt" only; the two variants differ in the words a draft says to the
customer ("A equipa" / "A equipe", "encomenda" / "pedido", "Com os melhores cumprimentos" /
"Atenciosamente", "o seu" / "você"). The choice, in order:

1. the operator's ``portuguese.variant`` in ``drafting.yaml`` when it is ``pt-BR`` or ``pt-PT`` (a store
   that sells to one country only);
2. the requester's locale when the helpdesk gives one with a region (Zendesk's side-loaded user
   ``locale``, BCP-47: "pt-BR", "pt-PT"); a bare "pt", or another language's locale (many accounts leave
   every end user on the account's default, "en-US"), says nothing;
3. the customer's own words: markers of each variant, weighted (below); the side with more weight wins;
4. a tie (no marker, or as much of each) is ``portuguese.default``.

The markers are what a Portuguese or a Brazilian customer writes that the other would not: the continuous
"estou esperando" (Brazil) against "estou a esperar" (Portugal); everyday words ("celular" / "telemóvel",
"cadastro" / "registo", "equipe" / "equipa", "acessar" / "aceder"); the shop's own world ("boleto", "Pix",
"CPF", "CEP", "frete" / "Multibanco", "MB Way", "NIF", "CTT", "portes"); spelling ("tênis", "Antônio",
"econômico" / "ténis", "António", "económico"; "contato" / "contacto"); pronouns ("você", "pode me dizer",
"Me enviaram" / "podem dizer-me", "enviaram-me", "vosso"). Words both write ("vocês", "reembolso", "fatura",
"Olá", "obrigado") weigh nothing. Measured on ``bench/data/pt_variants.csv`` and on the Portuguese messages
other sessions wrote (``python bench/pt_variant_eval.py``, figures in docs/measurements.md).

Pure functions over text; nothing here knows a platform.
"""

from __future__ import annotations

import re

from pipeline.lookalikes import fold_lookalikes

__all__ = ["BR", "PT", "VARIANTS", "locale_variant", "portuguese_variant", "variant_scores"]

BR = "pt-BR"
PT = "pt-PT"
VARIANTS = (BR, PT)

_W = r"[^\W\d_]"  # a letter (any script, accents included)
# Auxiliaries of the continuous: Brazil follows them with a gerund, Portugal with "a" + infinitive.
_AUX = (r"(?:estou|est[áa]|estamos|est[ãa]o|estava|estavam|estive|esteve|fico|fica|ficou|continua|continuo|"
        r"continuam|continuou|ando|anda|andam)")

# (pattern, weight): the larger the weight, the surer the marker.
_BRAZIL: tuple[tuple[str, int], ...] = (
    (rf"\b{_AUX}\s+(?:me\s+|se\s+)?{_W}{{2,}}ndo\b", 3),  # "estou esperando", "continua aparecendo"
    (r"\b(?:celular|[ôo]nibus|cadastr(?:o|ar|ei|ado|ada|ou)|boleto|pix|cpf|cep|nota\s+fiscal|estorno|"
     r"aplicativo|usu[áa]rio|camiseta|fone\s+de\s+ouvido|geladeira|banheiro|parcel(?:ar|ado|ada|amento|am)|"
     r"atenciosamente|\d\s*reais)\b|\br\$", 3),
    # Not "pro" (an "iPhone Pro"), "legal" or "arquivo" (Portugal: lawful, archive), "acesso" (the noun, both).
    (r"\b(?:voc[êe]|vc|vcs|pra|né|t[áa]\s+bom|acess(?:ar|ei|ou|ando)|equipe|contat(?:o|ar|ei)|registro|frete|"
     r"oi|rastreio)\b", 2),
    # Clitic before the verb: "pode me dizer", "vocês me enviaram", "Me enviaram" (Portugal: "dizer-me").
    (r"\b(?:pode|podem|poderia|poderiam|consegue|conseguem|vai|v[ãa]o|quer|querem|deve|devem|pra|para)\s+me\s+"
     rf"{_W}+(?:ar|er|ir)\b", 2),
    (rf"(?:^|[.!?]\s+)me\s+{_W}+", 2),
    # Circumflex where Portugal writes an acute before m/n: "tênis", "Antônio", "econômico", "prêmio".
    (r"[êô][mn][aeiouáéíóú]", 2),
    (r"\b(?:rastreamento|faz\s+(?:\d+|uma?|dois|duas|tr[êe]s)\s+(?:dias?|semanas?|m[êe]s(?:es)?)|a\s+gente)\b", 1),
    # "pedido" for the order itself ("meu pedido 4521"); Portugal says "pedido de" for a request.
    (r"\bpedido\b(?!\s+de\b)", 1),
    # A possessive without its article: "meu pedido", "com minha conta" (Portugal: "o meu", "com a minha").
    (r"(?:^|[.!?,;]\s*|\b(?:de|em|com|para|pra|por|que|e|[ée]|sobre)\s+)(?:meu|minha|meus|minhas)\b", 1),
)
_PORTUGAL: tuple[tuple[str, int], ...] = (
    (rf"\b{_AUX}\s+a\s+{_W}+[aei]r\b", 3),  # "estou a esperar", "continua a aguardar", "está a ser"
    (r"\b(?:telem[óo]vel|autocarro|comboio|ecr[ãa]|utilizador(?:es)?|palavra-passe|regist(?:o|ar|ei)|ctt|"
     r"multibanco|mb\s*way|nif|equipa|sapatilhas|auscultadores|aceder|acedi|casa\s+de\s+banho|frigor[íi]fico|"
     r"com\s+os\s+melhores\s+cumprimentos|cumprimentos)\b", 3),
    (r"\b(?:contact(?:o|ar|ei|e|em)|facto|morada|portes|prenda|camisola|voss[oa]s?|aceite|"
     r"o\s+que\s+se\s+passa)\b", 2),
    # Clitic after the verb: "podem dizer-me", "enviaram-me" (not "-se": Brazil writes "trata-se"); Brazil's
    # written register has "devolvê-lo" too, so "-lo"/"-la" weigh less.
    (rf"{_W}-(?:me|lhe|lhes|vos)\b", 2),
    (rf"{_W}-(?:nos|la|lo|las|los)\b", 1),
    # Acute where Brazil writes a circumflex before m/n: "ténis", "António", "económico", "prémio", "género".
    (r"[éó][mn][aeiouáéíóú]", 2),
    # Not "euros" (a European store's Brazilian customers pay in euros too) nor "pois" (Brazil's "because").
    (r"\b(?:encomenda|est[áa]\s+bem)\b", 1),
)
_BR_RX = tuple((re.compile(p, re.I), w) for p, w in _BRAZIL)
_PT_RX = tuple((re.compile(p, re.I), w) for p, w in _PORTUGAL)
MAX_TEXT = 8_000  # the pipeline's text limit: the markers are read where the message starts


def variant_scores(text: str) -> tuple[int, int]:
    """(Brazil, Portugal): the weights of the markers found, each marker counted once."""
    t = fold_lookalikes((text or "")[:MAX_TEXT])
    br = sum(w for rx, w in _BR_RX if rx.search(t))
    pt = sum(w for rx, w in _PT_RX if rx.search(t))
    return br, pt


def locale_variant(locale: str | None) -> str | None:
    """``pt-BR`` / ``pt-PT`` for a Portuguese locale with a region ("pt-BR", "pt_br", "pt-PT"), else None."""
    m = re.fullmatch(r"\s*pt[-_](br|pt)\s*", locale or "", re.I)
    return None if m is None else (BR if m.group(1).lower() == "br" else PT)


def portuguese_variant(text: str, *, locale: str | None = None, setting: str = "auto", default: str = PT) -> str:
    """The variant a Portuguese draft is worded in: the operator's setting, the locale, the markers, the default."""
    if setting in VARIANTS:
        return setting
    from_locale = locale_variant(locale)
    if from_locale:
        return from_locale
    br, pt = variant_scores(text)
    if br != pt:
        return BR if br > pt else PT
    return default if default in VARIANTS else PT
