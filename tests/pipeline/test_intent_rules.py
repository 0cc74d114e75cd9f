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


# ---------------------------------------------------------------- seventeenth session, helper 7: eight more kinds
# (docs/measurements.md, "helper 7"): each kind repeated across read sets and scenarios; every text here is new.

from pipeline.intent_rules import (  # noqa: E402
    access_problem,
    delivery_elsewhen,
    document_requested,
    promo_asked,
    return_wanted,
    supplier_notice,
    verdict_on_store,
    voucher_expired,
)


@pytest.mark.parametrize("label", ["change_order", "product_question", "discount_promo"])
@pytest.mark.parametrize("text", [
    "The lamp is too dim for the desk, I'd like to return it. Do I need the original box?",
    "La lampe éclaire trop peu, je voudrais la renvoyer. Il faut le carton d'origine ?",
    "La lámpara da muy poca luz, quiero devolverla. ¿Necesito la caja original?",
    "Die Lampe ist zu dunkel, ich möchte sie zurückschicken. Brauche ich den Originalkarton?",
    "La lampada fa poca luce, vorrei restituirla. Serve la scatola originale?",
    "De lamp geeft te weinig licht, ik wil hem terugsturen. Heb ik de originele doos nodig?",
    "A luminária ilumina pouco, quero devolver. Preciso da caixa original?",
    "Can I <b>send back</b> the lamp for store credit?",  # markup
    "Can I s\u0435nd back the lamp for store credit?",  # a Cyrillic e
])
def test_an_item_sent_back_is_a_return(text, label):
    assert return_wanted(fold(text))
    assert adjust(text, label, False)[:2] == ("return_refund", False)


@pytest.mark.parametrize("text", [
    "Could you resend the order confirmation email? I never got it.",  # something else resent
    "Pouvez-vous me renvoyer le lien de suivi ?",
    "It's 20 euros cheaper now, can you give me back the difference or should I return it?",  # the price drop
    "Please swap the M for an L before it ships, I don't want to have to return it.",  # a change before dispatch
    "Ich will die Jacke nicht zurückgeben, nur wissen, ob man sie waschen kann.",  # negation
    "Non voglio restituirlo, volevo solo sapere se si può lavare in lavatrice.",
    "Ik wil hem niet terugsturen, hoe maak ik hem schoon?",
    "Não quero devolver, só saber como lavar.",
    "Do you give a discount in return for a review?",  # "in return"
    "Faut-il retourner le matelas tous les mois ?",  # turned over, not sent back
    "Come si fa a rendere il tessuto più morbido?",  # made softer
    "¿Me podéis devolver la llamada mañana? Tengo una duda sobre la talla.",  # a call returned
])
def test_no_return_asked_keeps_the_reading(text):
    assert not return_wanted(fold(text))
    assert adjust(text, "product_question", False)[0] == "product_question"


def test_the_return_rule_only_moves_its_three_confusions():
    text = "I'd like to return the lamp, it's too dim."
    for label in ("delivery_problem", "cancel_order", "complaint", "order_status"):
        assert adjust(text, label, False)[0] == label


def test_an_out_of_scope_reading_comes_back_only_for_a_customer():
    # Rejected as out of scope and nobody writing about themselves or asking: the reading stays out of scope.
    assert adjust("Returns portal: return labels for all carriers, from 9 a month.", "change_order", True)[1]
    assert adjust("Can I return the lamp? It's too dim.", "change_order", True)[:2] == ("return_refund", False)


@pytest.mark.parametrize("text", [
    "I can't log in since yesterday, the password reset link says it's expired.",
    "Impossible de me connecter à mon compte, le mot de passe n'est jamais accepté.",
    "No puedo iniciar sesión en mi cuenta, dice que la contraseña es incorrecta.",
    "Ich kann mich nicht einloggen, mein Konto ist gesperrt.",
    "Non riesco ad accedere al mio account, la password non funziona più.",
    "Ik kan niet inloggen op mijn account, mijn wachtwoord werkt niet.",
    "Não consigo entrar na minha conta, a senha não funciona.",
    "My account says <i>locked</i>, how do I get in?",  # markup
    "I c\u0430n't log in to my \u0430ccount",  # Cyrillic a
])
def test_getting_into_the_account_is_account_access(text):
    assert access_problem(fold(text))
    assert adjust(text, "account_change", False)[:2] == ("account_access", False)


