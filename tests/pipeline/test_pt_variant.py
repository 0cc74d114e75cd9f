"""Brazilian or European Portuguese wording in template drafts (pipeline.pt_variant, drafting.yaml's pt-BR lines).

Language identification says "pt" for both; the draft's wording follows the operator's setting, the
requester's locale (Zendesk's side-loaded user) and the customer's words, European when nothing tells.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from pipeline.config import ConfigError, load_config
from pipeline.flow import Capabilities, decide_message
from pipeline.models import CUSTOMER, Message, Person, Source, Ticket
from pipeline.pt_variant import BR, PT, locale_variant, portuguese_variant, variant_scores
from tests.fakes.knowledge import FakeKB

ROOT = Path(__file__).resolve().parents[2]
DRAFTING = yaml.safe_load((ROOT / "config" / "drafting.yaml").read_text(encoding="utf-8"))

SHIPPING = Source(id="kb-shipping", title="Shipping times", text="Orders ship within 2 working days. Tracking can "
                  "take up to 24 hours to show the first scan.", score=0.8)


@pytest.mark.parametrize("text", [
    "Oi, meu pedido ainda não chegou, vocês podem me dizer quando chega?",
    "Estou esperando a entrega faz duas semanas.",
    "Troquei de celular e não consigo acessar o aplicativo.",
    "Paguei o boleto e o pedido continua aguardando pagamento.",
    "Me enviaram o tamanho errado do tênis.",
    "Qual é o prazo do frete para o meu CEP?",
    "Você pode cancelar a compra? Fiz o cadastro com o e-mail errado.",
    # Written without accents, in capitals, with a Cyrillic о or an invisible character: the same markers.
    "voce pode me ajudar? o cupom nao funciona",
    "ESTOU ESPERANDO O ESTORNO NO CARTÃO",
    "Troquei de cel\u200bular e n\u00e3o recebo o c\u00f3digo",
    "V\u043ec\u00ea pode verificar o meu pedido?",
])
def test_brazilian_messages_get_brazilian_wording(text):
    assert portuguese_variant(text) == BR, variant_scores(text)


@pytest.mark.parametrize("text", [
    "Olá, a minha encomenda ainda não chegou, podem dizer-me quando chega?",
    "Estou a aguardar a entrega há duas semanas.",
    "Mudei de telemóvel e não consigo aceder à aplicação.",
    "Paguei por Multibanco e a encomenda continua a aguardar pagamento.",
    "Enviaram-me o tamanho errado das sapatilhas.",
    "Quanto custam os portes para a minha morada?",
    "Gostaria de contactar a vossa equipa sobre a fatura com NIF.",
    "ESTOU A ESPERAR O REEMBOLSO",
    "O utiliz\u0430dor e a p\u0430lavra-passe não funcionam",  # Cyrillic а inside the markers: read folded
])
def test_european_messages_get_european_wording(text):
    assert portuguese_variant(text) == PT, variant_scores(text)


@pytest.mark.parametrize("text", [
    "Olá, quando chega a entrega?",
    "Comprei o iPhone 15 Pro e veio riscado.",  # "pro" is no Brazilian "para o" here
    "Trata-se de um erro na fatura.",  # "-se" after a verb: both write it
    "Quero um reembolso, obrigado.",  # words both write
    "",
])
def test_messages_that_tell_nothing_get_the_default(text):
    assert variant_scores(text)[0] == variant_scores(text)[1]
    assert portuguese_variant(text) == PT
    assert portuguese_variant(text, default=BR) == BR


def test_the_heavier_side_wins_a_mixed_message():
    # "pedido" (weak, Brazil) against "estou a aguardar" and "telemóvel" (strong, Portugal).
    assert portuguese_variant("O meu pedido? Estou a aguardar a mensagem no telemóvel.") == PT
    # "encomenda" (weak, Portugal: Brazil's parcel too) against "estou esperando" (strong, Brazil).
    assert portuguese_variant("Estou esperando a encomenda chegar.") == BR


@pytest.mark.parametrize("locale, want", [
    ("pt-BR", BR), ("pt_BR", BR), ("PT-br", BR), ("pt-PT", PT), ("pt_pt", PT),
    ("pt", None), ("en-US", None), ("es-BR", None), ("pt-BR-x", None), ("", None), (None, None),
])
def test_locale_variant(locale, want):
    assert locale_variant(locale) == want


def test_a_regional_locale_wins_and_the_operators_setting_wins_over_it():
    european = "Estou a aguardar a minha encomenda."
    assert portuguese_variant(european, locale="pt-BR") == BR
    assert portuguese_variant(european, locale="pt") == PT  # a bare "pt" says nothing: the words decide
    assert portuguese_variant(european, locale="en-US") == PT
    assert portuguese_variant(european, locale="pt-PT", setting=BR) == BR
    assert portuguese_variant("Estou esperando meu pedido.", setting=PT) == PT


# ---------------------------------------------------------------- drafts end to end


def _draft(text: str, cfg, locale: str | None = None):
    t = Ticket(platform="zendesk", id="7", requester=Person(name="Ana Souza", locale=locale),
               messages=[Message(id="m1", author_role=CUSTOMER, body_text=text)])
    d = decide_message(t, "m1", cfg, "zendesk", Capabilities(kb=FakeKB([SHIPPING])))
    assert d.triage.language == "pt" and d.draft is not None and d.draft.kind == "template"
    return d


@pytest.fixture(scope="module")
def cfg():
    return load_config(ROOT / "config")


BRAZILIAN = "Oi, meu pedido 7730 ainda não chegou. Estou esperando faz dez dias, vocês podem me dizer onde está?"
EUROPEAN = "Olá, a minha encomenda 7730 ainda não chegou. Estou a aguardar há dez dias, podem dizer-me onde está?"


def test_a_brazilian_customer_gets_a_brazilian_draft(cfg):
    d = _draft(BRAZILIAN, cfg)
    lines = d.draft.text.splitlines()
    assert lines[0] == "Olá, Ana,"  # the same in both: the pt line serves
    assert "Sobre o seu pedido #7730:" in lines
    assert DRAFTING["intro"][d.triage.intent]["pt-BR"] in lines
    assert "(Trecho da nossa central de ajuda, em inglês.)" in lines
    assert lines[-2:] == ["Atenciosamente,", "A equipe Demo Store"]
    assert not any(w in d.draft.text for w in ("encomenda", "equipa", "cumprimentos", "Eis "))
    assert d.draft.language == "pt"


def test_a_european_customer_gets_a_european_draft(cfg):
    d = _draft(EUROPEAN, cfg)
    lines = d.draft.text.splitlines()
    assert "Sobre a sua encomenda #7730:" in lines
    assert DRAFTING["intro"][d.triage.intent]["pt"] in lines
    assert lines[-2:] == ["Com os melhores cumprimentos,", "A equipa Demo Store"]
    assert not any(w in d.draft.text for w in ("pedido #", "equipe", "Atenciosamente", "Veja "))


def test_the_requesters_locale_decides_before_the_words(cfg):
    d = _draft(EUROPEAN, cfg, locale="pt-BR")
    assert d.draft.text.splitlines()[-2:] == ["Atenciosamente,", "A equipe Demo Store"]


def test_brazilian_template_lines_are_the_stores_own_words_for_the_guards(cfg):
    from pipeline.draft import operator_texts

    assert DRAFTING["intro"]["return_refund"]["pt-BR"] in operator_texts(cfg)


def _config_dir(tmp_path: Path, edit=None) -> Path:
    for f in ("intents.yaml", "rules.yaml", "drafting.yaml"):
        shutil.copy(ROOT / "config" / f, tmp_path / f)
    if edit:
        p = tmp_path / "drafting.yaml"
        p.write_text(edit(p.read_text(encoding="utf-8")), encoding="utf-8")
    return tmp_path


def _without_variant(text: str) -> str:
    """An operator's drafting.yaml from before the variant: "pt" lines only, no portuguese section."""
    keep, skip = [], False
    for line in text.splitlines():
        if line.strip().startswith("pt-BR:"):
            continue
        if line.startswith("portuguese:"):
            skip = True
            continue
        if skip and line.startswith("  "):
            continue
        skip = False
        keep.append(line)
    return "\n".join(keep) + "\n"


