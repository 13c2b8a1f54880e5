#!/usr/bin/env python3
"""Supply-chain audit: check pinned dependencies against PyPI's published advisories.

Usage (from the repository root)::

    .venv/bin/python scripts/audit_deps.py                 # audit this interpreter's installed packages
    .venv/bin/python scripts/audit_deps.py -r requirements.lock
    .venv/bin/python scripts/audit_deps.py --ignore GHSA-xxxx-xxxx-xxxx   # accept one advisory

Pins come from the running interpreter's installed distributions (the project itself,
``searchapp``, and editable installs are skipped) or from ``-r FILE`` (``name==version`` lines;
comments, extras, markers and ``--hash`` options are tolerated). Names are normalised per
PEP 503, and a local version label is dropped (``torch==2.13.0+cpu`` is audited as 2.13.0).

How each pin is audited, in order:

1. ``pip-audit`` (``python -m pip_audit`` or a ``pip-audit`` on PATH), if installed, with
   ``--no-deps --disable-pip -s pypi -f json``. Its findings are used for every package it
   could audit; packages it reports with a ``skip_reason`` fall through to step 2. (Where
   PyPI's per-version endpoint ``/pypi/<name>/<version>/json`` is not served, pip-audit skips
   every package.)
2. PyPI's project endpoint ``/pypi/<name>/json``. Its ``vulnerabilities`` list only describes
   the *latest* release (``info.version``), so:

   * pin == latest release: audited; every non-withdrawn entry is a finding;
   * pin older (or newer) than the latest release: NOT auditable here, and reported as such,
     because advisories already fixed by the latest release are absent from that list;
   * HTTP 404 (local or private package) or a network error: NOT auditable, with the reason.

Entries that share an id or alias (GHSA/PYSEC/CVE records of one advisory) are shown once.

``--ignore ID`` (repeatable) accepts an advisory: it matches the advisory's id or any of its
aliases, the advisory is listed as ignored and does not fail the run. Record why next to the
``--ignore`` in CI, and remove it when the fix is released; an ``--ignore`` that matches
nothing is reported.

Exit status: 1 if any known, non-ignored vulnerability is found; 2 if no package at all could
be audited (or on a usage error), since a run that audited nothing is not a pass; else 0.
Packages that could not be audited are listed but do not fail the run by themselves.

Network access goes through one ``Fetch`` callable (URL -> parsed JSON, raising ``FetchError``)
and pip-audit through one ``PipAuditRunner``; both can be passed to ``main`` (tests use fakes).
Standard library plus ``packaging``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import importlib.metadata
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

DEFAULT_INDEX = "https://pypi.org/pypi"
PROJECT_NAME = "searchapp"
TIMEOUT_S = 10.0
WORKERS = 8
PIP_AUDIT_TIMEOUT_S = 600.0
USER_AGENT = "searchapp-audit-deps/1 (+urllib)"

BY_PIP_AUDIT = "pip-audit"
BY_PROJECT_JSON = "project JSON"


class FetchError(Exception):
    """A URL could not be fetched as JSON; ``status`` is the HTTP status when there was one."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


Fetch = Callable[[str], Any]


@dataclass(frozen=True)
class Pin:
    name: str  # PEP 503 normalised
    version: str  # public version (local label dropped)
    given: str  # the version as pinned, e.g. "2.13.0+cpu"


@dataclass
class Advisory:
    id: str
    aliases: list[str] = field(default_factory=list)
    fixed_in: list[str] = field(default_factory=list)
    summary: str = ""
    link: str = ""

    def ids(self) -> set[str]:
        return {self.id.upper(), *(alias.upper() for alias in self.aliases)}


@dataclass
class Result:
    pin: Pin
    method: str | None = None  # BY_PIP_AUDIT / BY_PROJECT_JSON when audited, else None
    advisories: list[Advisory] = field(default_factory=list)
    ignored: list[Advisory] = field(default_factory=list)
    reason: str = ""  # why it could not be audited

    @property
    def audited(self) -> bool:
        return self.method is not None


# --------------------------------------------------------------------------- pins


def normalise_version(version: str) -> str:
    """The public part of a version: ``2.13.0+cpu`` -> ``2.13.0``."""
    return version.strip().split("+", 1)[0]


def make_pin(name: str, version: str) -> Pin:
    return Pin(canonicalize_name(name), normalise_version(version), version.strip())


