"""Every door of the HTTP API against every kind of caller, on a live `searchapp serve`.

Two teams (collections team-a and team-b), each with one document holding a word no
other has, and in team-a a third document restricted to the group ``legal``. Each
endpoint is called with no token, a malformed one, a revoked one, an expired one, the
other team's token, a token of team-a in another group (``hr``) and a read-only token
(for writes), and must answer with the documented status; no body may hold what that
caller may not see (ids, text, names, counts).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api_server import LiveApi, live_api, wait_for_job

pytestmark = pytest.mark.server

A_WORD, B_WORD = "zebracorn", "quokkafish"
A_TEXT = f"# Alpha handbook\n\nThe {A_WORD} policy says travel claims are paid within five days.\n"
G_WORD = "pangolite"
G_TEXT = f"# Legal memo\n\nThe {G_WORD} settlement stays confidential until March.\n"
B_TEXT = f"# Bravo handbook\n\nThe {B_WORD} rule says laptops are replaced every three years.\n"
TOKENS: dict[str, dict[str, object]] = {
    "a_read": {"collection": "team-a", "role": "read"},
    "a_write": {"collection": "team-a", "role": "write"},
    "a_admin": {"collection": "team-a", "role": "admin"},
    "a_revoked": {"collection": "team-a", "role": "admin", "revoked": True},
    "a_expired": {"collection": "team-a", "role": "admin", "expires_at": int(time.time()) - 60},
    "a_legal": {"collection": "team-a", "role": "write", "groups": ["legal"]},
    "a_hr": {"collection": "team-a", "role": "write", "groups": ["hr"]},
    "b_write": {"collection": "team-b", "role": "write"},
    "b_admin": {"collection": "team-b", "role": "admin"},
}


def upload(
    client: httpx.Client, live: LiveApi, token: str, name: str, text: str, groups: tuple[str, ...] = ()
) -> dict[str, Any]:
    response = client.post(
        f"{live.api}/documents",
        headers=live.auth(token),
        files=[("files", (name, text.encode(), "text/markdown"))],
        data={"groups": list(groups)} if groups else None,
    )
    assert response.status_code == 202, response.text
    job = wait_for_job(client, response.json()["status_url"], live.auth(token))
    assert job["state"] == "done" and job["report"]["ingested"] == 1, job  # type: ignore[index]
    return job


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveApi, httpx.Client, dict[str, str]]]:
    root = tmp_path_factory.mktemp("api-auth")
    with (
        live_api(root, TOKENS, env={"SEARCHAPP_API_RATE_PER_MINUTE": "0"}) as live,
        httpx.Client(timeout=60) as client,
    ):
        job_a = upload(client, live, "a_write", "alpha.md", A_TEXT)
        job_b = upload(client, live, "b_write", "bravo.md", B_TEXT)
        job_g = upload(client, live, "a_legal", "legal.md", G_TEXT, groups=("legal",))
        doc_a = job_a["report"]["files"][0]["doc_id"]  # type: ignore[index]
        doc_b = job_b["report"]["files"][0]["doc_id"]  # type: ignore[index]
        doc_g = job_g["report"]["files"][0]["doc_id"]  # type: ignore[index]
        ids = {
            "doc_a": doc_a,
            "doc_b": doc_b,
            "passage_a": f"{doc_a}:0",
            "job_a": str(job_a["job_id"]),
            "token_a": live.token_ids["a_read"],
            "doc_g": doc_g,
            "passage_g": f"{doc_g}:0",
            "job_g": str(job_g["job_id"]),
        }
        yield live, client, ids


# (method, path, json body, the role it needs); {doc_a} etc. are filled in per test.
ENDPOINTS: list[tuple[str, str, dict[str, Any] | None, str]] = [
    ("GET", "/me", None, "read"),
    ("GET", "/stats", None, "read"),
    ("POST", "/search", {"query": A_WORD, "k": 5}, "read"),
    # The query syntax and the request's `like` name documents and passages too.
    ("POST", "/search", {"query": "travel doc:{doc_a}", "k": 5}, "read"),
    ("POST", "/search", {"like": "{passage_a}", "query": "type:md", "k": 5}, "read"),
    ("POST", "/similar", {"passage_id": "{passage_a}", "k": 5}, "read"),
    ("POST", "/compare", {"text_a": "travel", "text_b": "claims"}, "read"),
    ("GET", "/passages/{passage_a}", None, "read"),
    ("POST", "/feedback", {"query": "travel", "verdict": "good", "passage_id": "{passage_a}"}, "read"),
    ("GET", "/documents", None, "read"),
    ("GET", "/documents/{doc_a}", None, "read"),
    ("GET", "/documents/{doc_a}/original", None, "read"),
    ("GET", "/jobs", None, "read"),
    ("GET", "/jobs/{job_a}", None, "read"),
    ("PATCH", "/documents/{doc_a}", {"tags": ["checked"]}, "write"),
    ("DELETE", "/documents/{doc_a}", None, "write"),
    ("POST", "/documents", None, "write"),  # multipart, below
    ("GET", "/tokens", None, "admin"),
    ("POST", "/tokens", {"role": "read"}, "admin"),
    ("DELETE", "/tokens/{token_a}", None, "admin"),
]
IDS = [
    f"{m} {p}" + ("".join(f" {k}" for k in ("doc:", "like") if k in json.dumps(b)) if p == "/search" else "")
    for m, p, b, _ in ENDPOINTS
]


def names_a_thing(endpoint: tuple[str, str, Any, str], keys: tuple[str, ...]) -> bool:
    """True when the endpoint's path or body names one of these ids."""
    _, path, body, _ = endpoint
    return any(key in path or key in json.dumps(body) for key in keys)


