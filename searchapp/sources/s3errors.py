"""What went wrong with an S3 source, in words: the real cause, what was expected and what was got.

s3fs turns S3's error codes into Python ones (InvalidAccessKeyId, AccessDenied and an
unsigned request all become `PermissionError`, NoSuchBucket `FileNotFoundError`) and
keeps botocore's error as the cause; connection failures and missing credentials stay
botocore's own. Its `exists` answers False to all of them, so a wrong key, no key, or
a server that is down all read as "the bucket does not exist": the source asks S3
directly and explains the error here instead.
"""

from __future__ import annotations

from typing import Any

import botocore.exceptions as boto

from searchapp.sources.spec import SourceSpec

_ACCESS = {
    "InvalidAccessKeyId": "the S3 service does not know the access key id",
    "SignatureDoesNotMatch": "the secret access key does not match the access key id",
    "InvalidToken": "the session token is invalid",
    "ExpiredToken": "the session token has expired",
    "AccessDenied": "access denied",
    "AllAccessDisabled": "access denied",
    "403": "access denied",
}
_MISSING_BUCKET = {"NoSuchBucket", "404"}


def is_connection_error(exc: BaseException) -> bool:
    """The endpoint could not be reached or went away (refused, timed out, closed)."""
    return (
        isinstance(exc, (boto.ConnectionError, boto.HTTPClientError, ConnectionError, TimeoutError))
        or "ClientConnectorError" in type(exc).__name__
    )


def explain(exc: BaseException, spec: SourceSpec) -> str:
    """One line that names the cause of `exc`, raised while listing or reading `spec`."""
    where = spec.endpoint_url or "AWS S3"
    bucket = spec.location.removeprefix("s3://").split("/", 1)[0]
    if isinstance(exc, boto.NoCredentialsError | boto.PartialCredentialsError):
        return (
            f"no S3 credentials found for source {spec.name!r}: expected AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY in the environment (or a profile in ~/.aws/credentials, or an "
            f"instance role); got {_detail(exc)}"
        )
    if is_connection_error(exc):
        return (
            f"cannot connect to the endpoint URL {where} of source {spec.name!r}: expected an S3 "
            f"service answering there; got {_detail(exc)}"
        )
    code, message = _s3_error(exc)
    if code in _ACCESS:
        return (
            f"{_ACCESS[code]} for bucket {bucket!r} of source {spec.name!r} at {where}: expected "
            f"credentials that may list it; got {code} ({message}) with {_key_in_use()}"
        )
    if code in _MISSING_BUCKET or isinstance(exc, FileNotFoundError):
        return (
            f"the bucket {bucket!r} of source {spec.name!r} does not exist at {where}: expected an "
            f"existing bucket; got {code or 'not found'} ({message})"
        )
    return f"the source {spec.location} cannot be listed: {_detail(exc)}"


def _s3_error(exc: BaseException) -> tuple[str, str]:
    """S3's error code and message, from botocore's error (s3fs keeps it as the cause)."""
    for error in (exc, exc.__cause__):
        response: Any = getattr(error, "response", None)
        if isinstance(response, dict) and "Error" in response:
            return str(response["Error"].get("Code", "")), str(response["Error"].get("Message", ""))
    return "", str(exc)


def _key_in_use() -> str:
    """Which access key id was sent (shortened: enough to recognise it) and where it came from."""
    import botocore.session

    try:
        credentials = botocore.session.get_session().get_credentials()
    except boto.BotoCoreError:
        credentials = None
    if credentials is None:
        return "no credentials (an unsigned request)"
    key = credentials.access_key or ""
    shown = f"{key[:4]}...{key[-4:]}" if len(key) > 12 else key
    return f"access key id {shown!r} (from {credentials.method})"


def _detail(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
