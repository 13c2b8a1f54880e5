from __future__ import annotations

from pathlib import Path

import pytest

from searchapp import ConfigError, Settings


def test_defaults_and_environment(tmp_path: Path) -> None:
    settings = Settings.load(
        environ={
            "SEARCHAPP_DATA_DIR": str(tmp_path),
            "SEARCHAPP_CHUNK_TOKENS": "120",
            "SEARCHAPP_DEVICE": "cpu",
        }
    )
    assert settings.data_dir == tmp_path
    assert settings.chunk_tokens == 120
    assert settings.device == "cpu"
    assert settings.collection == "documents"
    assert settings.chroma_dir == tmp_path / "chroma"
    assert not settings.is_server


def test_priority_secrets_then_environment_then_overrides(tmp_path: Path) -> None:
    secrets = {"collection": "from-secrets", "searchapp": {"model": "hash:32"}, "chunk_tokens": 50}
    environ = {"SEARCHAPP_COLLECTION": "from-env"}
    settings = Settings.load(environ=environ, secrets=secrets, data_dir=tmp_path, chunk_tokens=None)
    assert settings.collection == "from-env"
    assert settings.model == "hash:32"
    assert settings.chunk_tokens == 50
    assert Settings.load(environ=environ, collection="from-flag").collection == "from-flag"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"SEARCHAPP_CHUNK_TOKENS": "abc"}, "SEARCHAPP_CHUNK_TOKENS must be an integer; got 'abc'"),
        ({"SEARCHAPP_COLLECTION": "x"}, "SEARCHAPP_COLLECTION must be 3-62 characters"),
        ({"SEARCHAPP_DEVICE": "tpu"}, "SEARCHAPP_DEVICE must be one of auto, cpu, cuda, mps; got 'tpu'"),
        ({"SEARCHAPP_SERVER_URL": "localhost:8000"}, "SEARCHAPP_SERVER_URL must look like http://host:port"),
        ({"SEARCHAPP_CHUNK_TOKENS": "50", "SEARCHAPP_CHUNK_OVERLAP": "50"}, "must be smaller than"),
        ({"SEARCHAPP_MAX_PAGES": "0"}, "SEARCHAPP_MAX_PAGES must be at least 1; got 0"),
        ({"SEARCHAPP_DATA_DIR": "  "}, "SEARCHAPP_DATA_DIR must be a directory path"),
    ],
)
def test_bad_values_say_what_was_expected_and_got(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Settings.load(environ=environ)


def test_unknown_override_is_rejected() -> None:
    with pytest.raises(ConfigError, match="unknown setting 'colour'"):
        Settings.load(environ={}, colour="red")


def test_server_mode_and_overrides(tmp_path: Path) -> None:
    settings = Settings.load(environ={"SEARCHAPP_SERVER_URL": "http://127.0.0.1:8000"}, data_dir=tmp_path)
    assert settings.is_server
    assert settings.with_overrides(collection="other", model=None).collection == "other"


def test_a_model_cache_can_be_shared_by_data_directories(tmp_path: Path) -> None:
    own = Settings.load(environ={"SEARCHAPP_DATA_DIR": str(tmp_path / "a")})
    assert own.cache_dir == tmp_path / "a" / "cache"
    assert "SEARCHAPP_MODEL_CACHE" not in own.to_environment()
    shared = Settings.load(
        environ={"SEARCHAPP_DATA_DIR": str(tmp_path / "b"), "SEARCHAPP_MODEL_CACHE": str(tmp_path / "models")}
    )
    assert shared.cache_dir == tmp_path / "models"
    assert shared.to_environment()["SEARCHAPP_MODEL_CACHE"] == str(tmp_path / "models")  # children follow
