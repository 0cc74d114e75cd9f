"""A command started with a mistyped on/off setting says so in one line and exits 2 (no traceback),
whichever command reads the settings first (intents learn, stats... not only serve, eval and kb)."""

from __future__ import annotations

import pytest

from app import __main__ as cli
from app import settings as app_settings


@pytest.mark.parametrize("argv", [["intents", "learn", "/nonexistent.csv"], ["stats"]])
def test_a_mistyped_setting_is_a_configuration_error(monkeypatch, capsys, tmp_path, argv):
    monkeypatch.setenv("SIDECAR_TRIAGE_ENGLISH", "of")
    monkeypatch.setenv("SIDECAR_VAR_DIR", str(tmp_path))
    monkeypatch.setattr(app_settings, "_settings", None)
    monkeypatch.setattr(app_settings, "apply_process_settings", lambda s: None)  # never the repo's var/
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "configuration error" in err and "SIDECAR_TRIAGE_ENGLISH" in err and "Traceback" not in err
