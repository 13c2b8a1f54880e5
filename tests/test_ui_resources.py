"""`ui.resources`: secrets handling and the ingestor shared between sessions."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from searchapp import Library
from searchapp.errors import ConfigError
from searchapp.ingest.pipeline import Ingestor
from searchapp.ingest.types import SourceFile
from searchapp.progress import Progress
from searchapp.ui import resources
from tests.conftest import make_settings


def _raise(error_id: str) -> Any:
    """A `Secrets.to_dict` that fails as Streamlit's does (patched on the class: instances are frozen)."""

    def to_dict(self: object) -> dict[str, Any]:
        raise StreamlitSecretNotFoundError("no secrets", error_id=error_id)

    return to_dict


def test_missing_secrets_file_is_empty_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(type(st.secrets), "to_dict", _raise("no-secrets-found"))
    assert resources.secrets() == {}


def test_unreadable_secrets_file_is_an_error_not_an_open_app(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(type(st.secrets), "to_dict", _raise("secrets-file-parse-error"))
    with pytest.raises(ConfigError, match="cannot read Streamlit secrets"):
        resources.secrets()


def test_secrets_feed_settings_below_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = {"searchapp": {"collection": "team-docs", "model": "hash:32"}, "auth": {"client_id": "x"}}
    monkeypatch.setattr(type(st.secrets), "to_dict", lambda self: secrets)
    monkeypatch.setenv("SEARCHAPP_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SEARCHAPP_MODEL", "hash:64")
    settings = resources.load_settings()
    assert (settings.collection, settings.model, settings.data_dir) == ("team-docs", "hash:64", tmp_path)


def test_settings_key_is_stable_and_hides_values(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, model="hash:64", server_token="s3cret-token")
    assert resources.settings_key(settings) == resources.settings_key(
        make_settings(tmp_path, model="hash:64", server_token="s3cret-token")
    )
    assert "s3cret" not in resources.settings_key(settings)
    assert resources.settings_key(settings) != resources.settings_key(
        settings.with_overrides(collection="other")
    )


def test_one_ingestor_reports_each_run_to_its_own_callback(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, model="hash:64")
    with Library.open(settings) as library:
        shared = Ingestor(library)
        seen: dict[str, list[str]] = {"a": [], "b": []}
        started = threading.Barrier(2)

        def run(name: str) -> None:
            files = [
                SourceFile(f"{name}{i}.txt", data=f"{name} text number {i} here".encode()) for i in range(3)
            ]

            def progress(event: Progress) -> None:
                seen[name].append(event.source)

            started.wait()
            report = shared.ingest(files, progress=progress)
            assert [o.status for o in report.outcomes] == ["ingested"] * 3

        threads = [threading.Thread(target=run, args=(name,)) for name in ("a", "b")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        shared.close()
        assert seen["a"] and all(source.startswith("a") for source in seen["a"])
        assert seen["b"] and all(source.startswith("b") for source in seen["b"])
        assert not shared.busy
        assert len(library.documents()) == 6
