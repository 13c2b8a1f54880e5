"""Loopback load: 20 concurrent search sessions x 20 queries against the real app.

Each session speaks Streamlit's own WebSocket protocol (protobuf BackMsg/ForwardMsg) to
the app started as `searchapp ui` starts it: it opens a session, finds the search box's
widget id in what the first run draws, then sends 20 queries as widget changes and
waits for each run to finish, checking that it drew ranked results and no error.
"""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from searchapp import Library
from searchapp.ingest.files import ingest_paths
from tests.app_server import running_app
from tests.conftest import make_settings, sized, write

SESSIONS = sized(ci=10, full=20)
QUERIES_PER_SESSION = sized(ci=10, full=20)
BUDGET_S = 120.0
TOPICS = [
    "when are invoices due",
    "refund policy for damaged laptops",
    "backup schedule for the file server",
    "travel expenses and per diem",
    "onboarding checklist for new staff",
]


@dataclass
class RunResult:
    text_input_ids: dict[str, str] = field(default_factory=dict)
    markdown: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    page_hash: str = ""


class StreamlitSession:
    """A minimal client of Streamlit's WebSocket protocol, enough to drive widgets."""

    def __init__(self, port: int) -> None:
        from websockets.sync.client import connect

        self._ws = connect(
            f"ws://127.0.0.1:{port}/_stcore/stream",
            subprotocols=["streamlit"],
            max_size=None,
            open_timeout=60,
        )
        self._seen: dict[str, Any] = {}  # ForwardMsgs by hash: later ones may arrive as references
        self.page_hash = ""

    def run(self, widgets: dict[str, str] | None = None, timeout: float = 90) -> RunResult:
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ClientState_pb2 import ClientState
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
        from streamlit.proto.WidgetStates_pb2 import WidgetState, WidgetStates

        state = ClientState(page_script_hash=self.page_hash)
        if widgets:
            state.widget_states.CopyFrom(
                WidgetStates(
                    widgets=[WidgetState(id=wid, string_value=value) for wid, value in widgets.items()]
                )
            )
        self._ws.send(BackMsg(rerun_script=state).SerializeToString())
        result = RunResult()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = ForwardMsg()
            msg.ParseFromString(self._ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if msg.ref_hash:
                msg = self._seen.get(msg.ref_hash, msg)
            elif msg.hash:
                self._seen[msg.hash] = msg
            kind = msg.WhichOneof("type")
            if kind == "new_session" and msg.new_session.page_script_hash:
                self.page_hash = msg.new_session.page_script_hash
            elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                element = msg.delta.new_element
                which = element.WhichOneof("type")
                if which == "text_input":
                    result.text_input_ids[element.text_input.label] = element.text_input.id
                elif which == "markdown":
                    result.markdown.append(element.markdown.body)
                elif which == "exception":
                    result.errors.append(f"exception: {element.exception.message}")
                elif which == "alert" and element.alert.format == element.alert.ERROR:
                    result.errors.append(f"error: {element.alert.body}")
            elif kind == "script_finished":
                result.page_hash = self.page_hash
                return result
        raise TimeoutError(f"the script run did not finish within {timeout:.0f} s")

    def close(self) -> None:
        self._ws.close()


@pytest.mark.model
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_twenty_sessions_of_twenty_queries(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    corpus = [
        write(tmp_path / "kb" / f"{name}.md", f"# {name.title()}\n\n{text}\n")
        for name, text in {
            "invoices": "Invoices are due within thirty days of receipt. Late payments incur a two percent fee.",
            "refunds": "Damaged laptops are refunded in full within fourteen days if returned in the box.",
            "backups": "The file server is backed up every night at 2am; copies are kept for ninety days.",
            "travel": "Travel expenses need receipts; the per diem is forty euros inside the country.",
            "onboarding": "New staff get a laptop, a badge and a mentor on their first day.",
        }.items()
    ]
    with Library.open(settings) as library:
        assert len(ingest_paths(library, corpus).ingested) == len(corpus)

    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def session(number: int) -> None:
        try:
            client = StreamlitSession(server.port)
            try:
                first = client.run()
                box = first.text_input_ids.get("Search query")
                if box is None:
                    raise AssertionError(f"no search box among {list(first.text_input_ids)}")
                for i in range(QUERIES_PER_SESSION):
                    query = f"{TOPICS[(number + i) % len(TOPICS)]} {number}-{i}"
                    started = time.monotonic()
                    result = client.run({box: query})
                    elapsed = time.monotonic() - started
                    if result.errors:
                        raise AssertionError(f"query {query!r}: {result.errors[0]}")
                    if not any(body.startswith("**#1**") for body in result.markdown):
                        raise AssertionError(f"query {query!r} drew no ranked result: {result.markdown[:3]}")
                    with lock:
                        latencies.append(elapsed)
            finally:
                client.close()
        except Exception as exc:
            with lock:
                errors.append(f"session {number}: {type(exc).__name__}: {exc}")

    with running_app(settings, tmp_path) as server:
        warm = StreamlitSession(server.port)  # the first run loads the model; not part of the load
        warm.run()
        warm.close()
        started = time.monotonic()
        threads = [threading.Thread(target=session, args=(n,)) for n in range(SESSIONS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(BUDGET_S + 60)
        total = time.monotonic() - started
    assert not errors, errors[:3]
    assert len(latencies) == SESSIONS * QUERIES_PER_SESSION
    p50 = statistics.median(latencies)
    p95 = sorted(latencies)[int(0.95 * (len(latencies) - 1))]
    print(
        f"{len(latencies)} queries from {SESSIONS} sessions in {total:.1f} s: p50 {p50:.2f} s, p95 {p95:.2f} s"
    )
    assert total <= BUDGET_S