@pytest.mark.parametrize("text", [
    "Please change the email I log in with to my new one.",
    "Pouvez-vous dissocier mon Google de mon compte ? Je veux me connecter avec mon e-mail.",
    "Quiero cambiar la contraseña y el correo de mi cuenta.",  # a change asked
    "Bitte löschen Sie mein Konto, ich will mich nie wieder anmelden.",
    "Potete unire i miei due account? Accedo con tutti e due.",
    "Kunnen jullie mijn Facebook ontkoppelen? Ik wil met mijn e-mail inloggen.",
    "Podem apagar a minha conta? Não quero mais fazer login.",
    "Please get in touch about the name on my account, it's misspelt.",  # "get in touch" is no login
])
def test_a_change_to_the_account_stays_account_change(text):
    assert adjust(text, "account_change", False)[0] == "account_change"


def test_phishing_rejected_as_out_of_scope_stays_out():
    text = "Your mailbox will be suspended. Log in within 24 hours to keep your password."
    assert adjust(text, "account_change", True)[1]
    assert adjust("Reset my password please", "product_question", False)[0] == "product_question"  # only account_change


@pytest.mark.parametrize("label", ["change_order", "order_status", "discount_promo"])
@pytest.mark.parametrize("text", [
    "Can you email me the invoice for order 7719? My accountant needs it.",
    "Pouvez-vous m'envoyer la facture de la commande 7719 pour ma comptabilité ?",
    "¿Me podéis mandar la factura del pedido 7719? La necesito para la empresa.",
    "Könnt ihr mir die Rechnung zu Bestellung 7719 schicken? Brauche sie für die Steuer.",
    "Mi mandate la fattura dell'ordine 7719? Mi serve per il commercialista.",
    "Kunnen jullie de factuur van bestelling 7719 sturen? Ik heb die nodig voor de boekhouding.",
    "Podem me enviar a nota fiscal do pedido 7719?",
    "Please <b>send</b> me the rec\u0435ipt",  # markup and a Cyrillic e
])
def test_an_invoice_or_receipt_asked_for_is_billing(text, label):
    assert document_requested(fold(text))
    assert adjust(text, label, False)[:2] == ("billing", False)


@pytest.mark.parametrize("text", [
    "J'ai bien reçu le mail d'expédition mais pas de numéro de suivi, elle est où ma commande ?",  # reçu: received
    "No recibo el correo de seguimiento, ¿dónde está mi pedido?",  # recibo: I receive
    "I received the invoice but no tracking number, where is my parcel?",  # the invoice named, nothing asked of it
    "La ricevo domani la consegna?",
    "Where is my order? I need it by Friday, I already got the invoice email.",  # need / got: no ask for it
    "Ik heb de factuur al, maar waar blijft mijn pakket? Ik heb het nodig voor zaterdag.",
])
def test_a_document_not_asked_for_keeps_order_status(text):
    assert not document_requested(fold(text))
    assert adjust(text, "order_status", False)[0] == "order_status"


@pytest.mark.parametrize("text", [
    "Are you doing anything for Black Friday? Thinking of waiting for it.",
    "Vous faites des soldes cet hiver ? Je préfère attendre si oui.",
    "¿Hacéis descuento a estudiantes? Tengo el carnet universitario.",
    "Gibt es bei euch einen Rabatt für Vereine? Wir bräuchten 20 Trikots.",
    "Avete sconti per chi compra in quantità?",
    "Hebben jullie korting voor leraren?",
    "Vocês têm programa de fidelidade? Compro todo mês.",
    "The code SPRING15 says it's not valid",  # a code with digits
    "Vu -15 % sur votre insta, ça marche en boutique ?",  # a percentage off
    "Do you have a <b>student discount</b>?",  # markup
])
def test_a_promotion_asked_about_comes_back_as_discount_promo(text):
    assert promo_asked(fold(text))
    assert adjust(text, "other", True)[:2] == ("discount_promo", False)


