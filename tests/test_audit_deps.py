"""scripts/audit_deps.py: the CI dependency audit, with a fake PyPI (plus one real-index check)."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import io
import json
import subprocess
import sys
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "audit_deps.py"
INDEX = "https://pypi.org/pypi"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("audit_deps", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["audit_deps"] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


audit = _load()


def project(
    latest: str, vulns: Sequence[dict[str, Any]] = (), releases: Sequence[str] = ()
) -> dict[str, Any]:
    return {
        "info": {"version": latest},
        "releases": {version: [] for version in (*releases, latest)},
        "urls": [],
        "vulnerabilities": list(vulns),
    }


def vuln(
    id: str, aliases: Sequence[str] = (), fixed_in: Sequence[str] = (), withdrawn: str | None = None
) -> dict[str, Any]:
    return {
        "id": id,
        "aliases": list(aliases),
        "fixed_in": list(fixed_in),
        "summary": None,
        "details": f"details of {id}",
        "link": f"https://osv.dev/vulnerability/{id}",
        "source": "osv",
        "withdrawn": withdrawn,
    }


class FakePyPI:
    """URL -> JSON; a project missing from `projects` is a 404, one in `broken` a network error."""

    def __init__(self, projects: dict[str, dict[str, Any]], broken: Sequence[str] = ()) -> None:
        self.projects = projects
        self.broken = set(broken)
        self.urls: list[str] = []

    def __call__(self, url: str) -> Any:
        self.urls.append(url)
        prefix, suffix = f"{INDEX}/", "/json"
        assert url.startswith(prefix) and url.endswith(suffix), url
        name = url[len(prefix) : -len(suffix)]
        if name in self.broken:
            raise audit.FetchError("connection failed (refused)")
        if name not in self.projects:
            raise audit.FetchError("HTTP 404", status=404)
        return self.projects[name]


def no_pip_audit(pins: Sequence[Any]) -> None:
    return None


def run(
    tmp_path: Path, requirements: str, fetch: FakePyPI, *extra: str, pip_audit: Any = no_pip_audit
) -> tuple[int, str]:
    req = tmp_path / "requirements.txt"
    req.write_text(requirements, encoding="utf-8")
    out = io.StringIO()
    code = audit.main(["-r", str(req), *extra], fetch=fetch, pip_audit=pip_audit, out=out)
    return code, out.getvalue()


def not_auditable_section(output: str) -> str:
    return output.split("NOT AUDITABLE:", 1)[1].split("Summary:", 1)[0]


def test_vulnerable_latest_pin_fails_with_the_advisory(tmp_path: Path) -> None:
    fake = FakePyPI({"urllib3": project("2.8.0", [vuln("GHSA-aaaa-bbbb-cccc", ["CVE-2099-1"], ["2.8.1"])])})
    code, output = run(tmp_path, "urllib3==2.8.0\n", fake)
    assert code == 1, output
    assert "GHSA-aaaa-bbbb-cccc (CVE-2099-1); fixed in: 2.8.1" in output
    assert "VULNERABLE: 1 package(s), 1 advisory(ies)" in output
    assert "audited 1 of 1 (by pip-audit: 0, by project JSON: 1)" in output


def test_clean_latest_pin_passes(tmp_path: Path) -> None:
    fake = FakePyPI({"requests": project("2.34.2")})
    code, output = run(tmp_path, "# lock\nrequests==2.34.2  # pinned\n", fake)
    assert code == 0, output
    assert "audited 1 of 1" in output and "OK: no known vulnerabilities" in output
    assert fake.urls == [f"{INDEX}/requests/json"]


def test_pin_behind_latest_is_not_auditable(tmp_path: Path) -> None:
    fake = FakePyPI(
        {
            "numpy": project("2.5.5", releases=["2.4.6"]),
            "idna": project("3.20"),
        }
    )
    code, output = run(tmp_path, "numpy==2.4.6\nidna==3.20\n", fake)
    assert code == 0, output
    section = not_auditable_section(output)
    assert "numpy 2.4.6: pinned 2.4.6, latest 2.5.5" in section
    assert "idna" not in section
    assert "audited 1 of 2" in output and "not auditable: 1" in output


def test_pin_behind_latest_mentions_open_advisories_but_does_not_fail(tmp_path: Path) -> None:
    fake = FakePyPI({"pkg": project("2.0", [vuln("GHSA-open-open-open")], releases=["1.0"])})
    code, output = run(tmp_path, "pkg==1.0\nother==1.0\n", fake)
    assert code == 2, output  # nothing audited (other is a 404)
    assert "latest 2.0 itself has open advisories: GHSA-open-open-open" in not_auditable_section(output)


def test_nothing_auditable_exits_2(tmp_path: Path) -> None:
    fake = FakePyPI({"numpy": project("2.5.5", releases=["2.4.6"])}, broken=["flaky"])
    code, output = run(tmp_path, "numpy==2.4.6\nlocal-only==0.1.0\nflaky==1.0\n", fake)
    assert code == 2, output
    section = not_auditable_section(output)
    assert "local-only 0.1.0: not on PyPI (HTTP 404)" in section
    assert "flaky 1.0: network error: connection failed" in section
    assert "numpy 2.4.6: pinned 2.4.6, latest 2.5.5" in section
    assert "audited 0 of 3" in output and "FAIL: no package could be audited" in output


def test_empty_requirements_exit_2(tmp_path: Path) -> None:
    code, output = run(tmp_path, "# nothing pinned\n", FakePyPI({}))
    assert code == 2, output


def test_withdrawn_advisory_is_ignored(tmp_path: Path) -> None:
    withdrawn = vuln("GHSA-gone-gone-gone", withdrawn="2026-01-01T00:00:00Z")
    fake = FakePyPI({"lxml": project("6.1.3", [withdrawn])})
    code, output = run(tmp_path, "lxml==6.1.3\n", fake)
    assert code == 0, output
    assert "GHSA-gone-gone-gone" not in output


def test_ignore_accepts_an_advisory_by_alias(tmp_path: Path) -> None:
    records = [
        vuln("GHSA-f4j7-r4q5-qw2c", ["CVE-2026-45829", "PYSEC-2026-311"]),
        vuln("PYSEC-2026-311", ["CVE-2026-45829", "GHSA-f4j7-r4q5-qw2c"]),
    ]
    fake = FakePyPI({"chromadb": project("1.5.9", records)})
    code, output = run(tmp_path, "chromadb==1.5.9\n", fake)
    assert code == 1, output
    assert "1 advisory(ies)" in output  # the GHSA and PYSEC copies are one advisory

    code, output = run(
        tmp_path, "chromadb==1.5.9\n", fake, "--ignore", "cve-2026-45829", "--ignore", "GHSA-stale"
    )
    assert code == 0, output
    assert "IGNORED (--ignore):" in output
    assert "chromadb 1.5.9: GHSA-f4j7-r4q5-qw2c" in output
    assert "--ignore GHSA-stale matched no advisory" in output


def test_ignore_leaves_other_advisories_failing(tmp_path: Path) -> None:
    fake = FakePyPI({"pkg": project("1.0", [vuln("GHSA-one"), vuln("GHSA-two")])})
    code, output = run(tmp_path, "pkg==1.0\n", fake, "--ignore", "GHSA-one")
    assert code == 1, output
    assert "- GHSA-two" in output


def test_local_version_label_and_name_are_normalised(tmp_path: Path) -> None:
    fake = FakePyPI({"torch": project("2.13.0"), "pyyaml": project("6.0.3")})
    code, output = run(tmp_path, "torch==2.13.0+cpu\nPyYAML==6.0.3\n", fake)
    assert code == 0, output
    assert sorted(fake.urls) == [f"{INDEX}/pyyaml/json", f"{INDEX}/torch/json"]
    assert "torch 2.13.0+cpu" in output and "audited 2 of 2" in output


def test_unpinned_requirement_is_reported_not_audited(tmp_path: Path) -> None:
    fake = FakePyPI({"idna": project("3.20")})
    code, output = run(tmp_path, "idna==3.20 \\\n    --hash=sha256:abc\nrequests>=2\n", fake)
    assert code == 0, output
    assert "requests >=2: not an exact == pin" in not_auditable_section(output)


def test_pip_audit_findings_are_used_and_skipped_packages_fall_back(tmp_path: Path) -> None:
    seen: list[list[str]] = []

    def fake_pip_audit(pins: Sequence[Any]) -> dict[str, Any]:
        seen.append([f"{pin.name}=={pin.version}" for pin in pins])
        return {
            "dependencies": [
                {
                    "name": "jinja2",
                    "version": "3.1.6",
                    "vulns": [
                        {"id": "PYSEC-2099-7", "fix_versions": ["3.1.7"], "aliases": [], "description": "x"}
                    ],
                },
                {"name": "idna", "skip_reason": "Dependency not found on PyPI and could not be audited"},
            ],
            "fixes": [],
        }

    fake = FakePyPI({"idna": project("3.20")})
    code, output = run(tmp_path, "Jinja2==3.1.6\nidna==3.20\n", fake, pip_audit=fake_pip_audit)
    assert code == 1, output
    assert seen == [["idna==3.20", "jinja2==3.1.6"]]
    assert fake.urls == [f"{INDEX}/idna/json"]  # jinja2 was audited by pip-audit
    assert "jinja2 3.1.6  [pip-audit]" in output and "PYSEC-2099-7; fixed in: 3.1.7" in output
    assert "audited 2 of 2 (by pip-audit: 1, by project JSON: 1)" in output


def test_pip_audit_failure_falls_back_to_project_json(tmp_path: Path) -> None:
    def broken_pip_audit(pins: Sequence[Any]) -> dict[str, Any]:
        raise audit.PipAuditError("pip-audit exited 2 without a JSON report: boom")

    fake = FakePyPI({"idna": project("3.20")})
    code, output = run(tmp_path, "idna==3.20\n", fake, pip_audit=broken_pip_audit)
    assert code == 0, output
    assert "pip-audit: failed (pip-audit exited 2" in output


def test_installed_pins_skip_the_project_and_editables(tmp_path: Path) -> None:
    def dist(name: str, version: str, editable: bool = False) -> None:
        info = tmp_path / f"{name}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        if editable:
            (info / "direct_url.json").write_text(
                json.dumps({"url": "file:///x", "dir_info": {"editable": True}})
            )

    dist("Foo_Bar", "1.0+local")
    dist("searchapp", "0.1.0")
    dist("mylib", "0.2", editable=True)
    pins, skipped = audit.installed_pins(importlib.metadata.distributions(path=[str(tmp_path)]))
    assert [(p.name, p.version, p.given) for p in pins] == [("foo-bar", "1.0", "1.0+local")]
    assert sorted(skipped) == ["mylib (editable install)", "searchapp (the project itself)"]


def _pypi_latest(name: str) -> str | None:
    """The latest release of `name` from the real index, or None when pypi.org is unreachable (5 s)."""
    request = urllib.request.Request(f"{INDEX}/{name}/json", headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return str(json.loads(response.read())["info"]["version"])
    except (OSError, ValueError, KeyError):
        return None


def test_real_index_audits_a_real_pin(tmp_path: Path) -> None:
    """The script against the real pypi.org (skipped only when it cannot be reached).

    urllib3 is pinned at its current latest release, which the project JSON can always audit;
    the installed `packaging` is pinned as well and is either audited or listed as not auditable.
    """
    latest = _pypi_latest("urllib3")
    if latest is None:
        pytest.skip("pypi.org/pypi/urllib3/json not reachable within 5 s; the real-index check needs it")
    packaging_version = importlib.metadata.version("packaging")
    req = tmp_path / "requirements.txt"
    req.write_text(f"urllib3=={latest}\npackaging=={packaging_version}\n", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "-r", str(req)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    output = proc.stdout
    assert proc.returncode in (0, 1), output + proc.stderr
    audited_part = output.split("VULNERABLE:", 1)[0]
    assert f"urllib3 {latest}" in audited_part, output
    assert "urllib3" not in not_auditable_section(output)
    assert "packaging" in audited_part or f"packaging {packaging_version}" in not_auditable_section(output)
    assert "Summary: audited " in output
