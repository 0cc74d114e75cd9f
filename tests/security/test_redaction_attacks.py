"""Attacks on the redaction of past tickets and learned examples (review of 2026-12-01).

Each case is personal data the redaction claimed to remove and kept (part of) before this review:

* names the capitalised rules cut in two: a title with its full stop after a greeting ("Dear Ms.
  Smith" redacted "Ms" and kept "Smith"), a name with a capital inside ("McDonald" → "[name]Donald",
  "O'Brien" → "[name]Brien", "DeShawn" kept whole since "De" is a Dutch article), a hyphenated first
  name ("Jean-Luc" → "[name]Luc");
* e-mail addresses written so that a filter does not see them ("john at gmail dot com",
  "john (at) gmail (dot) com", "john @ gmail.com");
* phone numbers written in pairs with dots, dashes or slashes (the French way: "06.12.34.56.78"),
  where the date rule took the first three pairs and the last four digits stayed.

The redaction runs before a past ticket is embedded or stored and before another customer's text
enters a prompt (``strict_names``), so every case is checked in that mode and the plain one.
"""

from __future__ import annotations

import re

import pytest

from knowledge.redact import deidentify, redact
from knowledge.tickets import document_from_ticket
from pipeline.models import AGENT, CUSTOMER, Message, Ticket


def _kept(secret: str, out: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(secret)}(?!\w)", out, re.I) is not None


NAMES = [
    ("Dear Ms. Smith, thank you for your patience.", ["Smith"]),
    ("Dear Mrs. O'Brien, your parcel is on its way.", ["Brien", "O'Brien"]),
    ("Hi Mr. McDonald, we have sent a new one.", ["McDonald", "Donald"]),
    ("I spoke to Mr McDonald yesterday about it.", ["McDonald", "Donald"]),
    ("Thank you Dr. Okafor for the photos.", ["Okafor"]),
    ("Bonjour Mme. Lefèvre, merci pour votre message.", ["Lefèvre"]),
    ("Hola Sra. Ibarrola, gracias por escribirnos.", ["Ibarrola"]),
    ("Hi Jean-Luc, thanks for the photos.", ["Luc", "Jean-Luc"]),
    ("Bonjour Marie-Claire, le colis est parti.", ["Claire", "Marie-Claire"]),
    ("Marie-Claire Dubois wrote to us yesterday.", ["Claire", "Dubois"]),
    ("Hi MacKenzie, sorry about the delay.", ["Kenzie", "MacKenzie"]),
    ("Thanks,\nD'Angelo", ["Angelo", "D'Angelo"]),
    ("I gave the parcel to DeShawn yesterday.", ["DeShawn", "Shawn"]),
    ("The courier left it with LeBron next door.", ["LeBron", "Bron"]),
    ("Dear O'Neill family, the refund is done.", ["Neill", "O'Neill"]),
]


@pytest.mark.parametrize("text,secrets", NAMES)
@pytest.mark.parametrize("strict", [False, True])
def test_a_name_is_never_cut_in_two(text, secrets, strict):
    out = redact(text, strict_names=strict)
    assert not [s for s in secrets if _kept(s, out)], out
    assert "[name]" in out


EMAILS = [
    "write to john at gmail dot com please",
    "write to john (at) gmail (dot) com please",
    "write to john [at] gmail [dot] com please",
    "write to john{at}gmail{dot}com please",
    "write to john AT gmail DOT com please",
    "write to john.smith @ gmail.com please",
    "write to john_smith at gmail.com please",
    "write to john at gmail.com please",
    "write to john.smith at hotmail dot co dot uk please",
    "écrivez à jean point dupont arobase orange point fr",
    "escríbeme a carlos arroba gmail punto com",
]


@pytest.mark.parametrize("text", EMAILS)
def test_an_obfuscated_email_is_redacted(text):
    out = redact(text, strict_names=True)
    assert "[email]" in out, out
    assert not re.search(r"(?i)gmail|hotmail|orange|john|jean|carlos|dupont", out), out


PHONES = [
    ("call me on 06.12.34.56.78 tonight", "56"),
    ("tel: 06-12-34-56-78", "56"),
    ("tél 06/12/34/56/78", "56"),
    ("appelez le 01.45.67.89.10", "89"),
]


@pytest.mark.parametrize("text,tail", PHONES)
def test_a_phone_in_pairs_is_not_half_a_date(text, tail):
    assert tail in text
    out = redact(text)
    assert not re.search(r"\d", out) and "[date]" not in out, out


