"""Subscription cancellation in the seven languages (issue 13): the customer ends a subscription, a membership,
a plan, its automatic renewal or the monthly charge, in words the first patterns missed ("turn off auto-renew",
"beenden Sie meine Mitgliedschaft", "disattivate il rinnovo automatico", "mijn abo opzeggen"). An order
cancelled, a newsletter left, a plan changed, a renewal confirmed, or "cancel the order, not the subscription"
must stay quiet. All phrasings written for this file (fifteenth session, helper 3)."""

from __future__ import annotations

import pytest

from pipeline.signals import detect_signals

CANCELS = {
    "en": [
        "Please turn off auto-renewal on my account.",
        "Don't renew my membership next month.",
        "I no longer want the recurring delivery, please stop it.",
        "Stop charging me every month, I never use it.",
        "cancel the subscrption pls",
        "Unsubscribe me from the coffee club, no more shipments.",
        "I'd like to end my monthly box after this one.",
        "How do I cancel my plan?",
    ],
    "fr": [
        "Merci de mettre fin à mon abonnement mensuel.",
        "Désabonnez-moi de la box beauté, je n'en veux plus.",
        "Je ne veux plus être prélevé chaque mois.",
        "Arrêtez le renouvellement automatique, s'il vous plaît.",
        "je veux resilier mon abo",
        "Comment annuler mon adhésion ?",
        "Désactivez la reconduction de mon abonnement.",
        "Je ne renouvellerai pas mon abonnement.",
    ],
    "es": [
        "No quiero que se renueve mi plan.",
        "Desactivad la renovación automática.",
        "Quiero anular mi membresía.",
        "Dejad de cobrarme cada mes, por favor.",
        "Quiero darme de baja del club de vinos.",
        "Cancelad mi suscripción mensual.",
        "Quiero terminar mi plan premium.",
        "cancelen la suscripcion ya",
    ],
    "de": [
        "Bitte beenden Sie meine Mitgliedschaft.",
        "Automatische Verlängerung bitte deaktivieren.",
        "Ich möchte das Abonnement abbestellen.",
        "Hört auf, jeden Monat abzubuchen.",
        "Ich will aus dem Sparabo raus, bitte kündigen.",
        "Kündigung meines Abos zum Monatsende.",
        "Ich möchte mein Kaffee-Abo beenden.",
        "bitte abo stoppen",
    ],
    "it": [
        "Annullate la mia iscrizione al club.",
        "Disattivate il rinnovo automatico.",
        "Voglio interrompere la sottoscrizione.",
        "Vi invio la disdetta dell'abbonamento.",
        "Non voglio più pagare ogni mese, basta.",
        "Cancellate il mio piano mensile.",
        "Vorrei chiudere l'abbonamento.",
        "disdico l'abbonamento",
    ],
    "nl": [
        "Automatische verlenging uitzetten graag.",
        "Ik wil m'n abo opzeggen.",
        "Stop met elke maand afschrijven.",
        "Ik wil mijn lidmaatschap stopzetten.",
        "Graag mijn abonnement niet verlengen.",
        "Kunnen jullie mijn maandbox stopzetten?",
        "Ik zeg hierbij mijn abonnement op.",
        "abbonement opzeggen aub",
    ],
    "pt": [
        "Quero desativar a renovação automática.",
        "Não quero renovar o plano.",
        "Quero encerrar minha assinatura.",
        "Parem de me cobrar todo mês.",
        "Cancelem a minha adesão ao clube.",
        "Quero cancelar o meu plano mensal.",
        "Quero sair da assinatura.",
        "cancela minha assinatura pfv",
    ],
}

QUIET = {
    "en": [
        "Please cancel the order, not the subscription.",
        "How do I unsubscribe from your newsletter?",
        "Can I change my subscription to the bigger box?",
        "I'd like to subscribe to the monthly box.",
        "My subscription renewed yesterday, thanks for the reminder.",
        "Please cancel my order, wrong size.",
        "I had to cancel my plans, can the delivery come on Monday?",
        "Cancel this week's delivery but keep my subscription.",
    ],
    "fr": [
        "Annulez la commande, pas l'abonnement.",
        "Comment me désabonner de la newsletter ?",
        "Je veux changer la formule de mon abonnement.",
        "Mon abonnement a bien été renouvelé, merci.",
        "Je voudrais annuler ma commande d'hier.",
        "Je ne veux pas résilier mon abonnement, juste changer l'adresse.",
    ],
    "es": [
        "Quiero cancelar el pedido, no la suscripción.",
        "¿Cómo me doy de baja de la newsletter?",
        "Mi suscripción se renovó, gracias.",
        "¿Puedo cambiar el plan de mi suscripción?",
        "Quiero cancelar mi pedido.",
        "No quiero cancelar la suscripción, solo cambiar la dirección.",
    ],
    "de": [
        "Ich möchte meine Bestellung stornieren.",
        "Wie kann ich den Newsletter abbestellen?",
        "Kann ich mein Abo auf eine größere Box umstellen?",
        "Mein Abo wurde verlängert, danke.",
        "Ich will nicht kündigen, nur die Adresse im Abo ändern.",
        "Bitte die Bestellung stornieren, nicht das Abo.",
    ],
    "it": [
        "Vorrei annullare l'ordine, non l'abbonamento.",
        "Come mi cancello dalla newsletter?",
        "Posso cambiare il piano dell'abbonamento?",
        "Il mio abbonamento è stato rinnovato, grazie.",
        "Non voglio disdire l'abbonamento, solo cambiare indirizzo.",
        "Vorrei annullare l'ordine di ieri.",
    ],
    "nl": [
        "Ik wil mijn bestelling annuleren.",
        "Hoe meld ik me af voor de nieuwsbrief?",
        "Kan ik mijn abonnement omzetten naar een grotere box?",
        "Annuleer de bestelling, niet het abonnement.",
        "Mijn abonnement is verlengd, bedankt.",
        "Ik wil mijn abonnement niet opzeggen, alleen het adres wijzigen.",
    ],
    "pt": [
        "Quero cancelar a encomenda, não a assinatura.",
        "Como saio da newsletter?",
        "Posso mudar o plano da assinatura?",
        "A minha assinatura foi renovada, obrigado.",
        "Quero cancelar o meu pedido.",
        "Não quero cancelar a assinatura, só mudar a morada.",
    ],
}


@pytest.mark.parametrize("text", [t for texts in CANCELS.values() for t in texts])
def test_ending_a_subscription_plan_or_its_renewal_is_a_subscription_cancel(text):
    s = detect_signals(text)
    assert "subscription_cancel" in s and "churn_risk" in s, text


@pytest.mark.parametrize("text", [t for texts in QUIET.values() for t in texts])
def test_an_order_a_newsletter_a_change_or_a_refusal_to_cancel_is_not(text):
    assert "subscription_cancel" not in detect_signals(text), text


@pytest.mark.parametrize("text", [
    "Please turn off <b>auto</b>-renewal on my account.",
    "Please turn off auto\u200b-renewal on my account.",
    "Bitte beenden Sie meine Mitglied-\nschaft.",
    "Disattivate il rinnovo\nautomatico.",
    "Quiero anular mi membres\u00eda.".replace("a", "\u0430", 1),  # a Cyrillic а in "Quiero anular"
    "\uff24\uff4f\uff4e't renew my membership.",  # full-width "Don"
    "Ik wil m'n **abo** opzeggen.",
])
def test_the_cancellation_spelled_to_dodge_still_fires(text):
    assert "subscription_cancel" in detect_signals(text), text
