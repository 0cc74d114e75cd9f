"""Courtesy formulas around a message: the opening interjection and the closing thanks and greetings.

The sentiment head reads "Perfect, that answers everything. Have a good weekend!" like the sarcasm it
learned from ("Perfect, a broken lamp"): the courtesy words are exactly the ones sarcasm wraps around a
complaint. :func:`courtesy_remainder` takes them off the ends of a message ("Perfect,", "ok", "thanks a lot",
"have a good weekend", "bye 👋") in EN/FR/ES/DE/IT/NL/PT, so the message can be read again without them: a
thank-you closing leaves nothing or "that answers everything", a sarcasm its complaint ("a broken lamp. Exactly
what I paid for."). Only whole formulas at the ends are taken: "thanks for nothing", "thanks so much for
cancelling my order" or "merci d'avoir annulé" are no closing formula and stay.

Matching runs on a folded copy of the same length (lower case, accents off, look-alike letters already folded
by the caller), so the remainder is cut from the customer's own text.
"""

from __future__ import annotations

import re
import unicodedata

from pipeline.lookalikes import drop_invisible

# Interjections a message opens with: praise, agreement, acknowledgement (what sarcasm opens with too).
_OPENERS = (
    # EN
    "perfect", "great", "great stuff", "great news", "super", "superb", "brilliant", "lovely", "wonderful", "excellent",
    "fantastic", "awesome", "amazing", "cool", "fine", "alright", "all right", "all good", "ok", "okay", "okey", "kk",
    "good", "very good", "nice", "top", "noted", "understood", "got it", "gotcha", "sure", "sounds good", "right",
    "fair enough", "no worries", "no problem", "yes", "yep", "ah", "oh", "well", "oh well", "ah well", "right then",
    # FR
    "parfait", "genial", "tres bien", "bien", "d'accord", "dac", "entendu", "nickel", "impeccable", "merveilleux",
    "formidable", "bonne nouvelle", "note", "c'est note", "ca marche", "pas de souci", "pas de probleme", "bon", "ouf",
    # ES
    "perfecto", "estupendo", "vale", "de acuerdo", "entendido", "muy bien", "guay", "excelente", "fantastico",
    "buenisimo", "maravilloso", "buenas noticias", "anotado", "claro", "bueno", "listo", "sin problema",
    # DE
    "perfekt", "prima", "toll", "klasse", "alles klar", "gut", "sehr gut", "wunderbar", "ausgezeichnet", "spitze",
    "verstanden", "gute nachricht", "notiert", "alles gut", "passt", "na", "achso", "ach so", "okidoki",
    # IT
    "perfetto", "ottimo", "benissimo", "bene", "va bene", "capito", "fantastico", "eccellente", "splendido",
    "bella notizia", "ricevuto", "preso nota", "tutto ok", "allora", "d'accordo",
    # NL
    "mooi", "fijn", "oke", "helder", "uitstekend", "geweldig", "goed", "duidelijk", "begrepen", "genoteerd",
    "geen probleem", "nou", "hoor",
    # PT
    "perfeito", "otimo", "boa", "beleza", "certo", "combinado", "tudo bem", "tudo certo", "percebido", "fixe", "sim",
    "maravilha",
)
# Thanks, with what may follow them inside the formula.
_THANKS = (
    r"(?:thanks|thank you|thank u|thankyou|thx|thnx|tx|ty|tysm|cheers|many thanks|much appreciated|appreciate it"
    r"|merci|gracias|graciass|danke|dankeschon|danke schon|vielen dank|besten dank|tausend dank|herzlichen dank"
    r"|grazie|bedankt|dank je|dankje|dank u|dankjewel|dank je wel|dank u wel|dank jullie wel|hartelijk dank"
    r"|obrigado|obrigada|obg|brigado|brigada|agradeco|muito obrigado|muito obrigada|muchas gracias|mil gracias"
    r"|muchisimas gracias|grazie mille|heel erg bedankt|heel hartelijk bedankt|mille merci)"
)
_THANKS_MORE = (
    r"(?: (?:a lot|so much|very much|a million|again|loads|heaps|beaucoup|bien|encore|infiniment|mille fois"
    r"|de nuevo|otra vez|schon|sehr|nochmals|vielmals|mille|tante|ancora|infinite|wel|nogmaals|voor alles"
    r"|mais uma vez|de novo|x+))*"
)
_FOR = r"(?:for|pour|por|fur|per|voor|pela|pelo|para|della|dell'|del|de|di|d')"
_WHAT = (
    r"(?:(?:the|your|all the|all your|l'|la|le|votre|vos|ton|su|tu|la|el|die|ihre|deine|eure|den|de|je|uw|jullie"
    r"|a|o|il|la vostra|vostro|sua|vossa) ?)?(?:quick |fast |swift |rapide |rapida |rapido |schnelle |veloce |snelle )?"
    r"(?:help|aide|ayuda|hilfe|aiuto|hulp|ajuda|answer|reply|response|reponse|respuesta|antwort|risposta|antwoord"
    r"|resposta|explanation|explication|explicacion|explicarmelo|erklarung|spiegazione|uitleg|explicacao|info"
    r"|information|informations|informacion|informationen|informazioni|informatie|informacao|update|everything|tout"
    r"|todo|alles|tutto|tudo|patience|time|rapide reponse|quick answer|quick reply)"
)
_THANKS_FORMULA = _THANKS + _THANKS_MORE + r"(?: " + _FOR + r" ?" + _WHAT + r")?"
# Greetings and sign-offs (public: the praise check reads the same list).
GREETINGS = (
    # EN
    r"(?:have|enjoy) (?:a|your|the rest of (?:your|the)) (?:(?:good|nice|great|lovely|wonderful|fab) )?"
    r"(?:day|evening|weekend|week|sunday|one|afternoon|night|holidays?)",
    r"enjoy the rest of (?:your|the) (?:day|week|weekend|evening)", r"(?:good|nice|happy) (?:day|weekend|holidays)",
    r"bye|bye bye|byee+|bye for now|goodbye|take care|see you|see ya|talk soon|(?:kind |best |warm )?regards",
    r"all the best|best wishes|happy holidays|merry christmas",
    # FR
    r"(?:tres )?(?:bonne|belle) (?:journee|soiree|fin de journee|fin de semaine|semaine|continuation|nuit|apres-midi)",
    r"bon (?:week-end|weekend|dimanche|apres-midi|courage)", r"au revoir|a bientot|a plus|bisous|cordialement",
    r"bien a vous|salutations|bonnes fetes",
    # ES
    r"(?:buen|feliz) (?:dia|fin de semana|domingo|finde)", r"(?:buena|buenas) (?:tarde|tardes|noche|noches)",
    r"que (?:te |le |os |les )?vaya bien(?: el resto de la semana)?", r"que (?:tengas|tenga|tengais|tengan) (?:un )?buen (?:dia|finde|fin de semana)",
    r"hasta luego|hasta pronto|adios|chao|chau|saludos|un saludo|un abrazo|felices fiestas|cuidate",
    # DE
    r"(?:einen )?schonen (?:tag|abend|sonntag|feierabend)(?: noch)?", r"schones wochenende(?: noch)?",
    r"(?:noch )?(?:eine )?schone (?:restwoche|woche)(?: noch)?", r"tschuss|tschau|ciao|bis dann|bis bald|bis spater",
    r"auf wiedersehen|(?:viele |liebe |beste |freundliche )?gru(?:ss|ß)e?|lg|vg|mfg|mit freundlichen gru(?:ss|ß)en",
    r"frohe feiertage|schone feiertage",
    # IT
    r"buona (?:giornata|serata|domenica|settimana|notte)", r"buon (?:fine settimana|weekend|pomeriggio|proseguimento(?: di (?:settimana|giornata))?)",
    r"a presto|arrivederci|saluti|cordiali saluti|un saluto|buone feste",
    # NL
    r"(?:nog )?(?:een )?fijne (?:dag|avond|zondag|feestdagen|middag|rest van de week|week)(?: nog)?", r"fijn weekend(?: nog)?",
    r"doei|groetjes|groeten|met vriendelijke groet(?:en)?|mvg|tot ziens|tot later|tot snel",
    # PT
    r"(?:bom|boa) (?:dia|tarde|noite|fim de semana|semana|domingo)(?: para (?:voces|vos|si))?",
    r"resto de (?:boa|bom) (?:semana|dia)", r"ate (?:mais|logo|breve|a proxima)|adeus|tchau|xau|abraco|abracos",
    r"cumprimentos|beijinhos|boas festas",
)
# A name after the thanks ("Thanks Sarah,", "Danke Frau Weber,"): capitalised in the customer's text.
_NAME = r"(?: [a-z][a-z'-]{1,20}){1,2}"
_PHRASE = r"(?:" + _THANKS_FORMULA + "|" + "|".join(GREETINGS) + r")"
_OPENER = r"(?:" + "|".join(sorted((re.escape(o) for o in _OPENERS), key=len, reverse=True)) + r")"
_GAP = r"[\s,.!;:…\-–—~*()\"'«»“”„‘’?¡¿]"
# Anything but letters and digits (emoji, smileys, punctuation) at the ends.
_EDGE = r"(?:[^\w]|_)*"
_LEAD = re.compile(r"^" + _EDGE + r"(?:" + _OPENER + r"|" + _PHRASE + r")(?=" + _GAP + r"|$)")
_LEAD_NAMED = re.compile(r"^" + _EDGE + _THANKS + _THANKS_MORE + r"(" + _NAME + r")" + r"(?=[,.!;:])")
# At the end only thanks and greetings: an interjection there ("... it broke again. Great.") is left to the model.
_TAIL = re.compile(r"(?:^|(?<=" + _GAP + r"))" + _PHRASE + _EDGE + r"$")
# After the formula at the start: only punctuation, then a new clause ("Perfect, ...", "Thanks! ...").
_AFTER_LEAD = re.compile(r"^(?:[^\w]|_)*")
_PUNCT_NEXT = re.compile(r"^\s*[,.!;:…\-–—)?¡¿]")
_CONNECTORS = r"(?:and|et|y|e|und|en|&)"
_CONNECTOR_NEXT = re.compile(r"^\s*" + _CONNECTORS + r"\s+")
_CONNECTOR_END = re.compile(r"(?:^|\s)" + _CONNECTORS + r"\s*$")


