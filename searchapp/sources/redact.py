"""What a caller who does not see everything may read of a source: no server paths.

A source's folder, bucket and endpoint are the server's business (docs/deployment.md:
"the server paths and endpoints only a caller who sees everything"). They also turn up
inside messages: a missing folder's sync says where it looked, an unreadable folder's
error names its absolute path. `redact` puts a stand-in in their place, in every string
of a report or a status, for the front ends to show a restricted caller.
"""

from __future__ import annotations

import os
from typing import Any

from searchapp.sources.spec import SourceSpec

FOLDER = "(the source's folder)"
BUCKET = "(the source's bucket)"
ENDPOINT = "(the source's endpoint)"


def _stand_ins(spec: SourceSpec) -> list[tuple[str, str]]:
    pairs = [(spec.location, BUCKET if spec.kind == "s3" else FOLDER)]
    if spec.kind == "directory":
        real = os.path.realpath(spec.location)  # an error may name the folder a link leads to
        if real != spec.location:
            pairs.append((real, FOLDER))
    if spec.endpoint_url:
        pairs.append((spec.endpoint_url, ENDPOINT))
    return sorted((p for p in pairs if p[0]), key=lambda pair: -len(pair[0]))  # the longest first


def redact_text(text: str, spec: SourceSpec) -> str:
    for secret, stand_in in _stand_ins(spec):
        text = text.replace(secret, stand_in)
    return text


def redact(data: Any, spec: SourceSpec) -> Any:
    """`data` (a report's or a status's dict, lists and strings in it) with the source's
    folder, bucket and endpoint replaced, and its `location` and `endpoint_url` blanked."""
    if isinstance(data, str):
        return redact_text(data, spec)
    if isinstance(data, (list, tuple)):
        return type(data)(redact(item, spec) for item in data)
    if isinstance(data, dict):
        out = {key: redact(value, spec) for key, value in data.items()}
        for key in ("location", "endpoint_url"):
            if key in out:
                out[key] = ""
        return out
    return data
