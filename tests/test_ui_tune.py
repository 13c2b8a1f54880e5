"""The Tune and Status pages under AppTest: feedback counts, model versions, the notice's precision,
and the "None of these are right" button recording a verdict (hash embedder, real store)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from searchapp import Library, Settings
from searchapp.feedback import FeedbackLog
from searchapp.ui import jobs, resources
from tests.test_ui_teams import (
    GROUP_SECRETS,
    _app,
    _run,
    _search,
    _upload,
    env,  # noqa: F401 (a fixture: sign-in on, teams)
    jar,  # noqa: F401 (a fixture: each AppTest's signed cookie)
    user,
)
from tests.ui_helpers import ENV, build_corpus, new_app, open_page, run, search, texts


@pytest.fixture
def corpus_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppTest]:
    data = build_corpus(tmp_path / "data")
    monkeypatch.setenv("SEARCHAPP_DATA_DIR", str(data))
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    yield run(new_app())
    resources.release_all()


def _library() -> Library:
    return resources.get_library(resources.load_settings())


def test_none_of_these_is_recorded_and_counted_on_the_tune_page(corpus_app: AppTest) -> None:
    found = search(corpus_app, "refund policy")
    assert found
    corpus_app.button(
        key=next(b.key for b in corpus_app.button if b.key and b.key.startswith("none-"))
    ).click()
    run(corpus_app)
    assert any("none of these passages answers" in t for t in texts(corpus_app.caption))
    (item,) = FeedbackLog.of(_library()).list()
    assert item.verdict == "none" and item.query == "refund policy"
    assert {card.chunk_id for card in found} <= set(item.shown)  # every passage shown (cards group them)

    open_page(corpus_app, "tune")
    assert [m.value for m in corpus_app.metric] == ["0", "0", "1"]
    assert any("not measured on this library yet" in t for t in texts(corpus_app.markdown))


def test_status_shows_the_model_versions_and_the_notice(corpus_app: AppTest) -> None:
    open_page(corpus_app, "status")
    body = "\n".join(texts(corpus_app.markdown))
    assert "'No good match' notice" in body and "`base` **(live)**" in body


def test_a_tune_started_from_the_page_reports_why_it_cannot_run(corpus_app: AppTest) -> None:
    library = _library()
    hit = library.search("refund policy").hits[0]
    FeedbackLog.of(library).add("refund policy", "good", hit=hit, mode="adaptive")
    open_page(corpus_app, "tune")
    corpus_app.button(key="FormSubmitter:tune-Tune").click()
    run(corpus_app)
    job = jobs.current(resources.settings_key(resources.load_settings()))
    assert job is not None
    deadline = time.monotonic() + 30
    while not job.finished and time.monotonic() < deadline:
        time.sleep(0.1)
    assert job.finished and "not a model that can be trained" in job.error  # the test-only hash embedder
    assert isinstance(resources.load_settings(), Settings)


@pytest.mark.usefixtures("jar")
def test_a_signed_in_member_gives_feedback_under_their_name_and_only_an_admin_tunes() -> None:
    """With sign-in and teams (tests/test_ui_teams.py's cookie jar): the verdict names the
    member who gave it, in their team's library; the Tune page (which reads every passage's
    feedback and changes the model for the whole team) is for an admin only."""
    ada = _app(user("ada@alpha.example", groups=["legal"]), GROUP_SECRETS)
    _upload(ada, [("open.txt", b"Refunds are paid on Mondays.")])
    assert _search(ada, "refunds paid") == {"open.txt"}
    ada.button(key=next(b.key for b in ada.button if b.key and b.key.startswith("none-"))).click()
    _run(ada)
    team = resources.load_settings().with_overrides(collection="team-alpha")
    (item,) = FeedbackLog.of(resources.get_library(team)).list()
    assert (item.verdict, item.query, item.user) == ("none", "refunds paid", "ada@alpha.example")
    _run(ada, "tune")
    assert any("for administrators" in str(i.value) for i in ada.info) and not ada.metric

    boss = _app(user("boss@alpha.example"), GROUP_SECRETS)  # an admin of the same team
    _run(boss, "tune")
    assert [m.value for m in boss.metric] == ["0", "0", "1"]