def call(
    client: httpx.Client,
    live: LiveApi,
    ids: dict[str, str],
    endpoint: tuple[str, str, Any, str],
    headers: dict[str, str],
) -> httpx.Response:
    method, path, body, _ = endpoint
    path = path.format(**ids)
    if isinstance(body, dict):
        body = {k: (v.format(**ids) if isinstance(v, str) else v) for k, v in body.items()}
    if method == "POST" and path == "/documents":
        files = [("files", ("probe.md", b"# Probe\n\nA probe upload.\n", "text/markdown"))]
        return client.post(f"{live.api}{path}", headers=headers, files=files)
    return client.request(method, f"{live.api}{path}", headers=headers, json=body)


def assert_no_leak(response: httpx.Response, ids: dict[str, str], secrets: tuple[str, ...] = ()) -> None:
    text = response.text
    if response.headers.get("content-type", "").startswith("application/json"):
        data = response.json()
        if isinstance(data, dict) and isinstance(data.get("query"), str):
            text = text.replace(json.dumps(data["query"]), "")  # a search echoes its own query
    for secret in secrets or (ids["doc_a"], ids["job_a"], A_WORD, "alpha.md", ids["doc_a"][:12]):
        assert secret not in text, f"{response.request.method} {response.request.url} leaked {secret!r}"


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=IDS)
@pytest.mark.parametrize("who", ["none", "not-bearer", "malformed", "unknown", "revoked", "expired"])
def test_no_valid_token_is_401_and_says_nothing(world: Any, endpoint: Any, who: str) -> None:
    live, client, ids = world
    headers = {
        "none": {},
        "not-bearer": {"Authorization": f"Basic {live.tokens['a_admin']}"},
        "malformed": {"Authorization": "Bearer not-a-token"},
        "unknown": {"Authorization": "Bearer sapi_000000000000_" + "A" * 43},
        "revoked": live.auth("a_revoked"),
        "expired": live.auth("a_expired"),
    }[who]
    response = call(client, live, ids, endpoint, headers)
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["code"] == "unauthenticated"
    assert_no_leak(response, ids)


