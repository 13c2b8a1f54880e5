"""The API's pieces on their own: response models mirror the core's dicts, tokens, rate limits, errors."""

from __future__ import annotations

import threading
import time

import pytest

from searchapp import Library
from searchapp.api import jobs, models
from searchapp.api.errors import status_of
from searchapp.api.jobs import Job
from searchapp.api.mcp_server import auth_settings
from searchapp.api.oidc import OidcProvider, OidcVerifier
from searchapp.api.ratelimit import RateLimit, RateLimiter
from searchapp.api.routes.documents import HIDDEN_FIELDS
from searchapp.api.routes.service import STATS_FIELDS
from searchapp.api.tokens import ApiToken, TokenStore, parse_expiry
from searchapp.errors import (
    AccessDeniedError,
    AuthError,
    ConfigError,
    DocumentNotFoundError,
    EmptyQueryError,
    InvalidFilterError,
    RateLimitedError,
    StoreLockedError,
)
from searchapp.feedback import Feedback
from searchapp.ingest.types import FileOutcome, IngestReport
from searchapp.library.reads import Stats
from searchapp.types import DocumentGroup, DocumentRecord, Hit, SearchResponse, StoredPassage
from tests.servers import free_port

HIT = Hit(
    rank=1,
    score=0.5,
    chunk_id="a" * 64 + ":0",
    text="t",
    metadata={"doc_id": "a" * 64, "page": 2},
    fused_score=0.4,
    dense_rank=1,
    keyword_rank=2,
    keyword_score=1.5,
    cosine=0.6,
)


def fields(model: type) -> set[str]:
    return set(model.model_fields)  # type: ignore[attr-defined]


def test_response_models_mirror_the_cores_dicts() -> None:
    assert set(HIT.to_dict()) | {"link"} == fields(models.HitOut)
    stored = StoredPassage(HIT.chunk_id, HIT.text, HIT.metadata)
    assert set(stored.to_dict()) | {"link"} == fields(models.StoredPassageOut)
    response = SearchResponse("q", "adaptive", 3, (HIT,), groups=(DocumentGroup(HIT),))
    assert set(response.to_dict()) == fields(models.SearchOut)
    assert set(DocumentGroup(HIT).to_dict()) == fields(models.GroupOut)
    record = DocumentRecord("d" * 64, "a.pdf", "pdf", "A", 1, 1, 1)
    assert set(record.to_dict()) - set(HIDDEN_FIELDS) | {"link"} == fields(models.DocumentOut)
    assert set(STATS_FIELDS) <= set(Stats.__dataclass_fields__)
    assert {"data_dir", "location", "device"}.isdisjoint(STATS_FIELDS)  # never a path to a caller
    outcome = FileOutcome("a.md", "ingested", chunks=1)
    assert set(outcome.to_dict()) == fields(models.FileOutcomeOut)
    assert set(IngestReport((outcome,)).to_dict()) == fields(models.ReportOut)
    job = Job("j" * 32, "c", "done", 1.0, 1.0, "token:x", ("a.md",))
    assert set(job.to_dict()) | {"status_url"} == fields(models.JobOut)
    label = Feedback.from_dict({"query": "q", "verdict": "good", "chunk_id": "d:0"})
    assert set(label.to_dict()) == fields(models.FeedbackOut)
    token = ApiToken("0" * 12, "docs", "read")
    assert set(token.to_dict()) == fields(models.TokenOut)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (EmptyQueryError("x"), 400),
        (InvalidFilterError("x"), 400),
        (ConfigError("x"), 400),
        (AuthError("x"), 401),
        (AccessDeniedError("x"), 403),
        (DocumentNotFoundError("x"), 404),
        (RateLimitedError("x", 1.0), 429),
        (StoreLockedError("x"), 503),
    ],
)
def test_the_cores_errors_get_fitting_statuses(error: Exception, status: int) -> None:
    assert status_of(error)[0] == status  # type: ignore[arg-type]


def test_expiry_takes_durations_dates_and_never() -> None:
    now = 1_800_000_000.0
    assert parse_expiry("never", now=now) == 0
    assert parse_expiry("12h", now=now) == int(now + 12 * 3600)
    assert parse_expiry("90d", now=now) == int(now + 90 * 86400)
    assert parse_expiry("2w", now=now) == int(now + 14 * 86400)
    assert parse_expiry("2030-01-31", now=now) > now
    for bad in ("yesterday", "0d", "2020-01-01", "-5d", ""):
        with pytest.raises(ConfigError):
            parse_expiry(bad, now=now)


