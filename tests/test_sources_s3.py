"""An S3 source that cannot be listed says why, against a real S3-protocol server (moto).

A wrong access key, no credentials, an endpoint with nothing listening, a server that goes
away in the middle of a sync, and a bucket that really does not exist are each named as
such (s3fs's `exists` said "the bucket does not exist" to all of them), and change nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from searchapp import Library, Settings
from searchapp.errors import SourceError
from searchapp.sources import Sources, SourceSpec
from searchapp.sources.listing import Listing, S3Files
from tests.servers import S3_ENV, free_port, s3_server, s3_server_process


@pytest.fixture
def s3_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for key, value in S3_ENV.items():
        monkeypatch.setenv(key, value)
    # Never a credentials file or an instance role of the machine running the tests.
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return monkeypatch


def test_no_credentials_a_missing_bucket_and_a_server_gone_mid_sync_are_named(
    hash_settings: Settings, tmp_path: Path, s3_env: pytest.MonkeyPatch
) -> None:
    import boto3

    with (
        s3_server_process(tmp_path / "s3", bucket="team-docs") as (endpoint, server),
        Library.open(hash_settings) as library,
        Sources(library, workers=1) as sources,
    ):
        s3 = boto3.client("s3", endpoint_url=endpoint)
        s3.put_object(Bucket="team-docs", Key="a.txt", Body=b"penguins huddle together in the cold")
        sources.add(SourceSpec.create("bucket", "s3://team-docs", endpoint_url=endpoint))
        assert sources.sync("bucket")[0].counts["new"] == 1
        before = [(r.doc_id, r.source) for r in library.documents()]

        with pytest.raises(SourceError, match=r"bucket .no-such-bucket. .* does not exist .*NoSuchBucket"):
            sources.add(SourceSpec.create("gone", "s3://no-such-bucket", endpoint_url=endpoint))

        with s3_env.context() as no_keys:
            no_keys.delenv("AWS_ACCESS_KEY_ID")
            no_keys.delenv("AWS_SECRET_ACCESS_KEY")
            report = sources.sync("bucket")[0]
        assert report.outcome == "blocked", report.summary()
        assert "no S3 credentials found" in report.message and "NoCredentialsError" in report.message
        assert "the bucket" not in report.message

        # The server stops between the listing and the reading of a new file.
        s3.put_object(Bucket="team-docs", Key="b.txt", Body=b"walruses keep their tusks polished")
        real_list = S3Files.list

        def list_then_stop(self: S3Files) -> Listing:
            listing = real_list(self)
            server.terminate()
            server.wait(20)
            return listing

        with s3_env.context() as patched:
            patched.setattr(S3Files, "list", list_then_stop)
            report = sources.sync("bucket")[0]
        assert report.outcome == "blocked", report.summary()
        assert f"cannot connect to the endpoint URL {endpoint}" in report.message
        assert "the bucket" not in report.message and "nothing was changed" in report.message
        again = sources.sync("bucket")[0]  # down from the start now
        assert again.outcome == "blocked" and "cannot connect to the endpoint URL" in again.message
        assert [(r.doc_id, r.source) for r in library.documents()] == before


def test_a_wrong_key_and_an_endpoint_with_nothing_listening_are_named(
    hash_settings: Settings, tmp_path: Path, s3_env: pytest.MonkeyPatch
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    with Library.open(hash_settings) as library, Sources(library, workers=1) as sources:
        with pytest.raises(SourceError, match=f"cannot connect to the endpoint URL {nowhere}"):
            sources.add(SourceSpec.create("down", "s3://team-docs", endpoint_url=nowhere))
        with s3_server(tmp_path / "s3", bucket="team-docs", auth=True) as endpoint:
            spec = SourceSpec.create("bucket", "s3://team-docs", endpoint_url=endpoint)
            with pytest.raises(SourceError, match="does not know the access key id") as raised:
                sources.add(spec)
            assert "InvalidAccessKeyId" in str(raised.value) and "'testing' (from env)" in str(raised.value)
            sources.state.put_spec(spec)  # added while the key worked
            report = sources.sync("bucket")[0]
            assert report.outcome == "blocked" and "InvalidAccessKeyId" in report.message, report.message
            assert "the bucket" not in report.message and library.documents() == []


def test_one_object_denied_or_archived_is_that_files_problem(s3_env: pytest.MonkeyPatch) -> None:
    """s3fs raises PermissionError for AccessDenied and for a Glacier object (InvalidObjectState):
    the listing worked, so only that file cannot be read; the sync is not blocked."""
    from searchapp.sources.listing import ListedFile, hash_file

    files = S3Files(SourceSpec.create("law", "s3://legal/contracts", endpoint_url="http://127.0.0.1:9"))

    class ArchivedObject:
        def cat_file(self, path: str) -> bytes:
            raise PermissionError("InvalidObjectState: the object is archived")

    files._fs = ArchivedObject()
    problem = hash_file(files, ListedFile("old.pdf", 10, 1))
    assert not isinstance(problem, tuple) and problem.path == "old.pdf"
    assert "archived" in problem.detail
