"""Navigation that a page keeps in plain divs, recognised by its class and id words.

Documentation generators rarely use <nav>: texinfo writes its "Next: …, Previous: …,
Up: … [Index]" line in div.header (6.x) or div.nav-panel (7.x), DocBook div.navheader and
div.navfooter, old Sphinx div.related, Confluence #breadcrumb-section and #breadcrumbs.
The words follow Mozilla Readability's unlikely-candidate patterns (breadcrumbs, pagination,
pager, header, related) and trafilatura's navigation ones, but each class word is compared
whole, not as a substring: "canvas-navy" or "related-work" are content. A heading or a
section is never navigation, whatever its id, nor is a block that holds one, or prose.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

# Words that name navigation and nothing else: such an element is dropped.
_NAV_WORDS = frozenset(
    {
        *("breadcrumb", "breadcrumbs", "breadcrumb-section", "breadcrumb-nav", "breadcrumbs-nav"),
        *("nav", "navbar", "nav-bar", "navigation", "nav-panel", "navpanel", "navheader", "navfooter"),
        *("nav-header", "nav-footer", "navlinks", "nav-links", "nav-menu", "navmenu"),
        *("topnav", "top-nav", "sidenav", "side-nav", "subnav", "sub-nav", "site-nav", "main-nav"),
        *("skip-link", "skip-links", "skiplink", "skip-to-content"),
        *("pagination", "pager"),
    }
)
# Words that name navigation on some sites and content on others (a div.header can hold
# the page's title or its introduction): dropped only when the element looks like a
# navigation line, short and mostly links, and holds no page title (h1, h2).
_MAYBE_NAV_WORDS = frozenset({"header", "related"})
_MAX_NAV_LINE_CHARS = 400
_MIN_LINK_SHARE = 0.5

# Never dropped, nor anything that holds them: the page's content. Headings and sections
# take their ids from their titles (Sphinx's <section id="pagination">, a Markdown
# <h2 id="navigation">): an API's "Pagination" section is content.
_PAGE_TAGS = frozenset({"html", "body", "main", "article"})
_HEADINGS = frozenset(f"h{n}" for n in range(1, 7))
_CONTENT_TAGS = _PAGE_TAGS | _HEADINGS | {"section"}
_TITLE_TAGS = frozenset({"h1", "h2"})
# Text outside links and headings beyond this (letters and digits) is prose, not a
# navigation block; beside a heading, a sentence is ("<h3>Navigation</h3>" over a list
# of links is a side menu; over a paragraph, a chapter).
_MAX_NAV_PROSE_CHARS = 400
_MAX_PROSE_BESIDE_HEADING = 20
# Text that is never prose: links, headings, and what extraction skips (scripts, styles).
_NOT_PROSE = frozenset({"a", *_HEADINGS, "script", "style", "noscript", "template", "svg"})


def is_navigation_block(tag: Any) -> bool:
    """Whether `tag` is navigation by its class or id words (see the module's note)."""
    words = _words(tag)
    if not words or tag.name in _CONTENT_TAGS or _is_section(tag):
        return False
    if words & _NAV_WORDS:
        return not _holds_content(tag)
    if words & _MAYBE_NAV_WORDS:
        return _is_link_line(tag)
    return False


def _words(tag: Any) -> set[str]:
    """The class words and the id, lowercased, with "_" read as "-"."""
    values: list[str] = []
    classes = tag.get("class")
    if isinstance(classes, str):
        values.extend(classes.split())
    elif classes:
        values.extend(str(value) for value in classes)
    ident = tag.get("id")
    if isinstance(ident, str):
        values.append(ident.strip())
    return {value.lower().replace("_", "-") for value in values if value}


def _holds_content(tag: Any) -> bool:
    """A page element (main, article, a section) inside, prose, or a heading over prose."""
    from bs4.element import Comment, NavigableString, Tag

    prose, heading = 0, False
    for inner in tag.descendants:
        if isinstance(inner, Tag):
            if inner.name in _PAGE_TAGS or _is_section(inner) or inner.get("role") == "main":
                return True
            heading = heading or inner.name in _HEADINGS
        elif (
            isinstance(inner, NavigableString)
            and not isinstance(inner, Comment)
            and not _inside(inner, tag, _NOT_PROSE)
        ):
            prose += sum(char.isalnum() for char in inner)
            if prose > _MAX_NAV_PROSE_CHARS:
                return True
    return heading and prose > _MAX_PROSE_BESIDE_HEADING


def _is_section(tag: Any) -> bool:
    """<section>, or docutils' and DocBook's older <div class="section">."""
    classes = tag.get("class") or ()
    return bool(tag.name == "section" or (tag.name == "div" and "section" in classes))


def _is_link_line(tag: Any) -> bool:
    """Short, mostly link text, and without a page title: a navigation line."""
    from bs4.element import Comment, NavigableString, Tag

    total = linked = 0
    for inner in tag.descendants:
        if isinstance(inner, Tag):
            if inner.name in _TITLE_TAGS or inner.name in _PAGE_TAGS:
                return False
            continue
        if not isinstance(inner, NavigableString) or isinstance(inner, Comment):
            continue
        # Letters and digits only: texinfo's ", " and "[ ]" around its links are not prose.
        count = sum(char.isalnum() for char in inner)
        total += count
        if total > _MAX_NAV_LINE_CHARS:
            return False
        if _inside(inner, tag, {"a"}):
            linked += count
    return linked >= total * _MIN_LINK_SHARE


def _inside(node: Any, block: Any, names: Collection[str]) -> bool:
    """Whether `node` is inside an element named in `names` that is inside `block`."""
    parent = node.parent
    while parent is not None and parent is not block:
        if parent.name in names:
            return True
        parent = parent.parent
    return False