@pytest.mark.parametrize("text", [
    "born on 14.03.1985, order late",
    "delivered 03/11/2026 at noon",
    "on 2026-11-03 the parcel came",
])
def test_dates_stay_dates(text):
    out = redact(text)
    assert "[date]" in out and not re.search(r"\d", out.replace("[date]", "")), out


# What must survive: the same rules on text that holds no personal data (false positives cost the
# past ticket its meaning, and the learned examples their intent).
@pytest.mark.parametrize("text", [
    "I paid with PayPal and the refund went to my Visa card.",
    "We are sorry, the item is out of stock until next week.",
    "Our Click and Collect desk opens at 9. I'm sorry about that.",
    "The parcel is at the depot, we will send it on Monday.",
    "I ordered at the shop and paid at the till.",
    "We'll be in touch at the end of the week.",
    "the package arrived at 10.30 am, thanks",
    "Dear customer, thanks for your message.",
])
def test_ordinary_text_is_kept(text):
    assert redact(text, strict_names=True) == text


def test_the_past_ticket_document_and_its_guidance_keep_none_of_it():
    customer = ("Hello, please reach me at priya dot sharma at gmail dot com or on 06.12.34.56.78. "
                "Mr. McDonald next door can sign.")
    answer = "Dear Ms. Sharma-Whitfield, we will ask the carrier. Kind regards, Jean-Luc"
    t = Ticket(platform="zendesk", id="7", subject="Lost parcel",
               messages=[Message(id="1", author_role=CUSTOMER, body_text=customer),
                         Message(id="2", author_role=AGENT, body_text=answer)])
    doc = document_from_ticket(t)
    assert doc is not None
    for secret in ("gmail", "priya", "sharma", "56.78", "Donald", "McDonald", "Whitfield", "Luc"):
        assert not _kept(secret, doc.text), (secret, doc.text)
        assert not _kept(secret, deidentify(answer)), (secret, deidentify(answer))


# Lower-case names after a relationship word or a greeting's "I'm": "my neighbour priya" and "hi, I'm
# priya" were kept whole (the cue rules wanted a capital, the self-introduction rule had no "I'm").
LOWER_CASE = [
    ("my neighbour priya took the parcel in", "priya"),
    ("please ask my husband raj to sign for it", "raj"),
    ("my wife anna will pick it up on friday", "anna"),
    ("my neighbour, priya, has it", "priya"),
    ("I left it with my neighbour (priya sharma) next door", "sharma"),
    ("mon voisin pierre a reçu le colis", "pierre"),
    ("ma femme sophie viendra le chercher", "sophie"),
    ("mi hermana lucía lo recogerá", "lucía"),
    ("meine frau petra holt es ab", "petra"),
    ("mia moglie chiara lo ritira", "chiara"),
    ("mijn vrouw els haalt het op", "els"),
    ("a minha mulher ana vai buscar", "ana"),
    ("hi, I'm priya and my order is late", "priya"),
    ("Hello, I am priya sharma, order late", "sharma"),
    ("hi im carlos, where is my parcel", "carlos"),
    ("Bonjour, je suis marie et ma commande est en retard", "marie"),
    ("Hallo, ich bin anna und mein Paket fehlt", "anna"),
]


@pytest.mark.parametrize("text,secret", LOWER_CASE)
def test_a_lower_case_name_after_a_relationship_word_or_a_greeting_is_redacted(text, secret):
    out = redact(text, strict_names=True)
    assert not _kept(secret, out) and "[name]" in out, out


# The same cues before a verb or an ordinary word: kept (learned examples keep their intent).
@pytest.mark.parametrize("text", [
    "my husband took the parcel in",
    "my wife has the card",
    "my son wants to open an account",
    "my friend sent me money but it has not arrived",
    "can my daughter use my card?",
    "my partner and I share the account",
    "my neighbour received it instead",
    "my friend's card was declined",
    "mon voisin a reçu le colis",
    "mon voisin l'a pris",
    "mi hermano no puede entrar en su cuenta",
    "meine frau hat das paket",
    "hi, I'm waiting for my refund",
    "hi, I'm still waiting for my refund",
    "Hello, I am unable to log in",
    "hi I'm having trouble with my card",
    "hi, I'm not sure what happened",
    "Hi, I'm a new customer",
    "Hi, I'm trying to pay",
    "Hello, I'm interested in the blue one",
    "Bonjour, je suis très déçu",
    "Bonjour, je suis cliente depuis 2019",
    "Hallo, ich bin sehr enttäuscht",
    "hi, I'm sorry to bother you",
    "hi, I'm locked out of my account",
])
def test_a_verb_or_an_ordinary_word_after_the_cue_is_kept(text):
    assert redact(text, strict_names=True) == text


