"""Sign-in end to end: Chromium, the real app, a real OpenID Connect provider on 127.0.0.1.

`oidc-provider-mock` issues real ID tokens (with `email`, `email_verified` and `groups`)
through the real authorization-code flow that `st.login` starts. Two teams, two groups:

    ada    alpha, group legal       grace  alpha, group hr
    bob    beta                     carol  no team

One app server (`searchapp ui`'s command, hash embedder), one browser with a context
(a cookie jar) per person, walking every check of issue 23 in one session:

- each user sees only their team's documents, and of those only their groups';
- a download or "open at page" URL copied into another user's browser, used without
  sign-in, after log-out, or after the user is removed from the team, is refused;
  nothing in the pages goes through Streamlit's `/media` URLs;
- log-out ends the session: a copy of the cookie taken before it signs nobody in, and a
  tab left open stops at its next search; the provider's ID token read from the copied
  cookie, which the API and MCP accepted, is refused by both (`api.sign_outs`), and a
  fresh sign-in's token works;
- a user in no team is told so in words, not "Something went wrong";
- links survive a restart (signed with `[auth].cookie_secret`), and the route opens the
  team's library itself (nobody has opened it in the restarted process yet).
"""

from __future__ import annotations

import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from searchapp import Library, Settings
from searchapp.ingest import Ingestor, SourceFile
from tests.app_server import Server, free_port, running_app
from tests.conftest import make_settings
from tests.helpers import make_pdf
from tests.mcp_discovery import INITIALIZE
from tests.oidc_provider import id_token_in_cookies
from tests.test_browser import CHROMIUM, CHROMIUM_FLAGS, Shots, ask, settle, sidebar

pytestmark = [pytest.mark.browser, pytest.mark.slow]

COOKIE_SECRET = "e2e-" + "c" * 40
PEOPLE = {
    "ada": {"email": "ada@alpha.example", "email_verified": True, "groups": ["legal"]},
    "grace": {"email": "grace@alpha.example", "email_verified": True, "groups": ["hr"]},
    "bob": {"email": "bob@beta.example", "email_verified": True, "groups": []},
    "carol": {"email": "carol@gamma.example", "email_verified": True, "groups": []},
}
ALPHA = {
    "handbook.pdf": (["The refund desk pays travel refunds on Mondays."], ()),
    "lawsuit.pdf": (["The refund reserve for the lawsuit is confidential."], ("legal",)),
    "salaries.pdf": (["Refund of salary advances is handled by payroll."], ("hr",)),
}
BETA = {"beta-plan.pdf": (["Beta team refund plan for the new quarter."], ())}


def secrets_toml(idp: str, *, with_grace: bool = True) -> str:
    grace = '"grace@alpha.example" = "team-alpha"\n' if with_grace else ""
    return (
        textwrap.dedent(
            f"""\
        [auth]
        redirect_uri = "http://localhost:{{port}}/oauth2callback"
        cookie_secret = "{COOKIE_SECRET}"
        client_id = "searchapp"
        client_secret = "not-checked-by-the-mock"
        server_metadata_url = "{idp}/.well-known/openid-configuration"

        [searchapp.teams]
        "ada@alpha.example" = "team-alpha"
        "@beta.example" = "team-beta"
        """
        )
        + grace
    )


def seed(settings: Settings) -> None:
    """Both teams' documents, written before the app starts (it then holds the data directory)."""
    for collection, docs in (("team-alpha", ALPHA), ("team-beta", BETA)):
        with (
            Library.open(settings.with_overrides(collection=collection)) as library,
            Ingestor(library) as ingestor,
        ):
            files = [
                SourceFile(name, data=make_pdf(pages), groups=groups)
                for name, (pages, groups) in docs.items()
            ]
            assert {o.status for o in ingestor.ingest(files).outcomes} == {"ingested"}


@pytest.fixture
def provider() -> Iterator[str]:
    from oidc_provider_mock import User, run_server_in_thread

    users = [User(sub=name, claims=claims) for name, claims in PEOPLE.items()]
    with run_server_in_thread(user_claims=users) as server:
        yield f"http://localhost:{server.server_port}"