def test_revoked_and_expired_say_so(world: Any) -> None:
    live, client, _ = world
    revoked = client.get(f"{live.api}/me", headers=live.auth("a_revoked")).json()["detail"]
    expired = client.get(f"{live.api}/me", headers=live.auth("a_expired")).json()["detail"]
    assert "revoked" in revoked and "expired" in expired


def _replace_ids(text: str, old: dict[str, str], new: dict[str, str]) -> str:
    for key in ("passage_a", "doc_a", "job_a", "token_a"):
        text = text.replace(old[key], new[key])
    return text


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=IDS)
def test_another_teams_token_finds_nothing_of_theirs(world: Any, endpoint: Any) -> None:
    live, client, ids = world
    method, path, _, _ = endpoint
    token = "b_admin"
    response = call(client, live, ids, endpoint, live.auth(token))
    if names_a_thing(endpoint, ("{doc_a}", "{passage_a}", "{job_a}", "{token_a}")):
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "not_found"
        # Indistinguishable from an id that exists nowhere: the answer tells nothing.
        unknown = {
            **ids,
            "doc_a": "f" * 64,
            "passage_a": "f" * 64 + ":0",
            "job_a": "f" * 32,
            "token_a": "f" * 12,
        }
        other = call(client, live, unknown, endpoint, live.auth(token))
        assert other.status_code == 404
        assert json.loads(_replace_ids(other.text, unknown, ids)) == response.json()
        assert_no_leak(httpx.Response(404, text=_replace_ids(response.text, ids, unknown)), ids)
    else:
        assert response.status_code in (200, 201, 202), response.text
        assert_no_leak(response, ids)
    if path == "/stats":
        assert response.json()["documents"] >= 1 and response.json()["collection"] == "team-b"
    if path == "/tokens" and method == "GET":
        assert {t["collection"] for t in response.json()["tokens"]} == {"team-b"}


def as_group_probe(ids: dict[str, str]) -> dict[str, str]:
    """The ids with team-a's open document swapped for its legal-only one."""
    return {**ids, "doc_a": ids["doc_g"], "passage_a": ids["passage_g"], "job_a": ids["job_g"]}


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=IDS)
def test_another_group_of_the_same_team_finds_nothing_of_theirs(world: Any, endpoint: Any) -> None:
    """a_hr (write, group hr) asks for the legal-only document: as if it did not exist."""
    live, client, ids = world
    _, path, _, role = endpoint
    probe = as_group_probe(ids)
    secrets = (ids["doc_g"], ids["job_g"], G_WORD, "legal.md", ids["doc_g"][:12])
    response = call(client, live, probe, endpoint, live.auth("a_hr"))
    if role == "admin":
        assert response.status_code == 403, response.text
    elif names_a_thing(endpoint, ("{doc_a}", "{passage_a}", "{job_a}")):
        assert response.status_code == 404, response.text
        unknown = {**probe, "doc_a": "f" * 64, "passage_a": "f" * 64 + ":0", "job_a": "f" * 32}
        other = call(client, live, unknown, endpoint, live.auth("a_hr"))
        assert other.status_code == 404
        assert json.loads(_replace_ids(other.text, unknown, probe)) == response.json()
        assert_no_leak(httpx.Response(404, text=_replace_ids(response.text, probe, unknown)), ids, secrets)
    else:
        assert response.status_code in (200, 201, 202), response.text
        assert_no_leak(response, ids, secrets)
    if path == "/stats":
        everything = client.get(f"{live.api}/stats", headers=live.auth("a_admin")).json()["documents"]
        assert response.json()["documents"] == everything - 1  # all but legal.md
    # The legal-only document is still there, whole, for its group and for the admin.
    for token in ("a_legal", "a_admin"):
        seen = client.get(f"{live.api}/documents/{ids['doc_g']}", headers=live.auth(token))
        assert seen.status_code == 200 and seen.json()["groups"] == ["legal"]