def _fold(text: str) -> str:
    """Lower case, accents off, one character for one (the remainder is cut from the original by index)."""
    out = []
    for c in text:
        low = c.lower()
        if len(low) != 1:
            low = c
        base = unicodedata.normalize("NFD", low)[0]
        out.append(base if base.isalpha() or not c.isalpha() else low)
    return "".join(out).replace("’", "'").replace("‘", "'").replace("ʼ", "'")


def _leads_on(rest: str) -> bool:
    """After a formula at the start: nothing, punctuation, or (after a space or "and") another formula."""
    if not rest.strip() or _PUNCT_NEXT.match(rest):
        return True
    rest = _CONNECTOR_NEXT.sub("", rest, count=1).lstrip()
    return _LEAD.match(rest) is not None


def courtesy_remainder(text: str, max_chars: int = 2_000) -> str | None:
    """``text`` without its opening interjection and its closing thanks and greetings, or None when it has none.

    "Perfect, that answers everything. Have a good weekend!" -> "that answers everything."; "ok perfect thx! 👍"
    -> "" (all courtesy). A formula counts at the start only when punctuation, the end or another formula follows
    it ("Great," but not "Great product", "thanks" but not "thanks for nothing"), at the end only after a word
    boundary. Texts over ``max_chars`` are not read.
    """
    text = drop_invisible(text or "").strip()
    if not text or len(text) > max_chars:
        return None
    start, end = 0, len(text)
    folded = _fold(text)
    changed = True
    while changed and start < end:
        changed = False
        part = folded[start:end]
        m = _LEAD.match(part)
        named = _LEAD_NAMED.match(part)
        if named and not (m and m.end() >= named.end()):
            # The words after the thanks are a name only when the customer capitalised them ("Thanks Sarah,").
            words = text[start + named.start(1):start + named.end(1)].split()
            if all(w[:1].isupper() for w in words) and _leads_on(part[named.end():]):
                m = named
        if m and m.end() > 0 and _leads_on(part[m.end():]):
            start += m.end()
            start += _AFTER_LEAD.match(folded[start:end]).end()
            start += len(_CONNECTOR_NEXT.match(folded[start:end]).group(0)) if _CONNECTOR_NEXT.match(folded[start:end]) else 0
            changed = True
            continue
        t = _TAIL.search(part)
        if t:
            end = start + t.start()
            cut = _CONNECTOR_END.search(folded[start:end])
            if cut:
                end = start + cut.start()
            while end > start and not folded[end - 1].isalnum():
                end -= 1
            changed = True
    if start == 0 and end == len(text):
        return None
    return text[start:end].strip()


# Words of repetition ("another", "again", "still"): what sarcasm wraps in thanks ("Great, another week of waiting.
# Thanks a lot."), whose remainder the model can read as a calm fact.
_REPEATS = re.compile(
    r"(?<!\w)(?:again|another|yet another|still|once more|one more|encore|toujours|de nouveau|a nouveau|une fois de plus"
    r"|otra vez|otra|otro|otras|otros|de nuevo|todavia|sigue|siguen|una vez mas|wieder|schon wieder|immer noch"
    r"|noch immer|noch ein|noch eine|noch einen|nochmal|nochmals|erneut|ancora|di nuovo|un'altra|un altro|un'ennesima"
    r"|ennesim[ao]|un'altra volta|weer|alweer|opnieuw|nog steeds|nog een|nogmaals|outra vez|outra|outro|mais um|mais uma"
    r"|de novo|ainda|novamente)(?!\w)"
)


def repeats(text: str) -> bool:
    """Whether ``text`` says something happens again or still ("another week", "schon wieder", "ainda")."""
    return _REPEATS.search(_fold(text)) is not None
