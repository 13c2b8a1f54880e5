"""Relevance labels from scripts and assistants: the same feedback log as the UI's 👍/👎.

A label names a passage the caller may see (a passage of a hidden document is missing, as
everywhere in the API) and is kept under the caller's name (its e-mail when it signed in
with the identity provider, else its subject, ``token:<id>``). Like the UI's, it never
reorders results: `searchapp tune` and the "no good match" calibration learn from it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from searchapp.api.deps import ERRORS, NOT_FOUND, Ctx, Reader
from searchapp.api.models import FeedbackIn, FeedbackOut
from searchapp.errors import QueryError
from searchapp.feedback import FeedbackLog

router = APIRouter(tags=["feedback"])


@router.post("/feedback", response_model=FeedbackOut, status_code=201, responses={**ERRORS, **NOT_FOUND})
def add_feedback(body: FeedbackIn, caller: Reader, ctx: Ctx) -> dict[str, Any]:
    """Record a verdict on a search: `good` or `bad` on one passage (`passage_id`), or
    `none` (no shown passage answers; `shown` lists them). A caller's new verdict on the
    same passage and query replaces its earlier one."""
    user = caller.email or caller.subject
    log = FeedbackLog.of(ctx.libraries.library(caller.collection))
    if body.verdict == "none":
        if body.passage_id:
            raise QueryError("a 'none' verdict names the passages shown ('shown'), not one 'passage_id'")
        # Each shown passage is checked like the judged one: a hidden one is missing (404).
        shown = [ctx.passage(caller, ref, before=0, after=0)[0] for ref in dict.fromkeys(body.shown)]
        return log.add(body.query, "none", shown=shown, mode=body.mode, user=user).to_dict()
    if not body.passage_id:
        raise QueryError(f"a {body.verdict!r} verdict names its passage as 'passage_id'; got none")
    judged, _ = ctx.passage(caller, body.passage_id, before=0, after=0)
    return log.add(body.query, body.verdict, hit=judged, rank=body.rank, mode=body.mode, user=user).to_dict()