def _is_editable(dist: importlib.metadata.Distribution) -> bool:
    text = dist.read_text("direct_url.json")
    if not text:
        return False
    try:
        info = json.loads(text)
    except ValueError:
        return False
    dir_info = info.get("dir_info") if isinstance(info, dict) else None
    return isinstance(dir_info, dict) and bool(dir_info.get("editable"))


def installed_pins(
    distributions: Iterable[importlib.metadata.Distribution] | None = None,
) -> tuple[list[Pin], list[str]]:
    """(pins, skipped) for the installed distributions; the first of duplicate names wins."""
    dists = importlib.metadata.distributions() if distributions is None else distributions
    pins: dict[str, Pin] = {}
    skipped: list[str] = []
    for dist in dists:
        raw_name = dist.metadata["Name"]
        if not raw_name:
            continue
        name = canonicalize_name(raw_name)
        if name in pins or name in skipped:
            continue
        if name == PROJECT_NAME:
            skipped.append(f"{name} (the project itself)")
        elif _is_editable(dist):
            skipped.append(f"{name} (editable install)")
        else:
            pins[name] = make_pin(name, dist.version)
    return sorted(pins.values(), key=lambda pin: pin.name), skipped


def _logical_lines(text: str) -> Iterable[str]:
    buffer = ""
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if line.endswith("\\"):
            buffer += line[:-1] + " "
            continue
        yield (buffer + line).strip()
        buffer = ""
    if buffer.strip():
        yield buffer.strip()


def requirement_pins(text: str) -> tuple[list[Pin], list[Result]]:
    """(pins, unpinned) from a requirements file; lines that are not ``==`` pins are unpinned."""
    pins: dict[str, Pin] = {}
    unpinned: list[Result] = []
    for line in _logical_lines(text):
        line = re.sub(r"\s--hash[=\s]\S+", "", line).strip()
        if not line:
            continue
        if line.startswith("-"):
            if line.startswith(("-e", "--editable")):
                unpinned.append(Result(Pin(line, "", ""), reason="editable requirement, skipped"))
            continue  # other options: --index-url, -c, ... carry no pin
        try:
            req = Requirement(line)
        except InvalidRequirement as error:
            unpinned.append(Result(Pin(line, "", ""), reason=f"unparseable requirement ({error})"))
            continue
        specs = list(req.specifier)
        if len(specs) == 1 and specs[0].operator in ("==", "===") and "*" not in specs[0].version:
            pin = make_pin(req.name, specs[0].version)
            pins.setdefault(pin.name, pin)
        else:
            name = canonicalize_name(req.name)
            unpinned.append(Result(Pin(name, "", str(req.specifier)), reason="not an exact == pin"))
    return sorted(pins.values(), key=lambda pin: pin.name), unpinned


# --------------------------------------------------------------------------- network


def urllib_fetch(url: str, timeout: float = TIMEOUT_S) -> Any:
    """GET ``url`` and parse it as JSON; one retry for 5xx/429 and connection errors."""
    request = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": USER_AGENT})
    for attempt in (1, 2):
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            if attempt == 1 and (error.code >= 500 or error.code == 429):
                time.sleep(1.0)
                continue
            raise FetchError(f"HTTP {error.code}", status=error.code) from error
        except TimeoutError as error:  # no retry: it already cost `timeout` seconds
            raise FetchError(f"timed out after {timeout:g} s") from error
        except urllib.error.URLError as error:
            if isinstance(error.reason, TimeoutError):
                raise FetchError(f"timed out after {timeout:g} s") from error
            if attempt == 1:
                time.sleep(1.0)
                continue
            raise FetchError(f"connection failed ({error.reason})") from error
        except (OSError, ValueError) as error:
            raise FetchError(f"{type(error).__name__}: {error}") from error
    raise AssertionError("unreachable")


# --------------------------------------------------------------------------- advisories


def group_advisories(advisories: Iterable[Advisory]) -> list[Advisory]:
    """Merge records that share an id or alias (GHSA/PYSEC/CVE copies of one advisory)."""
    groups: list[Advisory] = []
    for advisory in advisories:
        matching = [group for group in groups if group.ids() & advisory.ids()]
        if not matching:
            groups.append(
                Advisory(
                    advisory.id,
                    list(advisory.aliases),
                    list(advisory.fixed_in),
                    advisory.summary,
                    advisory.link,
                )
            )
            continue
        target = matching[0]
        for other in [*matching[1:], advisory]:
            for key in [other.id, *other.aliases]:
                if key.upper() not in target.ids():
                    target.aliases.append(key)
            target.fixed_in.extend(v for v in other.fixed_in if v not in target.fixed_in)
            target.summary = target.summary or other.summary
            target.link = target.link or other.link
            if other is not advisory:
                groups.remove(other)
    for group in groups:
        group.aliases.sort()
        group.fixed_in.sort(key=_version_key)
    return groups


