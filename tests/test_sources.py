"""Sources kept in sync: the planner, the guards, per-file problems, duplicates, hiding, watching, S3.

Real folders, the real Chroma store (hash embedder), real file events, and a real
S3-protocol server (moto) for the bucket source.
"""

from __future__ import annotations

import os
import random
import shlex
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from searchapp import Library, Settings
from searchapp.errors import ConfigError, SourceError
from searchapp.sources import Sources, SourceSpec
from searchapp.sources.actions import CatalogEntry
from searchapp.sources.listing import OUTSIDE, DirectoryFiles, ListedFile, Listing
from searchapp.sources.plan import plan_sync
from searchapp.sources.state import FileState
from searchapp.sources.watch import Watcher
from tests.conftest import write
from tests.helpers import make_pdf
from tests.servers import S3_ENV, s3_server
from tests.sources_helpers import backdate, check_mirror, counting_embeddings, document_bytes, prose

SPEC = SourceSpec.create("team", "/srv/team")
A, B, C = "a" * 64, "b" * 64, "c" * 64


def _plan(files: dict[str, str], stored: dict[str, str], catalog: dict[str, str], **kw: object):  # type: ignore[no-untyped-def]
    """A plan from path -> content (listed), path -> content (stored) and doc -> name (catalog)."""
    listing = Listing(tuple(ListedFile(p, 10, 1) for p in files))
    records = {p: FileState("team", p, 10, 1, doc_id=d) for p, d in stored.items()}
    hashes = {p: d for p, d in files.items() if stored.get(p) != d or p not in stored}
    for p in hashes:  # a changed file has another fingerprint
        if p in records:
            records[p] = FileState("team", p, 9, 0, doc_id=records[p].doc_id)
    return plan_sync(
        SPEC,
        listing,
        hashes=hashes,
        waiting=kw.get("waiting", {}),  # type: ignore[arg-type]
        stored=records,
        catalog={d: CatalogEntry(n, n.rsplit(".", 1)[-1]) for d, n in catalog.items()},
        elsewhere=kw.get("elsewhere", {}),  # type: ignore[arg-type]
        namespaces={"team/"},
        allow_mass_delete=bool(kw.get("allow", False)),
    )


def test_the_plan_moves_renamed_files_deletes_what_is_gone_and_ingests_new_content() -> None:
    plan = _plan(
        {"new.md": A, "sub/b.md": B},
        {"a.md": A, "b.md": B, "c.md": C},
        {A: "team/a.md", B: "team/b.md", C: "team/c.md"},
    )
    assert [a.describe() for a in plan.actions] == [
        "delete team/c.md",
        "move team/a.md -> team/new.md",
        "move team/b.md -> team/sub/b.md",
    ]
    assert not plan.blocked and plan.documents == 2


def test_a_copy_is_another_location_and_a_document_moves_only_when_its_file_is_gone() -> None:
    copied = _plan({"a.md": A, "z.md": A}, {"z.md": A}, {A: "team/z.md"})
    assert copied.actions == () and copied.documents == 1  # z.md still holds it: keeps its name
    renamed = _plan({"a.md": A}, {"z.md": A}, {A: "team/z.md"})
    assert [a.describe() for a in renamed.actions] == ["move team/z.md -> team/a.md"]
    gone = _plan({"z.md": A}, {"a.md": A, "z.md": A}, {A: "team/a.md"})
    assert [a.describe() for a in gone.actions] == ["move team/a.md -> team/z.md"]  # never deleted
    new = _plan({"a.md": A, "z.md": A}, {}, {})
    assert [a.describe() for a in new.actions] == ["ingest team/a.md"]  # as a fresh ingest names it


def test_swapped_contents_and_an_edited_file_replace_nothing_that_is_still_held() -> None:
    swapped = _plan({"a.md": B, "b.md": A}, {"a.md": A, "b.md": B}, {A: "team/a.md", B: "team/b.md"})
    assert sorted(a.describe() for a in swapped.actions) == [
        "move team/a.md -> team/b.md",
        "move team/b.md -> team/a.md",
    ]
    edited = _plan({"a.md": C, "b.md": A}, {"a.md": A}, {A: "team/a.md"})
    # the old content lives on in b.md: it moves there, and the new version takes a.md
    assert [a.describe() for a in edited.actions] == ["move team/a.md -> team/b.md", "ingest team/a.md"]
    replaced = _plan({"a.md": C}, {"a.md": A}, {A: "team/a.md"})
    assert [(a.kind, a.replaces) for a in replaced.actions] == [("ingest", A)]


def test_what_cannot_be_read_now_keeps_its_old_version() -> None:
    plan = _plan({"a.md": B}, {"a.md": A}, {A: "team/a.md"}, waiting={"a.md": "still being written"})
    assert plan.actions == () and plan.deferred == ("a.md",)
    locked = _plan({"a.md": B}, {"a.md": A}, {A: "team/a.md"}, waiting={"a.md": "cannot read: denied"})
    assert locked.actions == () and locked.problems[0].detail == "cannot read: denied"


def test_one_off_documents_and_other_sources_documents_are_never_removed() -> None:
    plan = _plan({}, {"a.md": A}, {A: "manual.md", B: "other/b.md"}, elsewhere={})
    assert plan.actions == ()  # A is a one-off ingest's; B another namespace's
    held = _plan({}, {"a.md": A}, {A: "team/a.md"}, elsewhere={A: ["other/copy.md"]}, allow=True)
    assert [a.describe() for a in held.actions] == ["move team/a.md -> other/copy.md"]


