"""Learned intent examples (other customers' messages, ``intents learn``) reach the LLM only redacted.

The few-shot examples in the triage prompt are the local model's nearest training texts: ops' YAML
examples and the learned history. The history holds other customers' words; the request the real
``openai`` client sends to a local OpenAI-compatible server must carry none of their personal data.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.settings import load_settings
from pipeline import llm_classifier
from pipeline.classify import classify
from pipeline.config import load_config

ROOT = Path(__file__).resolve().parents[2]
PATH = "/v1/chat/completions"

pytestmark = pytest.mark.usefixtures("isolated_var")

ANSWER = {"intent": "order_status", "confidence": 0.9, "priority": "normal", "sentiment": "neutral",
          "language": "en", "signals": []}

# (learned text, what of it must never reach the provider)
LEARNED = [
    ("Hi, this is Maria Gonzalez, my email is maria.gonzalez@example.com and my order #A123456 never arrived",
     ["Maria", "Gonzalez", "maria.gonzalez", "example.com", "A123456"]),
    ("Where is order 7845123? Call me on +44 20 7946 0958 please. Thanks, Olga",
     ["7845123", "7946", "0958", "Olga"]),
    ("Bonjour, je suis Jean Dupont, commande n° 88231, jean.dupont@orange.fr",
     ["Jean", "Dupont", "88231", "jean.dupont", "orange.fr"]),
    # Evasions: a zero-width space in the address, full-width letters and digits, a Cyrillic look-alike.
    ("parcel late, mail me at priya\u200b.shah@example.org", ["priya", "shah@", "example.org"]),
    ("ｗｈｅｒｅ ｉｓ ｍｙ ｐａｒｃｅｌ, ｐｈｏｎｅ ０７７００ ９００１２３, ｏｌｇａ＠ｅｘａｍｐｌｅ．ｃｏｍ",
     ["０７７００", "07700", "900123", "９００１２３", "ｏｌｇａ", "olga@"]),
    ("My parcel for Кarl Müller at 12 Baker Street has not come", ["Кarl", "Karl", "Müller", "Baker Street"]),
    # Names typed in lower case after a self-introduction, one with a zero-width space inside the cue.
    ("hi my name is priyanka sharma and my parcel never came", ["priyanka", "sharma"]),
    ("hola, me ll\u200bamo joaquín y mi pedido no llegó", ["joaquín", "joaquin"]),
]


class _Model:
    """The local model as triage uses it for few-shot: its nearest examples are learned rows and a YAML one."""

    def __init__(self, examples: list[tuple[str, str]]) -> None:
        self.examples = examples

    def nearest_examples(self, text: str, k: int = 8, per_label: int = 2) -> list[tuple[str, str]]:
        return self.examples[:k]


@pytest.fixture(scope="module")
def cfg():
    return load_config(ROOT / "config")


@pytest.fixture(autouse=True)
def _clients():
    llm_classifier._clients.clear()
    yield
    llm_classifier._clients.clear()


def _completion() -> dict:
    return {"id": "chatcmpl-test", "object": "chat.completion", "created": 1700000000, "model": "stub",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": json.dumps(ANSWER), "refusal": None}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}


@pytest.mark.parametrize("learned,secrets", LEARNED, ids=[f"learned{i}" for i in range(len(LEARNED))])
def test_a_learned_example_s_personal_data_never_reaches_the_provider(cfg, httpserver, learned, secrets):
    ops = next(iter(cfg.intents.intents["order_status"].examples))  # ops' own words go as written
    httpserver.expect_request(PATH, method="POST").respond_with_json(_completion())
    llm = load_settings({"OPENAI_API_KEY": "sk-test-not-real", "OPENAI_BASE_URL": httpserver.url_for("/v1"),
                         "OPENAI_MODEL": "gpt-4o-mini"}).llm()
    t = classify("my parcel has not arrived yet", None, cfg, llm=llm,
                 model=_Model([(learned, "order_status"), (ops, "order_status")]))
    assert t.classifier == "openai"  # the request was made and answered
    raw = httpserver.log[0][0].get_data(as_text=True)
    sent = json.loads(raw)
    system = sent["messages"][0]["content"]
    shots = json.loads(system[system.rindex("[{"):])
    assert [s["intent"] for s in shots] == ["order_status", "order_status"]
    assert shots[1]["message"] == ops
    assert shots[0]["message"] != learned  # the learned example is there, redacted
    for secret in secrets:
        assert secret not in raw and secret not in shots[0]["message"], secret
        assert secret.lower() not in json.dumps(sent, ensure_ascii=False).lower(), secret


def test_ops_examples_are_sent_as_written(cfg):
    # Capitalised product words in ops' own examples are no names: nothing of them is redacted.
    ops = [(t, name) for name, d in cfg.intents.intents.items() for t in list(d.examples)[:2]]
    system = llm_classifier.build_messages("hello", cfg, ops)[0]["content"]
    shots = json.loads(system[system.rindex("[{"):])
    assert [s["message"] for s in shots] == [t for t, _ in ops]