def _version_key(version: str) -> tuple[int, Version | str]:
    try:
        return (0, Version(version))
    except InvalidVersion:
        return (1, version)


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def _first_line(text: str, limit: int = 240) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _str_list(value: object) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []


def advisories_from_project_json(entries: object) -> list[Advisory]:
    """Non-withdrawn entries of a project JSON ``vulnerabilities`` list."""
    if not isinstance(entries, list):
        raise ValueError("`vulnerabilities` is not a list")
    found: list[Advisory] = []
    for entry in entries:
        if not isinstance(entry, dict) or not entry.get("id") or entry.get("withdrawn"):
            continue
        found.append(
            Advisory(
                id=str(entry["id"]),
                aliases=_str_list(entry.get("aliases")),
                fixed_in=_str_list(entry.get("fixed_in")),
                summary=_first_line(_text(entry.get("summary")) or _text(entry.get("details"))),
                link=_text(entry.get("link")),
            )
        )
    return group_advisories(found)


def audit_with_project_json(pin: Pin, fetch: Fetch, index_url: str = DEFAULT_INDEX) -> Result:
    """Audit one pin from ``<index>/<name>/json``; only a pin at the latest release is auditable."""
    url = f"{index_url.rstrip('/')}/{pin.name}/json"
    try:
        data = fetch(url)
    except FetchError as error:
        if error.status == 404:
            return Result(pin, reason="not on PyPI (HTTP 404): a local-only or private package")
        return Result(pin, reason=f"network error: {error}")
    try:
        if not isinstance(data, dict) or not isinstance(data.get("info"), dict):
            raise ValueError("no `info` object")
        latest = str(data["info"]["version"])
        advisories = advisories_from_project_json(data.get("vulnerabilities"))
    except (KeyError, ValueError) as error:
        return Result(pin, reason=f"unexpected JSON from {url}: {error}")
    try:
        pinned_v, latest_v = Version(pin.version), Version(latest)
    except InvalidVersion as error:
        return Result(pin, reason=f"cannot compare versions ({error})")
    if pinned_v == latest_v:
        return Result(pin, method=BY_PROJECT_JSON, advisories=advisories)
    if pinned_v < latest_v:
        reason = f"pinned {pin.version}, latest {latest}: PyPI lists advisories for the latest release only"
    else:
        reason = f"pinned {pin.version} is newer than the latest release {latest}"
    releases = data.get("releases")
    if isinstance(releases, dict) and not any(_same_version(release, pinned_v) for release in releases):
        reason += f"; {pin.version} is not a published release"
    if advisories:
        ids = ", ".join(advisory.id for advisory in advisories)
        reason += f" (latest {latest} itself has open advisories: {ids}; may or may not affect the pin)"
    return Result(pin, reason=reason)


def _same_version(text: str, version: Version) -> bool:
    try:
        return Version(text) == version
    except InvalidVersion:
        return False


# --------------------------------------------------------------------------- pip-audit

PipAuditRunner = Callable[[Sequence[Pin]], dict[str, Any] | None]


def pip_audit_command() -> list[str] | None:
    if importlib.util.find_spec("pip_audit") is not None:
        return [sys.executable, "-m", "pip_audit"]
    exe = shutil.which("pip-audit")
    return [exe] if exe else None


class PipAuditError(Exception):
    pass


