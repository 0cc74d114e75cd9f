"""`python -m app eval` and `python -m app intents learn` (argparse wiring via `register`)."""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.commands import classifier as cli
from app.evaluate import evaluate
from app.settings import get_settings, reset_settings
from pipeline import local_classifier as lc
from pipeline.config import load_config

ROOT = Path(__file__).resolve().parents[2]

TRAIN = {
    "shipping": [
        "where is my parcel", "when will my package arrive", "has my order shipped yet",
        "tracking number please", "my delivery has not come", "how long does shipping take",
        "is my box on the way", "what's the delivery date for my order",
    ],
    "refund": [
        "I want my money back", "how do I get a refund", "refund my purchase please",
        "please reimburse me", "I returned it, where is my refund", "can I get a refund for this",
        "money back for the broken item", "the refund has not reached my card",
    ],
    "password": [
        "I forgot my password", "can't log in to my account", "reset my password",
        "login doesn't work", "my account is locked", "password reset email never came",
        "I cannot sign in", "how do I change my password",
    ],
    "discount": [
        "my promo code doesn't work", "do you have a coupon", "discount code rejected",
        "is there a sale coming", "voucher is not accepted", "how do I apply a coupon",
        "any discounts for students", "the promotion code is invalid",
    ],
}
TEST = [
    ("has my parcel been dispatched", "shipping"),
    ("where's my delivery", "shipping"),
    ("I'd like a refund for the shoes", "refund"),
    ("give me my money back", "refund"),
    ("I can't remember my password", "password"),
    ("unable to log into my account", "password"),
    ("the coupon code fails at checkout", "discount"),
    ("got any promo codes", "discount"),
    ("what is the capital of peru", "oos"),
    ("play some jazz music", "oos"),
    ("how tall is mount everest", "gardening"),  # label absent from TRAIN: counts as out-of-scope
]


def _write_csv(path: Path, rows, header=("text", "label")) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.fixture
def csvs(tmp_path):
    train = _write_csv(tmp_path / "train.csv", [(t, lab) for lab, ts in TRAIN.items() for t in ts])
    test = _write_csv(tmp_path / "test.csv", TEST)
    return train, test


def _run(argv: list[str], capsys) -> tuple[int, list[str]]:
    parser = argparse.ArgumentParser(prog="app")
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code = args.func(args)
    captured = capsys.readouterr()
    _run.err = captured.err
    return code, captured.out.strip().splitlines()


def test_eval_prints_figures_and_json_last_line(csvs, capsys):
    train, test = csvs
    code, lines = _run(["eval", "--train", str(train), "--test", str(test), "--oos-label", "oos",
                        "--threshold", "0"], capsys)
    assert code == 0
    result = json.loads(lines[-1])
    assert {"accuracy", "macro_f1", "in_scope_accuracy", "oos_recall", "worst_confused"} <= set(result)
    assert result["n_test"] == 11 and result["n_test_oos"] == 3 and result["n_classes"] == 4
    # Threshold 0: nothing is ever out of scope, so the 3 OOS rows are wrong.
    assert result["oos_recall"] == 0.0
    assert result["in_scope_accuracy"] >= 0.75
    assert result["accuracy"] == pytest.approx((result["in_scope_accuracy"] * 8) / 11, abs=1e-3)
    assert any(line.startswith("accuracy") for line in lines)
    assert any("worst-confused" in line for line in lines)
    assert any(w[1] != "<out-of-scope>" for w in result["worst_confused"])  # OOS rows confused with intents


@pytest.fixture
def e5_alone():
    """SIDECAR_TRIAGE_ENGLISH=0 for tests of the threshold's mechanics: the English head on bge
    separates these four toy intents so well that its temperature reaches its floor (0.05) and most
    confidences are exactly 1.0, which no threshold flags (confidence < threshold)."""
    from knowledge import embedding as ke

    ke.select_english_triage(False)
    yield
    ke.select_english_triage(ke.DEFAULT_ENGLISH_TRIAGE)


@pytest.mark.usefixtures("e5_alone")
def test_eval_threshold_one_flags_everything_out_of_scope(csvs, capsys):
    train, test = csvs
    code, lines = _run(["eval", "--train", str(train), "--test", str(test), "--oos-label", "oos",
                        "--threshold", "1"], capsys)
    r = json.loads(lines[-1])
    assert r["oos_recall"] == 1.0 and r["in_scope_accuracy"] == 0.0
    assert r["accuracy"] == pytest.approx(3 / 11, abs=1e-3)


