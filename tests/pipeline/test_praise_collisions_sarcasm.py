"""Seventeenth session (helper 2): the praise check reads words that collide across languages by the message's
language, praise of the help, "that's all I needed" and a customer's own slip; and praise said of trouble is
sarcasm (pipeline/praise.py ``praise_of_trouble``, signals._sarcastic), in EN/FR/ES/DE/IT/NL/PT, with look-alike
letters, markup, zero-width characters and negation.

Each praise case here read as "not praise" before the change (checked by reverting pipeline/praise.py), each
sarcasm case as "not sarcasm" (the function did not exist); the "still blocked" cases guard the change from
reaching further than it should."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.praise import praise_of_trouble, praise_only
from pipeline.signals import SARCASM_POSITIVE_MAX, detect_language, normalize_for_matching, sentiment


def _praise(text: str, lang: str | None = None) -> bool:
    return praise_only(normalize_for_matching(text), lang or detect_language(text))


def _sarcasm(text: str, lang: str | None = None) -> bool:
    return praise_of_trouble(normalize_for_matching(text), lang or detect_language(text))


# ------------------------------------------------------------------ collisions in the praise check

COLLISION_PRAISE = [
    # French "ma" (my) is no Italian "but"
    ("Merci à Chloé, elle a été adorable avec ma grand-mère au téléphone.", "fr"),
    # Dutch "tot" (until) is no German "tot" (dead)
    ("Kees bleef geduldig aan de lijn tot de printer het deed. Heel vriendelijk, bedankt!", "nl"),
    # French set phrases with "heure" / "jour"
    ("Mon appli s'est mise à jour et tout va bien maintenant, merci.", "fr"),
    ("Oubliez mon message de tout à l'heure, tout est bon. Merci !", "fr"),
    # Italian "prima ancora che" (even before)
    ("Grazie, il buono è arrivato prima ancora che lo chiedessi. Gentilissimi.", "it"),
    # Italian "cassa" (the till) is no French "cassé"
    ("Perfetto, lo sconto è passato alla cassa. Grazie!", "it"),
    # Spanish "más" folds to Portuguese "mas" (but)
    ("Gracias, Marta fue más que amable.", "es"),
    # Italian "finché ... non" (until)
    ("Luca è rimasto al telefono finché la app non ha funzionato. Gentilissimo, grazie.", "it"),
]
COLLISION_STILL_BLOCKED = [
    ("Grazie, gentilissimi, ma la lampada è arrivata così.", "it"),  # Italian "ma" is "but"
    ("Danke, alles gut, nur der Akku ist tot.", "de"),  # German "tot" is dead
    ("Merci, tout va bien, sauf le bol cassé.", "fr"),  # French "cassé" is broken
    ("Merci, tout va bien après trois jours.", "fr"),  # a duration outside the set phrases
    ("Grazie, il pacco è ancora fermo.", "it"),  # "ancora" (still) outside "prima ancora che"
    ("Obrigado, tudo bem, mas a caixa veio aberta.", "pt"),  # Portuguese "mas" is "but"
    ("Grazie, gentilissimi, non è arrivato niente.", "it"),  # a "non" outside "finché ... non"
]


@pytest.mark.parametrize("text,lang", COLLISION_PRAISE)
def test_words_calm_in_the_message_language_do_not_block_praise(text, lang):
    assert _praise(text, lang)


@pytest.mark.parametrize("text,lang", COLLISION_STILL_BLOCKED)
def test_the_same_words_in_their_own_language_still_block(text, lang):
    assert not _praise(text, lang)


def test_a_collision_is_read_by_the_language_only():
    # the French "ma" in a message guessed Italian is a "but" again; the Dutch "tot" in German is "dead"
    assert not _praise("Merci à Chloé, elle a été adorable avec ma grand-mère au téléphone.", "it")
    assert not _praise("Kees bleef geduldig aan de lijn tot de printer het deed. Heel vriendelijk, bedankt!", "de")


# ------------------------------------------------------------------ praise of the help, "that's all", own slips

HELP_AND_ALL = [
    "Rosa walked me through the return over the phone, fantastic help!",
    "Hugo m'a guidé pour l'installation, une aide excellente.",
    "Marta me explicó cómo montar la cuna, una ayuda estupenda.",
    "Herr Yilmaz hat mir beim Einrichten geholfen, tolle Hilfe.",
    "Paolo mi ha spiegato come montarla, un aiuto splendido.",
    "Femke legde alles rustig uit, geweldige hulp.",
    "A Rita explicou tudo com calma, uma ajuda espetacular.",
    "That's all I needed about the warranty. Have a good day!",
    "C'est tout ce qu'il me fallait pour la garantie. Bonne journée !",
    "Era todo lo que necesitaba sobre la garantía. ¡Buen día!",
    "Das ist alles, was ich zur Garantie wissen wollte. Schönen Tag noch!",
    "Era tutto quello che volevo sapere sulla garanzia. Buona giornata!",
    "Dat is alles wat ik over de garantie wilde weten. Fijne dag!",
    "Era só isso que eu precisava saber sobre a garantia. Bom dia!",
]
OWN_SLIP = [
    "Ignore my last email, I hadn't plugged the base in properly. Works fine now.",
    "Oubliez mon dernier mail, je n'avais pas bien branché le socle. Ça marche bien.",
    "Ignorem o meu último email, eu não tinha ligado bem a base. Funciona bem.",
    "Ignorieren Sie meine letzte Mail, ich hatte den Stecker nicht richtig drin. Funktioniert jetzt.",
    "Ignorate la mail di prima, non avevo collegato bene la base. Funziona benissimo.",
    "Vergeet mijn vorige mail, ik had de stekker niet goed erin. Werkt weer.",
    "perdón, correo equivocado, ignórenlo",
]
HELP_STILL_BLOCKED = [
    "Fantastic help, only took three weeks.",  # a duration
    "Tolle Hilfe, das Paket ist immer noch weg.",  # still
    "Une aide formidable, mais le colis est perdu.",  # but, lost
    "Thanks, all good, the courier hadn't packed it properly.",  # not the customer's own fault
    "Ignore my email, I hadn't realised you'd charged me twice. Thanks",  # trouble
    "Thanks, wrong address on the parcel again.",  # a wrong address for the parcel is trouble
    "That's all I needed?",  # a question
]


@pytest.mark.parametrize("text", HELP_AND_ALL + OWN_SLIP)
def test_help_praise_all_i_needed_and_own_slips_read_as_praise(text):
    assert _praise(text)


@pytest.mark.parametrize("text", HELP_STILL_BLOCKED)
def test_help_praise_with_trouble_is_not_praise(text):
    assert not _praise(text)


def test_collisions_and_help_survive_look_alikes_markup_and_zero_width():
    assert _praise("Femke legde alles rustig uit, <b>geweldige</b> hulp.")
    assert _praise("Rosa walked me through it, fаntаstic hеlp!")  # Cyrillic а / е
    assert _praise("Mon appli s'est mise à j\u200bour et tout va bien, merci.", "fr")
    assert not _praise("Fantastic help, only took <i>thr\u200bee</i> weeks.")


# ------------------------------------------------------------------ sarcasm: praise said of trouble

SARCASM = [
    "Wow, nine days for a 'next day' parcel. Stellar.",
    "Génial, trois semaines pour un remboursement. Bravo.",
    "Qué bien, el sofá llegó con una pata rota. Enhorabuena.",
    "Na toll, das Paket ist schon wieder verschwunden. Glückwunsch.",
    "Che bello, il pacco è in ritardo di due settimane. Complimenti davvero.",
    "Geweldig, het pakket is weer kwijt. Goed bezig.",
    "Que maravilha, a encomenda chegou partida. Parabéns.",
    "The lamp arrived smashed, thanks for nothing.",
    "Danke für nichts, zwei Wochen Ausreden.",
    "You cancelled my order and told me nothing. Amazing customer service.",
    "Commande annulée sans un mot. Service client exceptionnel.",
    "Mi pedido cancelado sin avisar. Una atención al cliente estupenda.",
    "Bestellung ohne ein Wort storniert. Toller Kundenservice.",
    "Ordine annullato senza avvisare. Servizio clienti eccellente.",
    "Bestelling zonder bericht geannuleerd. Geweldige klantenservice.",
    "Encomenda cancelada sem aviso. Apoio ao cliente impecável.",
    "Great, my ticket was 'resolved' by closing it. Three weeks of nothing.",  # a repair word in scare quotes
]
NOT_SARCASM = [
    "Wow, the parcel arrived in 2 days, brilliant!",  # quick service
    "Génial, livré en 48h, merci !",
    "Great, not a single scratch on it. Thanks!",  # trouble negated
    "Super, sin ningún retraso. ¡Gracias!",
    "Toll, ohne Probleme angekommen. Danke!",
    "Perfetto, arrivato senza nessun danno. Grazie!",
    "Perfect, alles in orde. Nogmaals bedankt!",  # thanks again
    "Super Service, gerne wieder.",  # happy to order again
    "Parfait, bon week-end !",  # a greeting
    "Fijn, tot ziens!",  # Dutch "tot ziens"
    "My parcel is three days late, where is it?",  # trouble without delight
    "Brilliant, thanks so much for the help!",  # delight without trouble
    # praise after a problem put right
    "The kettle broke after a week but you replaced it straight away. Great service!",
    "La bouilloire était cassée, vous l'avez remplacée tout de suite. Bravo !",
    "El hervidor llegó roto y lo habéis cambiado al momento. ¡Enhorabuena!",
    "Der Wasserkocher war kaputt und wurde sofort ersetzt. Toller Kundenservice!",
    "Il bollitore era rotto e l'avete sostituito subito. Complimenti!",
    "De waterkoker was kapot en jullie hebben hem meteen vervangen. Top service!",
    "A chaleira veio partida e foi substituída logo. Parabéns!",
]


@pytest.mark.parametrize("text", SARCASM)
def test_delight_around_trouble_is_sarcasm(text):
    assert _sarcasm(text)


@pytest.mark.parametrize("text", NOT_SARCASM)
def test_genuine_delight_or_plain_trouble_is_not_sarcasm(text):
    assert not _sarcasm(text)


def test_sarcasm_survives_look_alikes_markup_and_zero_width():
    assert _sarcasm("Wоw, nine dаys for a <b>'next day'</b> parcel.")  # Cyrillic о / а, markup
    assert _sarcasm("Génial, trois sem\u200baines pour un remboursement. Bravo.")
    assert not _sarcasm("Wow, <i>not</i> a single scratch. Thanks!")


def _sent(text: str):
    return sentiment(text, None, np.zeros(4, dtype=np.float32), signals=[])


@pytest.mark.parametrize("text", SARCASM[:7])
def test_a_neutral_verdict_on_sarcasm_becomes_negative(model_reads, text):
    model_reads("neutral", 0.0)
    assert _sent(text) == ("negative", -0.3)


def test_a_weakly_positive_verdict_on_sarcasm_becomes_negative_a_clear_one_stays(model_reads):
    text = SARCASM[0]
    model_reads("positive", SARCASM_POSITIVE_MAX - 0.01)
    assert _sent(text)[0] == "negative"
    model_reads("positive", SARCASM_POSITIVE_MAX)
    assert _sent(text)[0] == "positive"


@pytest.mark.parametrize("text", NOT_SARCASM[:6])
def test_genuine_delight_keeps_a_neutral_verdict(model_reads, text):
    model_reads("neutral", 0.0)
    assert _sent(text) == ("neutral", 0.0)