def test_tokens_are_kept_hashed_and_checked(hash_library: Library) -> None:
    store = TokenStore(hash_library.store.global_table("tokens"))
    token, secret = store.create("docs", "write", groups=[" legal ", "legal", "hr"], name="ci")
    assert token.groups == ("legal", "hr")
    raw = hash_library.store.global_table("tokens").get(token.token_id)
    assert raw is not None and secret not in str(raw) and raw["hash"] != secret
    caller = store.verify(secret).caller()
    assert (caller.collection, caller.role, caller.visibility) == (
        "docs",
        "write",
        frozenset({"legal", "hr"}),
    )
    admin = store.create("docs", "admin")[0].caller()
    assert admin.visibility is None  # an admin token sees every document of its collection
    with pytest.raises(AuthError, match="not known"):
        store.verify(secret[:-1] + ("A" if secret[-1] != "A" else "B"))
    with pytest.raises(AuthError, match="not a searchapp API token"):
        store.verify("sapi_short")
    assert store.revoke(token.token_id).state(time.time()) == "revoked"
    with pytest.raises(AuthError, match="revoked"):
        store.verify(secret)
    with pytest.raises(DocumentNotFoundError):
        store.revoke(token.token_id, collection="other")
    expired = store.create("docs", "read", expires_at=int(time.time()) - 1)[1]
    with pytest.raises(AuthError, match="expired"):
        store.verify(expired)
    for bad in ({"collection": "x", "role": "read"}, {"collection": "docs", "role": "owner"}):
        with pytest.raises(ConfigError):
            store.create(**bad)  # type: ignore[arg-type]
    assert {t.token_id for t in store.tokens("docs")} >= {token.token_id}


def test_a_token_revoked_elsewhere_stops_within_the_cache_time(hash_library: Library) -> None:
    table = hash_library.store.global_table("tokens")
    here, there = TokenStore(table, cache_s=0.5), TokenStore(table)
    token, secret = here.create("docs", "read")
    here.verify(secret)
    there.revoke(token.token_id)
    time.sleep(0.6)
    with pytest.raises(AuthError, match="revoked"):
        here.verify(secret)


def test_rate_limits_refill_at_the_given_rate() -> None:
    limiter = RateLimiter(RateLimit(per_minute=60, burst=3))
    for _ in range(3):
        limiter.check("a", now=100.0)
    with pytest.raises(RateLimitedError) as refused:
        limiter.check("a", now=100.0)
    assert refused.value.retry_after == pytest.approx(1.0)
    limiter.check("b", now=100.0)  # another caller has its own bucket
    limiter.check("a", now=101.0)  # one second later, one more request
    with pytest.raises(RateLimitedError):
        limiter.check("a", now=101.1)
    RateLimiter(RateLimit(per_minute=0)).check("a")  # 0: no limit


def test_a_job_left_by_a_dead_process_reads_as_failed_while_a_held_one_beats(
    hash_library: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = hash_library.store.table("jobs")
    now = time.time()
    dead = Job("a" * 32, "docs", "running", now - 600, now - jobs.STALE_AFTER_S - 1, "alice", ("x.md",))
    table.put(dead.job_id, dead.to_dict(), kind="job", created_at=dead.created_at)
    release = threading.Event()

    class Blocking:  # an ingest that holds its job until the test lets go
        def ingest(self, files: object, progress: object, visibility: object) -> IngestReport:
            release.wait(10)
            return IngestReport()

    monkeypatch.setattr(jobs, "HEARTBEAT_S", 0.05)
    runner = jobs.Jobs(lambda _: table, lambda _: Blocking())  # type: ignore[arg-type,return-value]
    try:
        read = runner.get("docs", dead.job_id)
        assert (read.state, read.error) == ("failed", jobs.STOPPED)
        held = runner.submit("docs", "bob", [], spool=None, visibility=None)
        time.sleep(0.3)
        record = table.get(held.job_id)
        assert record is not None and record["state"] == "running"
        assert time.time() - float(record["updated_at"]) < 0.25  # written again and again
        later = Job.from_record(record).settled(time.time() + jobs.STALE_AFTER_S + 1)
        assert later.state == "failed"  # what any reader says once its beats stop
        assert {j.job_id: j.state for j in runner.recent("docs")} == {
            dead.job_id: "failed",
            held.job_id: "running",
        }
    finally:
        release.set()
        runner.close()
    assert runner.get("docs", held.job_id).state == "done"


def test_mcp_oauth_metadata_names_no_server_it_cannot_vouch_for(caplog: pytest.LogCaptureFixture) -> None:
    base = "http://127.0.0.1:8700"
    assert auth_settings(base, None).resource_server_url is None  # API tokens only
    assert auth_settings(base, OidcVerifier([])).resource_server_url is None
    # A provider whose discovery document cannot be read at start: no metadata rather than a guess.
    down = OidcProvider("", f"http://127.0.0.1:{free_port()}/.well-known/openid-configuration", ("x",))
    with caplog.at_level("WARNING"):
        assert auth_settings(base, OidcVerifier([down])).resource_server_url is None
    assert "not told where to sign in" in caplog.text


def test_mcp_accepts_the_public_host_as_clients_send_it() -> None:
    """A proxy forwards the Host the client used: lower case, with or without the default port."""
    from searchapp.api.mcp_http import transport_security

    allowed = transport_security("127.0.0.1", "https://Search.Example.com")
    assert allowed is not None
    assert {"search.example.com", "search.example.com:443"} <= set(allowed.allowed_hosts)
    assert "https://search.example.com" in allowed.allowed_origins
    other_port = transport_security("127.0.0.1", "https://kb.example.com:8443")
    assert other_port is not None and "kb.example.com:8443" in other_port.allowed_hosts
    assert "kb.example.com" not in other_port.allowed_hosts
    assert transport_security("0.0.0.0", "https://kb.example.com") is None  # the SDK's rule: no check