def test_an_operator_file_with_pt_only_still_drafts_for_brazilians(tmp_path):
    cfg = load_config(_config_dir(tmp_path, _without_variant))
    assert "portuguese" not in cfg.drafting and "pt-BR" not in cfg.drafting["closing"]
    lines = _draft(BRAZILIAN, cfg).draft.text.splitlines()
    assert "Sobre a sua encomenda #7730:" in lines
    assert lines[-2:] == ["Com os melhores cumprimentos,", "A equipa Demo Store"]


def test_a_store_that_sells_to_brazil_sets_the_default(tmp_path):
    cfg = load_config(_config_dir(tmp_path, lambda s: s.replace("default: pt-PT", "default: pt-BR")))
    # No marker either way: the default decides.
    lines = _draft("Olá, quando chega a entrega 7730?", cfg).draft.text.splitlines()
    assert lines[-2:] == ["Atenciosamente,", "A equipe Demo Store"]


@pytest.mark.parametrize("old, new, error", [
    ('  pt-BR: "Atenciosamente,"', '  pt-br: "Atenciosamente,"', "drafting.yaml: closing: .*'pt-br'"),
    ('  pt-BR: "Atenciosamente,"', '  pt_BR: "Atenciosamente,"', "drafting.yaml: closing: .*'pt_BR'"),
    ('  pt-BR: "A equipe Demo Store"', '  br: "A equipe Demo Store"\n  en-US: "x"', "drafting.yaml: signature: .*'en-US'"),
    ('    pt-BR: "Obrigado por nos avisar.', '    pt-Br: "Obrigado por nos avisar.', "drafting.yaml: intro: .*cancel_order: .*'pt-Br'"),
    ("variant: auto", "variant: brazil", "drafting.yaml: portuguese.variant: "),
    ("default: pt-PT", "default: auto", "drafting.yaml: portuguese.default: "),
    ("default: pt-PT", "default: pt-PT\n  dialect: br", "drafting.yaml: portuguese.dialect: "),
])
def test_invalid_variant_settings_are_rejected_naming_file_and_field(tmp_path, old, new, error):
    cfg_dir = _config_dir(tmp_path)
    text = (cfg_dir / "drafting.yaml").read_text(encoding="utf-8")
    assert old in text
    (cfg_dir / "drafting.yaml").write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigError, match=error):
        load_config(cfg_dir)


@pytest.mark.parametrize("text, lang, named", [
    (BRAZILIAN, "pt", "Brazilian Portuguese (pt-BR)"),
    (EUROPEAN, "pt", "European Portuguese (pt-PT)"),
    ("Where is my order?", "en", "English (en)"),
])
def test_an_llm_draft_is_asked_for_the_same_variant(cfg, text, lang, named):
    from pipeline.draft import build_messages, drafting_config
    from pipeline.models import Triage

    t = Ticket(platform="zendesk", id="7", messages=[Message(id="m1", author_role=CUSTOMER, body_text=text)])
    system = build_messages(t, text, Triage(intent="order_status", confidence=0.9, language=lang), [SHIPPING],
                            drafting_config(cfg))[0]["content"]
    assert f"customer's language: {named}. Tone" in system
