"""Sign-in, teams, sessions and groups in the UI, through AppTest.

The mapping rules (addresses, domains, providers, groups) are unit-tested in
tests/test_access.py, and visibility in the library in tests/test_visibility.py; here
is how the UI wires them: the identity comes only from Streamlit's signed cookie
(verified on the server; `tests.auth_helpers.CookieJar` plays the browser, since AppTest
cannot send cookies), every page run checks the server-side session, log-out ends it,
and each user sees only their team's documents, and of those only what their groups may.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from searchapp import Library, Settings
from searchapp.access import Identity, TeamsTable
from searchapp.ingest.pipeline import Ingestor
from searchapp.ingest.types import SourceFile
from searchapp.storage.lock import DataDirLock
from searchapp.ui import original_links, resources, sessions
from tests.auth_helpers import AUTH, CookieJar, signed_cookies
from tests.conftest import ROOT, make_settings
from tests.ui_helpers import cards, sources

APP = str(ROOT / "searchapp" / "ui" / "app.py")
ENV = {"SEARCHAPP_MODEL": "hash:64", "SEARCHAPP_WORKERS": "1", "SEARCHAPP_MIN_FREE_MB": "1"}
TEAMS = {
    "Ada@Alpha.example": "team-alpha",
    "@alpha.example": "alpha-all",
    "@beta.example": "team-beta",
}
TEAM_SECRETS = {"auth": AUTH, "searchapp": {"teams": TEAMS}}


def plain(markdown: str) -> str:
    """Markdown as the reader sees it (messages are escaped)."""
    return re.sub(r"\\(.)", r"\1", markdown).replace("\u2060", "").replace("**", "")


def user(email: Any = "ada@alpha.example", **claims: Any) -> dict[str, Any]:
    return {"is_logged_in": True, "email": email, "iss": "https://id.example", "sub": str(email), **claims}


def team_settings(base: Settings, email: str) -> Settings:
    """The settings the UI gives a user with this address (one provider: `default`)."""
    table = TeamsTable.parse(TEAMS, ("default",))
    return base.with_overrides(collection=table.resolve(Identity.from_claims(user(email))).collection)


def test_teams_table_does_not_disturb_settings(tmp_path: Path) -> None:
    secrets = {"searchapp": {"collection": "shared", "teams": TEAMS}}
    settings = Settings.load(environ={"SEARCHAPP_DATA_DIR": str(tmp_path)}, secrets=secrets)
    assert settings.collection == "shared"


@pytest.fixture
def env(ui_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SEARCHAPP_COLLECTION", "shared")
    return ui_env


@pytest.fixture
def jar(env: Path, monkeypatch: pytest.MonkeyPatch) -> CookieJar:
    """The browsers: each AppTest presents the signed cookie of its `at.user`."""
    cookies = CookieJar()
    monkeypatch.setattr("searchapp.ui.auth.request_cookies", cookies.current)
    monkeypatch.setattr("searchapp.ui.auth.authlib_available", lambda: True)
    monkeypatch.setattr("searchapp.ui.context.RECHECK_S", 0.0)  # check at every run (else every 2 s)
    monkeypatch.setitem(original_links._state, "mounted", True)  # as under `searchapp ui`
    return cookies


# ------------------------------------------------------- the seam: settings_or_stop


def _show_collection() -> None:
    import streamlit as st

    from searchapp.ui.context import settings_or_stop

    st.write(f"collection={settings_or_stop().collection}")


def _settings_app(who: dict[str, Any], secrets: Mapping[str, Any] = TEAM_SECRETS) -> AppTest:
    at = AppTest.from_function(_show_collection, default_timeout=60)
    for key, value in secrets.items():
        at.secrets[key] = value
    at.user = who
    return at


def _written(at: AppTest) -> list[str]:
    return [str(m.value) for m in at.markdown]


def test_the_collection_is_the_team_of_the_signed_in_user_only(jar: CookieJar) -> None:
    at = _settings_app(user("bob@beta.example"))
    # Nothing the browser sends can pick another collection.
    at.query_params["collection"] = "team-alpha"
    at.session_state["collection"] = "team-alpha"
    at.run()
    assert not at.exception and not at.error
    assert _written(at) == ["collection=team-beta"]


def test_without_teams_every_signed_in_user_uses_the_configured_collection(jar: CookieJar) -> None:
    at = _settings_app(user("carol@gamma.example"), {"auth": AUTH})
    at.run()
    assert not at.error and _written(at) == ["collection=shared"]


@pytest.mark.parametrize(
    "cookies",
    [
        {},
        signed_cookies(user("bob@beta.example"), secret="another secret" * 3),  # forged
        signed_cookies(user("bob@beta.example"), origin="https://evil.example"),  # another deployment's
        {"_streamlit_user": "not a cookie"},
    ],
)
def test_st_user_alone_is_not_enough_the_cookie_must_verify(
    jar: CookieJar, monkeypatch: pytest.MonkeyPatch, cookies: dict[str, str]
) -> None:
    monkeypatch.setattr("searchapp.ui.auth.request_cookies", lambda: cookies)
    at = _settings_app(user("bob@beta.example"))
    at.run()
    assert not at.exception and not _written(at)
    (warning,) = at.warning
    assert plain(warning.value).startswith("Please sign in again.")
    assert [b.label for b in at.button] == ["Log in"]


# ------------------------------------------------------------- the whole app (AppTest)


def _app(who: dict[str, Any], secrets: Mapping[str, Any] = TEAM_SECRETS) -> AppTest:
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


def _upload(at: AppTest, files: list[tuple[str, bytes]], groups: list[str] | None = None) -> AppTest:
    _run(at, "upload")
    if groups is not None:
        at.multiselect(key="upload_groups").set_value(groups)
    at.file_uploader(key="uploads").set_value([(name, data, "text/plain") for name, data in files])
    return _run(at)


def _search(at: AppTest, query: str) -> set[str]:
    _run(at, "search")
    at.text_input(key="query").input(query)
    _run(at)
    return sources(cards(at))


def test_each_team_sees_only_its_own_collection(jar: CookieJar) -> None:
    ada = _app(user("ada@alpha.example", email_verified=True))
    _upload(ada, [("alpha.txt", b"Alpha team plans. Refunds on Mondays.")])
    assert ada.success and not ada.error
    assert _status(ada) == ("team-alpha", "1")

    bob = _app(user("bob@beta.example"))
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
def test_a_user_without_a_team_is_told_so_kindly(jar: CookieJar, page: str) -> None:
    carol = _app(user("carol@gamma.example"))
    _run(carol, page)
    assert not carol.error  # not "Something went wrong": nothing is broken
    (info,) = carol.info
    text = plain(info.value)
    assert text.startswith("You are signed in, but there is no library for you on this server yet.")
    assert "not assigned to a team" in text and "carol@gamma.example" in text and "log out" in text
    assert not carol.metric and not carol.text_input and not carol.dataframe
    assert not carol.get("file_uploader")
    assert "Signed in as carol@gamma.example" in [str(c.value) for c in carol.sidebar.caption]
    assert [b.label for b in carol.sidebar.button] == ["Log out"]


def test_an_unverified_address_gets_no_page(jar: CookieJar) -> None:
    ada = _app(user("ada@alpha.example", email_verified=False))
    _run(ada, "status")
    (info,) = ada.info
    assert "not verified" in plain(info.value) and not ada.metric and not ada.error


def test_teams_without_sign_in_stop_every_page(env: Path) -> None:
    anyone = _app({"email": "ada@alpha.example"}, {"searchapp": {"teams": TEAMS}})
    _run(anyone, "status")
    (error,) = anyone.error
    assert "A setting is wrong" in plain(error.value) and "sign-in is not configured" in plain(error.value)
    assert not anyone.metric


# ------------------------------------------------------------------ sessions


def _signed_out(at: AppTest) -> bool:
    return any(plain(w.value).startswith("Please sign in again.") for w in at.warning)


def test_log_out_ends_the_session_for_every_copy_of_the_cookie_and_every_open_tab(jar: CookieJar) -> None:
    ada = user("ada@alpha.example")
    tab = _app(ada)  # one tab left open on the search page
    _upload(tab, [("alpha.txt", b"Alpha team plans. Refunds on Mondays.")])
    assert _search(tab, "refunds") == {"alpha.txt"}

    other = _app(ada)  # another tab of the same browser (the same cookie) logs out
    _run(other)
    other.sidebar.button(key="auth_logout").click()
    _run(other)

    # The open tab stops at its next interaction, and searches no more.
    tab.text_input(key="query").input("Mondays")
    _run(tab)
    assert _signed_out(tab) and not [m for m in tab.markdown if m.value.startswith("**#")]
    assert "signed out" in plain(tab.warning[0].value)
    # The cookie copied before log-out does not sign anyone in, in a fresh browser either.
    fresh = _app(ada)
    _run(fresh, "library")
    assert _signed_out(fresh) and not fresh.dataframe
    # Signing in again is a new session (a new cookie) and works.
    jar.cookies.clear()
    _run(fresh, "library")
    assert not _signed_out(fresh) and fresh.dataframe


def test_a_sign_in_the_server_never_recorded_is_refused_once_it_is_old(
    jar: CookieJar, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = signed_cookies(user("ada@alpha.example"), signed_at=time.time() - sessions.ADOPT_WINDOW_S - 60)
    monkeypatch.setattr("searchapp.ui.auth.request_cookies", lambda: old)
    at = _run(_app(user("ada@alpha.example")))
    assert _signed_out(at) and "not known to the server" in plain(at.warning[0].value)


# ------------------------------------------------------------------ groups


GROUP_SECRETS = {
    "auth": AUTH,
    "searchapp": {
        "teams": {
            "@alpha.example": "team-alpha",
            "boss@alpha.example": {"collection": "team-alpha", "admin": True},
        }
    },
}


def test_each_user_sees_only_the_documents_of_their_groups(jar: CookieJar) -> None:
    ada = _app(user("ada@alpha.example", groups=["legal"]), GROUP_SECRETS)
    _upload(ada, [("open.txt", b"Refunds are paid on Mondays.")])
    _upload(ada, [("secret.txt", b"Refunds for the lawsuit are paid on Fridays.")], groups=["legal"])
    assert _search(ada, "refunds paid") == {"open.txt", "secret.txt"}
    assert _status(ada)[1] == "2"

    grace = _app(user("grace@alpha.example", groups=["hr"]), GROUP_SECRETS)
    assert _search(grace, "refunds paid") == {"open.txt"}
    assert grace.multiselect(key="f_docs").options == ["open.txt"]  # the filters list no hidden name
    assert _status(grace)[1] == "1"
    _run(grace, "library")
    assert grace.dataframe[0].value["Name"].tolist() == ["open.txt"]
    # Grace cannot replace (or learn the name of) the hidden document by uploading over it.
    _upload(grace, [("secret.txt", b"Overwritten by grace.")])
    shown = " ".join(
        plain(str(e.value)) for e in [*grace.error, *grace.warning, *grace.markdown, *grace.caption]
    )
    assert "not allowed" in shown and "restricted to groups you are not in" in shown, shown
    assert _search(ada, "lawsuit Fridays") >= {"secret.txt"}

    # On the Library page Ada restricts the open file to her group: Grace no longer sees it.
    _run(ada, "library")
    ada.selectbox(key="library_doc").set_value(hashlib.sha256(b"Refunds are paid on Mondays.").hexdigest())
    _run(ada)
    groups = next(m for m in ada.multiselect if m.key and m.key.startswith("library_groups_"))
    assert groups.options == ["legal"] and groups.value == []  # only her own groups to choose from
    groups.set_value(["legal"])
    next(b for b in ada.button if b.label == "Save groups").click()
    _run(ada)
    assert "Saved who may see" in plain(ada.success[0].value)
    assert _status(grace)[1] == "0"
    _run(grace, "search")
    assert any("Your library is empty" in str(i.value) for i in grace.info)  # for her, it is

    boss = _app(user("boss@alpha.example"), GROUP_SECRETS)  # an admin sees everything
    assert _status(boss)[1] == "2"


# ------------------------------------------- two team libraries, one data directory


def test_two_team_libraries_share_one_data_directory_in_one_process(tmp_path: Path) -> None:
    base = make_settings(tmp_path, model="hash:64", collection="shared")
    alpha = team_settings(base, "ada@alpha.example")
    beta = team_settings(base, "bob@beta.example")
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


def test_the_sources_page_shows_server_paths_and_the_mass_delete_button_only_to_who_manages_sources(
    jar: CookieJar, tmp_path: Path
) -> None:
    """As in the API: a member sees a source and why its sync stopped, not where it lives,
    and cannot confirm a mass delete (the API refuses that to members too)."""
    from searchapp.sources import SourceSpec

    folder = tmp_path / "legal-share"
    folder.mkdir()
    for name in ("a.txt", "b.txt"):
        (folder / name).write_text(f"Refunds of kind {name} are paid on Mondays.")
        os.utime(folder / name, (time.time() - 60, time.time() - 60))
    settings = resources.load_settings().with_overrides(collection="team-alpha")
    team_sources = resources.get_sources(settings)
    team_sources.add(SourceSpec.create("legal", folder))
    assert team_sources.sync("legal")[0].counts["new"] == 2
    for path in folder.iterdir():
        path.unlink()
    assert team_sources.sync("legal")[0].counts["held"] == 2

    def page(at: AppTest) -> str:
        _run(at, "sources")
        return " ".join(plain(str(e.value)) for e in [*at.markdown, *at.warning])

    member = _app(user("ada@alpha.example", groups=["legal"]), GROUP_SECRETS)
    assert "would remove 2 of the 2" in page(member)
    assert not [b for b in member.button if b.key == "sync_anyway_legal"]
    manager = _app(user("boss@alpha.example"), GROUP_SECRETS)
    page(manager)
    assert [b for b in manager.button if b.key == "sync_anyway_legal"]

    folder.rename(tmp_path / "unmounted")
    assert team_sources.sync("legal")[0].outcome == "blocked"
    shown = page(_app(user("ada@alpha.example", groups=["legal"]), GROUP_SECRETS))
    assert "legal" in shown and "does not exist" in shown, shown
    assert str(tmp_path) not in shown and "(the source's folder)" in shown
    assert str(folder) in page(_app(user("boss@alpha.example"), GROUP_SECRETS))
