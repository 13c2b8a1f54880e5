"""Per-team collections (`ui.teams`): chosen on the server from the signed-in user only.

Unit tests for the mapping rules, then the wiring: `settings_or_stop` through the
`ui.auth.current_user` seam, the whole app through AppTest's `user` (what `st.user`
reads), and two team collections cached side by side on one data directory.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from searchapp import Library, Settings
from searchapp.errors import ConfigError, SearchAppError
from searchapp.ingest.pipeline import Ingestor
from searchapp.ingest.types import SourceFile
from searchapp.storage.lock import DataDirLock
from searchapp.ui import resources
from searchapp.ui.teams import (
    TeamAccessDenied,
    collection_for,
    normalized_teams,
    team_settings,
    teams_config,
)
from tests.conftest import ROOT, make_settings

APP = str(ROOT / "searchapp" / "ui" / "app.py")
ENV = {"SEARCHAPP_MODEL": "hash:64", "SEARCHAPP_WORKERS": "1", "SEARCHAPP_MIN_FREE_MB": "1"}
AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "x" * 32,
    "client_id": "searchapp",
    "client_secret": "s",
    "server_metadata_url": "https://id.example/.well-known/openid-configuration",
}
TEAMS = {
    "Ada@Alpha.example": "team-alpha",
    "@alpha.example": "alpha-all",
    "@beta.example": "team-beta",
}


def plain(markdown: str) -> str:
    """Markdown as the reader sees it (`show_error` escapes the message)."""
    return re.sub(r"\\(.)", r"\1", markdown).replace("\u2060", "")  # escapes, word joiners


def user(email: Any = "ada@alpha.example", **claims: Any) -> dict[str, Any]:
    return {"is_logged_in": True, "email": email, **claims}


# ------------------------------------------------------------------ collection_for


def test_exact_address_matches_ignoring_case() -> None:
    assert collection_for(user("ADA@alpha.EXAMPLE"), TEAMS, "documents") == "team-alpha"
    assert collection_for(user("  ada@alpha.example "), TEAMS, "documents") == "team-alpha"


def test_domain_matches_every_address_at_it() -> None:
    assert collection_for(user("bob@beta.example"), TEAMS, "documents") == "team-beta"
    assert collection_for(user("Bob@BETA.example"), TEAMS, "documents") == "team-beta"


def test_exact_address_beats_its_domain() -> None:
    assert collection_for(user("ada@alpha.example"), TEAMS, "documents") == "team-alpha"
    assert collection_for(user("grace@alpha.example"), TEAMS, "documents") == "alpha-all"


@pytest.mark.parametrize(
    "email",
    ["bob@sub.beta.example", "bob@notbeta.example", "bob@beta.example.evil", "ada@alpha.example.org"],
)
def test_domain_is_compared_whole(email: str) -> None:
    with pytest.raises(TeamAccessDenied, match="not assigned to a team"):
        collection_for(user(email), TEAMS, "documents")


def test_no_match_is_refused_with_a_clear_message() -> None:
    with pytest.raises(TeamAccessDenied) as caught:
        collection_for(user("carol@gamma.example"), TEAMS, "documents")
    message = str(caught.value)
    assert "carol@gamma.example" in message and "@gamma.example" in message
    assert "[searchapp.teams]" in message
    assert isinstance(caught.value, SearchAppError) and not isinstance(caught.value, ConfigError)


@pytest.mark.parametrize("verified", [False, "false", "FALSE", 0, "no", "", []])
def test_an_unverified_email_is_never_used(verified: Any) -> None:
    with pytest.raises(TeamAccessDenied, match="not verified"):
        collection_for(user(email_verified=verified), TEAMS, "documents")


@pytest.mark.parametrize("verified", [True, "true", " True ", None])
def test_a_verified_or_unreported_email_is_used(verified: Any) -> None:
    assert collection_for(user(email_verified=verified), TEAMS, "documents") == "team-alpha"


@pytest.mark.parametrize(
    "who",
    [
        {},
        {"email": "ada@alpha.example"},  # AppTest's default user, and a session without sign-in
        {"is_logged_in": False, "email": "ada@alpha.example"},
        {"is_logged_in": "true", "email": "ada@alpha.example"},
        user(None),
        user(""),
        user("ada"),
        user("@alpha.example"),
        user(["ada@alpha.example"]),
        {"is_logged_in": True, "name": "Ada"},
    ],
)
def test_without_a_signed_in_email_there_is_no_collection(who: Mapping[str, Any]) -> None:
    with pytest.raises(TeamAccessDenied):
        collection_for(who, TEAMS, "documents")


def test_no_teams_means_the_configured_collection_for_anyone() -> None:
    assert collection_for({}, {}, "documents") == "documents"
    assert collection_for(user("carol@gamma.example"), {}, "shared") == "shared"


@pytest.mark.parametrize(
    "key", ["alpha.example", "*@alpha.example", "*", "@", "ada@", "a@b@c.example", "a b@c"]
)
def test_malformed_keys_are_configuration_errors(key: str) -> None:
    with pytest.raises(ConfigError, match="must be an email address"):
        collection_for(user(), {key: "team-x"}, "documents")


@pytest.mark.parametrize("value", [None, 3, "", "  ", ["team-a"], {"name": "team-a"}])
def test_a_value_must_be_a_collection_name(value: Any) -> None:
    with pytest.raises(ConfigError, match="must name a collection"):
        normalized_teams({"@alpha.example": value})


def test_two_spellings_of_one_key_must_agree() -> None:
    assert normalized_teams({"Ada@alpha.example": "team-a", "ada@ALPHA.example": " team-a "}) == {
        "ada@alpha.example": "team-a"
    }
    with pytest.raises(ConfigError, match="twice"):
        normalized_teams({"Ada@alpha.example": "team-a", "ada@alpha.example": "team-b"})


# ------------------------------------------------------------- loading and settings


def test_teams_are_read_from_searchapp_teams_or_a_top_level_teams_table() -> None:
    assert teams_config({}) is None
    assert teams_config({"searchapp": {"collection": "x"}, "auth": AUTH}) is None
    assert teams_config({"searchapp": {"teams": TEAMS}}) == TEAMS
    assert teams_config({"teams": TEAMS}) == TEAMS


@pytest.mark.parametrize(
    ("secrets", "message"),
    [
        ({"searchapp": {"teams": TEAMS}, "teams": TEAMS}, "twice"),
        ({"searchapp": {"teams": {}}}, "empty"),
        ({"teams": {}}, "empty"),
        ({"teams": "team-a"}, "must be a table"),
        ({"searchapp": {"teams": ["a"]}}, "must be a table"),
    ],
)
def test_a_teams_table_that_cannot_work_is_an_error_not_open(
    secrets: Mapping[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        teams_config(secrets)


def test_teams_table_does_not_disturb_settings(tmp_path: Path) -> None:
    secrets = {"searchapp": {"collection": "shared", "teams": TEAMS}}
    settings = Settings.load(environ={"SEARCHAPP_DATA_DIR": str(tmp_path)}, secrets=secrets)
    assert settings.collection == "shared"


def test_team_settings_use_the_team_collection(tmp_path: Path) -> None:
    base = make_settings(tmp_path, model="hash:64", collection="shared")
    chosen = team_settings(base, TEAMS, user("bob@beta.example"), sign_in=True)
    assert chosen == base.with_overrides(collection="team-beta")
    assert team_settings(base, None, user("bob@beta.example"), sign_in=False) is base
    assert team_settings(base, None, {}, sign_in=True) is base


def test_teams_without_sign_in_are_refused(tmp_path: Path) -> None:
    base = make_settings(tmp_path, model="hash:64")
    with pytest.raises(ConfigError, match="sign-in is not configured"):
        team_settings(base, TEAMS, user(), sign_in=False)


def test_every_team_collection_name_is_checked_like_settings(tmp_path: Path) -> None:
    base = make_settings(tmp_path, model="hash:64")
    teams = {"ada@alpha.example": "team-alpha", "@beta.example": "bad name!"}
    with pytest.raises(ConfigError) as caught:
        team_settings(base, teams, user("ada@alpha.example"), sign_in=True)  # not Bob: still an error
    assert "'@beta.example'" in str(caught.value) and "3-62 characters" in str(caught.value)
    assert isinstance(caught.value.__cause__, ConfigError)


# ------------------------------------------------------- the seam: settings_or_stop


def _show_collection() -> None:
    import streamlit as st

    from searchapp.ui.context import settings_or_stop

    st.write(f"collection={settings_or_stop().collection}")


def _settings_app(secrets: Mapping[str, Any]) -> AppTest:
    at = AppTest.from_function(_show_collection, default_timeout=60)
    for key, value in secrets.items():
        at.secrets[key] = value
    return at


@pytest.fixture
def env(ui_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SEARCHAPP_COLLECTION", "shared")
    return ui_env


def _written(at: AppTest) -> list[str]:
    return [str(m.value) for m in at.markdown]


def test_settings_or_stop_uses_the_team_of_the_current_user(
    env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("searchapp.ui.auth.current_user", lambda: user("bob@beta.example"))
    at = _settings_app({"auth": AUTH, "searchapp": {"teams": TEAMS}})
    # Nothing the browser sends can pick another collection.
    at.query_params["collection"] = "team-alpha"
    at.session_state["collection"] = "team-alpha"
    at.run()
    assert not at.exception and not at.error
    assert _written(at) == ["collection=team-beta"]


def test_settings_or_stop_refuses_a_user_without_a_team(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("searchapp.ui.auth.current_user", lambda: user("carol@gamma.example"))
    at = _settings_app({"auth": AUTH, "searchapp": {"teams": TEAMS}})
    at.run()
    assert not at.exception and not _written(at)
    (error,) = at.error
    assert "not assigned to a team" in plain(error.value)


def test_settings_or_stop_without_teams_is_unchanged(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("searchapp.ui.auth.current_user", lambda: user("carol@gamma.example"))
    at = _settings_app({"auth": AUTH})
    at.run()
    assert not at.error and _written(at) == ["collection=shared"]


def _show_user() -> None:
    import json as json_module

    import streamlit as st

    from searchapp.ui import auth

    st.code(json_module.dumps(dict(auth.current_user()), sort_keys=True))


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        (
            {"is_logged_in": True, "email": "ada@alpha.example", "tokens": {"id": "secret-token"}},
            {"is_logged_in": True, "email": "ada@alpha.example"},
        ),
        ({"email": "test@example.com"}, {}),  # no sign-in: AppTest's default user is nobody
        ({"is_logged_in": False, "email": "ada@alpha.example"}, {}),
    ],
)
def test_current_user_is_st_user_without_tokens(claims: dict[str, Any], expected: dict[str, Any]) -> None:
    at = AppTest.from_function(_show_user, default_timeout=60)
    at.user = claims
    at.run()
    assert not at.exception
    assert json.loads(at.code[0].value) == expected


# ------------------------------------------------------------- the whole app (AppTest)


def _app(who: dict[str, Any], monkeypatch: pytest.MonkeyPatch, secrets: Mapping[str, Any]) -> AppTest:
    monkeypatch.setattr("searchapp.ui.auth.authlib_available", lambda: True)
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in secrets.items():
        at.secrets[key] = value
    at.user = who
    return at


def _run(at: AppTest, page: str | None = None) -> AppTest:
    if page:
        at.switch_page(f"views/{page}.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _status(at: AppTest) -> tuple[str, str]:
    _run(at, "status")
    metrics = {m.label: m.value for m in at.metric}
    (listing,) = [m.value for m in at.markdown if "**Collection:**" in m.value]
    collection = listing.split("**Collection:** ", 1)[1].split("\n", 1)[0]
    return plain(collection), str(metrics["Documents"])


TEAM_SECRETS = {"auth": AUTH, "searchapp": {"teams": TEAMS}}


def test_each_team_sees_only_its_own_collection(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ada = _app(user("ada@alpha.example", email_verified=True), monkeypatch, TEAM_SECRETS)
    _run(ada, "upload")
    ada.file_uploader(key="uploads").set_value(
        [("alpha.txt", b"Alpha team plans. Refunds on Mondays.", "text/plain")]
    )
    _run(ada)
    assert ada.success and not ada.error
    assert _status(ada) == ("team-alpha", "1")

    bob = _app(user("bob@beta.example"), monkeypatch, TEAM_SECRETS)
    bob.query_params["collection"] = "team-alpha"
    _run(bob)
    assert any("Your library is empty" in str(i.value) for i in bob.info)
    assert _status(bob) == ("team-beta", "0")
    _run(bob, "library")
    assert any("No documents yet" in str(i.value) for i in bob.info) and not bob.dataframe

    _run(ada, "library")
    assert ada.dataframe  # Ada's document is still there, in her collection only
    assert _status(ada) == ("team-alpha", "1")


@pytest.mark.parametrize("page", ["search", "upload", "library", "status"])
def test_a_user_without_a_team_gets_no_page(env: Path, monkeypatch: pytest.MonkeyPatch, page: str) -> None:
    carol = _app(user("carol@gamma.example"), monkeypatch, TEAM_SECRETS)
    _run(carol, page)
    (error,) = carol.error
    assert "not assigned to a team" in plain(error.value) and "carol@gamma.example" in plain(error.value)
    assert not carol.metric and not carol.text_input and not carol.dataframe
    assert not carol.get("file_uploader")
    assert "Signed in as carol@gamma.example" in [str(c.value) for c in carol.sidebar.caption]  # can log out


def test_an_unverified_address_gets_no_page(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ada = _app(user("ada@alpha.example", email_verified=False), monkeypatch, TEAM_SECRETS)
    _run(ada, "status")
    (error,) = ada.error
    assert "not verified" in plain(error.value) and not ada.metric


def test_teams_without_sign_in_stop_every_page(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    anyone = _app({"email": "ada@alpha.example"}, monkeypatch, {"searchapp": {"teams": TEAMS}})
    _run(anyone, "status")
    (error,) = anyone.error
    assert "A setting is wrong" in plain(error.value) and "sign-in is not configured" in plain(error.value)
    assert not anyone.metric


# ------------------------------------------- two team libraries, one data directory


def test_two_team_libraries_share_one_data_directory_in_one_process(tmp_path: Path) -> None:
    base = make_settings(tmp_path, model="hash:64", collection="shared")
    alpha = team_settings(base, TEAMS, user("ada@alpha.example"), sign_in=True)
    beta = team_settings(base, TEAMS, user("bob@beta.example"), sign_in=True)
    try:
        lib_alpha, lib_beta = resources.get_library(alpha), resources.get_library(beta)
        assert lib_alpha is not lib_beta
        assert resources.get_library(alpha) is lib_alpha  # cached per team
        assert resources.get_ingestor(alpha) is not resources.get_ingestor(beta)
        lock = (base.data_dir / "searchapp.lock").absolute()
        assert DataDirLock._shared[lock][1] == 2  # one flock, held for both

        report = resources.get_ingestor(alpha).ingest(
            [SourceFile("alpha.txt", data=b"Alpha team plans: the refund desk opens on Mondays.")]
        )
        assert [o.status for o in report.outcomes] == ["ingested"]
        assert [r.source for r in lib_alpha.documents()] == ["alpha.txt"]
        assert lib_beta.documents() == []
        assert lib_beta.search("refund desk Mondays").hits == ()
        assert [h.metadata["source"] for h in lib_alpha.search("refund desk Mondays").hits] == ["alpha.txt"]
        assert (lib_alpha.stats().collection, lib_beta.stats().collection) == ("team-alpha", "team-beta")
    finally:
        resources.release_all()
    assert lock not in DataDirLock._shared  # the last one out released the flock


def test_closing_one_team_library_leaves_the_other_working(tmp_path: Path) -> None:
    base = make_settings(tmp_path, model="hash:64")
    alpha = Library.open(base.with_overrides(collection="team-alpha"))
    beta = Library.open(base.with_overrides(collection="team-beta"))
    try:
        alpha.close()
        shared = Ingestor(beta)
        try:
            outcomes = shared.ingest(
                [SourceFile("beta.txt", data=b"Beta team notes about refunds.")]
            ).outcomes
        finally:
            shared.close()
        assert [o.status for o in outcomes] == ["ingested"]
        assert [h.metadata["source"] for h in beta.search("refunds").hits] == ["beta.txt"]
    finally:
        beta.close()
    with Library.open(base.with_overrides(collection="team-alpha")) as reopened:
        assert reopened.documents() == []


def test_deleting_in_one_team_keeps_the_other_teams_original(tmp_path: Path) -> None:
    base = make_settings(tmp_path, model="hash:64")
    data = b"The shared handbook: refunds are paid within thirty days."
    with (
        Library.open(base.with_overrides(collection="team-alpha")) as alpha,
        Library.open(base.with_overrides(collection="team-beta")) as beta,
    ):
        for library, name in ((alpha, "a.txt"), (beta, "b.txt")):
            shared = Ingestor(library)
            try:
                assert [o.status for o in shared.ingest([SourceFile(name, data=data)]).outcomes] == [
                    "ingested"
                ]
            finally:
                shared.close()
        (record,) = beta.documents()
        alpha.delete(alpha.documents()[0].doc_id)
        assert beta.original(record.doc_id) == data
