"""Seventeenth session (helper 6): chargeback threats in bank wording the signal lacked and chargebacks the customer
says they will not make (pipeline/signals.py ``_CHARGEBACK`` / ``_CHARGEBACK_NOT``); praise closings that are not
their own trouble, sarcastic "X work" closings, praise with help given in minutes, harmless negations ("zero
blisters") and "not bad at all ... ?" questions (pipeline/praise.py), in EN/FR/ES/DE/IT/NL/PT, with look-alike
letters, markup and negation.

Every case of CHARGEBACK_FIRES, CHARGEBACK_NEGATED, SARCASM, NOT_SARCASM, PRAISE and the three stub-model tests
failed before the change (checked by running this file against 33a8456's signals.py and praise.py: 67 failures, the 64 above and 3 STILL cases);
the GUARD and STILL lists (three STILL cases use the new wordings and failed too) and the "still marks trouble" test
pass on both and keep the change from reaching further than it should. CHARGEBACK_NEGATED_NEW and the UNANSWERED
list fail with ``_CHARGEBACK_NOT`` emptied and ``unanswered`` stubbed to False respectively."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.praise import praise_of_trouble, praise_only
from pipeline.signals import detect_language, detect_signals, normalize_for_matching, sentiment


def _cb(text: str) -> bool:
    return "chargeback" in detect_signals(text)


def _praise(text: str, lang: str | None = None) -> bool:
    return praise_only(normalize_for_matching(text), lang or detect_language(text))


def _sarcasm(text: str, lang: str | None = None) -> bool:
    return praise_of_trouble(normalize_for_matching(text), lang or detect_language(text))


# ------------------------------------------------------------------ chargeback: bank wordings

CHARGEBACK_FIRES = [
    "Sans nouvelles d'ici jeudi, c'est opposition bancaire direct.",
    "Como no me lo solucionéis hoy voy a impugnar el cargo.",
    "Si el viernes no está el dinero, contesto el cargo y listo.",
    "He llamado al banco para pedir la devolución del recibo de noviembre.",
    "Ich lasse die Lastschrift einfach platzen, wenn bis Montag nichts passiert.",
    "Bis Freitag, sonst lasse ich die Abbuchung per Lastschrift zurückgehen.",
    "Dann gebe ich die Lastschrift zurück, so einfach ist das.",
    "Ho chiamato la banca, domani faccio annullare il pagamento.",
    "Chiedo lo storno sulla carta se non arriva niente entro lunedì.",
    "Já falei com o banco, vou anular o pagamento se não responderem.",
    "Vou pedir o estorno no cartão amanhã de manhã.",
    "Vou anular o pagamento pelo banco, chega.",
    # look-alike letters and markup
    "Sans réponse, <b>opposition</b> bancaire demain.",
    "Vou pedir o est\u043erno no cartão.",  # Cyrillic о
]


@pytest.mark.parametrize("text", CHARGEBACK_FIRES)
def test_bank_wordings_fire_the_chargeback_signal(text):
    assert _cb(text)


# The same words said calmly, of the past, or by the bank itself: no threat.
CHARGEBACK_GUARD = [
    "Die Lastschrift ist zurückgegangen, weil mein Konto leer war. Kann ich neu bezahlen?",
    "O banco anulou o pagamento por engano, posso pagar de novo?",
    "La banca ha annullato il pagamento per errore, posso riprovare?",
    "¿Alguien puede contestar a mi pregunta sobre el cargo de envío?",
    "Mi serve lo storno dell'ordine doppio, grazie.",
    "Ich habe die Bank gewechselt, welche Daten brauchen Sie für die Lastschrift?",
]


@pytest.mark.parametrize("text", CHARGEBACK_GUARD)
def test_calm_bank_words_do_not_fire(text):
    assert not _cb(text)


# ------------------------------------------------------------------ chargeback: said not to happen

CHARGEBACK_NEGATED = [
    "I won't do a chargeback, I just want the refund sorted.",
    "I'm not going to file a chargeback, just send me the invoice.",
    "Not a chargeback or anything, I only need a receipt.",
    "No chargeback needed, the money arrived this morning.",
    "I w\u043en't do a <b>chargeback</b>, promise.",  # look-alike letter, markup
    "Je ne vais pas faire opposition, je veux juste être remboursé.",
    "Pas de rétrofacturation, j'ai seulement besoin de la facture.",
    "Ich will keine Rückbuchung machen, nur eine Rechnung.",
    "Keine Rückbuchung, keine Sorge, ich brauche nur den Beleg.",
    "Ik ga niet terugboeken, ik wil alleen een factuur.",
    "Geen terugboeking nodig hoor, het geld is binnen.",
]


@pytest.mark.parametrize("text", CHARGEBACK_NEGATED)
def test_a_chargeback_said_not_to_happen_does_not_fire(text):
    assert not _cb(text)


# Ruled out in the new wordings: these fire with _CHARGEBACK_NOT emptied (they did not fire before the new wordings).
CHARGEBACK_NEGATED_NEW = [
    "No voy a contestar el cargo con mi banco, tranquilos, solo quiero la factura.",
    "Non faccio lo storno sulla carta, tranquilli, mi serve la fattura.",
    "Não vou pedir o estorno no cartão, fiquem tranquilos.",
    "Je ne vais pas faire opposition bancaire, je veux juste la facture.",
]


@pytest.mark.parametrize("text", CHARGEBACK_NEGATED_NEW)
def test_a_chargeback_in_the_new_wordings_said_not_to_happen_does_not_fire(text):
    assert not _cb(text)


# A negation elsewhere in the sentence, or before something else, leaves the threat standing.
CHARGEBACK_STILL = [
    "If this isn't sorted today I'm filing a chargeback.",
    "I won't wait any longer, I'm doing a chargeback.",
    "I won't be fobbed off again: chargeback tomorrow.",
    "Keine Antwort seit drei Wochen, also Rückbuchung.",
    "Je ne vais pas attendre plus, je fais opposition bancaire.",
    "No me contestáis, así que voy a impugnar el cargo.",
    "Non rispondete mai, faccio lo storno sulla carta.",
    "Jullie reageren niet, dus ik vraag een terugboeking aan.",
    "Não respondem, vou pedir o estorno no cartão.",
    "I don't want to have to do a chargeback, but I will.",
]


@pytest.mark.parametrize("text", CHARGEBACK_STILL)
def test_threats_with_a_negation_elsewhere_still_fire(text):
    assert _cb(text)


# ------------------------------------------------------------------ sarcasm: closings

SARCASM = [
    "Thanks so much for cancelling my order without a word, found out at the till. Brilliant work.",
    "Merci d'avoir annulé ma commande sans prévenir. Du beau travail.",
    "Muchas gracias por cancelar mi pedido sin avisar. Un trabajo impecable.",
    "Danke, dass ihr meine Bestellung ohne Nachricht storniert habt. Tolle Arbeit.",
    "Grazie per aver annullato l'ordine senza avvisare. Un lavoro perfetto davvero.",
    "Bedankt dat jullie mijn bestelling zonder bericht geannuleerd hebben. Goed werk.",
    "Obrigado por cancelarem a encomenda sem avisar. Trabalho impecável.",
]


@pytest.mark.parametrize("text", SARCASM)
def test_work_closings_around_trouble_are_sarcasm(text):
    assert _sarcasm(text)


# Genuine praise closing with words that are also sarcasm's: the closing is not its own trouble.
NOT_SARCASM = [
    "Beautifully packed, all paper and no plastic. Bravo",
    "Livraison rapide, rien à redire. Bravo, chapeau !",
    "Las botas son comodísimas, ni una ampolla en toda la ruta. Enhorabuena",
    "Pünktlich geliefert und super verpackt. Glückwunsch!",
    "La crema è fantastica, pelle liscissima. Complimenti",
    "Netjes verpakt en een dag eerder dan gedacht. Gefeliciteerd!",
    "Chegou cedo e muito bem embalado. Parabéns",
]


@pytest.mark.parametrize("text", NOT_SARCASM)
def test_a_praise_closing_is_not_its_own_trouble(text):
    assert not _sarcasm(text)


def test_a_closing_still_marks_trouble_said_before_it_and_minutes_stay_trouble_for_sarcasm():
    assert _sarcasm("Wow, the chat hung up on me within two minutes.")
    assert _sarcasm("Enhorabuena, tercera vez que llega roto. Enhorabuena.")
    assert _sarcasm("Trois semaines d'attente pour un remboursement. Bravo, chapeau !")  # two closings in a row
    assert _sarcasm("Gl\u00fcckwunsch, Sie haben es geschafft, mein Paket zu verlieren. Bravo.")


# ------------------------------------------------------------------ praise: minutes, harmless negations, litotes

PRAISE = [
    "Thanks to Amy on chat, she fixed my address in about two minutes!",
    "Merci à Paul, il a corrigé ma commande en deux minutes.",
    "Gracias a Carla, me cambió la talla en cinco minutos.",
    "Danke an Frau Berg, die Adresse war in zwei Minuten geändert.",
    "Grazie a Marco, ha sistemato la fattura in due minuti.",
    "Dank aan Joost, mijn adres was binnen twee minuten aangepast.",
    "Obrigado à Rita, mudou a morada em dois minutos.",
    "Thanks, the jacket was great in the storm, not a single leak.",
    "Merci, le matelas est parfait, pas une seule tache après le lavage.",
    "Gracias, las botas perfectas, ni una ampolla.",
    "Danke, die Schuhe sind top, keine einzige Blase.",
    "Grazie, crema ottima, nessuna irritazione.",
    "Bedankt, schoenen zitten top, geen enkele blaar.",
    "Obrigada, ténis ótimos, nenhuma bolha.",
    "not bad at all this lamp, does it come in green?",
    "pas mal du tout ce pull, vous l'avez en bleu ?",
    "No está nada mal la mochila, ¿la tenéis en negro?",
    "Gar nicht schlecht, der Mixer! Gibt es einen zweiten Becher?",
    "Non è affatto male la borsa, c'è anche in rosso?",
    "Helemaal niet slecht die jas, is die er ook in het groen?",
    "Nada mal esta mochila, tem em azul?",
    "the walking shoes are the comfiest, 15 km and zero blisters. top job",
]


@pytest.mark.parametrize("text", PRAISE)
def test_praise_with_minutes_harmless_negations_and_litotes(text):
    assert _praise(text)


PRAISE_GUARD = [
    "Thanks, not a single reply in three weeks.",
    "Gracias, sin reembolso todavía.",
    "Danke, keine Antwort seit Montag.",
    "Not bad at all, you lost my parcel again?",
    "pas mal de retard quand même, non ?",
    "Non è male, ma è arrivato rotto?",
    "thanks for answering within two minutes, but it is still broken",
    "Nada mal, mas o pacote chegou partido?",
    "top job, the parcel is lost again",
    "is it bad?",
]


@pytest.mark.parametrize("text", PRAISE_GUARD)
def test_complaints_with_the_same_words_are_not_praise(text):
    assert not _praise(text)


# ------------------------------------------------------------------ verdicts on a stub model

def _sent(text: str):
    return sentiment(text, None, np.zeros(4, dtype=np.float32))


def test_a_negated_chargeback_keeps_a_neutral_verdict_a_new_wording_makes_it_negative(model_reads):
    model_reads("neutral", 0.0)
    assert _sent("Ich will keine Rückbuchung machen, nur eine Rechnung.") == ("neutral", 0.0)
    assert _sent("Wenn bis Freitag nichts kommt, lasse ich die Lastschrift zurückgehen.") == ("negative", -0.3)


def test_a_litotes_question_read_very_negative_becomes_neutral(model_reads):
    model_reads("very_negative", -0.6)
    assert _sent("pas mal du tout ce pull, vous l'avez en bleu ?") == ("neutral", 0.0)
    assert _sent("Not bad at all, you lost my parcel again?")[0] == "very_negative"


def test_praise_ending_enhorabuena_keeps_a_neutral_verdict_sarcasm_with_a_work_closing_does_not(model_reads):
    model_reads("neutral", 0.0)
    assert _sent("Las botas son comodísimas, ni una ampolla en toda la ruta. Enhorabuena") == ("neutral", 0.0)
    assert _sent("Muchas gracias por cancelar mi pedido sin avisar. Un trabajo impecable.") == ("negative", -0.3)


# ------------------------------------------------------------------ flat stories: the store does not answer or pay back

from pipeline.signals import UNANSWERED_LEAN, unanswered  # noqa: E402

UNANSWERED = [
    "Sent the photos on Monday like you asked. Nobody has replied.",
    "I waited in all day for the engineer, no one turned up.",
    "Le colis est reparti chez vous il y a un mois. Depuis, aucun retour.",
    "Personne n'est venu et personne ne m'a rappelé.",
    "Mandé el vídeo hace diez días y nadie me ha contestado.",
    "Die Bilder sind seit Dienstag bei euch. Seitdem nichts.",
    "Am Telefon geht keiner ran, seit einer Woche.",
    "Il reso è arrivato da voi il 4 e al telefono non risponde nessuno.",
    "Foto's gestuurd op maandag. Sindsdien niks.",
    "Twee weken later nog steeds niet teruggestort.",
    "Mandei as fotos na segunda e ninguém respondeu.",
    "N\u043ebody has replied.",  # Cyrillic о
    "Nobody has <b>replied</b>.",
]


@pytest.mark.parametrize("text", UNANSWERED)
def test_the_store_not_answering_is_read(text):
    assert unanswered(text)


UNANSWERED_GUARD = [
    "No reply needed, thanks!",
    "Nessuna risposta necessaria, grazie.",
    "Une personne m'a appelé hier pour confirmer le créneau, merci.",
    "I didn't answer the courier's call, my fault, can you rebook?",
    "Sem resposta necessária, obrigado.",
    "Is anyone there? I'd like to change my address.",
]


@pytest.mark.parametrize("text", UNANSWERED_GUARD)
def test_calm_words_of_replies_are_not_read_as_unanswered(text):
    assert not unanswered(text)


def test_a_neutral_verdict_leaning_negative_on_an_unanswered_story_becomes_negative(model_reads):
    text = "Die Bilder sind seit Dienstag bei euch. Seitdem nichts."
    model_reads("neutral", UNANSWERED_LEAN - 0.02)
    assert _sent(text) == ("negative", -0.3)
    model_reads("neutral", UNANSWERED_LEAN + 0.05)  # leaning positive: left to the model
    assert _sent(text)[0] == "neutral"
    model_reads("neutral", -0.2)
    assert _sent("Die Bilder sind seit Dienstag bei euch, danke für die schnelle Antwort.")[0] == "neutral"