def test_a_customer_calling_themself_a_customer_keeps_the_word():
    # "hola, soy cliente desde hace años" was "soy [name] hace años" (two words gone, no name there).
    assert redact("hola, soy cliente desde hace años", strict_names=True) == "hola, soy cliente desde hace años"
    assert redact("hola, soy carlos, mi pedido no llegó", strict_names=True) == "hola, soy [name], mi pedido no llegó"


# A lower-case name right after a greeting, ending the greeting ("hi priya,", "hey tom!"): agents' and
# customers' salutations; kept whole before (the greeting cue wanted a capital).
@pytest.mark.parametrize("text,secret", [
    ("hi priya, we have refunded your order", "priya"),
    ("hey tom! the parcel is here", "tom"),
    ("Hello maria lopez,\nyour parcel left today", "lopez"),
    ("dear ahmed, thanks for waiting", "ahmed"),
    ("bonjour julie, le colis est parti", "julie"),
    ("hola carlos, ya está enviado", "carlos"),
    ("hallo anna, das Paket ist unterwegs", "anna"),
])
def test_a_lower_case_name_after_a_greeting_is_redacted(text, secret):
    out = redact(text, strict_names=True)
    assert not _kept(secret, out) and "[name]" in out, out


@pytest.mark.parametrize("text", [
    "hi there, my card is blocked",
    "hello team, my card is blocked",
    "hey guys! where is my order",
    "hi all, quick question",
    "hello again, still no parcel",
    "Dear sir, my order is late",
    "hello support, my card is blocked",
    "hola buenas, mi pedido no llega",
    "bonjour madame, ma commande",
    "hallo zusammen, mein Paket",
    "good morning, my order is late",
    "hi, my order is late",
])
def test_a_greeting_to_everyone_is_kept(text):
    assert redact(text, strict_names=True) == text


# Card numbers and IBANs with separators a phone keyboard, a PDF or a spreadsheet puts between the
# groups: dashes other than "-" (en/em dash, U+2010 hyphen, minus sign), underscores, middle dots,
# commas, dots, double spaces. The digit rules read "-" and " " only: the whole number, or all but the
# last groups, was kept.
_SEPARATORS = ["\u2014", "\u2013", "\u2010", "\u2011", "\u2012", "\u2212", "_", "\u00b7", ",", ".", "  "]


@pytest.mark.parametrize("sep", _SEPARATORS)
def test_a_card_number_with_any_separator_is_redacted(sep):
    out = redact(f"my card is {sep.join(['4111', '1111', '1111', '1111'])} thanks", strict_names=True)
    assert not re.search(r"\d", out), out


@pytest.mark.parametrize("sep", _SEPARATORS)
def test_an_iban_with_any_separator_is_redacted(sep):
    out = redact(f"iban DE89{sep}3704{sep}0044{sep}0532{sep}0130{sep}00 ok", strict_names=True)
    assert not re.search(r"\d", out), out


@pytest.mark.parametrize("text", [
    "pages 10–12 of the manual",
    "open 9–17 every day",
    "it costs 1,250 euros",
])
def test_short_ranges_and_amounts_stay(text):
    assert redact(text) == text


# Passwords written into a ticket ("my password is Tr0ub4dor&3", "mot de passe : azerty123") were
# stored as written.
@pytest.mark.parametrize("text,secret", [
    ("my password is Tr0ub4dor&3 and it fails", "Tr0ub4dor&3"),
    ("password: hunter2", "hunter2"),
    ("login pwd=S3cret!x", "S3cret!x"),
    ("mon mot de passe est azerty123", "azerty123"),
    ("mi contraseña es Gato_2024", "Gato_2024"),
    ("mein Passwort ist Sommer2024!", "Sommer2024!"),
    ("wachtwoord: Fiets#88", "Fiets#88"),
    ("a minha senha é abc12345", "abc12345"),
])
def test_a_password_in_a_ticket_is_redacted(text, secret):
    out = redact(text, strict_names=True)
    assert secret not in out and "[password]" in out, out


@pytest.mark.parametrize("text", [
    "my password is not working",
    "I forgot my password, please help",
    "the password reset email never came",
    "mon mot de passe est incorrect",
])
def test_talk_about_a_password_stays(text):
    assert redact(text, strict_names=True) == text


