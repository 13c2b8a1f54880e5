"""The library: the facade every front end opens, and its one write path.

    from searchapp.library import Library

`Library` (reading, searching, `admit` and `commit`) is in `facade`, its writing half
in `document_writes`; the unit of work that `commit` runs is in `writes`.
"""

from searchapp.library.facade import Library, open_library
from searchapp.library.reads import Stats
from searchapp.library.writes import Admission

__all__ = ["Admission", "Library", "Stats", "open_library"]