def test_eval_auto_threshold_comes_from_train_cv(csvs, capsys):
    train, test = csvs
    code, lines = _run(["eval", "--train", str(train), "--test", str(test), "--oos-label", "oos"], capsys)
    r = json.loads(lines[-1])
    # Train CV chose it: a threshold on the combined confidence + kNN score (both ranks in 0..1).
    assert r["threshold_source"] == "train-cv, confidence + kNN score"
    assert 0.0 < r["threshold"] < 1.0


@pytest.mark.usefixtures("e5_alone")
def test_eval_threshold_chosen_on_a_validation_set(csvs, tmp_path, capsys):
    train, test = csvs
    # A validation set made only of out-of-scope rows pushes the threshold up; one of (mostly)
    # in-scope rows keeps it lower: the threshold follows VAL, never TEST.
    oos_val = _write_csv(tmp_path / "val_oos.csv", [(t, "oos") for t, lab in TEST if lab == "oos"])
    in_val = _write_csv(tmp_path / "val_in.csv", [(t, lab) for t, lab in TEST if lab != "oos"])
    r_oos = json.loads(_run(["eval", "--train", str(train), "--test", str(test), "--oos-label", "oos",
                             "--val", str(oos_val)], capsys)[1][-1])
    r_in = json.loads(_run(["eval", "--train", str(train), "--test", str(test), "--oos-label", "oos",
                            "--val", str(in_val)], capsys)[1][-1])
    assert r_oos["threshold_source"] == r_in["threshold_source"] == "validation, confidence + kNN score"
    assert r_oos["threshold"] > r_in["threshold"]
    assert r_oos["oos_recall"] == 1.0


def test_eval_custom_columns_and_errors(tmp_path, capsys):
    train = _write_csv(tmp_path / "tr.csv", [(t, lab) for lab, ts in TRAIN.items() for t in ts], ("body", "intent"))
    test = _write_csv(tmp_path / "te.csv", TEST[:4], ("body", "intent"))
    code, lines = _run(["eval", "--train", str(train), "--test", str(test), "--text-column", "body",
                        "--label-column", "intent"], capsys)
    assert code == 0 and json.loads(lines[-1])["n_test"] == 4
    code, _ = _run(["eval", "--train", str(train), "--test", str(test)], capsys)
    assert code == 2
    assert "no column 'text'" in _run.err


def test_evaluate_counts_unseen_labels_as_out_of_scope():
    texts = [t for ts in TRAIN.values() for t in ts]
    labels = [lab for lab, ts in TRAIN.items() for _ in ts]
    r = evaluate(texts, labels, ["how tall is mount everest"], ["gardening"], threshold=1.0)
    assert r["n_test_oos"] == 1 and r["accuracy"] == 1.0
    r = evaluate(texts, labels, ["how tall is mount everest"], ["gardening"], threshold=0.0)
    assert r["accuracy"] == 0.0


@pytest.fixture
def var_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SIDECAR_VAR", str(tmp_path / "var"))
    monkeypatch.setenv("SIDECAR_CONFIG", str(ROOT / "config"))
    reset_settings()
    yield tmp_path / "var"
    reset_settings()


def test_learn_adds_valid_rows_and_reports_rejected(var_dir, tmp_path, capsys):
    f = _write_csv(tmp_path / "history.csv", [
        ("my parcel locker code never arrived", "delivery_problem"),
        ("do you ship to Iceland?", "product_question"),
        ("something", "no_such_intent"),
        ("", "billing"),
        ("my parcel locker code never arrived", "delivery_problem"),  # duplicate in the same file
    ])
    code, lines = _run(["intents", "learn", str(f)], capsys)
    assert code == 0
    out = "\n".join(lines)
    assert "2 examples added" in out and "2 rejected" in out
    assert "unknown intent 'no_such_intent' (CSV lines 4)" in out
    assert "empty text (CSV lines 5)" in out
    store = var_dir / lc.LEARNED_FILE
    rows = [json.loads(line) for line in store.read_text(encoding="utf-8").splitlines()]
    assert rows == [
        {"text": "my parcel locker code never arrived", "label": "delivery_problem"},
        {"text": "do you ship to Iceland?", "label": "product_question"},
    ]
    # Learning the same file again adds nothing.
    code, lines = _run(["intents", "learn", str(f)], capsys)
    assert "0 examples added" in lines[0] and "3 already there" in lines[0]
    # The production model trains on them.
    texts, labels = lc.training_data(load_config(ROOT / "config"), lc.learned_path(get_settings().var_dir))
    assert ("do you ship to Iceland?", "product_question") in zip(texts, labels, strict=True)


