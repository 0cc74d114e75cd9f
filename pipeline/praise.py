"""Praise and "it's sorted" messages: words that say something went well, and nothing that says something went wrong.

The sentiment head reads praise of an agent ("Sarah on your chat was lovely and explained the warranty really
clearly. Please pass on my thanks.") and a problem that solved itself ("Found the missing screws, they were taped
under the lid. All good, bye for now") as the sarcasm it learned from ("Brilliant, the 'express' parcel is touring
Belgium. Top work."): both wrap a story in the same praise words. What sarcasm has and praise has not is the
trouble itself (the wrong size twice, three weeks, a parcel lost, an order cancelled), a "but", a negation, a
question, or a word in scare quotes. :func:`praise_only` says a message is praise, thanks or "sorted" when it has
such words (:data:`_POSITIVE`) and none of those (:data:`_TROUBLE`, :data:`_NEGATION`, :data:`_CONTRAST`, quotes,
"?", the courtesy module's "again / another / still"), in EN/FR/ES/DE/IT/NL/PT. The caller
(:func:`pipeline.signals.sentiment`) also keeps every verdict of a message with a threat, repeated-contact,
profanity or churn signal, anger said outright, or shouting.

It reads the folded text of :func:`pipeline.signals.normalize_for_matching` (lower case, no accents, no markup, no
look-alike letters or invisible characters). The lists are small and readable on purpose: a word missing from
:data:`_TROUBLE` lets praise-shaped sarcasm through, so the list is wide (any duration, any money word, any failure)
and the check only ever makes a negative verdict neutral when nothing in the message says something went wrong.
"""

from __future__ import annotations

import re

from pipeline.courtesy import _GREETINGS, repeats


def _rx(*parts: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in parts))


