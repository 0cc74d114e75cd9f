"""Chargeback threats worded without "chargeback" or "dispute": the customer gets the bank, the card
company or the payment provider (PayPal, Klarna, Visa, Mastercard) to take the money back (issue 13, seven
languages). A chargeback signal makes a ticket urgent and at least negative, so the same verbs addressed to
the shop ("reverse the duplicate charge", "annulez ce paiement", "stornate il pagamento doppio") and the bank
doing its ordinary work (declined, pending, a transfer, a refund landed) must stay quiet.

All phrasings written for this file (fifteenth session, helper 3), none taken from an evaluation set."""

from __future__ import annotations

import re

import pytest

from pipeline.signals import _CHARGEBACK, _LEGAL, _SUBSCRIPTION, MAX_MATCH_CHARS, detect_signals

THREATS = {
    "en": [
        "I will ask my bank to reverse this payment.",
        "I've already asked my credit card company to claw the money back.",
        "The payment will be reversed by my bank if you ignore me again.",
        "Fine, I'm opening a PayPal claim today.",
        "gonna get visa to pull the money back lol",
        "If nothing happens by Monday I would have Mastercard dispute the transaction.",
        "My card issuer is already disputing the charge.",
        "im asking my bank to revrse the paymnet",
        "I'll call my bank and have them reverse it.",
        "I'm getting my card company to take the money back.",
        "I've asked my credit card company to get the charge reversed.",
    ],
    "fr": [
        "Ma banque va récupérer l'argent si vous ne répondez pas.",
        "J'ai déjà demandé à ma banque de rembourser ce prélèvement.",
        "Je vais faire rembourser ce paiement par ma banque.",
        "Je vais contester l'achat auprès de PayPal.",
        "J'ouvre un litige PayPal dès ce soir.",
        "Ma banque pourrait annuler la transaction, je vous préviens.",
        "je vais voir avec ma banque pour me faire rembourser",
        "Je demanderais à Visa de reprendre le paiement.",
        "Le paiement sera annulé par ma banque.",
        "Ma banque m'a dit qu'elle allait bloquer et récupérer le prélèvement.",
    ],
    "es": [
        "Ya le he pedido a mi banco que revierta la transacción.",
        "Mi banco me va a devolver el dinero si no contestáis.",
        "Voy a reclamar el pago a través de PayPal.",
        "Abriré una disputa en PayPal.",
        "El cobro será anulado por mi banco.",
        "Si no me respondéis, le pediría a Visa que anule el cargo.",
        "Llamaré al banco para que cancelen el cobro.",
        "voy a hacer q el banco me regrese la plata",
        "He puesto una reclamación en Klarna por este pedido.",
        "Mi banco ya está reclamando el cargo.",
    ],
    "de": [
        "Ich lasse meine Bank das Geld zurückholen.",
        "Ich habe meine Bank bereits gebeten, die Zahlung zurückzuholen.",
        "Ich beantrage bei PayPal den Käuferschutz.",
        "Meine Kreditkartenfirma wird die Abbuchung stornieren.",
        "Die Zahlung wird von meiner Bank zurückgefordert.",
        "Ich würde das Geld über Visa zurückfordern.",
        "Ich hab bei Klarna schon nen Fall eröffnet.",
        "Ich widerrufe die Zahlung bei meiner Bank.",
        "ich lass mir das geld von der bank zurueck geben",
        "Ich hole mir das Geld über die Sparkasse zurück.",
    ],
    "it": [
        "Ho già chiesto alla banca di annullare l'addebito.",
        "La mia banca mi restituirà i soldi se non rispondete.",
        "Aprirò una contestazione su PayPal.",
        "Il pagamento verrà stornato dalla banca.",
        "Farei annullare la transazione da Mastercard.",
        "mi faccio ridare i soldi dalla banca",
        "Ho aperto un reclamo con Klarna per questo ordine.",
        "Chiedo il rimborso alla società della carta di credito.",
        "Dirò alla mia banca di bloccare e stornare tutto.",
    ],
    "nl": [
        "Ik laat mijn bank het geld terughalen.",
        "Ik heb de bank al gevraagd om het geld terug te halen.",
        "Ik ga een geschil openen bij PayPal.",
        "De betaling wordt door mijn bank teruggedraaid.",
        "Ik zou via Klarna mijn geld terugvragen.",
        "mn bank gaat t geld terugpakken",
        "Ik dien een claim in bij mijn creditcardmaatschappij.",
        "Ik ga Mastercard vragen de transactie terug te draaien.",
        "Ik vraag de bank om het bedrag terug te vorderen.",
    ],
    "pt": [
        "Já pedi ao banco que devolva o dinheiro.",
        "O meu banco vai reverter a transação.",
        "Vou abrir uma disputa no PayPal.",
        "O pagamento vai ser cancelado pelo banco.",
        "Pediria à operadora do cartão que anulasse a cobrança.",
        "vou mandar o banco devolver a grana",
        "Vou acionar a Visa para reaver o valor.",
        "Abri uma reclamação na Klarna.",
        "O banco vai fazer o estorno se vocês não responderem.",
        "Peço à empresa do cartão para estornar a compra.",
    ],
}

