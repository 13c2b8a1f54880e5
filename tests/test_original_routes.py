"""The originals routes and the log-out route with sign-in on (Starlette's TestClient).

Each request is checked when it is made: a signed-in cookie with an active session, a
team whose collection is the link's, and groups that may see the document. Links are
signed under `[auth].cookie_secret`, so they survive a restart, and the route opens the
team's library itself, so they work where nobody opened the app yet. The same checks in
a real browser against a real OpenID provider: tests/test_browser_sign_in.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.testclient import TestClient

from searchapp.ingest import Ingestor, SourceFile
from searchapp.ui import callers, original_links, resources, routes
from tests.auth_helpers import AUTH, SECRET, signed_cookies
from tests.helpers import make_pdf

TEAMS: dict[str, Any] = {
    "ada@alpha.example": {"collection": "team-alpha", "groups": ["legal"]},
    "@alpha.example": "team-alpha",
    "@beta.example": "team-beta",
}
OPEN_PDF = make_pdf(["Refunds are paid within thirty days."], title="Open")
LEGAL_PDF = make_pdf(["The lawsuit reserve is confidential."], title="Legal")
PAGE_HTML = b"<html><body><script>alert(1)</script>Notes</body></html>"


def who(email: str) -> dict[str, Any]:
    return {"email": email, "iss": "https://id.example", "sub": email}


@pytest.fixture
def secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    for key, value in {
        "SEARCHAPP_DATA_DIR": str(tmp_path / "data"),
        "SEARCHAPP_MODEL": "hash:64",
        "SEARCHAPP_WORKERS": "1",
        "SEARCHAPP_MIN_FREE_MB": "1",
    }.items():
        monkeypatch.setenv(key, value)
    current: dict[str, Any] = {"auth": AUTH, "searchapp": {"teams": TEAMS}}
    monkeypatch.setattr(resources, "secrets", lambda: current)
    yield current
    resources.release_all()


@pytest.fixture
def links(secrets: dict[str, Any]) -> dict[str, str]:
    """Alpha's three documents (one restricted to `legal`), and their links."""
    library = resources.get_library(resources.load_settings().with_overrides(collection="team-alpha"))
    with Ingestor(library) as ingestor:
        report = ingestor.ingest(
            [
                SourceFile("open.pdf", data=OPEN_PDF),
                SourceFile("legal.pdf", data=LEGAL_PDF, groups=("legal",)),
                SourceFile("page.html", data=PAGE_HTML),
            ]
        )
    assert {o.status for o in report.outcomes} == {"ingested"}
    ids = {r.source: r.doc_id for r in library.documents()}
    resources.release_all()  # as on a fresh replica: nobody has opened the library yet
    return {
        "open": original_links.open_url("team-alpha", ids["open.pdf"], "open.pdf", 1).split("#")[0],
        "download": original_links.download_url("team-alpha", ids["open.pdf"], "open.pdf"),
        "legal": original_links.open_url("team-alpha", ids["legal.pdf"], "legal.pdf", 1).split("#")[0],
        "legal-download": original_links.download_url("team-alpha", ids["legal.pdf"], "legal.pdf"),
        "html": original_links.download_url("team-alpha", ids["page.html"], "page.html"),
    }


def client(cookies: dict[str, str] | None = None) -> TestClient:
    app = Starlette(routes=routes.all_routes(), middleware=[Middleware(SessionMiddleware, secret_key="test")])
    browser = TestClient(app, base_url="http://localhost:8501", follow_redirects=False)
    for name, value in (cookies or {}).items():
        browser.cookies.set(name, value)
    return browser


def status(browser: TestClient, url: str) -> int:
    return browser.get(url).status_code