def test_groups_decide_search_counts_and_uploads(world: Any) -> None:
    live, client, ids = world
    query = {"query": G_WORD, "k": 50}
    settle_uploads(live, client)  # an upload another test started would change the counts
    open_total = client.get(f"{live.api}/documents", headers=live.auth("a_hr")).json()["total"]
    for token, sees in (("a_legal", True), ("a_admin", True), ("a_hr", False), ("a_read", False)):
        hits = client.post(f"{live.api}/search", headers=live.auth(token), json=query).json()["results"]
        assert (ids["doc_g"] in {h["doc_id"] for h in hits}) is sees, token
        docs = client.get(f"{live.api}/documents", headers=live.auth(token)).json()
        assert (ids["doc_g"] in {d["doc_id"] for d in docs["documents"]}) is sees, token
        assert docs["total"] == open_total + (1 if sees else 0), token
    # A caller may restrict an upload only to its own groups.
    refused = client.post(
        f"{live.api}/documents",
        headers=live.auth("a_hr"),
        files=[("files", ("x.md", b"# X\n\nx", "text/markdown"))],
        data={"groups": ["legal"]},
    )
    assert refused.status_code == 403 and "groups you are in" in refused.json()["detail"]
    # Another group's job is not found, its own is.
    assert client.get(f"{live.api}/jobs/{ids['job_g']}", headers=live.auth("a_hr")).status_code == 404
    assert client.get(f"{live.api}/jobs/{ids['job_g']}", headers=live.auth("a_legal")).status_code == 200
    assert ids["job_g"] not in client.get(f"{live.api}/jobs", headers=live.auth("a_hr")).text


def test_an_upload_never_replaces_a_document_its_uploader_cannot_see(world: Any) -> None:
    """Documents are replaced by name: a file named like a hidden document fails, the document stays."""
    live, client, ids = world
    for token in ("a_hr", "a_write"):  # another group; no group (sees the open documents only)
        response = client.post(
            f"{live.api}/documents",
            headers=live.auth(token),
            files=[
                ("files", ("legal.md", f"# Not the memo\n\nWritten by {token}.\n".encode(), "text/markdown"))
            ],
        )
        assert response.status_code == 202, response.text
        job = wait_for_job(client, response.json()["status_url"], live.auth(token))
        assert job["state"] == "done", job
        [outcome] = job["report"]["files"]  # type: ignore[index]
        assert (outcome["status"], outcome["reason"]) == ("failed", "not_allowed"), outcome
        assert ids["doc_g"] not in json.dumps(job) and G_WORD not in json.dumps(job)
    seen = client.get(f"{live.api}/documents/{ids['doc_g']}", headers=live.auth("a_legal"))
    assert seen.status_code == 200 and seen.json()["groups"] == ["legal"]
    original = client.get(f"{live.api}/documents/{ids['doc_g']}/original", headers=live.auth("a_legal"))
    assert original.status_code == 200 and G_WORD in original.text


def test_another_teams_search_and_listing_hold_only_their_own(world: Any) -> None:
    live, client, ids = world
    found = client.post(
        f"{live.api}/search", headers=live.auth("b_write"), json={"query": A_WORD, "k": 50}
    ).json()
    assert all(hit["doc_id"] != ids["doc_a"] for hit in found["results"])
    listed = client.get(f"{live.api}/documents", headers=live.auth("b_write")).json()
    assert ids["doc_b"] in {d["doc_id"] for d in listed["documents"]}
    assert ids["doc_a"] not in {d["doc_id"] for d in listed["documents"]}
    own = client.post(
        f"{live.api}/search", headers=live.auth("a_read"), json={"query": A_WORD, "k": 5}
    ).json()
    assert own["results"][0]["doc_id"] == ids["doc_a"]
    assert own["results"][0]["link"].endswith(f"/api/v1/documents/{ids['doc_a']}/original")


@pytest.mark.parametrize(
    "endpoint",
    [e for e in ENDPOINTS if e[3] != "read"],
    ids=[i for e, i in zip(ENDPOINTS, IDS, strict=True) if e[3] != "read"],
)
def test_a_read_token_cannot_write(world: Any, endpoint: Any) -> None:
    live, client, ids = world
    response = call(client, live, ids, endpoint, live.auth("a_read"))
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "forbidden"
    still = client.get(f"{live.api}/documents/{ids['doc_a']}", headers=live.auth("a_read"))
    assert still.status_code == 200 and "checked" not in still.json()["tags"]