# Something went well: thanks, praise of a person or of the help, a problem solved or found, nothing more needed.
_POSITIVE = _rx(
    # EN
    r"\b(thanks?|thank you|thx|cheers|appreciated?|grateful|lovely|kind|patient|patience|helpful|friendly|brilliant"
    r"|a star|all good|all sorted|sorted|resolved|works (perfectly|fine|great)|working (now|again fine)"
    r"|no need to (reply|get back|answer|respond)|found (it|them|the)|case closed|clears it up|answers everything"
    r"|that'?s everything|that was all|ignore my|disregard my)\b",
    # "that answers everything", "that was all" in the other six
    r"\b(repond a tout|c'etait tout|responde a todo|eso es todo|beantwortet alles|das war (es|alles)|risponde a tutto"
    r"|e tutto|beantwoordt alles|dat was (het|alles)|responde a tudo|era tudo|e tudo)\b",
    # FR
    r"\b(merci|remerci\w*|apprecie|adorable|gentil(le)?|aimable|patien\w*|sympa|formidable|tout va bien|tout est bon"
    r"|regle|resolu|(fonctionne|marche) (parfaitement|tres bien|bien)|inutile de (me )?repondre"
    r"|pas besoin de (me )?repondre|j'ai trouve|dossier clos|oubliez mon|ne tenez pas compte)\b",
    # ES
    r"\b(gracias|agradec\w*|un encanto|amable|paciencia|simpatic[oa]|todo bien|todo en orden|solucionado|resuelto"
    r"|funciona (perfectamente|muy bien|bien)|no hace falta que|encontre|olvidad|ignorad)\b",
    # DE
    r"\b(danke\w*|dank|zu schatzen|nett|freundlich|geduld\w*|alles gut|alles in ordnung|erledigt|gelost"
    r"|funktioniert (einwandfrei|super|wieder|jetzt)|gefunden|vergessen sie|ignorieren sie|nicht (mehr )?antworten)\b",
    # IT
    r"\b(grazie|ringrazi\w*|apprezz\w*|gentil\w*|pazient\w*|pazienza|bravissim[oiae]|tutto a posto|tutto ok|risolto"
    r"|funziona (benissimo|perfettamente|bene)|non serve che|ho trovato|ignorate|pratica e chiusa)\b",
    # NL
    r"\b(bedankt|dank|gewaardeerd|aardig|vriendelijk|geduld\w*|alles goed|opgelost|geregeld|werkt (perfect|prima|weer)"
    r"|hoeven niet|gevonden|afgehandeld|vergeet mijn)\b",
    # PT
    r"\b(obrigad[oa]s?|agradec\w*|simpatia|simpatic[oa]|amavel|paciencia|tudo bem|resolvido|funciona (na perfeicao|bem)"
    r"|nao precisam de|encontrei|ignorem|esquecam)\b",
)
# Formulas of "nothing needed" that carry a negation word ("no need to reply", "pas de souci"): taken out before the
# negation check reads the text.
_NO_NEED = _rx(
    r"\bno need to (reply|get back to (me|us)|answer|respond)\b", r"\bno (worries|problem)\b",
    r"\b(pas besoin|inutile) de (me |nous )?repondre\b", r"\bpas de (souci|probleme)\b",
    r"\bno hace falta que (me |nos )?(contest|respond)\w*\b", r"\bsin problema\b",
    r"\b(sie )?mussen (mir |uns )?nicht (mehr )?antworten\b", r"\bkein problem\b",
    r"\bnon serve che (mi |ci )?rispond\w*\b", r"\bnessun problema\b",
    r"\b(jullie |je |u )?hoeven niet (meer )?(te )?(reageren|antwoorden)\b", r"\bgeen probleem\b",
    r"\bnao precisa(m)? de (me )?responder\b", r"\bsem problema\b",
)
# Something went wrong: failures, damage, waiting and any duration, money taken, a count of tries, a cancellation;
# the words sarcasm puts in quotes or praises ("premium", "express", "priority", "world-class", "made my week").
_TROUBLE = _rx(
    # EN
    r"\b(wrong|broke\w*|damag\w*|lost|lose|losing|leak\w*|rip|ripped|torn|tore|crack\w*|dead|died|fault\w*|defect\w*"
    r"|shatter\w*|smash\w*|crush\w*|dent\w*|scratch\w*|stain\w*"
    r"|late|delay\w*|wait\w*|hold|twice|third|fourth|fifth|charg\w*|overcharg\w*|refus\w*|cancel\w*|useless|worst"
    r"|terrible|awful|horrible|joke|kidding|disappoint\w*|complain\w*|problem\w*|issue|error|fail\w*|stuck|seconds?"
    r"|minutes?|hours?|days?|weeks?|months?|money|paid|pay|premium|express|priority|proud|valued|well spent"
    r"|world[- ]class|made my (day|week)|impressive|congratulations|bravo|progress)\b",
    # FR
    r"\b(mauvais\w*|erreur|cass\w*|brise\w*|raye\w*|abim\w*|endommag\w*|perdu\w*|perd\w*|fui\w*|dechir\w*|fissur\w*|mort|defectu\w*"
    r"|retard\w*|attend\w*|attente|deux fois|troisieme|quatrieme|debit\w*|annul\w*|inutile|plainte|probleme"
    r"|bloqu\w*|secondes?|minutes?|heures?|jours?|semaines?|mois|argent|paye|prioritaire|progres|felicitations"
    r"|chapeau|digne)\b",
    # ES
    r"\b(equivocad\w*|mal|rot[oa]s?|rajad\w*|rompi\w*|danad\w*|perdi\w*|gotea\w*|fuga|desgarr\w*|rasg\w*|muert[oa]|defectuos\w*"
    r"|retras\w*|esper\w*|dos veces|tercer\w*|cuart[oa]|cobr\w*|anul\w*|cancel\w*|inutil|queja|problema|error"
    r"|segundos?|minutos?|horas?|dias?|semanas?|(un|el|este|al) mes|meses|dinero|pagu\w*|prioritari\w*|enhorabuena|impresionante"
    r"|de primera)\b",
    # DE
    r"\b(falsch\w*|kaputt\w*|gesprungen\w*|zerbrochen\w*|zerkratzt\w*|beschadig\w*|verlor\w*|undicht|tropf\w*|gerissen|riss|tot|defekt\w*|verspat\w*|wart\w*"
    r"|zweimal|dritte\w*|vierte\w*|belast\w*|abgebucht|storn\w*|nutzlos|beschwer\w*|problem\w*|fehler\w*"
    r"|sekunden?|minuten?|stunden?|tage?n?|wochen?|monat\w*|geld|bezahlt|prioritat|gluckwunsch|gratulation"
    r"|erstklassig\w*|fortschritt)\b",
    # IT
    r"\b(sbagliat\w*|rott[oaie]|incrinat\w*|graffiat\w*|danneggi\w*|pers[oaie]|perde\w*|perdut\w*|strapp\w*|crepat\w*|mort[oa]|difettos\w*"
    r"|ritard\w*|attes[ao]|aspett\w*|due volte|terz[oa]|quart[oa]|addebit\w*|annull\w*|inutil\w*|reclam\w*"
    r"|problem\w*|errore|second[oi]|minut[oi]|or[ae] di|giorn[oi]|settiman[ae]|mes[ei]|soldi|pagat[oa]|prioritari\w*"
    r"|complimenti|prima classe|progressi)\b",
    # NL
    r"\b(verkeerd\w*|kapot\w*|gebroken|gebarsten|gekrast|beschadig\w*|kwijt\w*|verlor\w*|lek\w*|gescheurd|scheur\w*|dood|defect\w*|te laat"
    r"|vertraag\w*|wacht\w*|twee keer|derde|vierde|afgeschreven|geannuleerd|annuleer\w*|nutteloos|klacht\w*"
    r"|probleem|fout\w*|seconden|minuten|uur|dag|dagen|week|weken|maand\w*|geld|betaald|prioriteit|gefeliciteerd"
    r"|wereldklasse|vooruitgang)\b",
    # PT
    r"\b(errad[oa]s?|estraga\w*|rachad\w*|quebrad\w*|riscad\w*|partid[oa]s?|danific\w*|perd\w*|pinga\w*|rasg\w*|mort[oa]|defeito\w*|atras\w*"
    r"|esper\w*|duas vezes|terceir[oa]|quart[oa]|cobr\w*|cancel\w*|anul\w*|inutil|reclam\w*|problema|erro"
    r"|segundos?|minutos?|horas?|dias?|semanas?|(um|o|este|ao) mes|meses|dinheiro|pag[oa]|prioritari\w*|parabens|de primeira)\b",
    # a customer going elsewhere, a parcel gone (the colloquial verbs too), and "legendary" service: the lead's
    # attacks after the merge ("Merci pour votre patience légendaire, je vais aller voir ailleurs", "Super nett, dass
    # Sie mein Paket verschlampt haben. Danke.") were made neutral without them
    r"\b(elsewhere|ailleurs|otr[ao] (parte|sitio|tienda|lado)|woanders|anderswo|altrove|ergens anders|elders"
    r"|noutr[ao] (sitio|lado|loja)|outr[ao] (sitio|lado|loja))\b",
    r"\b(vanish\w*|disappear\w*|mess\w* up|screw\w* up|botch\w*|egar\w*|paum\w*|dispar\w*|extravi\w*|desaparec\w*"
    r"|verschlamp\w*|verbummel\w*|vermassel\w*|verschwund\w*|verschwand\w*|smarr\w*|spari\w*|scompars\w*"
    r"|zoekgeraakt|verdwen\w*|verknoei\w*|sumi\w*|legend\w*|leggendar\w*|lendar\w*)\b",
    # money in any currency, and patience that ran out
    r"\b(euros?|pounds?|dollars?|francs?)\b|[€£$]",
    r"\b(patience|paciencia|geduld|pazienza) (has |is |se |e |ist |heeft )?(run out|ran out|gone|over|a bout|acab\w*"
    r"|am ende|zu ende|finita|esaurit\w*|op|esgot\w*)\b",
    # sarcasm's emoji
    r"[🙃🙄😒😤😡🤬👏]",
)
_NEGATION = _rx(
    r"\b(not|no|never|nothing|nobody|none|no one|n't|cannot|pas|ne|jamais|rien|personne|aucun\w*|nunca|nada|nadie"
    r"|ningun\w*|ni|nicht|kein\w*|nie|nichts|niemand|non|mai|niente|nessun\w*|niet|geen|nooit|niets|nao|ninguem"
    r"|nenhum\w*|nem)\b",
    r"n't\b", r"\bn'",
)
_CONTRAST = _rx(r"\b(but|however|though|yet|mais|cependant|pourtant|pero|sin embargo|aber|jedoch|doch|ma|pero|tuttavia"
                r"|peccato|maar|echter|toch|mas|porem|contudo)\b")
# A word or two in quotes: "the 'express' parcel", «premium», „Priorität“ (what sarcasm quotes back at the store).
_QUOTED = re.compile(r"(?:^|[\s(:])[\"'«„“‚‹][^\"'«»„“”‚‘’‹›]{1,60}[\"'»“”‘’›](?=[\s.,!?;:)…]|$)")
_PT_NO = re.compile(r"\bno\b")
_GREETING = re.compile(r"\b(?:" + "|".join(_GREETINGS) + r")\b")


def praise_only(norm: str, lang: str | None = None) -> bool:
    """Whether the folded text ``norm`` says something went well and nothing that went wrong (module docstring).

    ``lang``: the message's language when known; in Portuguese "no" is "in the", not a negation."""
    if not norm or "?" in norm or not _POSITIVE.search(norm):
        return False
    if _QUOTED.search(norm) or repeats(norm) or _CONTRAST.search(norm):
        return False
    # "have a good day", "bom dia": a greeting's day is no duration; "inutile de me répondre" is no failure
    rest = _NO_NEED.sub(" ", _GREETING.sub(" ", norm))
    if _TROUBLE.search(rest):
        return False
    if lang == "pt":
        rest = _PT_NO.sub(" ", rest)
    return not _NEGATION.search(rest)
