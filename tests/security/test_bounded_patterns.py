"""The guards' and the redaction's patterns scan a bounded stretch from each position: a long run of
the characters they repeat ("a-a-a-...", "1-1-1-...", "a'a'a'...") no longer makes every position of
the run rescan it to its end (review of 2026-11-30: redact() took ~40 s of CPU on 20,000 such
characters, a past ticket at ingest or a draft's personal-data guard; unsafe_reasons seconds on a
6,000-character draft). No timings here: what is checked is where a match may start and how far
each repeat a match attempt runs before its first fixed character may go."""

from __future__ import annotations

import re

import pytest

try:  # Python 3.11+
    from re import _constants as sre_constants
    from re import _parser as sre_parse
except ImportError:  # pragma: no cover - older Pythons
    import sre_constants  # type: ignore[no-redef]
    import sre_parse  # type: ignore[no-redef]

from knowledge import redact
from pipeline import guards

BOUND = 64


def _unbounded_class_repeats(items) -> list[str]:
    """Unbounded repeats of a character class in ``items`` (a parsed pattern), in lookarounds too."""
    out: list[str] = []
    for op, av in items:
        if op in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT):
            lo, hi, sub = av
            if hi == sre_constants.MAXREPEAT and all(o in (sre_constants.IN, sre_constants.ANY) for o, _ in sub):
                out.append(str(sub))
            out += _unbounded_class_repeats(sub)
        elif op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT):
            out += _unbounded_class_repeats(av[1])
        elif op == sre_constants.SUBPATTERN:
            out += _unbounded_class_repeats(av[-1])
        elif op == sre_constants.BRANCH:
            for branch in av[1]:
                out += _unbounded_class_repeats(branch)
    return out


def _leading(pattern: re.Pattern[str], branch: int | None = None):
    """The parsed pattern up to its first element that is not a repeat, an anchor or a lookaround."""
    parsed = list(sre_parse.parse(pattern.pattern, pattern.flags))
    if branch is not None:
        (op, av), = [x for x in parsed if x[0] == sre_constants.BRANCH] or [parsed[0]]
        parsed = list(av[1][branch])
    out = []
    for op, av in parsed:
        if op in (sre_constants.AT, sre_constants.ASSERT, sre_constants.ASSERT_NOT,
                  sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT):
            out.append((op, av))
            continue
        break
    return out


@pytest.mark.parametrize("name,branch", [("_EMAIL", None), ("_MIXED_ID", None), ("_ADDRESS", 3)])
def test_redactions_leading_scan_is_bounded(name, branch):
    rx = getattr(redact, name)
    assert _unbounded_class_repeats(_leading(rx, branch)) == [], name


def test_a_spelled_out_host_never_starts_inside_a_run_of_label_characters():
    # It starts where the run starts; from there it reads the whole run once.
    assert guards._SPELLED_HOST.match("x-evil dot com", 2) is None
    assert guards._SPELLED_HOST.match("a-" * 50 + "evil dot com", 20) is None
    assert guards._SPELLED_HOST.search("see x-evil dot com now").group(0) == "x-evil dot com"
    assert guards._SPELLED_HOST.search("see -evil dot com").group(0) == "-evil dot com"


@pytest.mark.parametrize("run", ["a-", "1-", "a'", "a.", "ab-", "a+"])
def test_long_runs_still_redact_and_guard_as_before(run):
    text = "Mail me at jo.doe+x@acme.example, I live at Hauptstraße 5. Ref AB12-34CD. " + run * 3000
    out = redact.redact(text)
    assert "[email]" in out and "[address]" in out and "[id number]" in out
    assert out.endswith(run * 20) or out.endswith("[number]-"), out[-60:]  # "1-1-1-..." is a long number
    assert guards.find_links(text), "the e-mail is link-like"
    assert "email" in guards.personal_data(text)


@pytest.mark.parametrize("text,kind", [
    ("write to a@b.example+c@d.example today", "[email]"),
    ("Kerkstraat 12-Dorpsweg 3", "[address]"),
    ("order ref XK-2024-9981 and AB1234CD", "[id number]"),
])
def test_adjacent_and_usual_tokens_are_still_redacted(text, kind):
    out = redact.redact(text)
    assert kind in out and not any(ch.isdigit() for ch in out.replace("[", "").replace("]", "")), out


def test_a_host_is_read_127_labels_at_most():
    # "(label.)+" from every label of "a.a.a.a..." read to the run's end: 20,000 characters took
    # ~26 s of CPU in unsafe_reasons + strip_links. A host has at most 127 labels (DNS).
    parsed = sre_parse.parse(guards._HOST.pattern, guards._HOST.flags)
    repeats = [av for op, av in parsed if op == sre_constants.MAX_REPEAT]
    assert repeats and all(hi != sre_constants.MAXREPEAT for _, hi, _ in repeats)
    deep = ".".join("abcdefghijklmnopqrstu") + ".example.com"  # 23 labels: still a link, all of it removed
    assert guards.find_links(f"see {deep} now")
    assert guards.strip_links(f"see {deep} now")[0] == "see [link removed] now"
    assert guards.find_links("a." * 5000 + " evil.example")


@pytest.mark.parametrize("name", ["_SELF_NAME", "_SIGNOFF_ANY_CASE", "_RELATION_NAME", "_GREETING_I_AM", "_BARE_I_AM", "_GREETING_NAME", "_OBF_EMAIL", "_AT_TOKEN", "_PASSWORD", "_DASHED_DIGITS", "_CARD_GROUPS"])
def test_the_self_introduction_patterns_have_no_unbounded_repeat(name):
    # Tried at every position of a past ticket: "this is this is ...", "name: name: ...", 20,000 spaces.
    rx = getattr(redact, name)
    assert _unbounded_class_repeats(list(sre_parse.parse(rx.pattern, rx.flags))) == [], name


@pytest.mark.parametrize("run", ["this is ", "name: ", "thanks,\n", "hi ", "my name is ", " "])
def test_long_runs_of_a_cue_still_redact(run):
    out = redact.redact(run * 1000 + "my name is priya", strict_names=True)
    assert out.endswith("my name is [name]"), out[-60:]
