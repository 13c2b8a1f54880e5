"""Uploads, jobs, documents and errors through a live `searchapp serve` (hash embedder).

Encrypted PDFs with and without their password, size limits (413), a job polled to its
end, PDF links at the page, retag and delete, the core's messages with their statuses,
rate limits (429 with Retry-After), and no traceback anywhere.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api_server import LiveApi, live_api, wait_for_job
from tests.helpers import make_pdf

pytestmark = pytest.mark.server

TOKENS: dict[str, dict[str, object]] = {
    "writer": {"collection": "docs-api", "role": "write"},
    "limited": {"collection": "docs-api", "role": "read"},
}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveApi, httpx.Client]]:
    root = tmp_path_factory.mktemp("api-docs")
    env = {
        "SEARCHAPP_MAX_FILE_MB": "1",
        "SEARCHAPP_API_MAX_UPLOAD_MB": "3",
        "SEARCHAPP_API_RATE_BURST": "400",
    }
    with live_api(root, TOKENS, env=env) as server, httpx.Client(timeout=60) as client:
        yield server, client


def post_files(
    live: LiveApi, client: httpx.Client, files: list[tuple[str, bytes, str]], **data: Any
) -> httpx.Response:
    return client.post(
        f"{live.api}/documents",
        headers=live.auth("writer"),
        files=[("files", f) for f in files],
        data=data,
    )


def test_an_encrypted_pdf_needs_its_password_and_then_is_found_at_its_page(live: Any) -> None:
    server, client = live
    locked = make_pdf(
        ["Cover page", "The narwhal budget is approved on page two."], encrypt_user_password="s3cret"
    )
    first = post_files(server, client, [("locked.pdf", locked, "application/pdf")])
    assert first.status_code == 202 and first.headers["location"] == first.json()["status_url"]
    job = wait_for_job(client, first.json()["status_url"], server.auth("writer"))
    outcome = job["report"]["files"][0]  # type: ignore[index]
    assert (
        job["state"] == "done" and outcome["status"] == "failed" and outcome["reason"] == "password_protected"
    )

    wrong = post_files(
        server, client, [("locked.pdf", locked, "application/pdf")], passwords='{"locked.pdf": "nope"}'
    )
    job = wait_for_job(client, wrong.json()["status_url"], server.auth("writer"))
    assert job["report"]["files"][0]["reason"] == "password_protected"  # type: ignore[index]

    right = post_files(
        server,
        client,
        [("locked.pdf", locked, "application/pdf")],
        passwords=json.dumps({"locked.pdf": "s3cret"}),
    )
    job = wait_for_job(client, right.json()["status_url"], server.auth("writer"))
    assert job["report"]["files"][0]["status"] == "ingested", job  # type: ignore[index]
    assert "s3cret" not in json.dumps(job)

    found = client.post(
        f"{server.api}/search", headers=server.auth("limited"), json={"query": "narwhal budget", "k": 1}
    )
    hit = found.json()["results"][0]
    assert hit["page"] == 2 and hit["link"].endswith(f"/documents/{hit['doc_id']}/original#page=2")
    pdf = client.get(hit["link"].split("#")[0], headers=server.auth("limited"))
    assert (
        pdf.status_code == 200 and pdf.content == locked and pdf.headers["content-type"] == "application/pdf"
    )


def test_one_bad_file_does_not_sink_the_upload_and_the_job_reports_each(live: Any) -> None:
    server, client = live
    response = post_files(
        server,
        client,
        [
            ("good.md", b"# Good\n\nOcelot migration schedule for the spring.\n", "text/markdown"),
            ("empty.txt", b"", "text/plain"),
            ("binary.exe", b"MZ\x00\x01", "application/octet-stream"),
        ],
        tags=["batch-1"],
    )
    job = wait_for_job(client, response.json()["status_url"], server.auth("writer"))
    statuses = {f["source"]: (f["status"], f["reason"]) for f in job["report"]["files"]}  # type: ignore[index]
    assert statuses["good.md"] == ("ingested", None)
    assert statuses["empty.txt"][0] == "failed" and statuses["binary.exe"][0] == "failed"
    assert job["files_total"] == 3 and job["files_done"] == 3
    listed = client.get(f"{server.api}/jobs", headers=server.auth("writer")).json()["jobs"]
    assert job["job_id"] in {j["job_id"] for j in listed}
    others = client.get(f"{server.api}/jobs", headers=server.auth("limited")).json()["jobs"]
    assert job["job_id"] not in {j["job_id"] for j in others}  # a job is its starter's
    docs = client.get(f"{server.api}/documents", headers=server.auth("limited")).json()["documents"]
    good = next(d for d in docs if d["source"] == "good.md")
    assert good["tags"] == ["batch-1"]
    assert set(good) >= {"doc_id", "chunks", "link"} and "owner" not in good and "lease_until" not in good


def test_size_limits_answer_413_and_keep_nothing(live: Any) -> None:
    server, client = live
    before = client.get(f"{server.api}/stats", headers=server.auth("limited")).json()["documents"]
    big = post_files(server, client, [("big.txt", b"word " * 300_000, "text/plain")])  # 1.5 MB > 1 MB a file
    assert big.status_code == 413 and "at most 1 MB (1,000,000 bytes" in big.json()["detail"]
    assert "1,500,000 bytes" in big.json()["detail"]
    many = post_files(server, client, [(f"f{i}.txt", b"word " * 190_000, "text/plain") for i in range(4)])
    assert many.status_code == 413 and many.json()["code"] == "too_large"  # 3.8 MB > 3 MB a request
    json_body = client.post(
        f"{server.api}/search", headers=server.auth("limited"), json={"query": "x" * 1_100_000}
    )
    assert json_body.status_code == 413
    assert client.get(f"{server.api}/stats", headers=server.auth("limited")).json()["documents"] == before


def test_one_file_over_the_size_limit_fails_alone(live: Any) -> None:
    """As a damaged file does: the others of the upload are ingested."""
    server, client = live
    files = [
        ("over.txt", b"word " * 210_000, "text/plain"),
        ("fine.md", b"# Fine\n\nsmall and kept", "text/plain"),
    ]
    response = post_files(server, client, files)
    assert response.status_code == 202, response.text
    job = wait_for_job(client, response.json()["status_url"], server.auth("writer"))
    statuses = {f["source"]: (f["status"], f["reason"]) for f in job["report"]["files"]}  # type: ignore[index]
    assert statuses == {"over.txt": ("failed", "too_large"), "fine.md": ("ingested", None)}, statuses


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"query": "   "}, 400, "empty"),
        ({"query": "x", "k": 0}, 400, "k must be"),
        ({"query": "x", "mode": "magic"}, 400, "search mode must be one of"),
        ({"query": "x", "filters": {"file_types": ["exe"]}}, 400, "unknown file type"),
        ({"query": "x", "filters": {"pages": "7-3"}}, 400, "page range is empty"),
        ({"query": "x", "filters": {"ingested_after": "yesterday"}}, 400, "YYYY-MM-DD"),
        ({"query": "x", "filters": {"$where": 1}}, 400, "unknown filter '$where'"),
        ({"query": "x", "filters": {"visible_to": ["legal"]}}, 400, "unknown filter 'visible_to'"),
        ({"query": "x", "visible_to": ["legal"]}, 400, "unknown search request key 'visible_to'"),
        ({"query": 5}, 400, "'query' must be text"),
        ({"query": "x", "k": "5"}, 400, "k must be an integer"),
        ({"k": 3}, 400, "the query is empty"),
        # The query syntax, read by the core.
        ({"query": "refund type:xls"}, 400, "type:xls is not a file type"),
        ({"query": 'refund "open phrase'}, 400, "a phrase is not closed"),
        ({"query": "x page:2-3", "filters": {"pages": "4-5"}}, 400, "given twice"),
        ({"query": "x doc:nowhere-at-all.md"}, 404, "doc:nowhere-at-all.md names no document"),
        ([1, 2], 400, "a search request must be a mapping"),
    ],
)
def test_the_cores_messages_come_back_with_fitting_statuses(
    live: Any, body: Any, status: int, words: str
) -> None:
    server, client = live
    response = client.post(f"{server.api}/search", headers=server.auth("limited"), json=body)
    assert response.status_code == status, response.text
    assert words in response.json()["detail"] and "Traceback" not in response.text


def test_search_reads_the_query_syntax_and_every_field_of_the_request(live: Any) -> None:
    """The body is the core's `SearchRequest` as JSON: the same answers as the core gives it."""
    server, client = live
    texts = {
        "walrus-ledger.md": b"# Ledger\n\nThe walrus ledger lists every walrus by name.\n",
        "walrus-census.md": b"# Census\n\nThe walrus census counts each walrus twice a year.\n",
    }
    made = post_files(server, client, [(name, data, "text/markdown") for name, data in texts.items()])
    job = wait_for_job(client, made.json()["status_url"], server.auth("writer"))
    ids = {f["source"]: f["doc_id"] for f in job["report"]["files"]}  # type: ignore[index]

    def found(body: dict[str, Any], path: str = "search") -> list[str]:
        response = client.post(f"{server.api}/{path}", headers=server.auth("limited"), json=body)
        assert response.status_code == 200, response.text
        return [hit["source"] for hit in response.json()["results"]]

    assert found({"query": "walrus doc:walrus-ledger.md", "k": 20}) == ["walrus-ledger.md"]
    assert set(found({"query": "walrus doc:walrus", "k": 20, "mode": "keyword"})) == set(texts)
    assert "walrus-census.md" not in found({"query": "walrus -census", "k": 20})
    assert found({"query": 'walrus "census counts"', "k": 20}) == ["walrus-census.md"]
    assert found({"query": "walrus tag:none-such", "k": 20}) == []
    # Filters typed in the query add to the request's own.
    both = {"query": "walrus type:md", "filters": {"documents": [ids["walrus-census.md"]]}, "k": 20}
    assert found(both) == ["walrus-census.md"]
    assert found({**both, "syntax": False, "query": "walrus"}) == ["walrus-census.md"]
    grouped = client.post(
        f"{server.api}/search",
        headers=server.auth("limited"),
        json={"query": "walrus doc:walrus", "group": True, "k": 2, "min_score": 0.0},
    ).json()
    assert sorted(g["source"] for g in grouped["groups"]) == sorted(texts)
    # `like` on /search, and /similar with a query that narrows it.
    like = f"{ids['walrus-ledger.md'][:10]}:0"
    assert found({"like": like, "query": "doc:walrus-census.md"}) == ["walrus-census.md"]
    assert found({"passage_id": like, "query": "doc:walrus-census.md"}, "similar") == ["walrus-census.md"]
    refused = client.post(
        f"{server.api}/similar", headers=server.auth("limited"), json={"passage_id": like, "like": like}
    )
    assert refused.status_code == 400 and "passage_id" in refused.json()["detail"]