@pytest.mark.parametrize("text", [
    "Boost your Christmas sales with our free webinar for shop owners!",
    "List your shop on our price comparison site from 49 a month, first month discount.",
    "Échec de la remise : le destinataire est introuvable.",  # a bounce: "remise" is a delivery
    "Exponha na feira do setor com desconto de inscrição antecipada.",
    "Bitte melden Sie sich hier ab, wenn Sie keine Rabatt-Newsletter mehr wollen: abmelden",
    "Our choir is raising money for a new piano. Could you donate a voucher for our raffle?",  # a fundraiser
    "Notre association organise une collecte de fonds, pourriez-vous offrir un bon de réduction ?",
    "Für unsere Benefiz-Verlosung: könnten Sie einen Gutschein spenden?",
    "Thanks, all sorted!",  # no promotion at all
    "Is the blue armchair still for sale? Saw it on a second-hand site.",  # "for sale"
    "Can I talk to your sales team about the new range?",
])
def test_a_pitch_or_a_bounce_stays_out_of_scope(text):
    assert adjust(text, "other", True)[:2] == ("other", True)


@pytest.mark.parametrize("text", [
    "It's a present: could you send a gift receipt in the box instead of the invoice?",
    "C'est un cadeau, vous pouvez envoyer un ticket cadeau au lieu de la facture ?",
    "Es un regalo, ¿podéis mandar un ticket regalo en vez de la factura?",
    "Ist ein Geschenk, bitte schickt einen Geschenkbeleg statt der Rechnung mit.",
])
def test_a_gift_receipt_in_the_parcel_stays_a_change(text):
    assert not document_requested(fold(text))
    assert adjust(text, "change_order", False)[0] == "change_order"


def test_the_promotion_rule_only_reads_out_of_scope_readings():
    # An in-scope reading is the head's: a sale named in a return question stays a return.
    assert adjust("Can I return a jacket I bought in the sale?", "return_refund", False)[0] == "return_refund"


@pytest.mark.parametrize("text", [
    "Could the sofa come on Friday instead of Tuesday? I'm away on Tuesday.",
    "Le canapé pourrait venir vendredi au lieu de mardi ?",
    "¿Podría llegar el sofá el viernes en vez del martes?",
    "Könnte das Sofa am Freitag statt am Dienstag kommen?",
    "Il divano potrebbe arrivare venerdì invece di martedì?",
    "Kan de bank op vrijdag komen in plaats van dinsdag?",
    "O sofá pode vir na sexta em vez de terça?",
    "Can you deliver it to my office instead of home?",
    "Could it come on <b>Friday</b> instead of Tu\u0435sday?",  # markup and a Cyrillic e
])
def test_another_day_or_place_asked_for_is_a_change(text):
    assert delivery_elsewhen(fold(text))
    assert adjust(text, "order_status", False)[:2] == ("change_order", False)
    assert adjust(text, "other", True)[:2] == ("change_order", False)


@pytest.mark.parametrize("text", [
    "Why did it come on Friday instead of Tuesday? Nobody was home.",  # why: a status question
    "It was delivered to my office instead of home, can you tell me who signed?",  # past
    "Pourquoi la livraison est passée à vendredi au lieu de mardi ?",
    "The driver left it at number 14 instead of 41, can you check?",  # no day or place
    "Der Kühlschrank kam am Freitag statt am Dienstag.",  # no request
])
def test_a_report_of_the_day_stays_order_status(text):
    assert not delivery_elsewhen(fold(text))
    assert adjust(text, "order_status", False)[0] == "order_status"


def test_the_day_rule_never_touches_a_cancellation():
    text = "Could it come on Friday instead of Tuesday? If not, cancel it."
    assert adjust(text, "cancel_order", False)[0] == "cancel_order"


@pytest.mark.parametrize("text", [
    "My welcome voucher expired while I was away, could you extend it a few days?",
    "Mon bon d'achat a expiré pendant mes vacances, vous pouvez le prolonger ?",
    "Mi cupón caducó la semana pasada, ¿podéis ampliarlo unos días?",
    "Mein Gutschein ist abgelaufen, könnt ihr ihn verlängern?",
    "Il mio buono è scaduto ieri, potete prolungarlo?",
    "Mijn cadeaubon is verlopen, kunnen jullie hem verlengen?",
    "Meu cupom expirou ontem, dá pra estender?",
    "My <b>voucher</b> expir\u0435d, please extend",  # markup and a Cyrillic e
])
def test_an_expired_voucher_is_a_promotion_not_a_cancellation(text):
    assert voucher_expired(fold(text))
    assert adjust(text, "cancel_order", False)[:2] == ("discount_promo", False)


