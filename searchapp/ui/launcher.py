"""Start the Streamlit app with searchapp's settings, from any working directory.

Streamlit reads `.streamlit/config.toml` only from the current directory, so the
launcher turns the shipped config into command-line flags, and hands the searchapp
settings to the app through SEARCHAPP_* variables.
"""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path
from typing import Any

from searchapp.config import Settings

UI_DIR = Path(__file__).resolve().parent
APP_PATH = UI_DIR / "server.py"  # the app plus the "Open at page" route


def config_path() -> Path:
    """The shipped Streamlit config: inside the wheel, or `.streamlit/` in a checkout."""
    packaged = UI_DIR / "streamlit_config.toml"
    return packaged if packaged.is_file() else UI_DIR.parents[1] / ".streamlit" / "config.toml"


def config_flags(path: Path | None = None) -> list[str]:
    """`--section.key=value` for every setting in the config file."""
    data = tomllib.loads((path or config_path()).read_text(encoding="utf-8"))
    flags: list[str] = []

    def walk(prefix: str, table: dict[str, Any]) -> None:
        for key, value in table.items():
            name = f"{prefix}.{key}" if prefix else key
            if isinstance(value, dict):
                walk(name, value)
            elif isinstance(value, list):  # a "multiple" option: one flag per value
                flags.extend(f"--{name}={item}" for item in value)
            else:
                text = str(value).lower() if isinstance(value, bool) else str(value)
                flags.append(f"--{name}={text}")

    walk("", data)
    return flags


def streamlit_command(
    settings: Settings, *, host: str, port: int, given: dict[str, str] | None = None
) -> tuple[list[str], dict[str, str]]:
    """The command line and environment that start the UI.

    Only the settings given on the command line (`given`, as SEARCHAPP_* variables) are
    passed on: the app reads everything else itself, environment first, then secrets,
    so a value in `secrets.toml` is not overridden by a default.
    """
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP_PATH),
        *config_flags(),
        f"--server.address={host}",
        f"--server.port={port}",
    ]
    env = {**os.environ, **(given or {})}
    return command, env