def test_a_write_token_cannot_manage_tokens(world: Any) -> None:
    live, client, _ = world
    assert client.get(f"{live.api}/tokens", headers=live.auth("a_write")).status_code == 403


def test_health_needs_no_token_and_tells_nothing(world: Any) -> None:
    live, client, ids = world
    response = client.get(f"{live.api}/health")
    assert response.status_code == 200 and response.json()["status"] == "ok"
    assert set(response.json()) == {"status", "version", "detail"}
    assert_no_leak(response, ids)


def test_the_allowed_caller_gets_every_door(world: Any, tmp_path: Path) -> None:
    """The same endpoints with the right token: each answers 2xx (the delete last)."""
    live, client, ids = world
    for endpoint in ENDPOINTS:
        method, path, _, role = endpoint
        token = {"read": "a_read", "write": "a_write", "admin": "a_admin"}[role]
        if path == "/jobs/{job_a}":
            token = "a_write"  # a job is its starter's (and the admins'): it names the files it was given
        if path == "/tokens/{token_a}":
            continue  # revoking a_read would break the rest; revocation is tested below
        if method == "DELETE" and path == "/documents/{doc_a}":
            continue
        response = call(client, live, ids, endpoint, live.auth(token))
        assert response.status_code in (200, 201, 202), f"{method} {path}: {response.text}"
    original = client.get(f"{live.api}/documents/{ids['doc_a']}/original", headers=live.auth("a_read"))
    assert original.content == A_TEXT.encode()
    assert original.headers["x-content-type-options"] == "nosniff"
    assert original.headers["content-disposition"].startswith("attachment")


def test_revoking_over_the_api_stops_the_token_at_once(world: Any) -> None:
    live, client, _ = world
    made = client.post(
        f"{live.api}/tokens", headers=live.auth("a_admin"), json={"role": "read", "name": "short"}
    )
    assert made.status_code == 201
    secret, token_id = made.json()["token"], made.json()["token_id"]
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get(f"{live.api}/me", headers=headers).json()["role"] == "read"
    listed = client.get(f"{live.api}/tokens", headers=live.auth("a_admin")).json()["tokens"]
    assert token_id in {t["token_id"] for t in listed} and all(
        "hash" not in t and "token" not in t for t in listed
    )
    # Another team's admin cannot revoke it.
    assert client.delete(f"{live.api}/tokens/{token_id}", headers=live.auth("b_admin")).status_code == 404
    assert (
        client.delete(f"{live.api}/tokens/{token_id}", headers=live.auth("a_admin")).json()["state"]
        == "revoked"
    )
    assert client.get(f"{live.api}/me", headers=headers).status_code == 401


def settle_uploads(live: Any, client: httpx.Client, timeout: float = 120) -> None:
    """Wait until no upload job of team A is queued or running (an admin sees them all)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = client.get(f"{live.api}/jobs", headers=live.auth("a_admin")).json()["jobs"]
        if all(job["state"] in ("done", "failed") for job in jobs):
            return
        time.sleep(0.2)
    raise AssertionError("team A's upload jobs did not finish")


def test_the_interactive_docs_load_without_a_network(world: Any) -> None:
    """Swagger UI's script and style come from this server, not a CDN the machine may not reach."""
    live, client, _ = world
    page = client.get(f"{live.url}/api/docs")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assets = re.findall(r"""(?:src|href)=['"]([^'"]+\.(?:js|css))['"]""", page.text)
    assert len(assets) >= 2 and not [a for a in assets if not a.startswith("/api/")], assets
    for asset in assets:
        fetched = client.get(f"{live.url}{asset}")
        assert fetched.status_code == 200 and len(fetched.content) > 10_000, asset
    assert client.get(f"{live.url}/api/openapi.json").json()["info"]["title"] == "searchapp"