def test_learn_rejects_everything_exit_1(var_dir, tmp_path, capsys):
    f = _write_csv(tmp_path / "bad.csv", [("hello", "nope")])
    code, lines = _run(["intents", "learn", str(f)], capsys)
    assert code == 1
    assert not (var_dir / lc.LEARNED_FILE).exists()


def test_learn_missing_column(var_dir, tmp_path, capsys):
    f = _write_csv(tmp_path / "h.csv", [("hello", "billing")], ("message", "label"))
    code, _ = _run(["intents", "learn", str(f)], capsys)
    assert code == 2 and "no column 'text'" in _run.err


def test_python_m_app_eval_entry_point(csvs, tmp_path):
    train, test = csvs
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "SIDECAR_"))}
    env["SIDECAR_VAR"] = str(tmp_path / "var")  # its model cache (bge's and e5's graphs) is not the developer's
    proc = subprocess.run(
        [sys.executable, "-m", "app", "eval", "--train", str(train), "--test", str(test)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    last = proc.stdout.strip().splitlines()[-1]
    assert json.loads(last)["threshold"] == 0.0  # no --oos-label: closed-set


class _TTY:
    """A terminal-like stderr: the progress bar draws on it."""

    def __init__(self):
        import io

        self.buf = io.StringIO()

    def isatty(self):
        return True

    def write(self, s):
        return self.buf.write(s)

    def flush(self):
        pass


def test_eval_shows_one_bar_over_every_text_embedded_and_a_summary(csvs, capsys, monkeypatch):
    train, test = csvs
    tty = _TTY()
    monkeypatch.setattr(sys, "stderr", tty)
    code, lines = _run(["eval", "--train", str(train), "--test", str(test), "--oos-label", "oos"], capsys)
    assert code == 0
    n_train = sum(len(v) for v in TRAIN.values())
    # Every head embeds the training texts (two with the English head on, the default); a test text
    # is embedded by the head it is routed to: the bar ends full, at its total.
    heads = 2 if isinstance(lc.new_model(), lc.RoutedModel) else 1
    total = heads * n_train + len(TEST)
    assert "embedding texts" in tty.buf.getvalue() and f" {total}/{total} [" in tty.buf.getvalue()
    assert lines[-2].startswith(f"eval: {n_train} train / {len(TEST)} test rows, accuracy ")
    json.loads(lines[-1])  # the JSON line stays last


def test_learn_fit_bar_counts_the_examples_once_per_head(var_dir, tmp_path, capsys, monkeypatch):
    f = _write_csv(tmp_path / "history.csv", [("do you ship to Iceland?", "product_question")])
    # The fit's embedding only (its CV pass is not what the bar counts).
    monkeypatch.setattr(lc, "get_local_model",
                        lambda cfg, learned=None: lc.new_model().vectors(lc.training_data(cfg, learned)[0]))
    tty = _TTY()
    monkeypatch.setattr(sys, "stderr", tty)
    code, _ = _run(["intents", "learn", str(f), "--fit"], capsys)
    assert code == 0
    n = len(lc.training_data(load_config(ROOT / "config"), lc.learned_path(var_dir))[0])
    total = n * (2 if isinstance(lc.new_model(), lc.RoutedModel) else 1)
    assert "embedding training examples" in tty.buf.getvalue() and f" {total}/{total} [" in tty.buf.getvalue()


def test_learn_ends_with_one_summary_line(var_dir, tmp_path, capsys, monkeypatch):
    f = _write_csv(tmp_path / "history.csv", [("do you ship to Iceland?", "product_question"), ("x", "nope")])
    tty = _TTY()
    monkeypatch.setattr(sys, "stderr", tty)
    code, lines = _run(["intents", "learn", str(f)], capsys)
    assert code == 0
    assert "checking rows" in tty.buf.getvalue() and "/2 [" in tty.buf.getvalue()
    assert lines[-1] == "intents learn: 1 added, 0 already there, 1 rejected"
