"""Legal threats in the seven languages (issue 13): legal steps, proceedings, a formal notice, a police or
consumer-authority complaint, in words the first patterns missed ("legal proceedings", "saisir la justice",
"llevar a juicio", "rechtliche Schritte", "azioni legali", "aangifte doen", "Procon"). The words that are also
ordinary shop words must stay quiet: a dish ("Gericht"), an avocado ("avocat"), a liqueur ("advocaat"), the right
shoe ("de rechter schoen"), processing a payment ("processar"), a loss report the courier files. All phrasings
written for this file (fifteenth session, helper 3)."""

from __future__ import annotations

import pytest

from pipeline.signals import detect_signals

THREATS = {
    "en": [
        "I will be taking legal steps if this isn't resolved.",
        "Expect a letter before action from me.",
        "I'm seeking legal advice about this order.",
        "I'll report you to the FTC.",
        "I'll start legal proceedings next week.",
        "I'm joining the class action against you.",
        "I've contacted Citizens Advice about my rights.",
        "my legal team has all the emails",
    ],
    "fr": [
        "Je vais saisir la justice.",
        "J'engage une procédure judiciaire contre vous.",
        "Je vais porter l'affaire devant les tribunaux.",
        "Je saisis le médiateur de la consommation.",
        "Vous recevrez une mise en demeure.",
        "Je vais déposer une plainte.",
        "Je porterai plainte demain.",
        "Mon avocat vous contactera.",
    ],
    "es": [
        "Os voy a llevar a juicio.",
        "Tomaré acciones legales.",
        "Voy a poner una denuncia.",
        "Reclamaré ante Consumo.",
        "Pediré la hoja de reclamaciones.",
        "Os mando un burofax mañana.",
        "Emprenderé medidas legales.",
        "Mi abogada ya tiene el caso.",
    ],
    "de": [
        "Ich werde rechtliche Schritte einleiten.",
        "Ich erstatte Anzeige gegen Sie.",
        "Dann gehe ich eben vor Gericht.",
        "Ich leite juristische Schritte ein.",
        "Ich wende mich an die Schlichtungsstelle.",
        "Das wird gerichtlich geklärt.",
        "Ich schalte meinen Anwalt ein.",
        "Ich zeige Sie an.",
    ],
    "it": [
        "Intraprenderò azioni legali.",
        "Mi rivolgerò al giudice di pace.",
        "Ho già sentito il mio legale.",
        "Vi mando una diffida.",
        "Vi denuncerò.",
        "Farò una denuncia ai carabinieri.",
        "Segnalerò tutto all'Antitrust.",
        "Vi porto in tribunale.",
    ],
    "nl": [
        "Ik doe aangifte tegen jullie.",
        "Ik stap naar het Juridisch Loket.",
        "U ontvangt een ingebrekestelling.",
        "Ik meld dit bij de ACM.",
        "Ik stap naar de rechter.",
        "Ik schakel een advocaat in.",
        "Mijn advocaat neemt contact op.",
        "Ik ga juridische stappen ondernemen.",
    ],
    "pt": [
        "Vou ao Procon amanhã.",
        "Vou tomar medidas legais.",
        "Vou abrir um processo contra vocês.",
        "Vou meter isto no julgado de paz.",
        "Vou processar vocês.",
        "Vou vos processar a todos.",
        "Vou avançar com uma ação judicial.",
        "O meu advogado vai tratar disto.",
    ],
}

