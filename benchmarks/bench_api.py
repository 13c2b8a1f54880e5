"""The HTTP API under load: 8 clients searching a 12k-chunk library while another uploads.

The library is the SciFact corpus (5,183 abstracts, about 12,100 chunks) with the real
model, built once through the evaluation's scratch index (`searchapp eval` builds the
same one; it is reused when it is there). Two measurements, each query text used once
(so every query is embedded, as a user's would be):

1. What the API adds: in one process, one `Library` behind an in-process uvicorn; each
   round times `library.find(q)` and `POST /api/v1/search` (keep-alive httpx with
   TCP_NODELAY as curl and requests use, a token, JSON both ways) for two fresh queries,
   interleaved, so machine noise hits both alike; wall time and this process's CPU time.
2. Concurrency: `searchapp serve` in its own process; 8 clients (asyncio, one
   connection each, no pause between requests) search for `--seconds`, while a 9th
   client uploads SciFact abstracts (5 files a request) and polls each job to its end;
   afterwards the uploads are deleted again. Latency is per request, as the client sees it.
   `--grouping on,off` runs it once per variant, in that order: with concurrent queries
   embedded in one pass (the default, `searchapp.embedding.query_batch`), and without
   (one pass a query, as before).

    python benchmarks/bench_api.py [--data-dir DIR] [--clients 8] [--seconds 60] [--grouping on,off] [--out results.md]

Rate limits are off for the benchmark's token (one token serves all 8 clients). The
dataset's queries are sent with ``syntax: false`` (every character a word), as
`searchapp eval` searches them: a claim with a stray quote is not a phrase left open.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import SHARED, Timing, machine, table
from searchapp import Library, SearchRequest, Settings
from searchapp.api.config import ApiConfig
from searchapp.api.context import ApiContext
from searchapp.api.libraries import OwnLibraries
from searchapp.api.server import serve_app
from searchapp.api.tokens import TokenStore
from searchapp.evaluation.beir import load_beir
from searchapp.evaluation.scratch import document_text, prepare_index

# Like curl and urllib3 (requests), the clients send each request at once; httpx's default
# (Nagle's algorithm on) holds a request's body back for the server's delayed ACK.
NODELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def query_texts(dataset: Any) -> list[str]:
    """Unique query texts: the test queries, then the corpus titles (thousands, all different)."""
    texts = [q for q in dataset.queries.values()]
    texts += [doc.title for doc in dataset.corpus.values() if doc.title]
    return list(dict.fromkeys(t.strip() for t in texts if t.strip()))


def overhead(settings: Settings, queries: list[str], rounds: int) -> tuple[Timing, Timing, Timing, Timing]:
    """Python API vs HTTP API on one library in one process, interleaved: wall and CPU time.

    CPU time (this process, client and server together) hardly moves with the machine's
    load, so on a busy machine it says what the API costs better than wall time does.
    """
    import uvicorn

    ctx = ApiContext(
        OwnLibraries(settings), ApiConfig.load({}, environ={"SEARCHAPP_API_RATE_PER_MINUTE": "0"})
    )
    _, secret = ctx.tokens.create(settings.collection, "read", name="bench")
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            serve_app(ctx, http_base=f"http://127.0.0.1:{port}", mcp=False), port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    library = ctx.libraries.library(settings.collection)
    headers = {"Authorization": f"Bearer {secret}"}
    python_ms: list[float] = []
    api_ms: list[float] = []
    python_cpu: list[float] = []
    api_cpu: list[float] = []
    with httpx.Client(
        base_url=f"http://127.0.0.1:{port}/api/v1",
        headers=headers,
        timeout=60,
        transport=httpx.HTTPTransport(socket_options=NODELAY),
    ) as client:
        for i in range(10):  # warm up: model, connections, caches of the code paths
            library.search(f"warm up {i}", k=10)
            client.post("/search", json={"query": f"warm up api {i}", "k": 10}).raise_for_status()
        for i in range(rounds):
            a, b = queries[2 * i], queries[2 * i + 1]
            started, cpu = time.perf_counter(), time.process_time()
            library.find(SearchRequest(query=a, k=10, syntax=False))
            python_ms.append((time.perf_counter() - started) * 1000)
            python_cpu.append((time.process_time() - cpu) * 1000)
            started, cpu = time.perf_counter(), time.process_time()
            client.post("/search", json={"query": b, "k": 10, "syntax": False}).raise_for_status()
            api_ms.append((time.perf_counter() - started) * 1000)
            api_cpu.append((time.process_time() - cpu) * 1000)
    server.should_exit = True
    thread.join(30)
    ctx.close()
    ctx.libraries.close()
    return (
        Timing("Python API (library.find), wall", tuple(python_ms)),
        Timing("HTTP API (POST /search), wall", tuple(api_ms)),
        Timing("Python API, CPU of this process", tuple(python_cpu)),
        Timing("HTTP API, CPU of this process (client + server)", tuple(api_cpu)),
    )


# `searchapp serve` with one query a pass (the variant before queries were grouped).
UNGROUPED = (
    "import sys, searchapp.embedding.query_batch as qb; qb.MOST = 1; "
    "from searchapp.cli.main import main; sys.argv[0] = 'searchapp'; main()"
)


def concurrent(
    settings: Settings,
    queries: list[str],
    uploads: list[tuple[str, str]],
    clients: int,
    seconds: float,
    *,
    grouped: bool = True,
) -> dict[str, Any]:
    with Library.open(settings) as library:
        _, secret = TokenStore(library.store.global_table("tokens")).create(
            settings.collection, "write", name="bench"
        )
    port = free_port()
    env = {
        **os.environ,
        **settings.to_environment(),
        "SEARCHAPP_API_RATE_PER_MINUTE": "0",
        "HF_HUB_OFFLINE": "1",
    }
    log = open(Path(settings.data_dir) / "bench-serve.log", "wb")  # noqa: SIM115 - closed below
    launch = ["-m", "searchapp.cli.main"] if grouped else ["-c", UNGROUPED]
    process = subprocess.Popen(
        [sys.executable, *launch, "serve", "--port", str(port), "--no-mcp"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}/api/v1"
    headers = {"Authorization": f"Bearer {secret}"}
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("searchapp serve did not start; see bench-serve.log")
            time.sleep(0.3)
        httpx.post(f"{base}/search", headers=headers, json={"query": "warm up", "k": 10}, timeout=120)
        return asyncio.run(_load(base, headers, queries, uploads, clients, seconds))
    finally:
        process.terminate()
        process.wait(30)
        log.close()


async def _load(
    base: str,
    headers: dict[str, str],
    queries: list[str],
    uploads: list[tuple[str, str]],
    clients: int,
    seconds: float,
) -> dict[str, Any]:
    latencies: list[float] = []
    errors: list[str] = []
    stop = time.monotonic() + seconds
    next_query = _endless(queries)
    uploaded: list[str] = []
    upload_seconds: list[float] = []

    async def searcher() -> None:
        transport = httpx.AsyncHTTPTransport(socket_options=NODELAY)
        async with httpx.AsyncClient(
            base_url=base, headers=headers, timeout=60, transport=transport
        ) as client:
            while time.monotonic() < stop:
                query = next(next_query)
                started = time.perf_counter()
                response = await client.post("/search", json={"query": query, "k": 10, "syntax": False})
                latencies.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    errors.append(f"{response.status_code} {response.text[:200]}")

    async def uploader() -> None:
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=120) as client:
            batch = 0
            while time.monotonic() < stop and (batch + 1) * 5 <= len(uploads):
                files = [
                    ("files", (name, text.encode(), "text/plain"))
                    for name, text in uploads[batch * 5 : batch * 5 + 5]
                ]
                batch += 1
                started = time.perf_counter()
                answer = await client.post("/documents", files=files)
                if answer.status_code != 202:
                    errors.append(f"upload {answer.status_code} {answer.text[:200]}")
                    continue
                while True:
                    job = (await client.get(answer.json()["status_url"])).json()
                    if job["state"] in ("done", "failed"):
                        break
                    await asyncio.sleep(0.2)
                upload_seconds.append(time.perf_counter() - started)
                if job["state"] != "done":
                    errors.append(f"upload job failed: {job['error']}")
                    continue
                uploaded.extend(f["doc_id"] for f in job["report"]["files"] if f["status"] == "ingested")
            # Leave the library as it was.
            for doc_id in uploaded:
                await client.delete(f"/documents/{doc_id}")

    loads = [os.getloadavg()[0]]
    await asyncio.gather(uploader(), *(searcher() for _ in range(clients)))
    loads.append(os.getloadavg()[0])
    return {
        "timing": Timing(f"{clients} clients, POST /search", tuple(latencies)),
        "errors": errors,
        "uploaded_files": len(uploaded),
        "upload_batches": len(upload_seconds),
        "upload_s": statistics.median(upload_seconds) if upload_seconds else 0.0,
        "loads": loads,
        "seconds": seconds,
    }


def _endless(queries: list[str]) -> Any:
    """Each text once, then again with a round number (still a new text to embed)."""
    round_number = 0
    while True:
        for query in queries:
            yield query if round_number == 0 else f"{query} ({round_number})"
        round_number += 1


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", type=Path, default=SHARED / "eval" / "scifact")
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="where the scratch index is (built if missing)"
    )
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument(
        "--rounds", type=int, default=200, help="interleaved rounds of the overhead measurement"
    )
    parser.add_argument(
        "--grouping", default="on", help="concurrent queries in one pass: on, off, or a list (on,off)"
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    variants = [v.strip() for v in args.grouping.split(",") if v.strip()]
    if not variants or set(variants) - {"on", "off"}:
        parser.error(f"--grouping takes on, off or a list of them; got {args.grouping!r}")

    print(f"machine: {machine()}", flush=True)
    dataset = load_beir(args.dataset)
    scratch = prepare_index(dataset, Settings.load(), data_dir=args.data_dir).settings
    with Library.open(scratch) as library:
        chunks = library.store.count_chunks()
    print(f"library: {scratch.data_dir} ({chunks:,} chunks)", flush=True)
    queries = query_texts(dataset)
    need = 2 * args.rounds
    python_t, api_t, python_cpu, api_cpu = overhead(scratch, queries[:need], args.rounds)
    docs = list(dataset.corpus.values())
    uploads = [
        (f"bench-upload-{i}.txt", f"Uploaded copy. {document_text(d)}") for i, d in enumerate(docs[:400])
    ]
    results = []
    rest = queries[need:]
    for i, variant in enumerate(variants):
        share = rest[i * len(rest) // len(variants) : (i + 1) * len(rest) // len(variants)]
        result = concurrent(scratch, share, uploads, args.clients, args.seconds, grouped=variant == "on")
        result["timing"] = Timing(
            f"{args.clients} clients, POST /search, grouping {variant}", result["timing"].samples_ms
        )
        results.append(result)
    rows = [
        [t.name, len(t.samples_ms), f"{t.p50:.1f}", f"{t.p95:.1f}", f"{max(t.samples_ms):.1f}"]
        for t in (python_t, api_t, python_cpu, api_cpu, *(r["timing"] for r in results))
    ]
    lines = [
        f"machine: {machine()}",
        f"library: SciFact, {chunks:,} chunks, model {scratch.model}",
        "",
        table(["what", "requests", "p50 ms", "p95 ms", "max ms"], rows),
        "",
        f"API overhead, p50: {api_t.p50 - python_t.p50:+.1f} ms wall, {api_cpu.p50 - python_cpu.p50:+.1f} ms CPU "
        "(HTTP p50 minus Python p50, interleaved)",
    ]
    for variant, result in zip(variants, results, strict=True):
        conc: Timing = result["timing"]
        lines.append(
            f"concurrent, grouping {variant}: {len(conc.samples_ms) / result['seconds']:.1f} searches/s over "
            f"{result['seconds']:.0f} s, {len(result['errors'])} errors; meanwhile {result['uploaded_files']} "
            f"files uploaded in {result['upload_batches']} jobs (median {result['upload_s']:.1f} s a job of 5); "
            f"load average {result['loads'][0]:.1f} before, {result['loads'][1]:.1f} after"
        )
        lines += [f"error: {e}" for e in result["errors"][:10]]
    report = "\n".join(lines)
    print(report)
    if args.out:
        args.out.write_text(report + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