def test_the_mass_delete_guard_holds_the_deletions_and_lets_the_rest_through() -> None:
    stored = {f"f{i}.md": f"{i:064d}" for i in range(10)}
    catalog = {d: f"team/{p}" for p, d in stored.items()}
    keep = dict(list(stored.items())[:4])
    blocked = _plan(keep, stored, catalog)
    assert blocked.blocked and blocked.mass_delete and blocked.actions == () and not blocked.forget
    assert "6 of the 10 documents" in blocked.blocked and len(blocked.held) == 6
    allowed = _plan(keep, stored, catalog, allow=True)
    assert len(allowed.of_kind("delete")) == 6 and not allowed.held and len(allowed.forget) == 6
    # A new file, an edit and a rename beside the mass delete still happen; only the deletions wait.
    busy = {**keep, "new.md": A, "f0.md": B, "renamed.md": stored["f1.md"]}
    del busy["f1.md"]
    held = _plan(busy, stored, catalog)
    assert held.mass_delete and held.applies
    assert sorted(a.describe() for a in held.actions) == [
        "ingest team/new.md",
        "move team/f1.md -> team/renamed.md",
        "replace team/f0.md",
    ]
    assert sorted(a.old_name for a in held.held) == [f"team/f{i}.md" for i in range(4, 10)]
    assert held.forget == (FileState("team", "f1.md", 10, 1).key,)  # renamed; held files' records stay
    assert "hold delete team/f4.md (mass-delete guard)" in held.describe()
    # The gone files' records are marked held; marked, a hold outlasts the share.
    marked = {r.path for r in held.records if r.held}
    assert marked == {f"f{i}.md" for i in range(4, 10)}
    listing = Listing(tuple(ListedFile(p, 10, 1) for p in [*keep, "f4.md"]))  # f4.md is back
    states = {p: FileState("team", p, 10, 1, doc_id=d, held=p in marked) for p, d in stored.items()}
    catalog_entries = {d: CatalogEntry(n, "md") for d, n in catalog.items()}
    back = plan_sync(
        SPEC,
        listing,
        hashes={},
        waiting={},
        stored=states,
        catalog=catalog_entries,
        elsewhere={},
        namespaces={"team/"},
    )
    assert len(back.held) == 5 and back.mass_delete  # 5 of 10 is not over the share: held all the same
    assert "held since a sync" in back.blocked
    assert [r for r in back.records if r.path == "f4.md"] == [
        FileState("team", "f4.md", 10, 1, doc_id=stored["f4.md"])
    ]


# ------------------------------------------------------------------ with a real library


def _source(library: Library, root: Path, **kw: object) -> Sources:
    sources = Sources(library, workers=1)
    sources.add(SourceSpec.create("team", root, **kw))  # type: ignore[arg-type]
    return sources