def run_pip_audit(pins: Sequence[Pin]) -> dict[str, Any] | None:
    """pip-audit's JSON report for ``pins``; None when pip-audit is not installed."""
    command = pip_audit_command()
    if command is None:
        return None
    with tempfile.TemporaryDirectory(prefix="audit-deps-") as tmp:
        requirements = Path(tmp) / "requirements.txt"
        requirements.write_text("".join(f"{pin.name}=={pin.version}\n" for pin in pins), encoding="utf-8")
        command += ["-r", str(requirements), "--no-deps", "--disable-pip", "-s", "pypi", "-f", "json"]
        command += ["--progress-spinner", "off"]
        try:
            proc = subprocess.run(
                command, capture_output=True, text=True, timeout=PIP_AUDIT_TIMEOUT_S, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise PipAuditError(f"could not run {' '.join(command[:3])}: {error}") from error
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise PipAuditError(f"pip-audit exited {proc.returncode} without a JSON report: {tail}") from None
    if not isinstance(report, dict):
        raise PipAuditError("pip-audit's JSON report is not an object")
    return report


def results_from_pip_audit(report: dict[str, Any], pins: Sequence[Pin]) -> dict[str, Result]:
    """Results for the pins pip-audit audited (entries without a ``skip_reason``)."""
    by_name = {pin.name: pin for pin in pins}
    results: dict[str, Result] = {}
    for dep in report.get("dependencies") or []:
        if not isinstance(dep, dict) or dep.get("skip_reason") or not dep.get("name"):
            continue
        name = canonicalize_name(str(dep["name"]))
        if name not in by_name:
            continue
        advisories = [
            Advisory(
                id=str(vuln["id"]),
                aliases=_str_list(vuln.get("aliases")),
                fixed_in=_str_list(vuln.get("fix_versions")),
                summary=_first_line(_text(vuln.get("description"))),
            )
            for vuln in dep.get("vulns") or []
            if isinstance(vuln, dict) and vuln.get("id")
        ]
        results[name] = Result(by_name[name], method=BY_PIP_AUDIT, advisories=group_advisories(advisories))
    return results


def first_skip_reason(report: dict[str, Any]) -> str:
    for dep in report.get("dependencies") or []:
        if isinstance(dep, dict) and dep.get("skip_reason"):
            return str(dep["skip_reason"])
    return ""


# --------------------------------------------------------------------------- report


def apply_ignores(results: Iterable[Result], ignore: Iterable[str]) -> set[str]:
    """Move ignored advisories aside; returns the ignore ids that matched something."""
    wanted = {item.strip().upper() for item in ignore if item.strip()}
    used: set[str] = set()
    for result in results:
        kept: list[Advisory] = []
        for advisory in result.advisories:
            hit = advisory.ids() & wanted
            if hit:
                used |= hit
                result.ignored.append(advisory)
            else:
                kept.append(advisory)
        result.advisories = kept
    return used


def _wrap(items: Sequence[str], indent: str = "    ") -> str:
    return textwrap.fill(", ".join(items), width=100, initial_indent=indent, subsequent_indent=indent)


def _describe(advisory: Advisory) -> str:
    aliases = f" ({', '.join(advisory.aliases)})" if advisory.aliases else ""
    fixed = ", ".join(advisory.fixed_in) if advisory.fixed_in else "no fixed release yet"
    return f"{advisory.id}{aliases}; fixed in: {fixed}"


def print_report(
    results: Sequence[Result],
    *,
    source: str,
    skipped: Sequence[str],
    pip_audit_note: str,
    unused_ignores: Sequence[str],
    elapsed: float,
    out: TextIO,
) -> int:
    audited = [r for r in results if r.audited]
    by_pip = [r for r in audited if r.method == BY_PIP_AUDIT]
    by_json = [r for r in audited if r.method == BY_PROJECT_JSON]
    vulnerable = [r for r in audited if r.advisories]
    with_ignored = [r for r in audited if r.ignored]
    unaudited = [r for r in results if not r.audited]

    def say(line: str = "") -> None:
        print(line, file=out)

    say(f"Dependency audit of {len(results)} pins ({source})")
    say(f"  pip-audit: {pip_audit_note}")
    if skipped:
        say(f"  skipped: {', '.join(skipped)}")
    for title, group in ((BY_PIP_AUDIT, by_pip), (BY_PROJECT_JSON, by_json)):
        if group:
            say()
            say(f"Audited by {title} ({len(group)}):")
            say(_wrap([f"{r.pin.name} {r.pin.given}" for r in group]))
    if by_json:
        say("  (project JSON: pin == latest release, checked against PyPI's `vulnerabilities` list")
        say("   for that release; withdrawn entries excluded)")
    say()
    count = sum(len(r.advisories) for r in vulnerable)
    say(f"VULNERABLE: {len(vulnerable)} package(s), {count} advisory(ies)")
    for result in vulnerable:
        say(f"  {result.pin.name} {result.pin.given}  [{result.method}]")
        for advisory in result.advisories:
            say(f"    - {_describe(advisory)}")
            if advisory.summary:
                say(_wrap([advisory.summary], indent=" " * 6))
            if advisory.link:
                say(f"      {advisory.link}")
    if with_ignored:
        say()
        say("IGNORED (--ignore):")
        for result in with_ignored:
            for advisory in result.ignored:
                say(f"  {result.pin.name} {result.pin.given}: {_describe(advisory)}")
    for item in unused_ignores:
        say(f"  note: --ignore {item} matched no advisory (stale?)")
    say()
    say(f"NOT AUDITABLE: {len(unaudited)}")
    for result in unaudited:
        version = f" {result.pin.given}" if result.pin.given else ""
        say(f"  {result.pin.name}{version}: {result.reason}")
    say()
    say(
        f"Summary: audited {len(audited)} of {len(results)} (by pip-audit: {len(by_pip)}, "
        f"by project JSON: {len(by_json)}); vulnerable: {len(vulnerable)}; "
        f"ignored advisories: {sum(len(r.ignored) for r in with_ignored)}; "
        f"not auditable: {len(unaudited)}; {elapsed:.1f} s"
    )
    if vulnerable:
        say("FAIL: known vulnerabilities (fix, or accept one with --ignore ID and a recorded reason)")
        return 1
    if not audited:
        say("FAIL: no package could be audited, so this run proves nothing")
        return 2
    say("OK: no known vulnerabilities in the audited pins")
    return 0


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Audit pinned dependencies against PyPI's published advisories (see module docstring).",
    )
    parser.add_argument(
        "-r",
        "--requirement",
        type=Path,
        metavar="FILE",
        help="requirements file of name==version pins (default: this interpreter's installed packages)",
    )
    parser.add_argument(
        "--ignore",
        action="append",
        default=[],
        metavar="ID",
        help="accept an advisory (id or alias, e.g. GHSA-…, PYSEC-…, CVE-…); repeatable",
    )
    parser.add_argument(
        "--index-url",
        default=DEFAULT_INDEX,
        help=f"base of PyPI's JSON API (default {DEFAULT_INDEX})",
    )
    return parser.parse_args(argv)