QUIET = {
    "en": [
        "Can you reverse the duplicate charge please? I was billed twice.",
        "My bank declined the payment, can I try another card?",
        "The bank says the payment is still pending.",
        "I paid by bank transfer, when will the order ship?",
        "My bank says the problem is on your side, please reverse the charge.",
        "The refund landed on my bank account, thanks!",
        "Can I pay with PayPal or Klarna?",
        "Please cancel the payment, I used the wrong card.",
        "I called my bank and they said the charge is still pending on your side.",
        "Could you send the refund to my PayPal instead?",
        "I asked my bank to cancel my card and send a new one.",
        "I'll file a claim with the courier for the lost parcel.",
        "I want to open a claim for the damaged sofa under the warranty.",
        "Can I get my money back via PayPal instead of store credit?",
    ],
    "fr": [
        "Pouvez-vous annuler ce paiement ? J'ai été débité deux fois.",
        "Ma banque a refusé le paiement, je peux réessayer ?",
        "La banque indique que le paiement est en attente.",
        "J'ai payé par virement bancaire, avez-vous reçu l'argent ?",
        "Ma banque dit que le problème vient de chez vous, remboursez-moi.",
        "Le remboursement est bien arrivé sur mon compte bancaire, merci.",
        "Est-ce que je peux payer avec PayPal ou Klarna ?",
        "Merci de rembourser le double prélèvement sur ma carte.",
        "Pouvez-vous me rembourser par PayPal ?",
        "J'ai demandé à ma banque, elle dit que le remboursement n'est pas arrivé.",
        "J'ai demandé à ma banque d'annuler ma carte, elle a été volée.",
        "Ma banque a annulé mon ancienne carte, remboursez sur la nouvelle.",
        "Ma banque va me rembourser les frais si vous confirmez l'erreur.",
    ],
    "es": [
        "¿Podéis anular el cargo duplicado? Me cobrasteis dos veces.",
        "Mi banco rechazó el pago, ¿lo intento otra vez?",
        "El banco dice que el pago está pendiente.",
        "Pagué por transferencia bancaria, ¿os ha llegado?",
        "Mi banco dice que el problema es vuestro, devolvedme el dinero.",
        "El reembolso ya llegó a mi cuenta del banco, gracias.",
        "¿Se puede pagar con PayPal o Klarna?",
        "Devolvedme el cobro doble a la tarjeta, por favor.",
        "¿Podéis devolverme el dinero por PayPal?",
        "Le pedí a mi banco que cancele la tarjeta porque me la robaron.",
    ],
    "de": [
        "Könnt ihr die doppelte Abbuchung stornieren? Ich wurde zweimal belastet.",
        "Meine Bank hat die Zahlung abgelehnt, soll ich es nochmal versuchen?",
        "Die Bank sagt, die Zahlung ist noch ausstehend.",
        "Ich habe per Banküberweisung bezahlt, ist das Geld angekommen?",
        "Meine Bank sagt, der Fehler liegt bei euch.",
        "Die Rückerstattung ist auf meinem Bankkonto eingegangen, danke.",
        "Kann ich mit PayPal oder Klarna bezahlen?",
        "Gilt bei euch der PayPal-Käuferschutz?",
        "Könnt ihr mir das Geld über PayPal zurückerstatten?",
        "Ich habe das Geld von meiner Bank überwiesen, bitte prüfen.",
        "Meine Bank hat meine alte Karte storniert, bitte auf die neue erstatten.",
    ],
    "it": [
        "Potete annullare l'addebito doppio? Mi avete addebitato due volte.",
        "La banca ha rifiutato il pagamento, riprovo?",
        "La banca dice che il pagamento è in sospeso.",
        "Ho pagato con bonifico bancario, vi è arrivato?",
        "La mia banca dice che il problema è vostro.",
        "Il rimborso è arrivato dalla banca sul mio conto, grazie.",
        "Si può pagare con PayPal o Klarna?",
        "Stornate il pagamento sbagliato sulla mia carta, per favore.",
        "Potete fare lo storno del pagamento doppio?",
        "Potete rimborsarmi tramite PayPal?",
        "Ho chiesto alla banca di bloccare la carta, me l'hanno clonata.",
        "La mia banca mi ha restituito la carta, riprovo il pagamento.",
    ],
    "nl": [
        "Kunnen jullie de dubbele afschrijving terugdraaien? Ik heb twee keer betaald.",
        "Mijn bank heeft de betaling geweigerd, kan ik het opnieuw proberen?",
        "De bank zegt dat de betaling nog in behandeling is.",
        "Ik heb per bankoverschrijving betaald, is het geld binnen?",
        "Mijn bank zegt dat het aan jullie kant ligt.",
        "De terugbetaling staat op mijn bankrekening, bedankt.",
        "Kan ik betalen met PayPal of Klarna?",
        "Willen jullie het geld terugstorten op mijn rekening?",
        "Kan ik via PayPal mijn geld terugkrijgen?",
    ],
    "pt": [
        "Podem fazer o estorno da cobrança duplicada? Fui cobrado duas vezes.",
        "O banco recusou o pagamento, posso tentar de novo?",
        "O banco diz que o pagamento está pendente.",
        "Paguei por transferência bancária, já receberam?",
        "O meu banco diz que o problema é vosso.",
        "O reembolso já caiu na minha conta do banco, obrigado.",
        "Posso pagar com PayPal ou Klarna?",
        "Cancelem o pagamento, usei o cartão errado.",
        "Podem devolver o dinheiro pelo PayPal?",
        "O estorno de vocês ainda não apareceu no meu banco.",
        "Pedi ao banco para cancelar o cartão porque foi clonado.",
        "O meu banco vai devolver-me o cartão novo amanhã, pago depois.",
    ],
}


