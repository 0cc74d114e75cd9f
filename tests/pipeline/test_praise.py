"""The praise check (pipeline/praise.py, signals._praise_only): praise, thanks and "it's sorted" make a negative
verdict neutral; sarcasm, negated praise, a "but", a question or scare quotes never do (seven languages, look-alike
letters, markup)."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.praise import praise_only
from pipeline.signals import detect_language, normalize_for_matching, sentiment


def _praise(text: str) -> bool:
    return praise_only(normalize_for_matching(text), detect_language(text))


PRAISE = [
    # praise of staff
    "Marco in your returns team was really helpful and patient with me. Please tell him thanks.",
    "Julie, au service client, a été très gentille avec moi. Merci de lui transmettre mes remerciements.",
    "Lucía, de atención al cliente, fue muy amable conmigo. Dadle las gracias, por favor.",
    "Herr Becker am Telefon war sehr freundlich und geduldig. Bitte richten Sie ihm meinen Dank aus.",
    "Giulia del servizio clienti è stata gentilissima. Ringraziatela da parte mia.",
    "Sanne van de klantenservice was erg vriendelijk en behulpzaam. Bedankt namens mij.",
    "A Inês do apoio ao cliente foi muito simpática comigo. Agradeçam-lhe por mim.",
    # solved by itself / nothing more needed
    "The headphones were in the side pocket of the box all along. All good, no need to reply.",
    "Le casque était dans la poche latérale du carton. Tout va bien, inutile de me répondre.",
    "Los auriculares estaban en el bolsillo lateral de la caja. Todo bien, no hace falta que me contestéis.",
    "Die Kopfhörer lagen im Seitenfach des Kartons. Alles gut, Sie müssen mir nicht antworten.",
    "Le cuffie erano nella tasca laterale della scatola. Tutto a posto, non serve che mi rispondiate.",
    "De koptelefoon zat in het zijvak van de doos. Alles goed, jullie hoeven niet te reageren.",
    "Os auscultadores estavam no bolso lateral da caixa. Tudo bem, não precisam de responder.",
]
SARCASM = [
    "Lovely, the blender arrived with a cracked jug. Thanks so much.",
    "Merci beaucoup, le mixeur est arrivé avec le bol fissuré. Bravo.",
    "Muchas gracias, la batidora llegó con la jarra rota. Todo bien, claro.",
    "Vielen Dank, der Mixer kam mit einem gesprungenen Krug. Alles gut, wirklich. Nach drei Wochen.",
    "Grazie mille, il frullatore è arrivato con la caraffa rotta. Tutto a posto, certo.",
    "Bedankt hoor, de blender kwam met een kapotte kan. Alles goed, echt.",
    "Muito obrigado, a liquidificadora chegou com o copo estragado. Tudo bem, claro.",
    # praise around waiting, money, a count of tries
    "Thanks for the quick help, only took you 12 days to answer.",
    "Merci pour votre aide si rapide, seulement deux semaines d'attente.",
    "Gracias por la ayuda tan rápida, solo tardasteis dos semanas.",
    "Danke für die schnelle Hilfe, nur zwei Wochen Wartezeit.",
    "Grazie per l'aiuto velocissimo, solo due settimane.",
    "Bedankt voor de snelle hulp, maar twee weken gewacht.",
    "Obrigado pela ajuda tão rápida, só duas semanas de espera.",
]
# the brief's two sarcasm shapes, in each language
SARCASM += [
    "Great, another week of waiting, thanks a lot",
    "Super, encore une semaine d'attente, merci beaucoup",
    "Genial, otra semana esperando, muchas gracias",
    "Toll, noch eine Woche warten, vielen Dank",
    "Ottimo, un'altra settimana di attesa, grazie mille",
    "Top, weer een week wachten, hartelijk bedankt",
    "Ótimo, mais uma semana à espera, muito obrigado",
    "Lovely, the 'express' parcel took three weeks. Thanks",
    "Génial, le colis « express » a mis trois semaines. Merci",
    "Estupendo, el paquete «exprés» tardó tres semanas. Gracias",
    "Wunderbar, das „Express“-Paket hat drei Wochen gebraucht. Danke",
    "Splendido, il pacco «express» ci ha messo tre settimane. Grazie",
    "Fijn, het 'express'-pakket deed er drie weken over. Bedankt",
    "Que maravilha, a encomenda «expresso» demorou três semanas. Obrigado",
]
NEGATED = [
    "Your agent was not lovely at all, thanks.",
    "Votre conseiller n'a pas été gentil du tout, merci.",
    "Vuestro agente no fue nada amable, gracias.",
    "Ihr Mitarbeiter war überhaupt nicht nett, danke.",
    "Il vostro operatore non è stato per niente gentile, grazie.",
    "Jullie medewerker was helemaal niet aardig, bedankt.",
    "O vosso assistente não foi nada simpático, obrigado.",
]
# praise around a customer leaving, a parcel gone in colloquial words, "legendary" service (the lead's attacks
# after the merge: the first two were made neutral before these words were in the trouble list)
GONE_OR_LEAVING = [
    "Merci pour votre patience légendaire, je vais aller voir ailleurs.",
    "Super nett, dass Sie mein Paket verschlampt haben. Danke.",
    "Thanks for the lovely help, I'll shop elsewhere from now on.",
    "Gracias, muy amables, me voy a otra tienda.",
    "Grazie, gentilissimi, il pacco è sparito.",
    "Bedankt, heel vriendelijk, mijn pakket is zoekgeraakt.",
    "Obrigado, muito simpáticos, a encomenda sumiu.",
    "Thanks, lovely, my parcel vanished into thin air.",
]
OTHER_BLOCKS = [
    "Thanks, the agent was kind, but the lamp is still in pieces.",  # but, still
    "Thanks Tom, all good. Could you also send the invoice?",  # a question
    "Thanks for the 'help', all good I guess.",  # scare quotes
    "Merci pour votre « aide », tout va bien.",
    "Danke für die „Hilfe“, alles gut.",
    "Thanks again, sorted once more 🙃",
]


@pytest.mark.parametrize("text", PRAISE)
def test_praise_and_sorted_read_as_praise(text):
    assert _praise(text)


@pytest.mark.parametrize("text", SARCASM + NEGATED + OTHER_BLOCKS + GONE_OR_LEAVING)
def test_sarcasm_negation_questions_and_quotes_are_not_praise(text):
    assert not _praise(text)


def test_look_alikes_and_markup_read_the_same():
    # Cyrillic о/е in the praise words, markup around them: still praise
    assert _praise("Mаrco wаs rеally hеlpful, thаnks. <b>All gоod</b>, nо need to reply.")
    assert _praise("Tout va bien, <i>merci</i> !")
    # the trouble or negation hidden with look-alikes, markup or zero-width characters is still read
    assert not _praise("Thanks, the jug arrived сrасkеd. All good.")
    assert not _praise("Thanks, all good, only <b>thr\u200bee</b> <i>weeks</i> late.")
    assert not _praise("Your agent was <b>not</b> lovely, thanks.")
    assert not _praise("Your agent was n\u200bot lovely, thanks.")


def test_portuguese_no_is_no_negation_elsewhere_it_is():
    assert praise_only("ficou no armario, tudo bem, obrigada", "pt")
    assert not praise_only("ficou no armario, tudo bem, obrigada", None)
    assert not praise_only("tudo bem, obrigada. nao foi nada simpatico", "pt")


def test_greetings_are_no_duration():
    # "have a good day", "bom dia": the day of a greeting is not trouble
    assert _praise("Thanks, all good. Have a good day!")
    assert _praise("Obrigada, está tudo bem. Bom dia!")
    assert not _praise("Thanks, all good after five days.")


def _sent(text: str, signals=None):
    return sentiment(text, None, np.zeros(4, dtype=np.float32), signals=signals)


@pytest.mark.parametrize("text", PRAISE[:7])
def test_a_very_negative_verdict_on_praise_becomes_neutral(model_reads, text):
    model_reads("very_negative", -0.8)
    assert _sent(text) == ("neutral", 0.0)


@pytest.mark.parametrize("text", SARCASM[:7] + NEGATED)
def test_sarcasm_and_negated_praise_keep_their_verdict(model_reads, text):
    model_reads("very_negative", -0.8)
    assert _sent(text)[0] == "very_negative"


def test_anger_threats_repeats_and_shouting_keep_their_verdict(model_reads):
    model_reads("very_negative", -0.8)
    assert _sent("Thanks, all good. Frankly I'm furious.")[0] == "very_negative"  # anger said outright
    assert _sent("Thanks, all good, I will see you in court.")[0] == "very_negative"  # legal threat
    assert _sent("Thanks, all good, I'm posting this on Trustpilot.")[0] == "very_negative"  # public threat
    assert _sent("THANKS, ALL GOOD, REALLY KIND OF YOU")[0] == "very_negative"  # shouting
    assert _sent("Thanks, all good, this is my fourth email.")[0] == "very_negative"  # keeps asking


def test_other_verdicts_are_left_alone(model_reads):
    model_reads("positive", 0.7)
    assert _sent("Marco was really helpful, thanks!")[0] == "positive"
    model_reads("neutral", 0.0)
    assert _sent("Marco was really helpful, thanks!")[0] == "neutral"
    model_reads("negative", -0.4)
    assert _sent("Marco was really helpful, thanks!") == ("neutral", 0.0)