class App:
    """The app server, restartable on the same port and data directory."""

    def __init__(self, tmp_path: Path, idp: str) -> None:
        self.settings = make_settings(tmp_path, model="hash:64")
        self.workdir = tmp_path / "app"
        (self.workdir / ".streamlit").mkdir(parents=True)
        self.port = free_port()
        self.idp = idp
        self.url = f"http://localhost:{self.port}"  # the origin of the redirect URI

    def start(self, *, with_grace: bool = True) -> Any:
        (self.workdir / ".streamlit" / "secrets.toml").write_text(
            secrets_toml(self.idp, with_grace=with_grace)
        )
        return running_app(self.settings, self.workdir, port=self.port)


def sign_in(browser: Any, app: App, who: str, *, expect_text: str | None = None) -> tuple[Any, Any]:
    """A fresh browser profile signs in as `who` through the provider's authorization page."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1280, "height": 1100}, accept_downloads=True)
    page = context.new_page()
    page.goto(app.url)
    page.get_by_role("button", name="Log in").click(timeout=120_000)
    page.get_by_role("button", name=who, exact=True).click(timeout=30_000)  # the provider's page
    expect(page.get_by_text(expect_text or f"Signed in as {PEOPLE[who]['email']}")).to_be_visible(
        timeout=120_000
    )
    settle(page)
    return context, page


def search(page: Any, query: str) -> None:
    """`ask`, then wait for every card to be drawn whole (cards are fragments, drawn after the page)."""
    ask(page, query)
    page.wait_for_function(
        "() => { const cards = document.querySelectorAll('[class*=\"st-key-hit-\"]');"
        " return cards.length > 0 && [...cards].every(c => !c.querySelector('[data-testid=\"stSkeleton\"]')"
        " && c.querySelector('a[href*=\"/searchapp/download/\"]')); }",
        timeout=120_000,
    )
    # The first card can be whole while the run still draws the others: under load `ask`'s
    # settle may look before the run has begun (CI saw one card of two).
    settle(page)


def result_names(page: Any) -> set[str]:
    names = set()
    for text in page.locator('[class*="st-key-hit-"]').all_inner_texts():
        names.add(text.split("·", 1)[1].strip().split()[0] if "·" in text else text)
    return names


def links_of(page: Any, app: App) -> dict[str, dict[str, str]]:
    """Each card's document -> its "Download original" and "Open at page" URLs (absolute)."""
    found: dict[str, dict[str, str]] = {}
    for card in page.locator('[class*="st-key-hit-"]').all():
        name = card.inner_text().split("·", 1)[1].strip().split()[0]
        hrefs = [a.get_attribute("href") or "" for a in card.locator("a").all()]
        found[name] = {
            "download": app.url + next(h for h in hrefs if "/searchapp/download/" in h),
            "open": app.url + next(h for h in hrefs if "/searchapp/original/" in h).split("#")[0],
        }
    return found


def id_token(context: Any) -> str:
    """The provider's ID token, read from the browser's copy of Streamlit's tokens cookie."""
    return id_token_in_cookies({c["name"]: c["value"] for c in context.cookies()}, COOKIE_SECRET)


def bearer_status(client: Any, app: App, token: str) -> tuple[int, int]:
    """What `/api/v1/me` and `/mcp` (an MCP initialize) answer to `token` as a bearer token."""
    headers = {"Authorization": f"Bearer {token}"}
    api = client.get(f"{app.url}/api/v1/me", headers=headers).status
    mcp = client.post(
        f"{app.url}/mcp",
        headers={**headers, "Accept": "application/json, text/event-stream"},
        data=INITIALIZE,
    ).status
    return int(api), int(mcp)


def fetch(client: Any, url: str) -> int:
    """The status of a GET of `url` with the cookies of a browser context (or none)."""
    return int(getattr(client, "request", client).get(url, max_redirects=0).status)


