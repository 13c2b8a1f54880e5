"""What people said about results: 👍/👎 on a passage, or "none of these are right".

    from searchapp.feedback import FeedbackLog

    log = FeedbackLog.of(library)
    response = library.search("travel expenses")
    log.add(response.query, "good", hit=response.hits[0], mode=response.mode, user="ana@example.com")
    log.add(response.query, "none", shown=response.hits, mode=response.mode)
    for item in log.list():
        print(item.verdict, item.query, item.source)

Feedback is kept per collection (a record table beside the chunks, so in server mode every
client sees it) and never changes a ranking by itself: it is training data for
`searchapp tune` and calibration data for the "no good match" notice
(`searchapp.feedback.calibration`), both of which measure themselves before they change
anything.
"""

from __future__ import annotations

from searchapp.feedback.log import (
    VERDICTS,
    Feedback,
    FeedbackLog,
    ImportReport,
    Verdict,
)

__all__ = ["VERDICTS", "Feedback", "FeedbackLog", "ImportReport", "Verdict"]
