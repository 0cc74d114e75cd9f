"""PII redaction for past tickets, before anything is embedded or stored (and again before a prompt).

Well-kept libraries where one fits:

* phone numbers: ``phonenumbers`` (Google's libphonenumber) finds national and international
  numbers for the store's usual regions; 7-digit local numbers ("555-0123") and any other run
  of 5+ digits are caught by the conservative number rule below;
* IBANs (compact or spaced) and card numbers: ``python-stdnum`` checksums (``iban``, ``luhn``);
  a candidate that fails its checksum is still redacted when it is long enough to be one.

No multilingual named-entity model is installable from PyPI here (spaCy's official pipelines
are not published there; the English re-uploads are unofficial), so people's names and
addresses are handled conservatively: the names the helpdesk knows (requester, agents), any
capitalised word after a cue ("my neighbour", "Mrs", "c/o", "addressed to", greetings and
sign-offs, in EN/FR/ES/DE/IT/NL/PT), the one or two words after a self-introduction whatever
their case ("my name is priya", "je m'appelle julie", "name: john"), runs of two or more
capitalised words, street addresses (number + street word, either order, 7 languages) and
postcodes. Every run of 5 or more digits, and every token mixing letters with 4+ digits
(passport, ID, order, tracking numbers), is replaced; so are full dates (dates of birth). Past
tickets lose some detail this way; that is the price of never storing another customer's data.
Look-alike letters, full-width forms and invisible characters are folded first
(:func:`pipeline.lookalikes.fold_lookalikes`, as triage reads text), so a zero-width space
inside "my name is" hides no name. The redaction is bounded (text cut to :data:`MAX_CHARS`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pipeline.order_words import IS, NUMBER_MARK, ORDER_COMPOUND, ORDER_NOUN

MAX_CHARS = 20_000
REGIONS = ("US", "GB", "FR", "DE", "ES", "IT", "NL", "PT", "BE", "CH", "AT", "IE", "CA", "AU", "BR", "MX")

# Each pattern tried at every position of a long run of the characters it repeats ("a-a-a-...",
# "a.a.a...") scans to the run's end from each: 20,000 such characters took seconds of CPU (a
# past ticket at ingest, every draft's personal-data guard). They look at most a token's length
# ahead (an e-mail's local part is at most 64 characters, RFC 5321), and match what they matched before.
_EMAIL = re.compile(r"[\w.+'-]{1,64}@[\w-]+(?:\.[\w-]+)+")
# E-mail addresses written so that a filter misses them: "john at gmail dot com", "john (at) gmail
# (dot) com", "john @ gmail.com", "jean point dupont arobase orange point fr". A plain " at " with
# real dots ("ordered at amazon.com") is an address only when the local part looks like one (a dot,
# "_", "+" or a digit) or the domain is a webmail's: "paid at the till.Then" stays. In "reach me at
# john dot doe at gmail dot com" the address is what precedes the last "at" (no "at" may follow one).
_AT_WORDS = r"at|arobase|arroba|chiocciola|apenstaartje|klammeraffe"
_DOT_WORDS = r"dot|point|punto|punkt|ponto|punt"
_OPEN, _CLOSE = r"[(\[{<]", r"[)\]}>]"
_OBF_AT = (rf"[ \t]{{0,3}}{_OPEN}[ \t]{{0,3}}(?:{_AT_WORDS}|@)[ \t]{{0,3}}{_CLOSE}[ \t]{{0,3}}"
           rf"|[ \t]{{1,3}}@[ \t]{{0,3}}|[ \t]{{0,3}}@[ \t]{{1,3}}|[ \t]{{1,3}}(?:{_AT_WORDS})[ \t]{{1,3}}")
_OBF_DOT = (rf"(?:[ \t]{{0,3}}{_OPEN}[ \t]{{0,3}}(?:{_DOT_WORDS}|\.)[ \t]{{0,3}}{_CLOSE}[ \t]{{0,3}}"
            rf"|[ \t]{{1,3}}(?:{_DOT_WORDS})[ \t]{{1,3}}|[ \t]{{0,3}}\.[ \t]{{0,3}})")
_OBF_EMAIL = re.compile(
    rf"(?i)(?<![\w.+'-])(?P<local>[\w+'-]{{1,64}}(?:{_OBF_DOT}[\w+'-]{{1,64}}){{0,3}})(?P<at>{_OBF_AT})"
    rf"(?P<domain>[\w-]{{1,63}}(?:{_OBF_DOT}[\w-]{{1,63}}){{0,3}}{_OBF_DOT}[a-z]{{2,24}})(?![\w-])(?!{_OBF_AT}[\w-])")
_TLDS = frozenset("com net org edu gov info biz io eu uk co fr de es it nl pt be ch at ie pl se dk no fi ca au br mx us".split())
# Anything@something is an address, whatever follows ("john@gmail dot com", "john@gmail . com",
# "john@gmail,com", "john@gmail com"): the rules above want a real dot after the "@".
_AT_TOKEN = re.compile(rf"(?i)(?<![\w.+'-])[\w.+'-]{{1,64}}@[\w-]{{1,63}}"
                       rf"(?:(?:{_OBF_DOT}|[ \t]{{0,3}},[ \t]{{0,3}})[a-z]{{2,24}}(?![\w-]))?")
_WEBMAIL = frozenset("""gmail googlemail hotmail outlook live msn yahoo ymail icloud me mac aol gmx web protonmail proton
pm tutanota tuta yandex mail orange free wanadoo laposte sfr bbox neuf libero virgilio tiscali alice tin t-online
freenet hetnet kpnmail ziggo planet telenet skynet sapo zoho fastmail hey btinternet sky""".split())


def _obfuscated_email(m: re.Match[str]) -> str:
    local, at, domain = m.group("local"), m.group("at").strip().lower(), m.group("domain")
    if at != "at":
        return "[email]"
    # An English " at ": "point" is then a word ("5 times at this point to ..."), not a dot; "dot" or
    # a bracketed dot is; plain dots only with an address-like local part or a webmail domain.
    words = {w.lower() for w in re.findall(r"[^\W\d_]+", local + " " + domain)}
    if words & {"point", "punto", "punkt", "ponto", "punt"} or not re.search(r"[^\W\d_]", local):
        return m.group(0)
    if re.search(r"(?i)\bdot\b|[(\[{<]", local + domain):
        return "[email]"
    labels = re.split(r"[\s.]+", domain.lower())
    if re.search(r"\s", domain) and labels[-1] not in _TLDS:
        return m.group(0)  # "look at me . Please": a spaced dot only before a real top-level domain
    if re.search(r"[._+\d]", local) or (labels[0] in _WEBMAIL and labels[-1] in _TLDS):
        return "[email]"  # not "look at me.Please" (me.com is a webmail, "please" no domain)
    return m.group(0)


# Separators between digits that the rules below read as "-": other dashes (U+2010-2015, the minus sign,
# small and full-width hyphen-minus), "_" and middle dots; "4111—1111—1111—1111" kept all but its last
# groups before, "DE89_3704_..." all of it.
_DASHES = "\u2010-\u2015\u2212\ufe58\ufe63\uff0d_\u00b7\u2027\u2219"
_DASHED_DIGITS = re.compile(rf"(?<![\d{_DASHES}])\d{{1,8}}(?:[{_DASHES}][A-Za-z]{{0,4}}\d{{1,8}}){{1,8}}")


def _dashes(m: re.Match[str]) -> str:
    # Only a run long enough to be a number the rules redact: "pages 10–12" keeps its en dash.
    run = m.group(0)
    return re.sub(f"[{_DASHES}]", "-", run) if sum(c.isdigit() for c in run) >= 5 else run


_IBAN = re.compile(r"(?i)\b[a-z]{2}\d{2}(?:(?:[ \-.,]|  )?[a-z0-9]){10,30}\b")
_CARDISH = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
# Groups of four digits with dots or commas ("4111.1111.1111.1111", "4111,1111,1111,1111"); a thousands
# separator never groups by four.
_CARD_GROUPS = re.compile(r"(?<![\d.,])\d{4}(?:[.,]\d{4}){2,3}(?:[.,]\d{1,4})?(?![\d]|[.,]\d)")
# A password written into a ticket: the token after "password is" / "password:" (7 languages). After
# "is"/"est"/... only a token with a digit, a symbol or an inner capital ("my password is not working"
# stays); after ":" or "=" any token.
_PASSWORD = re.compile(
    r"(?i)\b(?:password|passcode|passwd|pwd|mot de passe|mdp|contrase[ñn]a|clave|passwort|kennwort|wachtwoord|senha|"
    r"parola d'ordine)\b(?P<verb>[ \t]{1,4}(?:is|was|est|[ée]tait|es|era|ist|war|[ée]|[èe])\b)?"
    r"(?:[ \t]{0,4}[:=][ \t]{0,4}(?P<any>[^\s,;]{3,64})|(?(verb)[ \t]{1,4}|(?!))(?P<strong>"
    r"(?=[^\s,;]{0,63}?(?:[\d_]|[^\s\w,;])(?<![.!?](?=[\s,;]|$))|[^\s,;]{1,63}?(?-i:[A-Z]))[^\s,;]{3,64}))")


def _password(m: re.Match[str]) -> str:
    name = "any" if m.group("any") else "strong"
    token = m.group(name).rstrip(".!?")
    if token.lower() in _NOT_AFTER_CUE:
        return m.group(0)
    s, e = m.start(name) - m.start(0), m.start(name) - m.start(0) + len(token)
    return m.group(0)[:s] + "[password]" + m.group(0)[e:]
_CVV = re.compile(r"(?i)\b(?:cvv2?|cvc2?|cid|security code|card verification(?: code| value)?|code de s[ée]curit[ée]|"
                  r"cryptogramme(?: visuel)?|c[óo]digo de seguridad|pr[üu]fnummer|kartenpr[üu]fnummer|sicherheitscode|"
                  r"codice di sicurezza|codice cvv|beveiligingscode|c[óo]digo de seguran[çc]a|card code|pin)\b"
                  r"(?:\W+[^\W\d]+){0,5}?\W+\d{3,4}\b")
_MONTHS = (r"jan(?:uary|vier|uar|eiro)?|feb(?:ruary|ruar|braio)?|f[ée]v(?:rier|ereiro)?|mar(?:ch|s|zo|ço|co)?|m[äa]rz|"
           r"apr(?:il|ile)?|avr(?:il)?|abr(?:il)?|may|mai|mayo|maio|maggio|mei|jun(?:e|i|io|ho)?|juin|giugno|"
           r"jul(?:y|i|io|ho)?|juil(?:let)?|luglio|aug(?:ust|ustus)?|ao[uû]t|ago(?:sto)?|sep(?:t|tember|tiembre|tembre)?|"
           r"set(?:tembre|embro)?|oct(?:ober|obre|ubre)?|okt(?:ober)?|ott(?:obre)?|out(?:ubro)?|nov(?:ember|embre|iembre|embro)?|"
           r"dec(?:ember|embre)?|d[ée]c(?:embre)?|dez(?:ember|embro)?|dic(?:iembre|embre)?|ene(?:ro)?|gen(?:naio)?|"
           r"januari|februari|maart|juni|juli|augustus|oktober|janeiro|fevereiro|abril|junho|julho|agosto|setembro|"
           r"outubro|novembro|dezembro|enero|febrero|marzo|junio|julio|septiembre|octubre|noviembre|diciembre|"
           r"gennaio|febbraio|aprile|luglio|settembre|ottobre|novembre|dicembre|janvier|f[ée]vrier|avril|juillet|"
           r"septembre|octobre|d[ée]cembre|januar|februar|juni|juli|oktober|dezember")
# A numeric date is not three pairs of a longer run: "06.12.34.56.78" (a French phone) was a date
# and "56.78" stayed; the phone rule now reads the whole run.
_DATE = re.compile(
    rf"(?i)\b\d{{4}}-\d{{1,2}}-\d{{1,2}}\b(?![./-]\d)|(?<!\d[./-])\b\d{{1,2}}[./-]\d{{1,2}}[./-]\d{{2,4}}\b(?![./-]\d)"
    rf"|\b\d{{1,2}}(?:st|nd|rd|th|er|º|o)?\.?\s+(?:de\s+|of\s+)?(?:{_MONTHS})\.?,?\s+(?:de\s+)?\d{{4}}\b"
    rf"|\b(?:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}\b")
_STREET_WORDS_AFTER = (r"street|st|road|rd|avenue|ave|lane|ln|drive|dr|boulevard|blvd|way|court|ct|place|pl|square|sq|"
                       r"terrace|close|crescent|gardens|grove|row|hill|parkway|highway")
_STREET_WORDS_BEFORE = (r"rue|avenue|av|boulevard|bd|chemin|all[ée]e|impasse|place|quai|cours|route|calle|c/|avenida|avda|"
                        r"paseo|plaza|camino|carrer|via|viale|piazza|corso|largo|vicolo|rua|travessa|pra[çc]a|alameda|"
                        r"estrada")
_DE_NL_SUFFIX = r"stra(?:ss|ß)e|str\.|weg|gasse|platz|allee|ring|damm|ufer|straat|laan|gracht|plein|kade|singel|dijk|steeg"
_ADDRESS = re.compile(
    rf"(?i)\b\d{{1,5}}[a-z]?(?:\s?(?:bis|ter))?,?\s+(?:[\w'’.-]+\s+){{0,4}}(?:{_STREET_WORDS_AFTER})\b\.?"
    rf"|\b\d{{1,5}}(?:\s?(?:bis|ter))?,?\s+(?:{_STREET_WORDS_BEFORE})\b\.?(?:\s+[\w'’.-]+){{1,5}}"
    rf"|\b(?:{_STREET_WORDS_BEFORE})\b\.?(?:\s+[\w'’.-]+){{1,5}}?,?\s+(?:n[º°o.]\s*)?\d{{1,5}}[a-z]?\b"
    rf"|\b[\wäöüßÄÖÜ'-]{{0,64}}(?:{_DE_NL_SUFFIX})\s+\d{{1,5}}[a-z]?\b")
# A UK postcode in any case ("sw1a 1aa"): the inward part's letters are never C, I, K, M, O or V.
_UK_POSTCODE_ANY_CASE = re.compile(r"(?i)\b[a-z]{1,2}\d[a-z\d]?\s?\d[abd-hjlnp-uw-z]{2}\b")
# Post-office boxes: too few digits for the number rules ("po box 1234", "Postfach 4711", "BP 45").
_PO_BOX = re.compile(r"(?i)\b(?:p\.?[ \t]?o\.?[ \t]?box|post[ \t]office[ \t]box|postfach|bo[iî]te[ \t]postale|b\.?p\.?|"
                     r"apartado(?:[ \t]de[ \t]correos)?|casella[ \t]postale|postbus|caixa[ \t]postal)[ \t]{0,4}[:#n°º.]{0,3}"
                     r"[ \t]{0,4}\d{1,6}\b")
_POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}\b|\b\d{4}\s?[A-Z]{2}\b|\b\d{4,5}(?:-\d{3,4})?\s+[A-ZÀ-Ý][\wÀ-ÿ'-]+")
# Order, invoice and tracking numbers after the words customers write them with, short ones (4 digits) too:
# "order 4521", "Bestellnummer 4521", "Bestell-Nr. 4521", "bestelnummer 4521", "pedido n.º 4521" (n.º is
# "n.o" once folded), "ordine n. 4521", "order id 4521", "ordre 4521", and a bare "n.º 4521" / "Nr. 4521".
# The order words are the draft's (pipeline.order_words: one vocabulary); invoice and tracking words are
# redaction's own (another customer's invoice or parcel number is theirs too, but no order to repeat).
# Whitespace runs are bounded: two unbounded ones side by side cost n² steps on a long run of spaces.
_ORDER_NOUNS = (rf"{ORDER_NOUN}|orden|invoice|facture|factura|rechnung|fattura|factuur|fatura|tracking|suivi|"
                r"seguimiento|sendung|spedizione|zending")
_ORDER_COMPOUNDS = rf"{ORDER_COMPOUND}|(?:rechnungs|factuur|sendungs|tracking)-?(?:nummer|nr\.?)"
# The number with its dashed groups whole ("XK-2024-9981": no "-9981" left behind).
_ORDER_TOKEN = r"[a-z]{0,4}-?\d{3,}(?:-[a-z0-9]{1,12}){0,4}"
_ORDER = re.compile(
    rf"(?i)(?:#\s?\d{{3,}}|\b(?:{_ORDER_NOUNS})\b(?:\s{{1,3}}(?:{NUMBER_MARK}))?\s{{0,3}}(?:[:#]\s{{0,3}})?{_ORDER_TOKEN}"
    rf"|\b(?:{_ORDER_COMPOUNDS}){IS}\s{{0,3}}(?:[:#]\s{{0,3}})?{_ORDER_TOKEN}"
    # Bare: "n.º" (folded "n.o"), "n°", "Nr.", "n."; not "no" (English; "nº" folds to it): "no 2024 invoice" stays.
    rf"|\b(?:n\.[ \t]?[º°o]\.?|n[ \t]?°|nr\.?|n\.)[ \t]?(?::[ \t]?)?\d{{4,}})")
_ID_CUE = re.compile(r"(?i)\b(?:passport|passeport|pasaporte|reisepass|passaporto|paspoort|passaporte|id card|identity card|"
                     r"carte d'identit[ée]|cni|dni|nie|personalausweis|ausweis|carta d'identit[àa]|codice fiscale|bsn|nif|"
                     r"cpf|nir|ssn|social security|national insurance|driving licen[cs]e|permis|licen[cs]e)\b"
                     r"(?:\W+\w+){0,3}?\W+((?=[A-Z-]*\d)[A-Z0-9][A-Z0-9-]{4,20}[A-Z0-9])\b")
_LONG_NUMBER = re.compile(r"(?<![\w\[])(?:\+?\d[\d\s./-]{3,}\d)(?![\w\]])")
_MIXED_ID = re.compile(r"\b(?=(?:[A-Za-z-]{0,64}\d){4})(?=[0-9-]{0,64}[A-Za-z])"
                       r"[A-Za-z0-9][A-Za-z0-9-]{4,24}\b")

# Names: cues in seven languages after which capitalised words are a person.
# A capitalised name is one token with its inner capitals, apostrophes and hyphens ("McDonald",
# "O'Brien", "DeShawn", "Jean-Luc", "Top-up", "Smith's"): cut at the first of them, "[name]Donald" kept the rest
# (and "De" of "DeShawn", a Dutch article, kept all of it). Every inner part starts with a capital or
# a mark, so a lower-case run is read one way only (no backtracking through its splits).
_UP, _LOW = "A-ZÀ-ÖØ-Þ", "a-zà-öø-ÿ"
_CAP = rf"[{_UP}](?:[{_LOW}]+|['’](?=[{_UP}]))(?:['’-]?[{_UP}][{_LOW}]+|-[{_LOW}]+){{0,4}}(?:['’]s)?(?![{_LOW}])"
# Titles: "Dear Ms. Smith" is the cue, then the title, then the name (the title alone is no name).
_TITLES = (r"mr|mrs|ms|miss|mx|dr|prof|sir|madam|m|mme|mlle|monsieur|madame|herr|frau|sr|sra|srta|se[ñn]or|se[ñn]ora|"
           r"sig|sig\.ra|signor|signora|dhr|mevr|mevrouw|meneer|senhor|senhora|dona")
_NAME_RUN = rf"{_CAP}(?:[ -](?:(?:van|von|de|der|den|del|della|da|dos|das|di|le|la|du)\s)?{_CAP}){{0,3}}"
# Relationship words: the person named right after one is a third party ("my neighbour priya").
_RELATIONS = (r"my (?:neighbou?r|husband|wife|partner|son|daughter|mother|father|mum|mom|dad|friend|colleague|sister|brother|"
              r"boss|landlord|flatmate|roommate)|"
              r"mon (?:voisin|mari|fils|p[èe]re|fr[èe]re|ami|coll[èe]gue|conjoint)|ma (?:voisine|femme|fille|m[èe]re|s[œo]eur|amie|coll[èe]gue)|"
              r"mi (?:vecin[oa]|marido|mujer|esposa|hij[oa]|madre|padre|herman[oa]|amig[oa]|compa[ñn]er[oa])|"
              r"mein(?:e|em|er)? (?:nachbar(?:in)?|mann|frau|sohn|tochter|mutter|vater|bruder|schwester|freund(?:in)?|kolleg(?:e|in))|"
              r"(?:il )?mio (?:vicino|marito|figlio|padre|fratello|amico|collega)|(?:la )?mia (?:vicina|moglie|figlia|madre|sorella|amica|collega)|"
              r"mijn (?:buurman|buurvrouw|man|vrouw|zoon|dochter|moeder|vader|broer|zus|vriend(?:in)?|collega)|"
              r"(?:o )?meu (?:vizinho|marido|filho|pai|irm[ãa]o|amigo|colega)|(?:a )?minha (?:vizinha|mulher|esposa|filha|m[ãa]e|irm[ãa]|amiga|colega)")
_CUES = (r"mr|mrs|ms|miss|dr|sir|madam|m\.|mme|mlle|monsieur|madame|herr|frau|sr|sra|srta|se[ñn]or|se[ñn]ora|sig|sig\.ra|"
         r"signor|signora|dhr|mevr|mevrouw|meneer|sr\.|sra\.|senhor|senhora|dona|" + _RELATIONS + "|"
         r"named|called|c/o|care of|addressed to|signed by|delivered to|recipient|attn|attention|"
         # Prepositions: a capitalised word right after one, mid-sentence, is a proper noun; names go.
         r"to|from|with|for|by|gave it to|left it with|pour|avec|par|chez|para|con|por|an|f[üu]r|mit|von|bei|"
         r"per|presso|voor|met|van|bij|door|com|"
         r"s'appelle|nomm[ée]e?|[àa] l'attention de|au nom de|se llama|llamad[oa]|a nombre de|a la atenci[óo]n de|"
         r"hei(?:ß|ss)t|namens|z\. ?hd\.?|zu h[äa]nden|si chiama|a nome di|all'attenzione di|heet|genaamd|t\.a\.v\.?|ter attentie van|"
         r"chama-se|chamad[oa]|em nome de|aos cuidados de|"
         r"hi|hello|hey|dear|bonjour|salut|cher|ch[èe]re|hola|estimad[oa]|querid[oa]|hallo|liebe[r]?|sehr geehrte[r]?|"
         r"ciao|buongiorno|gentile|caro|cara|hoi|beste|geachte|ol[áa]|bom dia|prezad[oa]|car[oa]")
_CUED_NAME = re.compile(rf"(?i:\b(?:{_CUES}))\.?,?\s+(?:(?i:(?:{_TITLES})\b)\.?\s+)?({_NAME_RUN})")
_SIGNOFF = re.compile(r"(?m)^(?i:thanks|thank you|regards|best regards|kind regards|best|cheers|sincerely|cordialement|"
                      r"merci|bien [àa] vous|saludos|gracias|atentamente|un saludo|gr[üu](?:ß|ss)e|viele gr[üu](?:ß|ss)e|"
                      r"mit freundlichen gr[üu](?:ß|ss)en|lg|danke|saluti|cordiali saluti|grazie|distinti saluti|groeten|"
                      r"met vriendelijke groet(?:en)?|bedankt|obrigad[oa]|cumprimentos|atenciosamente|abra[çc]os)\b[ ,.!]*"
                      rf"(?:\n\s*)?({_NAME_RUN})")
# Self-introductions: the one or two words after a cue that introduces a NAME ("my name is priya
# sharma", "je m'appelle julie", "name: john smith", "signed, mark") are redacted whatever their case:
# customers type names in lower case and the capitalised rules above miss them. Only cues that name
# someone ("I am" / "je suis" / "soy" also open "I am waiting"); "this is" / "hier ist" only where a
# call or e-mail introduces its writer (start of a line or sentence, or after a greeting). The words
# stop at punctuation, digits and function words, so "my name is on the order" keeps "on the order";
# one ordinary word after a cue may go ("this is urgent" → "this is [name]"): missing a name is worse.
_APOS = r"['’ʼ`´]"
_SELF_CUES = (
    r"my (?:full |first |last |sur|given |family |maiden )?name(?: is|" + _APOS + r"s)|my surname is|i(?: am|" + _APOS +
    r"m) called|(?:full |first |last |sur|given |family |customer(?:'s)? |account )?name[ \t]{0,8}[:=]|signed[ \t]{0,8}[,:]?|"
    r"je m" + _APOS + r"\s?appelle|mon (?:nom|pr[ée]nom)(?: de famille)? (?:est|c" + _APOS + r"est)|moi c" + _APOS +
    r"est|(?:nom|pr[ée]nom)(?: de famille)?[ \t]{0,8}:|sign[ée]e?[ \t]{0,8}[,:]?|"
    r"me llamo|mi nombre(?: completo)? es|mi apellido es|(?:nombre|apellidos?)[ \t]{0,8}:|firmad[oa][ \t]{0,8}[,:]?|"
    r"ich hei(?:ß|ss)e|mein (?:vor|nach|familien)?name (?:ist|lautet)|(?:vor|nach)?name[ \t]{0,8}:|gezeichnet[ \t]{0,8}[,:]?|"
    r"mi chiamo|(?:il )?mio (?:nome|cognome) (?:[èe]|e" + _APOS + r")|(?:nome|cognome)[ \t]{0,8}:|firmat[oa][ \t]{0,8}[,:]?|"
    r"mijn (?:voor|achter)?naam is|ik heet|(?:voor|achter)?naam[ \t]{0,8}:|getekend[ \t]{0,8}[,:]?|"
    r"(?:o )?meu nome(?: completo)? [ée]|(?:eu )?me chamo|chamo-me|(?:apelido|sobrenome)[ \t]{0,8}:|assinad[oa][ \t]{0,8}[,:]?")
# "this is tom from accounting": only where a writer introduces themself.
_INTRO_CUES = (r"this is|hier (?:ist|spricht)|ici|aqu[ií] (?:es|habla)|qui [èe]|hier is|u spreekt met|"
               r"aqui [ée]|fala")
_GREETING = (r"hi|hello|hey|good (?:morning|afternoon|evening)|bonjour|bonsoir|salut|hola|buenos d[ií]as|buenas tardes|"
             r"hallo|guten (?:tag|morgen)|servus|ciao|buongiorno|buonasera|goedemorgen|goedemiddag|hoi|dag|ol[áa]|bom dia|"
             r"boa tarde")
# Function words (7 languages) and the commonest words after "this is": where a name cannot be.
_NOT_AFTER_CUE = frozenset("""
a an the and or but nor not no so very too also just still only really quite again now here there then yet
from of at in on to for with by about regarding re as than that this these those it its is am are was were be been
i me my mine your our their his her him she he they we you who what which when where why how please thanks
urgent ridiculous unacceptable frustrating annoying getting going taking happening because if on off out up down
bye goodbye all everyone team guys folks anyway ok okay sorry pretty extremely totally absolutely
customer client cliente kunde kundin klant
sad weird strange wrong crazy insane great good bad terrible awful horrible unbelievable important
adieu merci tous adiós adios gracias tschüss tschüs danke doei bedankt tchau obrigado obrigada grazie
et ou mais ni ne pas pour par avec sans de des du le la les un une au aux en dans sur sous chez que qui quoi je j moi
mon ma mes ton ta tes son sa ses notre votre leur ce cet cette ces ici est suis c il elle ils elles nous vous
y e o u ni pero sin con para por del el los las uno una unos unas al en que quien yo mi mis tu su sus es soy aqui
und oder aber nicht kein keine von aus bei mit nach zu zum zur f\u00fcr \u00fcber um an auf im in der die das den dem des ein eine
einen einem einer ich mein meine mich mir ist bin wegen
ed ma non per con da di del della dei degli il lo gli i uno un nel nella su che chi io mio mia sono \u00e8
en of maar niet geen van voor met uit bij naar om op aan in het een ik mijn is ben
ou mas n\u00e3o sem com para por do da dos das os as um uma no na em que eu meu minha sou \u00e9 aqui
""".split())
# A function word is never taken: the match fails there, so "my name is my name is priya" still finds priya.
_NOT_STOP = r"(?!(?:" + "|".join(sorted(map(re.escape, _NOT_AFTER_CUE), key=len, reverse=True)) + r")(?![^\W\d_]|['’-][^\W\d_]))"
_NAME_WORD = r"[^\W\d_](?:[^\W\d_]|['’-](?=[^\W\d_])){0,63}"
_PARTICLES = r"van|von|de|der|den|del|della|da|dos|das|di|le|la|du|ten|ter|mac|mc|bin|al|el|st"
_SELF_NAME = re.compile(
    rf"(?i)(?:\b(?:{_SELF_CUES})|(?:^|(?<=[.!?\n]))[ \t]{{0,8}}(?:{_INTRO_CUES})\b"
    rf"|\b(?:{_GREETING})\b[\s,!.-]{{0,8}}(?:{_INTRO_CUES}|it{_APOS}s|c{_APOS}est|soy|sono|ik ben|sou)\b)"
    # The cue is whole: "signe" is no cue inside "signed up" (a cue ending in ":" may touch the name).
    rf"(?:(?<=[:=,])|(?![^\W\d_]))"
    rf"[ \t]{{0,8}}[,:\-–]?[ \t]{{0,8}}(?:\n[ \t]{{0,8}})?"
    rf"(?P<first>{_NOT_STOP}{_NAME_WORD})"
    rf"(?P<rest>(?:[ \t]{{1,8}}(?:(?:{_PARTICLES})[ \t]{{1,8}}){{0,2}}{_NOT_STOP}{_NAME_WORD})?)(?!\w)")
# Sign-offs in lower case ("thanks,\nmark", "regards, mark"): a word alone at the end of its line.
_SIGNOFF_ANY_CASE = re.compile(
    r"(?im)^[ \t]{0,8}(?:thanks|thank you|regards|best regards|kind regards|best|cheers|sincerely|cordialement|merci|"
    r"bien [àa] vous|saludos|gracias|atentamente|un saludo|gr[üu](?:ß|ss)e|viele gr[üu](?:ß|ss)e|danke|lg|saluti|"
    r"cordiali saluti|grazie|groeten|met vriendelijke groet(?:en)?|bedankt|obrigad[oa]|cumprimentos|atenciosamente|"
    rf"abra[çc]os)[ \t]{{0,8}}[,.!-]{{1,4}}[ \t]{{0,8}}(?:\n[ \t]{{0,8}})?(?P<first>{_NOT_STOP}{_NAME_WORD})"
    rf"(?P<rest>(?:[ \t]{{1,8}}{_NOT_STOP}{_NAME_WORD})?)[ \t]{{0,8}}[.!]?[ \t]{{0,8}}$")

# Lower-case names after a relationship word ("my neighbour priya", "mon voisin pierre") or a greeting's
# "I'm" ("hi, I'm priya", "bonjour, je suis marie"). What usually follows there is a verb ("my husband
# took", "mon voisin a reçu") or a state ("hi, I'm waiting", "je suis déçu"): those words, function words
# and one-letter elisions ("l'a") are never taken; a second word only when it ends the phrase ("my
# neighbour (priya sharma)", "I am priya sharma, ..."). No dictionary of names is installed, so a name
# that is also one of these words ("will", "may") is missed, and an unlisted verb may go instead of a name.
_AFTER_SUBJECT = frozenset("""
took take takes has had have was were will would can could should might must may did does do got gets get made makes
came comes went goes left leaves told tells asked asks wants wanted needs needed bought buys ordered orders received
receives signed signs picked picks tried tries used uses paid pays sent sends gave gives lost loses found finds saw sees
put puts keeps kept said says thinks thought knows knew lives lived works worked owns owned likes liked loves loved
opened opens closed changed returned accepted collected answered checked called rang emailed booked already never always
usually recently account card cards phone number money payment transfer details address login passport id order parcel
package use pick sign collect open send pay buy order receive try see check call log access share withdraw top add need
want go come make tell ask give find keep say think know live work own like love close change return accept answer book
help be become moved loved saved asked added owned hated today yesterday tomorrow tonight earlier later however
therefore meanwhile instead though although because since until while whose whom recently lately arrive arrives
eligible allowed able monday tuesday wednesday thursday friday saturday sunday morning afternoon evening night weekend
a ai est était sera va vient veut voulait doit peut pourra dit fait habite travaille prend prendra récupère reçu aussi
ha tiene quiere puede debe va está fue dice compró recibió recogió vive trabaja usa también ya
hat hatte ist war wird will kann muss soll darf möchte holt holte kommt wohnt braucht bekommt bekam sagt sagte nimmt
arbeitet benutzt auch schon
ha è era sarà vuole può deve ritira prende viene abita lavora usa anche già
heeft had wil kan moet zal haalt komt woont werkt gebruikt ook al
tem está vai quer pode deve foi vem mora trabalha usa também já
""".split())
_STATES = frozenset("""
able unable sorry afraid sure unsure new old happy unhappy upset angry annoyed frustrated confused worried concerned
disappointed interested locked stuck stranded abroad away back home done finished fed sick tired ready trouble glad
pleased curious keen aware unaware responsible desperate furious livid based located married single overseas currently
customer client member subscriber user owner holder over under out about lost hungry thirsty bored busy late early fine
good well ill okay ok alone broke free available online offline nearby outside inside pregnant disabled vegan vegetarian
très vraiment tellement toujours encore déçu déçue désolé désolée client cliente inquiet inquiète sans bien mal furieux
furieuse perdu perdue bloqué bloquée abonné abonnée ravi ravie content contente mécontent mécontente surpris surprise
actuellement
sehr echt wirklich total kunde kundin enttäuscht verärgert sauer seit noch immer neu neue leider gerade froh zufrieden
unzufrieden verwirrt
nuevo nueva muy cliente socio desde estoy deluso delusa arrabbiato arrabbiata nuovo nuova molto cliente boos klant nieuw
erg heel teleurgesteld novo nova muito
""".split())


def _none_of(words: Iterable[str]) -> str:
    return r"(?!(?:" + "|".join(sorted(map(re.escape, words), key=len, reverse=True)) + r")(?![^\W\d_]|['’-][^\W\d_]))"


# Neither an elision ("l'a") nor a contraction ("hasn't", "she's"), nor a past tense of six letters or more
# ("arrived", "deposited"; not "ahmed", "naveed", "mohammed").
_NO_ELISION = (r"(?![^\W\d_]['’])(?![^\W\d_]{1,30}(?:n['’]t|['’](?:s|ll|d|ve|re|m))(?![^\W\d_]))"
               r"(?![^\W\d_]{4,30}(?<!e)(?<!m)ed(?![^\W\d_]))")
_NOT_VERB = _none_of(_AFTER_SUBJECT) + _NO_ELISION
_NOT_STATE = _none_of(_STATES) + _NO_ELISION + r"(?![^\W\d_]{2,30}ing(?![^\W\d_]))"  # "waiting", not "ming"
_LAST_WORD = r"(?=[ \t]{0,8}(?:[,.;:!?)\n]|$|(?:and|et|y|und|e|en|ou|o)\b))"
_RELATION_NAME = re.compile(
    rf"(?i)\b(?:{_RELATIONS})(?![^\W\d_])[ \t]{{0,8}}[,(]?[ \t]{{0,8}}(?P<first>{_NOT_STOP}{_NOT_VERB}{_NAME_WORD})"
    rf"(?P<rest>(?:[ \t]{{1,8}}{_NOT_STOP}{_NOT_VERB}{_NAME_WORD}{_LAST_WORD})?)(?!\w)")
_GREETING_I_AM = re.compile(
    rf"(?i)\b(?:{_GREETING})\b[\s,!.-]{{0,8}}(?:i{_APOS}?m|i am|je suis|ich bin)[ \t]{{1,8}}"
    rf"(?P<first>{_NOT_STOP}{_NOT_STATE}{_NAME_WORD})"
    rf"(?P<rest>(?:[ \t]{{1,8}}{_NOT_STOP}{_NOT_STATE}{_NAME_WORD}{_LAST_WORD})?)(?!\w)")
# The same without a greeting, opening a line or a sentence, the name closed by punctuation: "I'm priya,",
# "soy carlos.", "ich bin anna,".
_BARE_I_AM = re.compile(
    rf"(?i)(?:^|(?<=[\n.!?]))[ \t]{{0,8}}(?:i{_APOS}?m|i am|soy|je suis|ich bin|sono|ik ben|sou)[ \t]{{1,8}}"
    rf"(?P<first>{_NOT_STOP}{_NOT_STATE}{_NAME_WORD})"
    rf"(?P<rest>(?:[ \t]{{1,8}}{_NOT_STOP}{_NOT_STATE}{_NAME_WORD})?)(?=[ \t]{{0,8}}[,.;:!?\n])")

# "hi priya,", "hey tom!", "dear ahmed,": one or two words that end a greeting opening a line or a
# sentence are whom it greets ("the word for hello in spanish" is no greeting).
_GREETED = frozenset("""
there team all everyone everybody guys folks people friends again support service sir madam madame monsieur mademoiselle
ma'am mam buenas buenos zusammen allemaal tutti todos todas tous y'all yall hi hey hello ai bot chatbot computer assistant
""".split())
_GREETING_NAME = re.compile(
    rf"(?i)(?:^|(?<=[\n.!?]))[ \t]{{0,8}}(?:{_GREETING}|dear)[ \t]{{1,8}}"
    rf"(?P<first>{_NOT_STOP}{_none_of(_GREETED)}{_NO_ELISION}{_NAME_WORD})"
    rf"(?P<rest>(?:[ \t]{{1,8}}{_NOT_STOP}{_none_of(_GREETED)}{_NO_ELISION}{_NAME_WORD})?)(?=[ \t]{{0,8}}(?:[,!:\n]|$))")


def _self_named(text: str) -> str:
    """The words after a self-introduction, a sign-off, a relationship word or a greeting's "I'm", and
    the words a greeting ends on → ``[name]`` (lower case too)."""

    def sub(m: re.Match[str]) -> str:
        s, e = m.start("first") - m.start(0), m.end("rest") - m.start(0)
        return m.group(0)[:s] + "[name]" + m.group(0)[e:]

    text = _SELF_NAME.sub(sub, text)
    text = _SIGNOFF_ANY_CASE.sub(sub, text)
    text = _RELATION_NAME.sub(sub, text)
    text = _GREETING_I_AM.sub(sub, text)
    text = _BARE_I_AM.sub(sub, text)
    return _GREETING_NAME.sub(sub, text)


_AFTER_NAME = re.compile(rf"\[name\]\s+({_NAME_RUN})")
_CAP_RUN = re.compile(rf"\b{_CAP}(?:\s+(?:(?:van|von|de|der|den|del|della|da|dos|das|di|le|la|du)\s+)?{_CAP})+")
# Capitalised words that start sentences or name things, not people (kept inside a run of capitals).
_NOT_NAMES = {w.lower() for w in (
    "I I'm I've I'd I'll The A An My Our Your We You He She They It This That These Those Hi Hello Hey Dear Thanks Thank Please Yes No "
    "Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April May June July August "
    "September October November December Le La Les Un Une Mon Ma Mes Nous Vous Il Elle Ils Bonjour Merci Je "
    "El Los Las Mi Mis Hola Gracias Yo Der Die Das Ein Eine Mein Meine Ich Wir Sie Hallo Danke Lo Gli Il Mio Mia "
    "Ciao Grazie Io Het De Een Mijn Wij Jij Ik Hoi Bedankt O Os As Um Uma Meu Minha Eu Olá Obrigado Obrigada "
    "Order Commande Pedido Bestellung Ordine Bestelling Encomenda Customer Agent Answer Question Ticket Resolved "
    "Support Team Store Shop Help Centre Center Click Collect Express Standard Premium Black Friday Cyber PayPal Visa "
    "Mastercard Klarna Apple Google Pay DHL UPS FedEx GLS Colissimo Correos PostNL Poste CTT Royal Mail USPS EU UK US "
    "Amex American Express Stripe Shopify Refund Return Returns Exchange Size Guide Gift Card Cards Invoice "
    "Mr Mrs Ms Miss Mx Dr Prof Sir Madam Mme Mlle Monsieur Madame Herr Frau Sr Sra Srta Señor Señora Signor "
    "Signora Dhr Mevr Mevrouw Meneer Senhor Senhora Dona".split())}


def _luhn(digits: str) -> bool:
    from stdnum import luhn

    return luhn.is_valid(digits)


def _iban(m: re.Match[str]) -> str:
    from stdnum import iban

    raw = m.group(0)
    compact = re.sub(r"[\s-]", "", raw).upper()
    if iban.is_valid(compact) or sum(c.isdigit() for c in compact) >= 10:
        return "[iban]"
    return raw


def _cards(text: str) -> str:
    def card(m: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", m.group(0))
        return "[card number]" if 13 <= len(digits) <= 19 and _luhn(digits) else m.group(0)

    return _CARDISH.sub(card, text)


def _phones(text: str) -> str:
    import phonenumbers

    spans: list[tuple[int, int]] = []
    for region in REGIONS:
        for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.POSSIBLE,
                                                     max_tries=200):
            if sum(c.isdigit() for c in match.raw_string) >= 7:  # "30 days", "24 hours" are not phones
                spans.append((match.start, match.end))
    for start, end in sorted(set(spans), reverse=True):
        if "[" not in text[start:end]:
            text = text[:start] + "[phone]" + text[end:]
    return text


def _names(text: str, names: Iterable[str]) -> str:
    # Self-introductions first: a capitalised rule may eat part of the cue ("hAlLo, IcH HeIßE anna").
    text = _self_named(text)
    for name in names:
        for part in {p for p in re.split(r"[\s,]+", name or "") if len(p) >= 2 and not p.startswith("[")}:
            text = re.sub(rf"(?<!\w){re.escape(part)}(?!\w)", "[name]", text, flags=re.I)
    # A known first name followed by a surname the helpdesk does not know: "[name] Brennan".
    text = _AFTER_NAME.sub(lambda m: "[name]" if _is_name(m.group(1)) else m.group(0), text)
    text = _CUED_NAME.sub(lambda m: m.group(0).replace(m.group(1), "[name]") if _is_name(m.group(1)) else m.group(0),
                          text)
    text = _SIGNOFF.sub(lambda m: m.group(0).replace(m.group(1), "[name]") if _is_name(m.group(1)) else m.group(0),
                        text)

    def run(m: re.Match[str]) -> str:
        words = m.group(0).split()
        i = 0
        while i < len(words) and words[i].lower() in _NOT_NAMES:
            i += 1  # "Hello Maria Lopez" → "Hello [name]": known words in front stay
        if sum(w.lower() not in _NOT_NAMES for w in words[i:]) >= 2:
            return " ".join(words[:i] + ["[name]"])
        return m.group(0)

    return _CAP_RUN.sub(run, text)


def _is_name(words: str) -> bool:
    return any(w.lower() not in _NOT_NAMES for w in words.split())


_MID_SENTENCE_CAP = re.compile(rf"(?<=[a-zà-öø-ÿ0-9,)]\s){_CAP}(?:-{_CAP})?")


def _mid_sentence_capitals(text: str) -> str:
    """Every capitalised word inside a sentence that is not a known common word → ``[name]``.

    The conservative stand-in for a named-entity model: inside a sentence, a capitalised word is
    a proper noun (a person, a street, a town, a brand). Not used on German, which capitalises
    every noun (the cue and run rules still apply there).
    """
    try:
        from pipeline.signals import detect_language

        if detect_language(text) == "de":
            return text
    except Exception:  # no language model: be conservative anyway
        pass
    return _MID_SENTENCE_CAP.sub(lambda m: m.group(0) if m.group(0).lower() in _NOT_NAMES else "[name]", text)


def redact(text: str, names: Iterable[str] | None = None, strict_names: bool = False) -> str:
    """``text`` with personal data replaced by placeholders (``[email]``, ``[iban]``, ``[phone]``, ``[name]`` ...).

    ``strict_names`` (past tickets before storage, and before a prompt) also replaces every
    capitalised word inside a sentence, see :func:`_mid_sentence_capitals`.
    """
    # Look-alike letters, full-width forms and invisible characters folded first (as triage reads
    # them): "my n\u200bame is" or a full-width phone number is redacted like the plain one.
    from pipeline.lookalikes import fold_lookalikes

    t = fold_lookalikes((text or "")[:MAX_CHARS])
    t = _EMAIL.sub("[email]", t)
    t = _OBF_EMAIL.sub(_obfuscated_email, t)
    t = _AT_TOKEN.sub("[email]", t)
    t = _PASSWORD.sub(_password, t)
    t = _DASHED_DIGITS.sub(_dashes, t)
    t = _IBAN.sub(_iban, t)
    t = _cards(t)
    t = _CARD_GROUPS.sub("[number]", t)
    t = _CVV.sub("[cvv]", t)
    t = _ID_CUE.sub(lambda m: m.group(0).replace(m.group(1), "[id number]"), t)
    t = _DATE.sub("[date]", t)
    t = _ORDER.sub("[order number]", t)
    t = _ADDRESS.sub("[address]", t)
    t = _PO_BOX.sub("[address]", t)
    t = _POSTCODE.sub("[postcode]", t)
    t = _UK_POSTCODE_ANY_CASE.sub("[postcode]", t)
    t = _phones(t)
    t = _MIXED_ID.sub("[id number]", t)
    t = _LONG_NUMBER.sub(lambda m: "[number]" if sum(c.isdigit() for c in m.group(0)) >= 5 else m.group(0), t)
    t = re.sub(r"(?<![\w\[])\d{5,}(?![\w\]])", "[number]", t)
    t = _names(t, names or [])
    return _mid_sentence_capitals(t) if strict_names else t


def deidentify(text: str) -> str:
    """A past ticket's text made safe to show a model as guidance: redacted again, placeholders merged."""
    t = redact(text, strict_names=True)
    return re.sub(r"(?:\[(?:name|number|id number|phone|address|postcode)\][\s,]*){2,}", "[redacted] ", t).strip()