def test_retag_delete_and_unknown_ids(live: Any) -> None:
    server, client = live
    response = post_files(
        server, client, [("retag.md", b"# Retag\n\nPlatypus inventory notes.\n", "text/markdown")]
    )
    job = wait_for_job(client, response.json()["status_url"], server.auth("writer"))
    doc_id = job["report"]["files"][0]["doc_id"]  # type: ignore[index]
    retagged = client.patch(
        f"{server.api}/documents/{doc_id[:10]}", headers=server.auth("writer"), json={"tags": ["a", "b"]}
    )
    assert retagged.json()["tags"] == ["a", "b"]
    hits = client.post(
        f"{server.api}/search",
        headers=server.auth("limited"),
        json={"query": "platypus", "filters": {"tags": ["b"]}},
    ).json()["results"]
    assert hits and hits[0]["doc_id"] == doc_id
    assert client.delete(f"{server.api}/documents/{doc_id}", headers=server.auth("writer")).status_code == 200
    gone = client.get(f"{server.api}/documents/{doc_id}", headers=server.auth("limited"))
    assert gone.status_code == 404
    assert (
        client.get(f"{server.api}/documents/{doc_id}/original", headers=server.auth("limited")).status_code
        == 404
    )
    assert client.get(f"{server.api}/passages/{doc_id}:0", headers=server.auth("limited")).status_code == 404
    assert client.get(f"{server.api}/jobs/{'0' * 32}", headers=server.auth("limited")).status_code == 404
    assert client.get(f"{server.api}/nowhere", headers=server.auth("limited")).status_code == 404