@pytest.mark.timeout(900)
def test_sign_in_teams_groups_links_and_log_out_in_a_real_browser(tmp_path: Path, provider: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: apt-get install -y chromium (scripts/test.sh does this)")
    app = App(tmp_path, provider)
    seed(app.settings)
    shot = Shots(tmp_path)
    requests: list[str] = []

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)
        anonymous = p.request.new_context()
        try:
            with app.start() as server:
                assert isinstance(server, Server)
                # 1. Each user sees only what their team and groups may see.
                ada, ada_page = sign_in(browser, app, "ada")
                ada.on("request", lambda request: requests.append(request.url))
                search(ada_page, "refund")
                assert result_names(ada_page) == {"handbook.pdf", "lawsuit.pdf"}
                shot(ada_page, "ada-results")
                ada_links = links_of(ada_page, app)
                lawsuit, handbook = ada_links["lawsuit.pdf"], ada_links["handbook.pdf"]
                for url in (*lawsuit.values(), *handbook.values()):
                    assert fetch(ada, url) == 200, url
                response = ada.request.get(lawsuit["download"])
                assert (
                    response.body().startswith(b"%PDF")
                    and "attachment" in response.headers["content-disposition"]
                )

                grace, grace_page = sign_in(browser, app, "grace")
                search(grace_page, "refund")
                assert result_names(grace_page) == {"handbook.pdf", "salaries.pdf"}
                bob, bob_page = sign_in(browser, app, "bob")
                search(bob_page, "refund")
                assert result_names(bob_page) == {"beta-plan.pdf"}
                beta_plan = links_of(bob_page, app)["beta-plan.pdf"]

                # 2. Ada's links, copied elsewhere: refused without sign-in, to another group, another team.
                for url in lawsuit.values():
                    assert fetch(anonymous, url) == 401
                    assert fetch(grace, url) == 404
                    assert fetch(bob, url) == 404
                assert fetch(grace, handbook["open"]) == 200  # her team's open document: hers to read too
                assert fetch(bob, handbook["open"]) == 404

                # 3. A user in no team is told so, kindly.
                carol, carol_page = sign_in(browser, app, "carol")
                expect(
                    carol_page.get_by_text("there is no library for you on this server yet")
                ).to_be_visible()
                assert not carol_page.get_by_text("Something went wrong").count()
                shot(carol_page, "carol-no-team")
                assert fetch(carol, handbook["open"]) == 403

                # 4. Log-out in one tab: the copied cookie and the other, open tab stop working.
                copied = ada.cookies()
                stolen = id_token(ada)  # the ID token in the copied cookie: a bearer token for API and MCP
                assert bearer_status(anonymous, app, stolen) == (200, 200)
                other_tab = ada.new_page()
                other_tab.goto(app.url)
                expect(sidebar(other_tab).get_by_role("button", name="Log out")).to_be_visible(timeout=60_000)
                sidebar(other_tab).get_by_role("button", name="Log out").click()
                other_tab.wait_for_url(
                    lambda url: not url.startswith(app.url) or "oauth2" in url, timeout=60_000
                )
                time.sleep(2.5)  # past the 2 s in which a session's last check is reused
                ask(ada_page, "lawsuit reserve")
                expect(ada_page.get_by_text("Please sign in again.")).to_be_visible(timeout=30_000)
                assert not result_names(ada_page)
                shot(ada_page, "ada-open-tab-after-log-out")
                for url in lawsuit.values():
                    assert fetch(ada, url) == 401

                thief = browser.new_context()
                thief.add_cookies(copied)
                thief_page = thief.new_page()
                thief_page.goto(app.url)
                expect(thief_page.get_by_text("Please sign in again.")).to_be_visible(timeout=60_000)
                assert not thief_page.get_by_label("Search query").count()
                for url in lawsuit.values():
                    assert fetch(thief, url) == 401
                # The ID token from the copied cookie is refused by the API and MCP now.
                assert bearer_status(anonymous, app, stolen) == (401, 401)
                # Nothing of a document went through Streamlit's /media store (its fonts are /static/media).
                assert not [url for url in requests if urlsplit(url).path.startswith("/media/")]

            # 5. Grace leaves the team; the app restarts. Old links still work for who may see them.
            with app.start(with_grace=False):
                # Nobody has opened a page of the new process: the route opens beta's library itself.
                assert fetch(bob, beta_plan["download"]) == 200
                assert fetch(grace, handbook["open"]) == 403  # her session is still active: not her team now
                ada_again, _ = sign_in(browser, app, "ada")
                assert fetch(ada_again, lawsuit["open"]) == 200  # a link from before the restart
                # Her new sign-in's token works; the one from before her log-out still does not.
                assert bearer_status(anonymous, app, id_token(ada_again)) == (200, 200)
                assert bearer_status(anonymous, app, stolen) == (401, 401)
                assert fetch(anonymous, lawsuit["open"]) == 401
        finally:
            anonymous.dispose()
            browser.close()
