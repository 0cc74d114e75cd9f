"""pipeline.intent_rules: phrase rules after the intent head, and their attacks.

Each rule moves one confused reading to its partner (docs/measurements.md, seventeenth session, helper 1); the
attacks are what must never move: a cancellation, a closed account, a ticket closed "once the refund is there", a
negation, another intent's reading, markup, look-alike letters and invisible characters, in EN/FR/ES/DE/IT/NL/PT.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.intent_rules import account_without_order, adjust, charge_without_promo, delivery_moved, settled
from pipeline.signals import normalize_for_matching as fold

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("text", [
    "No worries, I sorted it myself in the end. You can close this ticket.",
    "Sorry, please ignore my last message, wrong shop!",
    "C'est bon, j'ai réglé ça moi-même, vous pouvez fermer le ticket.",
    "Ya lo he solucionado yo sola, podéis cerrar la incidencia.",
    "Hab's selbst gelöst, Sie können das Ticket schließen.",
    "Risolto da sola, potete chiudere il ticket.",
    "Zelf opgelost, jullie mogen het ticket sluiten.",
    "Resolvi sozinha, podem fechar o chamado.",
    "<p>You can <b>close</b> this ticket</p>",  # markup
    "You can \u0441lose this ti\u0441ket",  # Cyrillic es
    "You can clo\u200bse this ticket",  # an invisible character
    "Don't worry, I fixed it myself. Feel free to close it.",  # "don't worry" is no negation of the request
])
def test_settled_messages_ask_for_nothing(text):
    assert settled(fold(text))
    assert adjust(text, "cancel_order", False) == ("other", True, "settled")


@pytest.mark.parametrize("text", [
    "Please cancel my order, you can close the ticket afterwards.",
    "Close my account please.",
    "You can close the ticket once the refund is there.",
    "Don't close this ticket, it's not sorted.",
    "I sorted it myself, now please cancel order 55120.",
    "Sorted it myself, but can you refund the shipping?",
    "Vous pouvez clôturer mon compte ?",
    "Ne fermez pas le ticket, je n'ai pas encore reçu le remboursement. Vous pouvez clôturer après.",
    "Podéis cerrar mi cuenta, ya lo he solucionado yo sola",
    "Bitte nicht schließen, ich hab es noch nicht selbst gelöst.",
    "Sie können das Ticket schließen, sobald die Erstattung da ist.",
    "Potete chiudere il mio account?",
    "Risolto da solo, potete chiudere pure. Ma annullate l'ordine 4411.",
    "Jullie mogen het sluiten zodra het geld terug is.",
    "Podem fechar minha conta? Resolvi sozinho o resto.",
    "Podem encerrar quando o estorno cair.",
    "You can <b>close</b> this once the re\u0444und... I mean the refund arrives",  # markup and a look-alike
])
def test_a_request_keeps_the_heads_reading(text):
    assert not settled(fold(text))
    assert adjust(text, "cancel_order", False) == ("cancel_order", False, None)


def test_settled_never_lands_on_an_intent():
    # Whatever the head read, a settled message is out of scope: never cancel_order (sensitive, high priority).
    for label in ("cancel_order", "change_order", "return_refund", "account_change", "other"):
        got, oos, _ = adjust("Kein Stress, hab's selbst hingekriegt. Ihr könnt das schließen.", label, False)
        assert (got, oos) == ("other", True)


@pytest.mark.parametrize("text", [
    "The product page said 49.99 but I was charged 54.99. Why?",
    "Auf der Produktseite stand 49,99, abgebucht wurden aber 54,99.",
    "Na página dizia 49,99 mas me cobraram R$ 54,99.",
    "Op de site stond 49,99 maar er is 54,99 afgeschreven.",
])
def test_a_price_and_a_charge_without_a_promotion_is_billing(text):
    assert charge_without_promo(fold(text))
    assert adjust(text, "discount_promo", False)[:2] == ("billing", False)


@pytest.mark.parametrize("text", [
    "I was charged 54.99 but my code WELCOME10 should have taken 10% off.",
    "Der Gutschein über 10 € wurde nicht abgezogen, abgebucht wurden 54,99.",
    "Is the sale still on? I paid 49.99 last week.",
    "Me cobraron 54,99 y el cupón no se aplicó.",
    "I was charged twice, can you check?",  # no amount: the head decides
])
def test_a_promotion_word_keeps_discount_promo(text):
    assert adjust(text, "discount_promo", False)[0] == "discount_promo"


def test_the_billing_rule_only_moves_discount_promo():
    text = "The product page said 49.99 but I was charged 54.99."
    for label in ("product_question", "return_refund", "complaint"):
        assert adjust(text, label, False)[0] == label


@pytest.mark.parametrize("text", [
    "How do I add a second delivery address to my account?",
    "Comment j'ajoute une autre adresse dans mon compte ?",
    "Kann ich in meinem Kundenkonto eine zweite Adresse speichern?",
    "Kan ik een tweede adres aan mijn account toevoegen?",
])
def test_the_account_without_an_order_is_an_account_change(text):
    assert account_without_order(fold(text))
    assert adjust(text, "change_order", False)[:2] == ("account_change", False)


@pytest.mark.parametrize("text", [
    "Please change the address on my order, my account still has the old one.",
    "Bitte die Adresse in meiner Bestellung ändern, im Konto steht noch die alte.",
    "Podem mudar o endereço do pedido? Na minha conta ainda está o antigo.",
])
def test_an_order_named_keeps_change_order(text):
    assert adjust(text, "change_order", False)[0] == "change_order"


@pytest.mark.parametrize("text", [
    "Can we move the delivery to Friday?",
    "Could you hold my order until I'm back on the 12th?",
    "Können wir die Lieferung auf Freitag verschieben?",
    "La consegna è per lunedì, possiamo spostarla a venerdì?",
    "Kunnen we de levering naar vrijdag verzetten?",
    "A entrega está marcada pro dia 14, dá pra passar pro dia 21?",
    "La livraison est prévue mardi, on peut la décaler à jeudi ?",
])
def test_a_delivery_moved_or_held_is_a_change(text):
    assert delivery_moved(fold(text))
    assert adjust(text, "order_status", False)[:2] == ("change_order", False)


@pytest.mark.parametrize("text", [
    "My delivery was moved to the 12th, why?",
    "Posso rimandare indietro le scarpe?",
    "Where is my order? It was supposed to come on Friday.",
])
def test_a_question_about_the_date_stays_order_status(text):
    assert adjust(text, "order_status", False)[0] == "order_status"


def test_the_delivery_rule_never_touches_a_cancellation():
    assert adjust("Cancel it, or move the delivery to Friday if you can't.", "cancel_order", False)[0] == "cancel_order"


def test_a_store_without_the_target_intent_keeps_the_reading():
    text = "The product page said 49.99 but I was charged 54.99."
    assert adjust(text, "discount_promo", False, intents={"discount_promo", "other"}) == ("discount_promo", False, None)


def test_the_classifier_applies_the_rules():
    # The production path (classify_local) reads the rules after the head: the head's label stays an alternative.
    from pipeline.config import load_config
    from pipeline.local_classifier import Prediction, _after_rules

    cfg = load_config(ROOT / "config")
    pred = Prediction("cancel_order", 0.8, [("other", 0.1), ("change_order", 0.05)])
    got, oos = _after_rules("No worries, I sorted it myself. You can close this one.", pred, False, cfg)
    assert (got.label, oos) == ("other", True) and got.alternatives[0] == ("cancel_order", 0.8)
    pred = Prediction("discount_promo", 0.6, [("billing", 0.3), ("other", 0.05)])
    got, oos = _after_rules("The page said 49.99 and I was charged 54.99.", pred, False, cfg)
    assert (got.label, oos) == ("billing", False) and got.confidence == pytest.approx(0.9)
    pred = Prediction("cancel_order", 0.8, [("other", 0.1)])
    assert _after_rules("Please cancel order 4411.", pred, False, cfg) == (pred, False)


def test_a_newsletters_promise_keeps_discount_promo():
    # heldout5 (ES): the free shipping a newsletter promised is a promotion, though 5.90 was charged.
    text = "Su newsletter decía envío gratis toda esta semana pero al pagar me siguen cobrando 5,90 de envío."
    assert adjust(text, "discount_promo", False)[0] == "discount_promo"


@pytest.mark.parametrize("text", [
    "Found it cheaper in town, can I still cancel order 40217 before it ships?",
    "Je peux encore annuler la commande 40217 avant l'envoi ?",
    "¿Puedo anular todavía el pedido 40217?",
    "Bitte die Bestellung 40217 stornieren, hab es woanders gefunden.",
    "Posso ancora annullare l'ordine 40217 prima che parta?",
    "Kan ik bestelling 40217 nog annuleren?",
    "Dá pra cancelar o pedido 40217 antes de sair?",
    "Can I still <i>cancel</i> my ord\u0435r?",  # markup and a Cyrillic e
])
def test_an_order_cancelled_outright_is_a_cancellation(text):
    assert adjust(text, "change_order", False)[:2] == ("cancel_order", False)


@pytest.mark.parametrize("text", [
    "Cancel the phone case from my order and just send the screen protector.",
    "Don't cancel my order, change the size to M please.",
    "Annulez seulement un article de la commande.",
    "¿Podéis quitar la funda del pedido? No anuléis el pedido entero.",
    "Bitte nicht die Bestellung stornieren, nur die Farbe ändern.",
    "Annullate l'ordine? No, cambiate solo l'indirizzo.",
    "Niet de bestelling annuleren, alleen de maat wijzigen.",
    "Não cancelem o pedido, só troquem o tamanho.",
])
def test_a_change_or_a_negation_keeps_change_order(text):
    assert adjust(text, "change_order", False)[0] == "change_order"


def test_the_cancellation_rule_only_moves_change_order():
    for label in ("complaint", "order_status", "return_refund"):
        assert adjust("Please cancel order 40217.", label, False)[0] == label


class _Head:
    """A head that always reads ``label``: what classify_local makes of it is the rules' doing."""

    knn_floor = None
    classes_ = ["cancel_order", "other"]

    def __init__(self, label: str, conf: float, alternatives: list[tuple[str, float]]):
        self.label, self.conf, self.alternatives = label, conf, alternatives

    def head_for(self, text):
        return self

    def vectors(self, texts):
        import numpy as np

        return np.zeros((len(texts), 4), dtype=np.float32)

    def predict(self, texts, embeddings=None):
        from pipeline.local_classifier import Prediction

        return [Prediction(self.label, self.conf, list(self.alternatives)) for _ in texts]

    def non_support_similarity(self, emb):
        return None


def test_classify_local_reads_the_rules_after_the_head():
    from pipeline.config import load_config
    from pipeline.local_classifier import classify_local

    cfg = load_config(ROOT / "config")
    head = _Head("cancel_order", 0.8, [("other", 0.1), ("change_order", 0.05)])
    pred, oos = classify_local("Pas de souci, j'ai réglé ça moi-même. Vous pouvez clôturer.", cfg, model=head)
    assert (pred.label, oos) == ("other", True) and pred.alternatives[0] == ("cancel_order", 0.8)
    pred, oos = classify_local("Annulez la commande 4411, merci.", cfg, model=head)
    assert (pred.label, oos) == ("cancel_order", False)
