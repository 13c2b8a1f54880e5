"""What a caller who does not see everything may read of a source: no server paths.

A source's folder, bucket, endpoint and access key are the server's business (docs/deployment.md:
"the server paths and endpoints only a caller who sees everything"). They also turn up
inside messages: a missing folder's sync says where it looked, an unreadable folder's
error names its absolute path. `redact` puts a stand-in in their place, in every string
of a report or a status, for the front ends to show a restricted caller.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

from searchapp.sources.spec import SourceSpec

FOLDER = "(the source's folder)"
BUCKET = "(the source's bucket)"
ENDPOINT = "(the source's endpoint)"


KEY = "(an access key)"
# `searchapp.sources.s3errors` names the key it sent: "access key id 'AKIA...WXYZ' (from env)".
_ACCESS_KEY_RE = re.compile(r"access key id '[^']*'(?: \(from [^)]*\))?")


# The fields that carry free text (messages, errors): names, tags and groups are left as
# they are, even one that happens to equal a bucket's name.
TEXT_FIELDS = frozenset({"message", "detail", "errors", "failures", "problems"})


def _stand_ins(spec: SourceSpec) -> list[tuple[str, str]]:
    pairs = [(spec.location, BUCKET if spec.kind == "s3" else FOLDER)]
    if spec.kind == "directory":
        real = os.path.realpath(spec.location)  # an error may name the folder a link leads to
        if real != spec.location:
            pairs.append((real, FOLDER))
    else:  # errors name the bucket bare ('acme-hr'), or an object as bucket/key
        bucket = spec.location.removeprefix("s3://").split("/", 1)[0]
        if bucket != spec.name:  # a source named after its bucket tells the caller nothing new
            pairs.append((bucket, BUCKET))
    if spec.endpoint_url:
        pairs.append((spec.endpoint_url, ENDPOINT))
    cleaned = [(secret.rstrip("/"), stand_in) for secret, stand_in in pairs]
    return sorted((p for p in cleaned if p[0]), key=lambda pair: -len(pair[0]))  # the longest first


def _whole(name: str) -> re.Pattern[str]:
    """`name` where it is whole: the folder /srv/share is not the start of /srv/share2, the
    bucket acme is not the start of acme-2 (but is in acme.s3.amazonaws.com)."""
    before = r"(?<![\w.-])" if re.match(r"\w", name) else ""
    after = r"(?![\w-]|\.(?!s3[.-])[\w-])" if re.search(r"\w$", name) else ""
    return re.compile(before + re.escape(name) + after)


def redactor(spec: SourceSpec) -> Callable[[str], str]:
    """A function that redacts one text of `spec`'s (the names resolved and compiled once)."""
    patterns = [(_whole(secret), stand_in) for secret, stand_in in _stand_ins(spec)]

    def redact_text(text: str) -> str:
        text = _ACCESS_KEY_RE.sub(KEY, text)
        for pattern, stand_in in patterns:
            text = pattern.sub(stand_in, text)
        return text

    return redact_text


def redact(data: Any, spec: SourceSpec) -> Any:
    """`data` (a report's or a status's dict) with the source's folder, bucket, endpoint and
    access key replaced in its free-text fields (`TEXT_FIELDS`), and its `location` and
    `endpoint_url` blanked."""
    return _redacted(data, redactor(spec), text=False)


def _redacted(data: Any, redact_text: Callable[[str], str], *, text: bool) -> Any:
    if isinstance(data, str):
        return redact_text(data) if text else data
    if isinstance(data, (list, tuple)):
        return type(data)(_redacted(item, redact_text, text=text) for item in data)
    if isinstance(data, dict):
        out = {
            key: _redacted(value, redact_text, text=text or key in TEXT_FIELDS) for key, value in data.items()
        }
        for key in ("location", "endpoint_url"):
            if key in out:
                out[key] = ""
        return out
    return data
