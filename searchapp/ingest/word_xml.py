"""The text Word shows, walked out of WordprocessingML: paragraphs, tables, text boxes, fields.

`StoryReader` reads the lines of one story (the body, a text box, a note) from its lxml
elements, looking through every element it does not name (content controls, tracked
insertions, custom XML, drawings), so a wrapper never hides text. It leaves out what Word
does not show as text: tracked deletions and deleted rows, hidden runs (`w:vanish`),
field instructions (complex fields are followed across paragraphs, and damaged ones that
never close are read as if absent), the second copy in `mc:AlternateContent`, and the
settings elements. `searchapp.ingest.word` opens the file and splits these lines at headings.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Element = Any  # an lxml element (lxml ships no type hints)

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
P, _TBL, _TR, _TC, _R = W + "p", W + "tbl", W + "tr", W + "tc", W + "r"
_T, _FLD_CHAR, _TEXT_BOX = W + "t", W + "fldChar", W + "txbxContent"
_ALTERNATE, _CHOICE, _FALLBACK = _MC + "AlternateContent", _MC + "Choice", _MC + "Fallback"
BLOCKS = frozenset({P, _TBL})
# Characters a run holds besides <w:t>. <w:softHyphen/> shows only at a line end: nothing.
_RUN_CHARS = {W + "tab": "\t", W + "ptab": "\t", W + "br": "\n", W + "cr": "\n"}
_RUN_CHARS[W + "noBreakHyphen"] = "-"
# Never read into. Any other element is looked through for what it holds.
_SKIPPED = frozenset(
    W + name
    for name in (
        "del",  # a tracked deletion (its text is <w:delText>)
        "moveFrom",  # where tracked-moved text used to be; <w:moveTo> holds it now
        "sdtPr",  # content control settings, including its placeholder's name
        "sdtEndPr",
        "pPr",
        "rPr",
        "tblPr",
        "tblGrid",
        "tblPrEx",
        "trPr",
        "tcPr",
        "sectPr",
    )
)


class StoryReader:
    """The shown text of paragraphs and tables, with the state of the fields open around them.

    A complex field runs from `<w:fldChar begin>` through its instruction
    (`<w:instrText>`, or a nested field's result), `separate`, its result, to `end`,
    and may span paragraphs (a table of contents does). Only the result is shown.
    """

    def __init__(self, body: Element) -> None:
        self._fields = _Fields()
        # Fields of a damaged file that never reach `separate` or `end`: read as if absent,
        # or their instruction would hide the rest of the story. Stories never share one.
        self._dangling = _dangling_fields(body)

    def story(self, container: Element) -> list[str]:
        """The lines of a text box or a note: its paragraphs and tables, its own fields."""
        self._dangling |= _dangling_fields(container)
        saved, self._fields = self._fields, _Fields()
        try:
            return self.blocks(container)
        finally:
            self._fields = saved

    def paragraph(self, p: Element) -> tuple[str, list[str]]:
        """The paragraph's text, and the lines of the text boxes anchored in it."""
        parts: list[str] = []
        boxes: list[Element] = []
        self._inline(p, parts, boxes)
        return "".join(parts).strip(), [line for box in boxes for line in self.story(box)]

    def table(self, tbl: Element) -> list[str]:
        """One line per row, its cells joined with " | "; a nested table's rows stay in its cell."""
        lines = []
        for tr in children(tbl, frozenset({_TR})):
            if _deleted_row(tr):
                continue
            # Each <w:tc> once, in order. python-docx's `row.cells` repeats a merged cell for
            # every grid column it spans (gridSpan="99999999" in a 5 KB file: 10^8 cells)
            # and in every row of a vertical merge. Equal values in different cells
            # ("10 | 10 | 20") all stay.
            texts = ("\n".join(self.blocks(tc)).strip() for tc in children(tr, frozenset({_TC})))
            unique = [text for text in texts if text]
            if unique:
                lines.append(" | ".join(unique))
        return lines

    def blocks(self, container: Element) -> list[str]:
        """The lines of the paragraphs and tables in a table cell, text box or note."""
        lines: list[str] = []
        for block in children(container, BLOCKS):
            if block.tag == P:
                text, boxes = self.paragraph(block)
                lines.extend([text, *boxes] if text else boxes)
            else:
                lines.extend(self.table(block))
        return lines

    def _inline(self, parent: Element, parts: list[str], boxes: list[Element]) -> None:
        for child in parent.iterchildren():
            tag = child.tag
            if not isinstance(tag, str) or tag in _SKIPPED:
                continue  # comments and processing instructions have a function as their tag
            if tag == _R:
                self._run(child, parts, boxes)
            elif tag == _ALTERNATE:
                branch = _chosen(child)
                if branch is not None:
                    self._inline(branch, parts, boxes)
            else:  # hyperlinks, content controls, insertions, simple fields' results ...
                self._inline(child, parts, boxes)

    def _run(self, run: Element, parts: list[str], boxes: list[Element]) -> None:
        hidden = _hidden(run)
        for child in run.iterchildren():
            tag = child.tag
            if tag == _FLD_CHAR:  # even in a hidden run: it still opens or closes a field
                if child not in self._dangling:
                    self._fields.mark(child)
            elif hidden or self._fields.hiding or not isinstance(tag, str) or tag in _SKIPPED:
                continue
            elif tag == _T:
                parts.append(child.text or "")
            elif tag in _RUN_CHARS:
                parts.append(_RUN_CHARS[tag])
            else:  # <w:drawing>, <w:pict>, <mc:AlternateContent>: text boxes, if any
                inner = _chosen(child) if tag == _ALTERNATE else child
                if inner is not None:
                    boxes.extend(children(inner, frozenset({_TEXT_BOX})))
            # <w:instrText>, <w:delText>, <w:sym> ... are neither: never read.


class _Fields:
    """The complex fields open at one point of a story, innermost last."""

    def __init__(self) -> None:
        self._open: list[tuple[Element, bool]] = []  # (its begin, past its `separate` yet)
        self.hiding = 0  # how many open fields are still in their instruction

    def mark(self, char: Element) -> None:
        """Take one `<w:fldChar>`."""
        kind = char.get(W + "fldCharType")
        if kind == "begin":
            self._open.append((char, False))
            self.hiding += 1
        elif kind == "separate":
            # A `separate` belongs to the innermost field still in its instruction. Fields
            # opened inside it and already past theirs lost their `end` (a damaged file):
            # close them here, or this field's result would stay hidden.
            while self._open and self._open[-1][1]:
                self._open.pop()
            if self._open:
                self._open[-1] = (self._open[-1][0], True)
                self.hiding -= 1
        elif kind == "end" and self._open and not self._open.pop()[1]:
            self.hiding -= 1

    def in_instruction(self) -> list[Element]:
        """The begins of the open fields that have not reached their `separate`."""
        return [begin for begin, separated in self._open if not separated]


def _dangling_fields(container: Element) -> set[Element]:
    """The begins of the fields in `container`'s own story that reach neither `separate` nor
    `end`. Leaving them out changes nothing else: no `separate` or `end` was theirs."""
    fields = _Fields()
    for char in container.iter(_FLD_CHAR):
        if _in_story(char, container):
            fields.mark(char)
    return set(fields.in_instruction())


def _in_story(char: Element, container: Element) -> bool:
    """Whether the walk of `container`'s story meets this `<w:fldChar>`: in a run, not in
    a text box (a story of its own), a skipped element, an unchosen branch or a deleted row."""
    node = char.getparent()
    if node is None or node.tag != _R:
        return False
    while node is not container:
        parent = node.getparent()
        if parent is None:
            return False
        tag = node.tag
        if tag in _SKIPPED or tag == _TEXT_BOX or (tag == _TR and _deleted_row(node)):
            return False
        if parent.tag == _ALTERNATE and _chosen(parent) is not node:
            return False
        node = parent
    return True


def _deleted_row(tr: Element) -> bool:
    """Whether the table row was deleted with changes tracked."""
    properties = tr.find(W + "trPr")
    return properties is not None and properties.find(W + "del") is not None


def children(parent: Element, wanted: frozenset[str]) -> Iterator[Element]:
    """The `wanted` elements under `parent` in document order, looked for through wrappers
    (content controls, insertions, custom XML, drawings) but not inside each other."""
    for child in parent.iterchildren():
        tag = child.tag
        if not isinstance(tag, str) or tag in _SKIPPED:
            continue
        if tag in wanted:
            yield child
        elif tag == _ALTERNATE:
            branch = _chosen(child)
            if branch is not None:
                yield from children(branch, wanted)
        else:
            yield from children(child, wanted)


def _chosen(alternate: Element) -> Element | None:
    """One branch of `mc:AlternateContent`: both hold the same text (a text box is drawn
    twice, DrawingML in the choice, VML in the fallback). The first choice, else the fallback."""
    choice = alternate.find(_CHOICE)
    return choice if choice is not None else alternate.find(_FALLBACK)


def _hidden(run: Element) -> bool:
    """Whether the run is formatted hidden (`<w:vanish/>`, not `w:val="0"`)."""
    properties = run.find(W + "rPr")
    vanish = properties.find(W + "vanish") if properties is not None else None
    return vanish is not None and vanish.get(W + "val") not in ("0", "false", "off")