def test_a_passage_comes_with_its_neighbours(live: Any) -> None:
    server, client = live
    text = "\n\n".join(
        f"Paragraph {i} talks about the heron number {i} and nothing else at all." for i in range(12)
    )
    response = post_files(server, client, [("long.md", f"# Long\n\n{text}\n".encode(), "text/markdown")])
    job = wait_for_job(client, response.json()["status_url"], server.auth("writer"))
    doc_id = job["report"]["files"][0]["doc_id"]  # type: ignore[index]
    assert job["report"]["files"][0]["chunks"] >= 3  # type: ignore[index]
    got = client.get(
        f"{server.api}/passages/{doc_id[:8]}:1",
        params={"before": 1, "after": 2},
        headers=server.auth("limited"),
    )
    data = got.json()
    assert got.status_code == 200 and data["passage"]["chunk"] == 1
    assert [n["chunk"] for n in data["before"]] == [0] and [n["chunk"] for n in data["after"]] == [2, 3]


def test_the_schema_is_served_and_versioned(live: Any) -> None:
    server, client = live
    schema = client.get(f"{server.url}/api/openapi.json").json()
    assert all(path.startswith("/v1/") for path in schema["paths"])
    assert schema["servers"] == [{"url": "/api"}]
    assert "HTTPBearer" in schema["components"]["securitySchemes"]


def test_rate_limits_answer_429_with_retry_after(tmp_path: Any) -> None:
    env = {"SEARCHAPP_API_RATE_PER_MINUTE": "60", "SEARCHAPP_API_RATE_BURST": "5"}
    with (
        live_api(
            tmp_path,
            {
                "one": {"collection": "rate-a", "role": "read"},
                "two": {"collection": "rate-a", "role": "read"},
            },
            env=env,
        ) as server,
        httpx.Client(timeout=30) as client,
    ):
        statuses = [client.get(f"{server.api}/me", headers=server.auth("one")).status_code for _ in range(8)]
        assert statuses[:5] == [200] * 5 and statuses[5:] == [429] * 3
        limited = client.get(f"{server.api}/me", headers=server.auth("one"))
        assert 1 <= int(limited.headers["retry-after"]) <= 2 and limited.json()["code"] == "rate_limited"
        # Another token has its own bucket.
        assert client.get(f"{server.api}/me", headers=server.auth("two")).status_code == 200
