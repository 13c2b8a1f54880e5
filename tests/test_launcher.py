"""`searchapp ui`: the shipped Streamlit settings, passed as flags from any directory."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from searchapp import Settings
from searchapp.ui.launcher import config_flags, config_path, streamlit_command


def test_the_shipped_config_keeps_the_security_defaults() -> None:
    config = tomllib.loads(config_path().read_text(encoding="utf-8"))
    server = config["server"]
    assert server["enableXsrfProtection"] is True and server["enableCORS"] is True
    assert 1 <= server["maxUploadSize"] <= 50
    assert server["fileWatcherType"] == "none" and server["enableStaticServing"] is False
    assert config["client"]["showErrorDetails"] == "type"
    assert config["browser"]["gatherUsageStats"] is False
    # The theme follows the OS: a light and a dark variant, and no forced base.
    assert "base" not in config.get("theme", {}) and {"light", "dark"} <= set(config["theme"])


def test_every_setting_becomes_a_flag(tmp_path: Path) -> None:
    flags = config_flags()
    assert "--server.enableXsrfProtection=true" in flags and "--server.enableCORS=true" in flags
    assert "--client.showErrorDetails=type" in flags
    custom = tmp_path / "config.toml"
    custom.write_text('[server]\nallowedHosts = ["search.example.com", "10.0.0.5"]\nport = 8600\n')
    assert config_flags(custom) == [
        "--server.allowedHosts=search.example.com",
        "--server.allowedHosts=10.0.0.5",
        "--server.port=8600",
    ]


def test_only_settings_given_on_the_command_line_are_passed_on(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Whatever was not given is read by the app itself, so secrets.toml is not overridden."""
    for key in ("SEARCHAPP_DATA_DIR", "SEARCHAPP_COLLECTION", "SEARCHAPP_MODEL"):
        monkeypatch.delenv(key, raising=False)
    settings = Settings.load(environ={}, data_dir=tmp_path)
    command, env = streamlit_command(settings, host="127.0.0.1", port=8600)
    assert "SEARCHAPP_DATA_DIR" not in env and "SEARCHAPP_MODEL" not in env
    assert command[1:4] == ["-m", "streamlit", "run"] and command[4].endswith("ui/server.py")
    assert command[-2:] == ["--server.address=127.0.0.1", "--server.port=8600"]
    _, env = streamlit_command(settings, host="0.0.0.0", port=1, given={"SEARCHAPP_COLLECTION": "team-a"})
    assert env["SEARCHAPP_COLLECTION"] == "team-a"