def main(
    argv: Sequence[str] | None = None,
    *,
    fetch: Fetch | None = None,
    pip_audit: PipAuditRunner | None = None,
    out: TextIO | None = None,
) -> int:
    args = parse_args(argv)
    out = sys.stdout if out is None else out
    fetch = urllib_fetch if fetch is None else fetch
    pip_audit = run_pip_audit if pip_audit is None else pip_audit
    started = time.monotonic()

    unpinned: list[Result] = []
    skipped: list[str] = []
    if args.requirement is not None:
        try:
            text = args.requirement.read_text(encoding="utf-8")
        except OSError as error:
            print(f"audit_deps: cannot read {args.requirement}: {error}", file=sys.stderr)
            return 2
        pins, unpinned = requirement_pins(text)
        source = f"requirements file {args.requirement}"
    else:
        pins, skipped = installed_pins()
        source = f"installed distributions of {sys.executable}"

    results: dict[str, Result] = {}
    try:
        report = pip_audit(pins) if pins else None
    except PipAuditError as error:
        report = None
        pip_audit_note = f"failed ({error}); all pins fall back to project JSON"
    else:
        if not pins:
            pip_audit_note = "not run (no pins)"
        elif report is None:
            pip_audit_note = "not installed; all pins use PyPI's project JSON"
        else:
            results = results_from_pip_audit(report, pins)
            pip_audit_note = f"audited {len(results)} of {len(pins)}"
            if len(results) < len(pins):
                pip_audit_note += f"; the other {len(pins) - len(results)} use PyPI's project JSON"
                sample = first_skip_reason(report)
                if sample:
                    pip_audit_note += f" (pip-audit skipped them, e.g. {sample!r})"

    rest = [pin for pin in pins if pin.name not in results]
    with concurrent.futures.ThreadPoolExecutor(max_workers=WORKERS) as pool:
        for result in pool.map(lambda pin: audit_with_project_json(pin, fetch, args.index_url), rest):
            results[result.pin.name] = result

    ordered = [results[pin.name] for pin in pins] + unpinned
    used = apply_ignores(ordered, args.ignore)
    unused = [item for item in args.ignore if item.strip().upper() not in used]
    return print_report(
        ordered,
        source=source,
        skipped=skipped,
        pip_audit_note=pip_audit_note,
        unused_ignores=unused,
        elapsed=time.monotonic() - started,
        out=out,
    )


if __name__ == "__main__":
    sys.exit(main())