@pytest.mark.parametrize("text", [t for texts in THREATS.values() for t in texts])
def test_a_reversal_through_the_bank_or_the_payment_provider_is_a_chargeback(text):
    assert "chargeback" in detect_signals(text), text


@pytest.mark.parametrize("text", [t for texts in QUIET.values() for t in texts])
def test_the_shop_asked_to_refund_or_the_bank_at_its_ordinary_work_is_not(text):
    assert "chargeback" not in detect_signals(text), text


# The same threats spelled to dodge a pattern: look-alike letters, full-width letters, markup, emphasis
# marks, invisible characters, a hyphen or a line break inside or between the words.
@pytest.mark.parametrize("text", [
    "I will ask my b\u0430nk to r\u0435verse this payment.",  # Cyrillic а, е
    "I will ask my \uff42\uff41\uff4e\uff4b to reverse this payment.",  # full-width "bank"
    "I will ask my <b>bank</b> to <i>re</i>verse this payment.",
    "I will ask my **bank** to _reverse_ this payment.",
    "I will ask my bank to re\u200bverse this pay\u200dment.",
    "I will ask my bank\nto reverse\r\nthis payment.",
    "I will ask my bank to re-\nverse this payment.",
    "Ich lasse meine Bank das Geld zurück-\nholen.",
    "J'ai d\u00e9j\u00e0 demand\u00e9 \u00e0 ma banque de\nrembourser ce pr\u00e9l\u00e8vement.",
    "Ya le he pedido a mi b\u0430nco que revierta la transacci\u00f3n.",
    "Ik laat mijn <span>bank</span> het geld terug\u00adhalen.",
    "O meu banco vai reverter a transa\u0441\u0430o.",  # Cyrillic с, а
    "Il pagamento verr\u00e0 stornato dalla\u00a0banca.",
])
def test_the_threat_spelled_to_dodge_still_fires(text):
    assert "chargeback" in detect_signals(text), text


def test_chargeback_subscription_and_legal_patterns_are_bounded():
    """Every window is a bounded repetition ({m,n}); the only open repetitions are of one character class
    (\\w*, \\w+, \\s?, [^...]{m,n}), never of a group or of "." A 20k-character message made of actors and
    reversal verbs that never link runs through the same patterns, and so does one whose threat comes first."""
    for part in "|".join(rx.pattern for rx in (_CHARGEBACK, _SUBSCRIPTION, _LEGAL)).split("|"):
        stripped = re.sub(r"\\[ws][*+?]", "", part)
        assert not re.search(r"(?<!\\)[)\].][*+]", stripped), part
    filler = ("reversal " * 700 + "ask my bank , to " * 700 + "my bank has the payment " * 700)[:MAX_MATCH_CHARS]
    assert len(filler) == MAX_MATCH_CHARS
    assert "chargeback" not in detect_signals(filler)
    assert "chargeback" in detect_signals(("ask my bank to reverse it. " + filler)[:MAX_MATCH_CHARS])