def _tree(root: Path, count: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    for i in range(count):
        write(root / f"d{i}.md", f"# Doc {i}\n\n" + prose(rng, 60))
        backdate(root / f"d{i}.md", rng)


def test_a_missing_root_removes_nothing_and_an_80_percent_delete_waits_for_a_confirmation(
    hash_library: Library, tmp_path: Path
) -> None:
    root = tmp_path / "share"
    _tree(root, 10)
    with _source(hash_library, root) as sources:
        assert sources.sync("team")[0].counts["new"] == 10
        ids = {r.doc_id for r in hash_library.documents()}
        root.rename(tmp_path / "unmounted")
        report = sources.sync("team")[0]
        assert report.outcome == "blocked" and "does not exist" in report.message
        assert {r.doc_id for r in hash_library.documents()} == ids
        assert sources.get("team").status.outcome == "blocked"
        (tmp_path / "unmounted").rename(root)
        root_empty_mount = sorted(root.iterdir())
        for path in root_empty_mount[:8]:
            path.unlink()
        write(root / "added.md", "# Added\n\n" + prose(random.Random(7), 60))
        backdate(root / "added.md", random.Random(7))
        report = sources.sync("team")[0]
        # The deletions wait for a confirmation; the new file does not wait with them.
        assert report.outcome == "blocked" and "8 of the 10" in report.message, report.summary()
        assert report.counts["new"] == 1 and report.counts["held"] == 8 and report.counts["deleted"] == 0
        assert "deletions held" in report.summary()
        assert {r.doc_id for r in hash_library.documents()} == ids | {
            hash_library.document("team/added.md").doc_id
        }
        assert all(hash_library.originals.has(d) for d in ids)
        again = sources.sync("team")[0]  # still held, and nothing else to do
        assert again.outcome == "blocked" and again.counts["held"] == 8 and not again.plan.actions
        # New files do not dilute the hold under the share (8 of 21 would pass it).
        for i in range(10):
            write(root / f"later{i}.md", f"# Later {i}\n\n" + prose(random.Random(20 + i), 40))
            backdate(root / f"later{i}.md", random.Random(20 + i))
        grown = sources.sync("team")[0]
        assert grown.outcome == "blocked" and grown.counts["held"] == 8 and grown.counts["new"] == 10
        diluted = sources.sync("team")[0]
        assert diluted.outcome == "blocked" and diluted.counts["held"] == 8, diluted.summary()
        assert "8 of the 21 documents" in diluted.message
        assert "held since a sync that would have removed more than 50%" in diluted.message
        assert all(hash_library.originals.has(d) for d in ids)
        report = sources.sync("team", allow_mass_delete=True)[0]
        assert (
            report.outcome == "ok" and report.counts["deleted"] == 8 and len(hash_library.documents()) == 13
        )
        assert not any(s.held for s in sources.state.files("team").values())
        gone = ids - {r.doc_id for r in hash_library.documents()}
        assert not any(hash_library.originals.has(d) for d in gone)  # originals leave with them


def test_per_file_problems_are_reported_and_never_fatal(hash_library: Library, tmp_path: Path) -> None:
    root = tmp_path / "share"
    _tree(root, 3)
    os.mkfifo(root / "pipe.txt")
    (root / "loop.md").symlink_to(root / "loop.md")
    (root / "broken.md").symlink_to(root / "nowhere.md")
    (root / "linked.md").symlink_to(root / "d0.md")
    (root / "folder-link").symlink_to(root)
    write(root / "damaged.pdf", b"%PDF-1.4 not really")
    backdate(root / "damaged.pdf", random.Random(0))
    write(root / ".hidden.md", "# hidden")
    with _source(hash_library, root) as sources:
        report = sources.sync("team")[0]
        problems = {p.path: p.detail for p in (*report.plan.problems, *report.failures)}
        assert problems["pipe.txt"].startswith("not a regular file")
        assert problems["loop.md"] == "symlink loop"
        assert problems["broken.md"] == "broken symlink"
        assert "damaged PDF" in problems["damaged.pdf"]
        assert report.outcome == "ok" and report.counts["new"] == 3  # linked.md is d0.md's copy
        assert sources.locations(hash_library.document("team/d0.md").doc_id) == [
            "team/d0.md",
            "team/linked.md",
        ]
        status = sources.get("team").status
        assert dict(status.errors)["damaged.pdf"].startswith("failed: damaged PDF")
        again = sources.sync("team")[0]
        assert (
            again.plan.actions == () and not again.failures
        )  # a broken file is not retried until it changes


def test_files_the_source_does_not_take_are_counted_and_named(hash_library: Library, tmp_path: Path) -> None:
    """A .pptx dropped in a synced folder was silently never searchable: the sync now says so."""
    root = tmp_path / "share"
    _tree(root, 1)
    for name in ("deck.pptx", "sub/table.csv", "drafts/plan.md", ".DS_Store"):
        write(root / name, "x")
    with _source(hash_library, root, exclude=["drafts/*"]) as sources:
        report = sources.sync("team")[0]
        assert report.plan.skipped == ("deck.pptx", "drafts/plan.md", "sub/table.csv")  # no hidden file
        assert report.counts["skipped"] == 3 and report.to_dict()["skipped"] == list(report.plan.skipped)
        assert "3 skipped (not a type searchapp reads, or excluded: deck.pptx, drafts/plan.md" in (
            report.summary()
        )


def test_a_link_out_of_the_source_is_never_read(hash_library: Library, tmp_path: Path) -> None:
    """Whoever may write to a share must not put the server's own files into the library."""
    root = tmp_path / "share"
    _tree(root, 2)
    secret = write(tmp_path / "server-secrets.toml", 'cookie_secret = "kestrel-orchid-4711"\n')
    (root / "notes.txt").symlink_to(secret)
    (root / "sub").mkdir()
    (root / "sub" / "up.txt").symlink_to(Path("..") / ".." / "server-secrets.toml")  # relative
    with _source(hash_library, root) as sources:
        report = sources.sync("team")[0]
        problems = {p.path: p.detail for p in report.plan.problems}
        assert problems["notes.txt"] == problems["sub/up.txt"] == OUTSIDE
        assert report.outcome == "ok" and report.counts["new"] == 2
        assert hash_library.search("kestrel orchid", mode="keyword").hits == ()
        # A file listed as plain, then swapped for a link before it is read: refused at the read.
        files = DirectoryFiles(sources.get("team").spec)
        (root / "d0.md").unlink()
        (root / "d0.md").symlink_to(secret)
        with pytest.raises(PermissionError):
            files.read("d0.md")
        with pytest.raises(PermissionError):
            files.local_path("d0.md")


def test_a_longer_settle_time_waits_for_writers_that_pause(tmp_path: Path) -> None:
    """A copy over SMB or a scanner pauses for seconds between writes: SEARCHAPP_SYNC_SETTLE_S."""
    settings = Settings.load(
        environ={"SEARCHAPP_SYNC_SETTLE_S": "30"}, data_dir=tmp_path / "data", model="hash:64"
    )
    root = tmp_path / "share"
    write(root / "scan.md", "# Scan\n\npage one of the contract, page two still coming")
    now = time.time()
    os.utime(root / "scan.md", (now - 5, now - 5))  # paused for 5 s: the default takes it
    with Library.open(settings) as library, _source(library, root) as sources:
        report = sources.sync("team")[0]
        assert report.deferred == ("scan.md",) and library.documents() == []
        os.utime(root / "scan.md", (now - 40, now - 40))
        assert sources.sync("team")[0].counts["new"] == 1
    with pytest.raises(ConfigError, match="SEARCHAPP_SYNC_SETTLE_S must be 0 or more; got -1"):
        Settings.load(environ={"SEARCHAPP_SYNC_SETTLE_S": "-1"})


def test_an_unreadable_folder_keeps_its_documents(
    hash_library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "share"
    _tree(root / "locked", 3)
    _tree(root, 2, seed=2)
    with _source(hash_library, root) as sources:
        assert sources.sync("team")[0].counts["new"] == 5
        (root / "locked").chmod(0)
        if os.geteuid() == 0:  # root reads every folder: the listing gets the error a user would
            real = os.scandir

            def scandir(path: Any) -> Any:
                if Path(path) == root / "locked":
                    raise PermissionError(13, "Permission denied", str(path))
                return real(path)

            monkeypatch.setattr(os, "scandir", scandir)
        try:
            report = sources.sync("team")[0]
        finally:
            (root / "locked").chmod(0o755)
            monkeypatch.undo()
        assert report.plan.actions == () and report.plan.problems[0].path == "locked/"
        assert len(hash_library.documents()) == 5  # the folder's documents stay


def test_a_file_being_written_waits_and_a_failed_edit_keeps_the_old_version(
    hash_library: Library, tmp_path: Path
) -> None:
    root = tmp_path / "share"
    write(root / "report.pdf", make_pdf(["quarterly revenue margin forecast"]))
    backdate(root / "report.pdf", random.Random(1))
    with _source(hash_library, root) as sources:
        assert sources.sync("team")[0].counts["new"] == 1
        write(root / "fresh.md", "# Fresh\n\nstill being typed")
        report = sources.sync("team")[0]
        assert report.deferred == ("fresh.md",) and "fresh.md" not in str(hash_library.documents())
        backdate(root / "fresh.md", random.Random(2))
        assert sources.sync("team")[0].counts["new"] == 1
        old = hash_library.document("team/report.pdf").doc_id
        write(root / "report.pdf", b"%PDF-1.7 truncated by a crash")
        backdate(root / "report.pdf", random.Random(3))
        report = sources.sync("team")[0]
        assert [f.path for f in report.failures] == ["report.pdf"]
        assert hash_library.document("team/report.pdf").doc_id == old  # still searchable
        hits = hash_library.search("quarterly revenue", k=1, mode="keyword").hits
        assert hits[0].source == "team/report.pdf"
        assert sources.sync("team")[0].plan.actions == ()


def test_a_rename_keeps_chunks_and_vectors_and_embeds_nothing(hash_library: Library, tmp_path: Path) -> None:
    root = tmp_path / "share"
    pages = [prose(random.Random(i), 120) for i in range(30)]
    write(root / "manual.pdf", make_pdf(pages, title="Manual"))
    backdate(root / "manual.pdf", random.Random(4))
    with _source(hash_library, root) as sources:
        sources.sync("team")
        before = hash_library.store.get_chunks(
            where={"doc_id": hash_library.document("team/manual.pdf").doc_id}, include_embeddings=True
        )
        (root / "archive").mkdir()
        (root / "manual.pdf").rename(root / "archive" / "manual-2026.pdf")
        with counting_embeddings(hash_library) as calls:
            report = sources.sync("team")[0]
        assert report.counts["moved"] == 1 and calls == []
        record = hash_library.document("team/archive/manual-2026.pdf")
        after = hash_library.store.get_chunks(where={"doc_id": record.doc_id}, include_embeddings=True)
        assert sorted(after["ids"]) == sorted(before["ids"])
        assert sorted(map(tuple, after["embeddings"])) == sorted(map(tuple, before["embeddings"]))
        assert {m["source"] for m in after["metadatas"]} == {"team/archive/manual-2026.pdf"}
        assert hash_library.originals.info(record.doc_id).source == "team/archive/manual-2026.pdf"
        hit = hash_library.search(pages[3][:60], k=1, mode="keyword").hits[0]
        assert hit.source == "team/archive/manual-2026.pdf"


def test_a_crash_in_the_middle_of_a_rename_is_finished_by_the_next_sync(
    hash_library: Library, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "share"
    _tree(root, 3)
    with _source(hash_library, root) as sources:
        sources.sync("team")
        (root / "d1.md").rename(root / "renamed.md")
        catalog = hash_library.store.catalog
        real = catalog.put_record
        monkeypatch.setattr(
            catalog, "put_record", lambda record: (_ for _ in ()).throw(RuntimeError("killed"))
        )
        with pytest.raises(RuntimeError):
            sources.sync("team")
        monkeypatch.setattr(catalog, "put_record", real)
        assert sources.sync("team")[0].counts["moved"] == 1
        check_mirror(hash_library, sources, "team", root, hash_library.settings)


def test_identical_files_are_one_document_listed_at_each_path(hash_library: Library, tmp_path: Path) -> None:
    root = tmp_path / "share"
    data = document_bytes("docx", random.Random(5))
    for name in ("b/policy.docx", "a/policy-copy.docx", "c/policy.docx"):
        write(root / name, data)
        backdate(root / name, random.Random(6))
    with _source(hash_library, root) as sources:
        sources.sync("team")
        (record,) = hash_library.documents()
        assert record.source == "team/a/policy-copy.docx"
        assert sources.locations(record.doc_id) == [
            "team/a/policy-copy.docx",
            "team/b/policy.docx",
            "team/c/policy.docx",
        ]
        assert sources.copies() == {record.doc_id: sources.locations(record.doc_id)}
        (root / "a/policy-copy.docx").unlink()
        (root / "b/policy.docx").unlink()
        report = sources.sync("team")[0]
        assert (
            report.counts["deleted"] == 0
            and hash_library.document(record.doc_id).source == "team/c/policy.docx"
        )
        assert hash_library.originals.has(record.doc_id)


def test_a_copied_file_is_another_location_of_its_document_not_a_move(
    hash_library: Library, tmp_path: Path
) -> None:
    """`cp vacation.txt "vacation - Copy.txt"` (the copy sorts first): the document keeps its
    name and lists both paths; only when vacation.txt goes does it take the copy's name."""
    root = tmp_path / "share"
    original = write(root / "policies" / "vacation.txt", prose(random.Random(11), 80))
    backdate(original, random.Random(11))
    with _source(hash_library, root) as sources:
        sources.sync("team")
        doc_id = hash_library.document("team/policies/vacation.txt").doc_id
        copy = root / "policies" / "vacation - Copy.txt"
        copy.write_bytes(original.read_bytes())
        backdate(copy, random.Random(12))
        report = sources.sync("team")[0]
        assert report.plan.actions == () and report.counts["moved"] == 0, report.plan.describe()
        assert hash_library.document("team/policies/vacation.txt").doc_id == doc_id
        assert sources.locations(doc_id) == [
            "team/policies/vacation - Copy.txt",
            "team/policies/vacation.txt",
        ]
        assert sources.sync("team")[0].plan.actions == ()
        original.unlink()  # now the named file is gone: a move to the copy
        report = sources.sync("team")[0]
        assert [a.describe() for a in report.plan.actions] == [
            "move team/policies/vacation.txt -> team/policies/vacation - Copy.txt"
        ]
        assert hash_library.document(doc_id).source == "team/policies/vacation - Copy.txt"
        check_mirror(hash_library, sources, "team", root, hash_library.settings)


def test_near_duplicates_are_listed_and_a_hidden_version_leaves_every_mode_exactly(
    hash_library: Library, tmp_path: Path
) -> None:
    from searchapp.sources.duplicates import near_duplicates

    root = tmp_path / "share"
    rng = random.Random(9)
    text = prose(rng, 400)
    words = text.split()
    for i in range(0, len(words), 30):
        words[i] = "amended"
    write(root / "policy.txt", text)
    write(root / "policy-v2.txt", " ".join(words))
    for i in range(12):
        write(root / f"other{i}.txt", prose(rng, 150))
    for path in root.iterdir():
        backdate(path, rng)
    with _source(hash_library, root) as sources:
        sources.sync("team")
    pairs = near_duplicates(hash_library, threshold=0.5)
    assert [(p.first.source, p.second.source) for p in pairs] == [("team/policy-v2.txt", "team/policy.txt")]
    assert 0.6 < pairs[0].similarity < 0.95
    v2 = hash_library.document("team/policy-v2.txt")
    query = " ".join(text.split()[40:52])
    for mode in hash_library.search_modes:
        before = hash_library.search(query, k=20, mode=mode)
        assert v2.doc_id in {h.doc_id for h in before.hits}, mode
    hash_library.hide(v2.doc_id)
    for mode in hash_library.search_modes:
        after = hash_library.search(query, k=20, mode=mode)
        assert v2.doc_id not in {h.doc_id for h in after.hits}, mode
        if mode != "keyword":  # every chunk is a candidate by meaning: k stays full
            assert len(after.hits) == 20, mode
        named = hash_library.search(query, k=5, mode=mode, filters={"documents": [v2.doc_id]})
        assert named.hits and {h.doc_id for h in named.hits} == {v2.doc_id}  # named on purpose: found
    hash_library.unhide(v2.doc_id)
    assert v2.doc_id in {h.doc_id for h in hash_library.search(query, k=20, mode="dense").hits}


def test_adding_a_source_checks_its_location_and_its_names(hash_library: Library, tmp_path: Path) -> None:
    from searchapp.ingest import ingest_paths

    with Sources(hash_library) as sources:
        with pytest.raises(SourceError, match="does not exist"):
            sources.add(SourceSpec.create("team", tmp_path / "nowhere"))
        with pytest.raises(SourceError, match="source name"):
            SourceSpec.create("bad name!", tmp_path)
        write(tmp_path / "old" / "team" / "a.md", "# A\n\ntext")
        ingest_paths(hash_library, [tmp_path / "old"], recursive=True)
        (tmp_path / "share").mkdir()
        with pytest.raises(SourceError, match="already holds 1 documents named team/"):
            sources.add(SourceSpec.create("team", tmp_path / "share"))
        sources.add(SourceSpec.create("team", tmp_path / "share"), adopt=True)
        report = sources.sync("team", allow_mass_delete=True)[0]
        assert report.counts["deleted"] == 1  # adopted: the folder does not hold it
        assert sources.remove("team") == 0 and sources.all() == []


def test_include_exclude_and_tags(hash_library: Library, tmp_path: Path) -> None:
    root = tmp_path / "share"
    for name in ("a.md", "drafts/b.md", "c.txt", "~$lock.docx", "sub/d.md"):
        write(root / name, f"# {name}\n\nsome text about {name}")
        backdate(root / name, random.Random(1))
    with _source(
        hash_library, root, include=["*.md", "*.docx"], exclude=["drafts/*", "~$*"], tags=["hr"]
    ) as sources:
        sources.sync("team")
        assert [r.source for r in hash_library.documents()] == ["team/a.md", "team/sub/d.md"]
        assert all(r.tags == ("hr",) for r in hash_library.documents())
        hash_library.update_tags(hash_library.document("team/a.md").doc_id, ["hr", "by-hand"])
        sources.update("team", tags=["hr", "policies"])
        report = sources.sync("team")[0]
        assert report.counts["retagged"] == 2 and sources.sync("team")[0].plan.actions == ()
        assert [r.tags for r in hash_library.documents()] == [
            ("hr", "by-hand", "policies"),
            ("hr", "policies"),
        ]


def test_office_owner_and_lock_files_are_left_out_unless_included_by_name(
    hash_library: Library, tmp_path: Path
) -> None:
    """Word leaves ``~$draft.docx`` (162 bytes naming who has the file open) beside a document
    being edited: never read by default (it failed as "not a DOCX file"), unless included."""
    root = tmp_path / "share"
    write(root / "draft.docx", document_bytes("docx", random.Random(4)))
    write(root / "~$draft.docx", b"\x0bJane Smith" + b" " * 40 + b"\x00" * 110)
    write(root / "sub" / "~$budget.docx", b"\x0bJohn Doe" + b"\x00" * 150)
    write(root / ".~lock.report.odt#", "Jane Smith,host,jane,07.12.2026 10:00,file:///home/jane;")
    write(root / "~WRL1234.tmp", b"\x00" * 64)
    for path in root.rglob("*"):
        if path.is_file():
            backdate(path, random.Random(5))
    with _source(hash_library, root) as sources:
        report = sources.sync("team")[0]
        assert not report.failures and not report.plan.problems, report.plan.describe()
        assert [r.source for r in hash_library.documents()] == ["team/draft.docx"]
        sources.update("team", include=["*.docx", "~$*"])  # on purpose: taken (and they fail)
        report = sources.sync("team")[0]
        assert sorted(p.path for p in report.failures) == ["sub/~$budget.docx", "~$draft.docx"]
    assert not SourceSpec.create("x", root, include=["*.docx"]).wants("~$draft.docx")


def test_a_sources_groups_restrict_its_documents_as_an_uploads_do(
    hash_library: Library, tmp_path: Path
) -> None:
    """A source with groups: its documents are seen only by those groups, through every view,
    after ingest, an edit and a rename; groups set on the source later reach every document.
    Without groups (the default) a synced document is open to everyone, as an upload."""
    root = tmp_path / "share"
    write(root / "pay.md", "# Pay\n\nsalary bands and the bonus pool of the year")
    write(root / "open.md", "# Open\n\nthe office opens at nine every weekday")
    for path in root.iterdir():
        backdate(path, random.Random(2))
    with _source(hash_library, root, include=["pay.md"], groups=["hr"]) as sources:
        sources.add(SourceSpec.create("all", root, include=["open.md"]))
        sources.sync()
        assert sources.get("team").spec.groups == ("hr",)
        hr, staff, admin = hash_library.view({"hr"}), hash_library.view({"sales"}), hash_library.view(None)
        assert [r.source for r in hr.documents()] == ["all/open.md", "team/pay.md"]
        assert [r.source for r in staff.documents()] == ["all/open.md"]
        assert len(admin.documents()) == 2
        assert [h.source for h in hr.search("salary bands bonus pool", k=5).hits][:1] == ["team/pay.md"]
        assert "team/pay.md" not in {h.source for h in staff.search("salary bands bonus pool", k=5).hits}
        # An edit and a rename keep the restriction (a rename keeps the document).
        write(root / "pay.md", "# Pay\n\nsalary bands, the bonus pool and overtime rates")
        backdate(root / "pay.md", random.Random(3))
        sources.sync("team")
        (root / "pay.md").rename(root / "pay-2026.md")
        sources.update("team", include=["pay*.md"])
        report = sources.sync("team")[0]
        assert report.counts["moved"] == 1, report.summary()
        assert [r.source for r in staff.documents()] == ["all/open.md"]
        assert hash_library.document("team/pay-2026.md").groups == ("hr",)
        # Groups given to a source later reach its documents at the next sync; "all" had none.
        sources.update("all", groups=["staff", "hr"])
        assert sources.sync("all")[0].counts["retagged"] == 1
        assert hash_library.document("all/open.md").groups == ("staff", "hr")
        assert staff.documents() == [] and sources.sync("all")[0].plan.actions == ()
        with pytest.raises(SourceError, match="groups"):
            SourceSpec.create("bad", root, groups=["\x00"])


def test_one_sync_of_a_source_at_a_time_in_one_process(hash_library: Library, tmp_path: Path) -> None:
    """Embedded, the app's watcher, "Sync now" and an API call each sync with their own
    `Syncer`: while one syncs a source, another's sync of it is "busy" and changes nothing."""
    from searchapp.sources.lease import SyncLease

    root = tmp_path / "share"
    _tree(root, 2)
    with _source(hash_library, root) as sources, Sources(hash_library, workers=1) as other:
        with SyncLease(hash_library, "team"):
            (busy,) = other.sync("team")
            assert busy.outcome == "busy" and hash_library.documents() == []
        assert other.sync("team")[0].counts["new"] == 2
        assert sources.sync("team")[0].plan.actions == ()


def test_watching_follows_real_file_events(hash_library: Library, tmp_path: Path) -> None:
    root = tmp_path / "share"
    _tree(root, 2)
    reports = []
    with (
        _source(hash_library, root, watch=True) as sources,
        Watcher(sources, debounce_ms=100, on_report=reports.append) as watcher,
    ):
        _wait(lambda: len(hash_library.documents()) == 2)
        assert watcher.watching == {"team": "events"}
        write(root / "new.md", "# New\n\nplatypus quokka wombat")
        _wait(
            lambda: any(h.source == "team/new.md" for h in hash_library.search("quokka", mode="keyword").hits)
        )
        (root / "new.md").rename(root / "moved.md")
        _wait(
            lambda: (
                [h.source for h in hash_library.search("quokka", mode="keyword").hits][:1]
                == ["team/moved.md"]
            )
        )
        (root / "d0.md").unlink()
        _wait(lambda: "team/d0.md" not in {r.source for r in hash_library.documents()})
        sources.update("team", watch=False)
        _wait(lambda: watcher.watching == {})
    assert any(r.counts["moved"] for r in reports)


def test_an_s3_source_through_a_real_s3_server(
    hash_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    for key, value in S3_ENV.items():
        monkeypatch.setenv(key, value)
    with s3_server(tmp_path / "s3", bucket="team-docs") as endpoint, Library.open(hash_settings) as library:
        s3 = boto3.client("s3", endpoint_url=endpoint)
        rng = random.Random(3)
        for name in ("handbook/a.md", "handbook/b.html", "handbook/sub/c.docx", "other/x.md"):
            s3.put_object(Bucket="team-docs", Key=name, Body=document_bytes(name.rsplit(".", 1)[-1], rng))
        with Sources(library, workers=1) as sources:
            sources.add(SourceSpec.create("bucket", "s3://team-docs/handbook", endpoint_url=endpoint))
            assert sources.sync("bucket")[0].counts["new"] == 3
            assert sources.sync("bucket")[0].plan.actions == ()
            s3.copy_object(Bucket="team-docs", Key="handbook/moved.md", CopySource="team-docs/handbook/a.md")
            s3.delete_object(Bucket="team-docs", Key="handbook/a.md")
            s3.delete_object(Bucket="team-docs", Key="handbook/b.html")
            s3.put_object(Bucket="team-docs", Key="handbook/new.txt", Body=b"fresh words about pensions")
            report = sources.sync("bucket")[0]
            assert report.counts == {**report.counts, "new": 1, "moved": 1, "deleted": 1}, report.summary()
            assert [r.source for r in library.documents()] == [
                "bucket/moved.md",
                "bucket/new.txt",
                "bucket/sub/c.docx",
            ]
            # A copy to a new key (sorting first) while the old key stays: another location.
            s3.copy_object(
                Bucket="team-docs", Key="handbook/sub/a-copy.docx", CopySource="team-docs/handbook/sub/c.docx"
            )
            report = sources.sync("bucket")[0]
            assert report.plan.actions == (), report.plan.describe()
            c_docx = library.document("bucket/sub/c.docx").doc_id
            assert sources.locations(c_docx) == ["bucket/sub/a-copy.docx", "bucket/sub/c.docx"]


def _wait(condition, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_content_held_by_two_sources_stays_while_either_holds_it(
    hash_library: Library, tmp_path: Path
) -> None:
    data = document_bytes("md", random.Random(8))
    for folder, name in (("one", "x.md"), ("two", "y.md")):
        write(tmp_path / folder / name, data)
        write(tmp_path / folder / f"own-{folder}.md", document_bytes("md", random.Random(folder)))
        for path in (tmp_path / folder).iterdir():
            backdate(path, random.Random(9))
    with Sources(hash_library, workers=1) as sources:
        sources.add(SourceSpec.create("a", tmp_path / "one"))
        sources.add(SourceSpec.create("b", tmp_path / "two"))
        sources.sync()
        shared = hash_library.document("a/x.md")
        assert sources.locations(shared.doc_id) == ["a/x.md", "b/y.md"]
        (tmp_path / "one" / "x.md").unlink()
        report = sources.sync("a")[0]
        assert report.counts["deleted"] == 0 and hash_library.document(shared.doc_id).source == "b/y.md"
        write(tmp_path / "one" / "x.md", data)
        backdate(tmp_path / "one" / "x.md", random.Random(10))
        sources.sync()  # back at a/x.md: another location of the document b/y.md names
        assert hash_library.document(shared.doc_id).source == "b/y.md"
        assert sources.locations(shared.doc_id) == ["a/x.md", "b/y.md"]
        assert sources.remove("a") == 1  # own-one.md; the shared one stays, named by b
        assert hash_library.document(shared.doc_id).source == "b/y.md"
        assert sources.sync("b")[0].plan.actions == ()


def test_a_file_two_sources_hold_carries_both_their_tags_and_is_seen_by_both_their_groups(
    hash_library: Library, tmp_path: Path
) -> None:
    """One document (identical bytes), two shares: each share's readers see it and find it
    by its share's tag; a share that lets it go takes its groups back out."""
    policy = document_bytes("md", random.Random(11))
    for folder in ("hr", "handbook"):
        write(tmp_path / folder / "policy.md", policy)
        write(tmp_path / folder / f"own-{folder}.md", document_bytes("md", random.Random(folder)))
        for path in (tmp_path / folder).iterdir():
            backdate(path, random.Random(12))
    with Sources(hash_library, workers=1) as sources:
        sources.add(SourceSpec.create("hr", tmp_path / "hr", tags=["hr"], groups=["hr"]))
        sources.add(SourceSpec.create("handbook", tmp_path / "handbook", tags=["handbook"], groups=["staff"]))
        sources.sync()
        shared = hash_library.document("handbook/policy.md")  # named by the first source synced
        assert set(shared.tags) == {"hr", "handbook"} and set(shared.groups) == {"hr", "staff"}
        staff, hr = hash_library.view({"staff"}), hash_library.view({"hr"})
        assert shared.doc_id in {r.doc_id for r in staff.documents()}
        assert shared.doc_id in {r.doc_id for r in hr.documents()}
        assert "hr/own-hr.md" not in {r.source for r in staff.documents()}
        assert all(s.plan.actions == () for s in sources.sync())  # settled: no tug of war
        # hr lets the file go: the handbook's readers still see it, hr's no longer do.
        (tmp_path / "hr" / "policy.md").unlink()
        assert sources.sync("hr")[0].counts["retagged"] == 1
        assert hash_library.document(shared.doc_id).groups == ("staff",)
        assert shared.doc_id not in {r.doc_id for r in hr.documents()}
        # Back in hr, then the hr source removed: the same.
        write(tmp_path / "hr" / "policy.md", policy)
        backdate(tmp_path / "hr" / "policy.md", random.Random(13))
        sources.sync("hr")
        assert set(hash_library.document(shared.doc_id).groups) == {"hr", "staff"}
        assert sources.remove("hr") == 1  # own-hr.md
        assert hash_library.document(shared.doc_id).groups == ("staff",)
        assert sources.sync("handbook")[0].plan.actions == ()


@pytest.mark.parametrize("first", ["hr", "public"])
def test_a_file_an_open_and_a_restricted_source_hold_is_open_whichever_synced_first(
    hash_library: Library, tmp_path: Path, first: str
) -> None:
    """A source without groups opens its files to everyone: beside a restricted source's
    copy too, and the restriction comes back when the open copy goes (found by review)."""
    policy = document_bytes("md", random.Random(f"policy-{first}"))
    for folder in ("hr", "public"):
        write(tmp_path / folder / "policy.md", policy)
        write(
            tmp_path / folder / f"own-{folder}.md", document_bytes("md", random.Random(f"{folder}-{first}"))
        )
        for path in (tmp_path / folder).iterdir():
            backdate(path, random.Random(14))
    with Sources(hash_library, workers=1) as sources:
        sources.add(SourceSpec.create("hr", tmp_path / "hr", groups=["hr"]))
        sources.add(SourceSpec.create("public", tmp_path / "public"))
        for name in (first, *({"hr", "public"} - {first})):
            sources.sync(name)
        shared = next(r for r in hash_library.documents() if r.source.endswith("/policy.md"))
        assert hash_library.document(shared.doc_id).groups == ()
        assert all(s.plan.actions == () for s in sources.sync())
        (tmp_path / "public" / "policy.md").unlink()
        sources.sync("public")
        assert hash_library.document(shared.doc_id).groups == ("hr",)
        write(tmp_path / "public" / "policy.md", policy)
        backdate(tmp_path / "public" / "policy.md", random.Random(15))
        sources.sync("public")
        assert hash_library.document(shared.doc_id).groups == ()
        # A restriction set by hand on what only the open source holds stays.
        own = hash_library.document("public/own-public.md")
        hash_library.update_groups(own.doc_id, ["legal"])
        sources.sync()
        assert hash_library.document(own.doc_id).groups == ("legal",)
        # ... and a restricted source that starts holding it does not open it (found by review).
        write(tmp_path / "hr" / "copy.md", hash_library.original(own.doc_id))
        backdate(tmp_path / "hr" / "copy.md", random.Random(16))
        sources.sync("hr")
        assert hash_library.document(own.doc_id).groups == ("legal",)
        (tmp_path / "hr" / "copy.md").unlink()
        sources.sync("hr")
        assert sources.remove("public") == 1  # own-public.md; the shared one stays, hr's alone
        assert hash_library.document(shared.doc_id).groups == ("hr",)


def test_removing_an_open_source_but_keeping_its_documents_restricts_what_others_hold(
    hash_library: Library, tmp_path: Path
) -> None:
    policy = document_bytes("md", random.Random("keep-policy"))
    for folder in ("hr", "public"):
        write(tmp_path / folder / "policy.md", policy)
        backdate(tmp_path / folder / "policy.md", random.Random(17))
    with Sources(hash_library, workers=1) as sources:
        sources.add(SourceSpec.create("hr", tmp_path / "hr", groups=["hr"]))
        sources.add(SourceSpec.create("public", tmp_path / "public"))
        sources.sync()
        (shared,) = hash_library.documents()
        assert shared.groups == ()
        assert sources.remove("public", keep_documents=True) == 0
        assert hash_library.document(shared.doc_id).groups == ("hr",)


def test_a_file_name_that_is_not_utf8_is_ingested_synced_and_deleted_like_any_other(
    hash_library: Library, tmp_path: Path
) -> None:
    """Old zips and Samba shares leave names in Latin-1: shown as such, never a crash."""
    from searchapp.ingest import ingest_paths

    def latin1_named(folder: Path, text: str) -> bytes:
        folder.mkdir()
        path = os.fsencode(folder) + b"/caf\xe9 notes.txt"  # Latin-1 e-acute: not UTF-8
        with open(path, "wb") as handle:
            handle.write(text.encode())
        write(folder / "good.txt", f"Penguins huddle together. {text}")
        for settled in (Path(os.fsdecode(path)), folder / "good.txt"):
            backdate(settled, random.Random(2))
        return path

    latin1_named(tmp_path / "one-off", "The walrus keeps its tusk polished.")
    report = ingest_paths(hash_library, [tmp_path / "one-off"])
    assert sorted((o.source, o.status) for o in report.outcomes) == [
        ("café notes.txt", "ingested"),
        ("good.txt", "ingested"),
    ]
    bad = latin1_named(tmp_path / "share", "The narwhal's tusk is a tooth.")
    with Sources(hash_library, workers=1) as sources:
        sources.add(SourceSpec.create("team", tmp_path / "share"))
        first = sources.sync("team")[0]
        assert (first.counts["new"], first.counts.get("failed", 0)) == (2, 0), first.counts
        assert sources.sync("team")[0].counts["unchanged"] == 2  # its record was kept and read back
        assert "team/café notes.txt" in {r.source for r in hash_library.documents()}
        os.remove(bad)
        assert sources.sync("team")[0].counts["deleted"] == 1
    assert "team/café notes.txt" not in {r.source for r in hash_library.documents()}


def test_a_file_that_fails_is_tried_once_per_sync_and_reported_once(
    hash_library: Library, tmp_path: Path
) -> None:
    """A damaged DOCX fails as "unreadable", which may pass (a locked file): the next sync
    tries it again, but one sync no longer tries (and reports) it three times."""
    root = tmp_path / "share"
    write(root / "good.md", "# Good\n\nPenguins huddle together in the cold.")
    (root / "garbage.docx").write_bytes(b"PK\x03\x04" + b"x" * 200)
    for name in ("good.md", "garbage.docx"):
        backdate(root / name, random.Random(3))
    with Sources(hash_library, workers=1) as sources:
        sources.add(SourceSpec.create("team", root))
        report = sources.sync("team")[0]
        assert [p.path for p in report.failures] == ["garbage.docx"], report.failures
        assert report.counts["new"] == 1 and report.counts["failed"] == 1, report.counts
        assert [path for path, _ in sources.get("team").status.errors] == ["garbage.docx"]
        again = sources.sync("team")[0]
        assert [p.path for p in again.failures] == ["garbage.docx"]  # transient: tried again, once
    assert [r.source for r in hash_library.documents()] == ["team/good.md"]


def _cli_in(data_dir: Path) -> Callable[..., Any]:
    """`searchapp ARGS...` in-process over `data_dir` (hash model, one worker): its result."""
    from typer.testing import CliRunner

    from searchapp.cli.main import app

    env = {"SEARCHAPP_DATA_DIR": str(data_dir), "SEARCHAPP_MODEL": "hash:64", "SEARCHAPP_WORKERS": "1"}
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args), env=env)


def test_deleting_a_synced_document_by_hand_warns_that_the_next_sync_brings_it_back(
    tmp_path: Path,
) -> None:
    root = tmp_path / "share"
    _tree(root, 2)
    invoke = _cli_in(tmp_path / "data")

    def cli(*args: str) -> Any:
        result = invoke(*args)
        assert result.exit_code == 0, result.output
        return result

    write(root / "sub" / "d0.md", "# Another d0\n\nin a folder of its own")
    backdate(root / "sub" / "d0.md", random.Random(9))
    cli("sources", "add", "hb", str(root), "--exclude", "drafts/*")
    cli("sync", "hb")
    deleted = cli("delete", "-y", "hb/d0.md")
    assert (
        "warning: hb/d0.md: the file hb/d0.md still holds it: the next sync brings it back" in deleted.output
    )
    advice = "searchapp sources set hb --exclude 'drafts/*' --exclude /d0.md"
    assert advice in deleted.output
    cli("sync", "hb")  # as the warning said
    assert "hb/d0.md" in cli("docs").output
    cli("delete", "-y", "hb/d0.md")
    cli(*shlex.split(advice)[1:])  # the advice, followed as a shell would read it
    cli("sync", "hb")
    listed = cli("docs").output
    assert "hb/d0.md" not in listed.replace("hb/sub/d0.md", "") and "hb/sub/d0.md" in listed  # that file only
    write(tmp_path / "one-off.md", "# One-off\n\nnot synced from anywhere")
    cli("ingest", str(tmp_path / "one-off.md"))
    assert "warning" not in cli("delete", "-y", "one-off.md").output


def test_sync_exit_codes_say_whether_everything_was_synced(tmp_path: Path) -> None:
    """A dry run exits as the sync would; a path that cannot be listed (a pipe) is not success."""
    root = tmp_path / "share"
    _tree(root, 4)
    invoke = _cli_in(tmp_path / "data")

    def code(*args: str) -> int:
        return int(invoke(*args).exit_code)

    assert code("sources", "add", "hb", str(root)) == 0
    assert code("sync", "--dry-run") == 0 and code("sync") == 0
    for path in sorted(root.iterdir())[:3]:
        path.unlink()
    assert code("sync", "--dry-run") == 1 and code("sync") == 1  # the mass-delete guard holds both
    assert code("sync", "--allow-mass-delete") == 0
    os.mkfifo(root / "pipe.md")
    assert code("sync", "--dry-run") == 1 and code("sync") == 1