# Postal details typed in lower case or as a box number: "sw1a 1aa" (the postcode rule wanted capitals),
# "po box 1234", "Postfach 4711" (four digits or fewer: no number rule took them).
@pytest.mark.parametrize("text,secret", [
    ("my postcode is sw1a 1aa thanks", "1aa"),
    ("send it to nw1 6xe please", "6xe"),
    ("ship to po box 1234", "1234"),
    ("P.O. Box 987, Springfield", "987"),
    ("Postfach 4711, Berlin", "4711"),
    ("ma boîte postale 123", "123"),
    ("apartado de correos 456", "456"),
    ("postbus 789 in Utrecht", "789"),
    ("caixa postal 321", "321"),
])
def test_a_lower_case_postcode_or_a_box_number_is_redacted(text, secret):
    out = redact(text, strict_names=True)
    assert not _kept(secret, out), out


@pytest.mark.parametrize("text", [
    "it arrived in 2 days",
    "I bought the a4 paper and an mp3 player",
    "box 2 of 3 is missing",
    "the xbox one controller",
])
def test_ordinary_words_with_digits_stay(text):
    assert redact(text, strict_names=True) == text


@pytest.mark.parametrize("tail,secret", [
    ("write to priya.sharma@gmail.com", "priya.sharma"),
    ("card 4111 1111 1111 1111", "4111"),
    ("IBAN DE89 3704 0044 0532 0130 00", "3704"),
])
def test_a_long_message_is_redacted_before_it_is_cut(tail, secret):
    # The question and answer are cut to their length limits: cut first, an address or a number
    # split by the cut no longer matched its rule ("priya.sharma@gm" has no domain).
    from knowledge.tickets import MAX_ANSWER, MAX_QUESTION

    for limit, role in ((MAX_QUESTION, CUSTOMER), (MAX_ANSWER, AGENT)):
        body = ("a " * limit)[:limit - len(tail) + 4] + tail  # the limit cuts the tail's last 4 characters
        msgs = [Message(id="1", author_role=CUSTOMER, body_text=body if role == CUSTOMER else "where is it?"),
                Message(id="2", author_role=AGENT, body_text=body if role == AGENT else "on its way")]
        doc = document_from_ticket(Ticket(platform="zendesk", id="8", subject="x", messages=msgs))
        assert doc is not None and secret not in doc.text, doc.text[-120:]


@pytest.mark.parametrize("text", [
    "mail john@gmail dot com",
    "mail john@gmail . com",
    "mail john@gmail,com",
    "mail john@gmail com",
    "mail john at gmail . com",
])
def test_an_address_with_a_broken_domain_is_redacted(text):
    out = redact(text, strict_names=True)
    assert "john" not in out and "gmail" not in out, out


@pytest.mark.parametrize("text", ["look at me . Please help", "look at me.Please help", "sent at mail. Thanks"])
def test_at_and_a_dot_in_a_sentence_are_no_address(text):
    assert redact(text, strict_names=True) == text


# A bare self-introduction opening a line or a sentence, the name closed by punctuation: "I'm priya,
# ...", "soy carlos." (no greeting before it, so the greeting rule above did not apply).
@pytest.mark.parametrize("text,secret", [
    ("I'm priya, my order 123 is late", "priya"),
    ("order late. im carlos garcia, please help", "garcia"),
    ("soy carlos, mi pedido no llegó", "carlos"),
    ("Je suis marie. Ma commande est en retard", "marie"),
    ("ich bin anna, mein Paket fehlt", "anna"),
    ("sono giulia, il pacco non è arrivato", "giulia"),
    ("ik ben piet, mijn pakket is zoek", "piet"),
    ("sou joão, a minha encomenda não chegou", "joão"),
])
def test_a_bare_self_introduction_is_redacted(text, secret):
    out = redact(text, strict_names=True)
    assert not _kept(secret, out) and "[name]" in out, out


@pytest.mark.parametrize("text", [
    "I'm sorry, the parcel never came",
    "I'm confused, where is it?",
    "I'm back, any news?",
    "I'm waiting. Any news?",
    "I'm new, how does it work?",
    "I'm here, at the door.",
    "soy cliente, ¿dónde está mi pedido?",
    "Je suis désolé, je me suis trompé",
    "ich bin enttäuscht, wo ist es?",
    "I'm stuck.",
])
def test_a_bare_i_am_before_a_state_is_kept(text):
    assert redact(text, strict_names=True) == text