def test_a_member_gets_what_its_groups_may_see_and_nothing_else(links: dict[str, str]) -> None:
    ada = client(signed_cookies(who("ada@alpha.example")))
    opened = ada.get(links["open"])
    assert opened.status_code == 200 and opened.content == OPEN_PDF
    assert opened.headers["content-type"] == "application/pdf"
    assert opened.headers["cache-control"] == "private, no-store"
    downloaded = ada.get(links["download"])
    assert downloaded.status_code == 200 and downloaded.content == OPEN_PDF
    assert downloaded.headers["content-disposition"].startswith('attachment; filename="open.pdf"')
    assert status(ada, links["legal"]) == 200 and status(ada, links["legal-download"]) == 200
    html = ada.get(links["html"])  # never served as a page of our origin
    assert html.status_code == 200 and html.headers["content-type"] == "application/octet-stream"
    assert (
        html.headers["content-security-policy"] == "sandbox"
        and html.headers["x-content-type-options"] == "nosniff"
    )
    assert status(ada, links["html"].replace("/download/", "/original/")) == 404  # only PDFs inline

    grace = client(signed_cookies(who("grace@alpha.example")))  # same team, not in `legal`
    assert status(grace, links["open"]) == 200
    assert status(grace, links["legal"]) == 404 and status(grace, links["legal-download"]) == 404


@pytest.mark.parametrize(
    ("cookies", "expected"),
    [
        (None, 401),  # never signed in
        (lambda: signed_cookies(who("ada@alpha.example"), secret="another secret" * 3), 401),  # forged
        (lambda: signed_cookies(who("ada@alpha.example"), origin="https://other.example"), 401),
        (lambda: signed_cookies(who("bob@beta.example")), 404),  # another team: not in its library
        (lambda: signed_cookies(who("carol@gamma.example")), 403),  # no team here
        (lambda: signed_cookies({**who("ada@alpha.example"), "email_verified": False}), 403),
    ],
)
def test_anyone_else_is_refused(
    links: dict[str, str], cookies: Callable[[], dict[str, str]] | None, expected: int
) -> None:
    # Signed now, not when the tests were collected: an unknown sign-in is adopted only while fresh.
    browser = client(None if cookies is None else cookies())
    for name in ("open", "download", "legal", "legal-download"):
        response = browser.get(links[name])
        assert response.status_code == expected, name
        assert b"%PDF" not in response.content


def test_a_changed_token_is_refused(links: dict[str, str]) -> None:
    ada = client(signed_cookies(who("ada@alpha.example")))
    token = links["open"].split("/")[3]
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert status(ada, links["open"].replace(token, tampered)) == 403
    forged = original_links.make_token("team-alpha", "0" * 64, secret=b"not our key" * 3)
    assert status(ada, links["open"].replace(token, forged)) == 403


def test_log_out_ends_every_copy_of_the_cookie(links: dict[str, str]) -> None:
    cookies = signed_cookies(who("ada@alpha.example"))
    ada, copy = client(cookies), client(cookies)
    assert status(ada, links["open"]) == 200 and status(copy, links["open"]) == 200
    response = ada.get("/auth/logout")  # our route first, then Streamlit's
    assert response.status_code == 302
    assert any(h.startswith("_streamlit_user=") for h in response.headers.get_list("set-cookie"))
    assert status(copy, links["open"]) == 401 and status(copy, links["download"]) == 401
    # A new sign-in is a new ID token (another nonce), so a new cookie and a new session.
    fresh = client(signed_cookies({**who("ada@alpha.example"), "nonce": "n2"}))
    assert status(fresh, links["open"]) == 200


def test_a_user_removed_from_the_team_is_refused_at_once(
    links: dict[str, str], secrets: dict[str, Any]
) -> None:
    grace = client(signed_cookies(who("grace@alpha.example")))
    assert status(grace, links["open"]) == 200
    secrets["searchapp"] = {"teams": {"ada@alpha.example": "team-alpha"}}  # the domain entry is gone
    assert status(grace, links["open"]) == 403


def test_links_survive_a_restart_and_name_their_document_only(links: dict[str, str]) -> None:
    ada = client(signed_cookies(who("ada@alpha.example")))
    assert status(ada, links["open"]) == 200
    resources.release_all()  # a restart: the library is closed, the key is the configured secret
    assert status(ada, links["open"]) == 200
    key = original_links.link_secret()
    assert key == original_links.link_secret() and SECRET.encode() not in key  # derived, never the secret


def test_end_session_without_a_team_still_records_the_log_out(links: dict[str, str]) -> None:
    carol = signed_cookies(who("carol@gamma.example"))
    assert callers.end_session(resources.load_settings(), carol)
