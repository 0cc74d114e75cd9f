"""Look-alike letters folded before triage and retrieval (pipeline.lookalikes), never in what is written back.

The attacks: Cyrillic/Greek letters that look Latin in EN/FR/DE/ES words, full-width forms,
mathematical alphanumerics, zero-width characters inside words, stray combining marks, all of it
inside markup. What must not move: accents of the supported languages, a genuinely Russian or
Greek message, the customer's own text in the draft and the decision.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from pipeline.lookalikes import fold_lookalikes, lookalike_table

ROOT = Path(__file__).resolve().parents[2]

CYR_E = "\u0435"  # Cyrillic small ie, drawn like Latin e

# (attack, what the models must read)
ATTACKS = [
    # Cyrillic look-alikes in the four languages
    ("thе rеsеt еmail nеvеr arrivеs", "the reset email never arrives"),
    ("Оù еst ma соmmandе ? Jе l'attеnds dеpuis dеux sеmainеs", "Où est ma commande ? Je l'attends depuis deux semaines"),
    ("Wо ist mеinе Bеstеllung? Ich möchtе еinе Rückеrstattung", "Wo ist meine Bestellung? Ich möchte eine Rückerstattung"),
    ("¿Dónde еstá mi реdidо? Quiеrо un rееmbоlsо", "¿Dónde está mi pedido? Quiero un reembolso"),
    ("I will file a сhаrgеbасk", "I will file a chargeback"),
    # whole words made of look-alikes only, in an otherwise Latin message
    ("my раrсеl is lаtе, whеrе is it", "my parcel is late, where is it"),
    ("I want my money back, рау mе", "I want my money back, pay me"),
    ("Привет, my раrсеl is lаtе", "Привет, my parcel is late"),  # a greeting in Russian does not shield them
    # Greek look-alikes (capital and small), and the common ones outside Unicode's strict list
    ("Ρlеasе cancеl my οrdеr", "Please cancel my order"),
    ("I want a rεfund, this is a scαm", "I want a refund, this is a scam"),
    ("I nееd to tаlk to а mаnаgеr, my lаwуеr is rеаdу", "I need to talk to a manager, my lawyer is ready"),
    ("Mу ассоunt is lосkеd аnd thе соdе nеvеr соmеs", "My account is locked and the code never comes"),
    # full-width forms and mathematical alphanumerics (NFKC)
    ("Ｗｈｅｒｅ ｉｓ ｍｙ ｏｒｄｅｒ？", "Where is my order?"),
    ("𝐈 𝐰𝐚𝐧𝐭 𝐚 𝐫𝐞𝐟𝐮𝐧𝐝", "I want a refund"),
    ("𝓌𝒽𝑒𝓇𝑒 𝒾𝓈 𝓂𝓎 𝓅𝒶𝓇𝒸𝑒𝓁", "where is my parcel"),
    ("𝚛𝚎𝚏𝚞𝚗𝚍 𝚙𝚕𝚎𝚊𝚜𝚎", "refund please"),
    # zero-width and other invisible characters inside words
    ("re\u200dfund my or\u200bder", "refund my order"),
    ("can\u2060cel my sub\u00adscrip\ufefftion", "cancel my subscription"),
    ("charge\u200cback\U000e0041", "chargeback"),
    # combining marks that compose with nothing in these languages (underline, strike, "zalgo")
    ("r\u0332e\u0332f\u0332u\u0332n\u0332d\u0332", "refund"),
    ("c\u0336a\u0336n\u0336c\u0336e\u0336l\u0336", "cancel"),
    ("wh\u0334\u0315e\u0337r\u0338e\u0360 is my order", "where is my order"),
    # decomposed accents are composed, not dropped
    ("Ou\u0300 est ma commande ? Je l'atte\u0301nds", "Où est ma commande ? Je l'atténds"),
    ("Rüсkеrstattung", "Rückerstattung"),
    ("rе\u0301sеrvation annulе\u0301е", "réservation annulée"),  # Cyrillic е + combining acute
    ("\u0450tait", "ètait"),  # precomposed Cyrillic ie with grave: its base letter is the look-alike
    # mixed with markup
    ("<p><b>rеfund</b> <i>plеаsе</i></p>", "<p><b>refund</b> <i>please</i></p>"),
    ("dis<b>рutе</b> with my bаnk", "dis<b>pute</b> with my bank"),
]

UNTOUCHED = [
    "Где мой заказ? Я жду уже две недели, а трек-номер не обновляется.",
    "Здравствуйте! Хочу вернуть товар и получить деньги обратно. Номер заказа 4412.",
    "Πού είναι η παραγγελία μου; Περιμένω δύο εβδομάδες.",
    "Το iPhone μου δεν ανάβει και θέλω επιστροφή χρημάτων.",
    "Мой iPhone не включается, хочу вернуть деньги.",
    "Мой заказ iPhone Pro Max case не пришёл",  # English product names: still a Russian message
    "Hello, I bought «Война и мир» and «Анна Каренина» as a gift, the cover is torn",
    "Où est ma commande ? Je l'attends depuis deux semaines, c'est énervant.",
    "Wo ist meine Bestellung? Ich möchte eine Rückerstattung, das ist ärgerlich.",
    "¿Dónde está mi pedido? Quiero un reembolso, ¡qué vergüenza!",
    "Dov'è il mio ordine? Perché è così lento?",
    "Waar is mijn bestelling? Ik wacht al een week.",
    "Onde está a minha encomenda? Não chegou ainda, é lamentável.",
    "Straße, Œuvre, façade, naïve, São Paulo, Ærø",
    "where is my order 😀👍 ❤️ 👨‍👩‍👧",
]


@pytest.mark.parametrize("attack,reads", ATTACKS)
def test_lookalikes_are_read_as_latin(attack, reads):
    assert fold_lookalikes(attack) == reads


@pytest.mark.parametrize("text", UNTOUCHED)
def test_genuine_text_stays_as_it_is(text):
    folded = fold_lookalikes(text)
    # Emoji sequences lose their invisible joiners at most; every letter stays.
    assert folded == text or folded == text.replace("\u200d", "").replace("\ufe0f", "")


def test_plain_ascii_is_returned_as_is_and_folding_twice_changes_nothing():
    text = "Where is my order #4412?"
    assert fold_lookalikes(text) is text
    assert fold_lookalikes("") == "" and fold_lookalikes(None) == ""
    for _attack, reads in ATTACKS:
        assert fold_lookalikes(reads) == reads


def test_a_look_alike_word_inside_a_russian_or_greek_message_is_not_latinised():
    # Cyrillic words spelled only with look-alike letters ("а", "осе"): Russian text around them.
    ru = "Я купила сумку, а она порвалась. Верните деньги, пожалуйста."
    assert fold_lookalikes(ru) == ru
    el = "Το κουτί ήρθε σπασμένο και το προϊόν δεν δουλεύει."
    assert fold_lookalikes(el) == el


def test_the_table_maps_letters_of_other_scripts_to_ascii_letters_only():
    table = lookalike_table()
    assert len(table) > 150
    for src, dst in table.items():
        assert len(src) == 1 and not src.isascii() and unicodedata.category(src).startswith("L"), src
        assert len(dst) == 1 and dst.isascii() and dst.isalpha(), (src, dst)
        assert unicodedata.normalize("NFKC", src) == src, src  # NFKC's own forms are folded by NFKC
    # letters of the supported languages are never look-alikes
    for c in "àâäæçéèêëîïôœùûüÿñáíóúßìòãõÀÉÖÜÑ":
        assert c not in table
    assert table[CYR_E] == "e" and table["\u0456"] == "i" and table["\u0399"] == "I"


def test_a_100k_character_message_is_folded_whole():
    unit = "thе rеsеt\u200b еmаil n\u0332еvеr 𝐚𝐫𝐫𝐢𝐯𝐞𝐬 Где мой заказ "
    big = unit * (100_000 // len(unit) + 1)
    out = fold_lookalikes(big)
    assert out.count("the reset email never arrives") == big.count(unit)
    assert out.count("Где мой заказ") == big.count(unit)
    assert len(out) <= len(big)


# ---------------------------------------------------------------- where customer text enters triage


@pytest.fixture(scope="module")
def cfg():
    from pipeline.config import load_config

    return load_config(ROOT / "config")


@pytest.mark.parametrize("latin", [
    "the reset email never arrives",
    "Où est ma commande ? Je l'attends depuis deux semaines",
    "I want a refund for my broken blender",
])
def test_triage_reads_the_lookalike_spelling_like_the_latin_one(cfg, latin):
    from pipeline.classify import classify

    spoofed = latin.replace("e", CYR_E).replace("o", "\u043e").replace("a", "\u0430")
    assert spoofed != latin
    a, b = classify(latin, None, cfg), classify(spoofed, None, cfg)
    assert (b.intent, b.language, b.sentiment, b.signals) == (a.intent, a.language, a.sentiment, a.signals)
    assert b.confidence == pytest.approx(a.confidence, abs=1e-3)


@pytest.mark.parametrize("text,signal", [
    ("I will file a сhаrgеbасk with my bank", "chargeback"),
    ("I am disputing the сhаrgе with my bank", "chargeback"),
    ("my lаwуеr will hear about this", "legal_threat"),
    ("je vais contacter mon аvосаt", "legal_threat"),
    ("ich schalte meinen Аnwаlt ein", "legal_threat"),
    ("voy a llamar a mi аbоgаdо", "legal_threat"),
    ("I want to talk to a 𝐡𝐮𝐦𝐚𝐧", "asks_for_human"),
    ("cancel my sub\u200bscrip\u200btion", "subscription_cancel"),
])
def test_keyword_signals_fire_through_lookalikes(cfg, text, signal):
    from pipeline.classify import classify

    assert signal in classify(text, None, cfg).signals


def test_every_triage_encoder_reads_the_folded_text():
    import numpy as np

    from pipeline import local_classifier as lc

    plain, spoofed = ["I want a refund, the parcel never came"], ["I wаnt а rеfund, thе раrсеl nеvеr cаmе"]
    for embed in (lc.embed_texts, lc.embed_multilingual, lc.embed_english, lc.embed_sentiment):
        np.testing.assert_allclose(embed(spoofed), embed(plain))


def test_language_and_sentiment_read_the_folded_text():
    from pipeline.langid import language_guess
    from pipeline.signals import detect_language

    fr = "Оù еst ma соmmandе ? Jе l'attеnds dеpuis dеux sеmainеs"
    assert detect_language(fr) == "fr" and language_guess(fr)[0] == "fr"


def test_the_draft_finds_the_reset_email_passage_for_the_cyrillic_message(cfg, demo_env):  # noqa: F811
    from pipeline.flow import Capabilities, decide_message
    from pipeline.models import CUSTOMER, Message, Person, Ticket
    from tests.knowledge.kbfixtures import env_kb

    text = "thе rеsеt еmail nеvеr arrivеs, order #4412"
    ticket = Ticket(platform="zendesk", id="7", subject="", requester=Person(name="Dana Customer"),
                    messages=[Message(id="m1", author_role=CUSTOMER, body_text=text)])
    d = decide_message(ticket, "m1", cfg, "zendesk", Capabilities(kb=env_kb()))
    assert d.triage.intent == "account_access"
    assert d.sources and d.sources[0].id == "reset-password"
    assert "check your spam, junk and promotions folders" in d.draft.text
    assert d.text == text  # the decision keeps the customer's own characters
    assert "#4412" in d.draft.text


from tests.knowledge.kbfixtures import demo_env  # noqa: E402,F401