@pytest.mark.parametrize("text", [
    "My voucher expired, so just cancel the order then.",
    "Mon bon a expiré, annulez la commande.",
    "El cupón ha caducado, ya no quiero el pedido.",
    "Gutschein abgelaufen, dann bitte stornieren.",
    "Il buono è scaduto, non lo voglio più.",
    "De bon is verlopen, annuleer mijn bestelling maar.",
    "O cupom expirou, não quero mais o pedido.",
    "My order expired?? Please stop it.",  # no voucher
    "My postcode expired from the form, can you extend the delivery window?",  # a postcode is no code
    "Mijn carbon fiets-abonnement is verlopen, kunnen jullie het verlengen?",  # "carbon" is no bon
])
def test_a_cancel_word_keeps_cancel_order(text):
    assert adjust(text, "cancel_order", False)[0] == "cancel_order"


def test_the_voucher_rule_only_moves_cancel_order():
    for label in ("return_refund", "complaint", "billing"):
        assert adjust("My voucher expired, could you extend it?", label, False)[0] == label


@pytest.mark.parametrize("text", [
    "Payment reminder: invoice 3381 from BoxCo is 21 days overdue. Please arrange payment.",
    "Relance de paiement : la facture 3381 de BoxCo reste impayée depuis 21 jours.",
    "Recordatorio: la factura 3381 de BoxCo lleva 21 dias vencida. Realicen el pago.",
    "Zahlungserinnerung: Rechnung 3381 der BoxCo GmbH ist seit 21 Tagen überfällig.",
    "Sollecito di pagamento: la fattura 3381 di BoxCo è scaduta da 21 giorni.",
    "Betalingsherinnering: factuur 3381 van BoxCo is 21 dagen over tijd.",
    "Lembrete de pagamento: a fatura 3381 da BoxCo está vencida há 21 dias.",
    "<p>Payout sent: 880.10 EUR to your bank account</p>",  # markup
])
def test_a_suppliers_notice_is_not_actionable(text):
    assert supplier_notice(fold(text))
    assert adjust(text, "billing", False)[:2] == ("other", True)


@pytest.mark.parametrize("text", [
    "I got a payment reminder saying my invoice is 21 days overdue, but I paid on the 3rd!",
    "Zahlungserinnerung erhalten, aber ich habe die Rechnung längst bezahlt.",
    "Payment reminder for order 3381? I already paid.",
    "J'ai reçu une relance de paiement alors que j'ai payé.",
    "Me llegó un recordatorio de pago pero ya pagué.",
])
def test_a_customer_about_a_reminder_stays_billing(text):
    assert adjust(text, "billing", False)[0] == "billing"


@pytest.mark.parametrize("text", [
    "Your chat bot kept looping for an hour. Ridiculous for a shop this size.",
    "Trois mails sans réponse, c'est inadmissible.",
    "Tres semanas sin respuesta, es inaceptable.",
    "Der Ton eurer Antwort war herablassend, so geht man nicht mit Kunden um.",
    "Servizio pessimo, non ci siamo proprio.",
    "Drie weken geen antwoord, echt belachelijk.",
    "Atendimento péssimo, inaceitável.",
    "Ridicul\u043eus <b>service</b>",  # a Cyrillic o and markup
])
def test_a_verdict_confirms_the_heads_complaint(text):
    assert verdict_on_store(fold(text))
    assert adjust(text, "complaint", True)[:2] == ("complaint", False)


def test_a_verdict_only_confirms_the_heads_own_complaint():
    text = "Ridiculous service."
    assert adjust(text, "other", True)[:2] == ("other", True)  # the head did not read a complaint
    assert adjust(text, "order_status", True)[:2] == ("order_status", True)
    assert not verdict_on_store(fold("Thanks, the service was great."))