QUIET = {
    "en": [
        "Sue from your team promised a call back.",
        "Do you have court shoes in a 38?",
        "Is this knife legal to carry in the UK?",
        "Can you process the claim for my broken mug?",
        "Does the tennis court net come with posts?",
    ],
    "fr": [
        "Les avocats sont arrivés trop mûrs.",
        "J'ai commandé un avocat bio, il manque dans le colis.",
        "Je poursuis ma commande sur l'appli.",
        "La justice de ce pays est lente, mais où est mon colis ?",
    ],
    "es": [
        "¿Hay mucha demanda de este sofá?",
        "El aguacate llegó golpeado.",
        "Quiero reclamar mi pedido, no ha llegado.",
    ],
    "de": [
        "Das Gericht aus dem Kochbuch ist lecker, aber Seite 12 fehlt.",
        "Das Gericht kam kalt an, die Box war offen.",
        "Ich kann nicht klagen, alles gut angekommen.",
        "Die Anzeige auf der Website zeigt einen anderen Preis.",
    ],
    "it": [
        "Il corriere ha fatto la denuncia di smarrimento?",
        "È legale spedire profumi in Svizzera?",
        "Il piatto è arrivato rotto.",
    ],
    "nl": [
        "De rechter schoen knelt, de linker past.",
        "Een fles advocaat kwam gebroken aan.",
        "Mijn klacht gaat over de levering.",
        "Aan de rechterkant van de doos zit een deuk.",
    ],
    "pt": [
        "Quando vão processar o meu pagamento?",
        "O pedido ainda está a processar?",
        "Podem processar a devolução hoje?",
        "O processo de devolução é simples?",
    ],
}


@pytest.mark.parametrize("text", [t for texts in THREATS.values() for t in texts])
def test_a_legal_step_named_in_any_of_the_seven_languages_is_a_legal_threat(text):
    assert "legal_threat" in detect_signals(text), text


@pytest.mark.parametrize("text", [t for texts in QUIET.values() for t in texts])
def test_a_dish_an_avocado_the_right_shoe_or_a_payment_processed_is_not(text):
    assert "legal_threat" not in detect_signals(text), text


@pytest.mark.parametrize("text", [
    "I'll start l\u0435gal proc\u0435edings next week.",  # Cyrillic е
    "Ich werde <b>rechtliche</b> Schritte einleiten.",
    "Ich werde recht-\nliche Schritte einleiten.",
    "Vou ao P\u200broc\u200bon amanh\u00e3.",
    "\uff34omar\u00e9 acciones legales.",  # full-width T
    "Je vais saisir\nla justice.",
])
def test_the_threat_spelled_to_dodge_still_fires(text):
    assert "legal_threat" in detect_signals(text), text


# Sixteenth session, helper 2: a legal step the customer says they will not take, or a lawyer friend's opinion, is
# no threat; the same words without the negation, or a threat beside it, still are.
NOT_THREATS = [
    "I'm not going to sue you lol, I just want my parcel",
    "Haha no, I won't sue you, just send the right size",
    "Don't worry, I'm never going to take you to court over a mug",
    "my lawyer friend says you have to refund me within 14 days, is that right?",
    "Je ne vais pas vous poursuivre, je veux juste mon colis.",
    "No os voy a demandar, tranquilos, solo quiero el paquete.",
    "Ich werde Sie nicht verklagen, keine Sorge, ich will nur mein Paket.",
    "Non vi farò causa, tranquilli, voglio solo il pacco.",
    "Ik ga jullie niet aanklagen hoor, ik wil gewoon mijn pakket.",
    "Não vos vou processar, calma, só quero a encomenda.",
    "I'm nοt gοing tο sue yοu lol",  # Greek omicrons: folded before matching
    "I'm <b>not</b> going to sue you, relax",
]
STILL_THREATS = [
    "I won't sue, but my lawyer will call you tomorrow.",
    "If you don't reply today I'll sue you.",
    "Do not make me sue you.",
    "Not only will I sue you, I'll post everything online.",
    "I'm not going to wait any longer, I will sue you.",
    "My lawyer friend is drafting the letter, my lawyer will send it Monday.",
    "Os voy a demandar.",
    "Ich werde Sie verklagen.",
    "Vi farò causa.",
    "Ik ga jullie aanklagen.",
    "Vou processar vocês.",
    "Je ne vais pas attendre, mon avocat vous contactera.",
]


@pytest.mark.parametrize("text", NOT_THREATS)
def test_a_legal_step_ruled_out_or_a_lawyer_friend_is_no_threat(text):
    assert "legal_threat" not in detect_signals(text)


@pytest.mark.parametrize("text", STILL_THREATS)
def test_the_negation_does_not_hide_a_threat_beside_it(text):
    assert "legal_threat" in detect_signals(text)
