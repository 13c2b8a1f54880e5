"""DOCX text that python-docx's paragraph and table objects do not reach, and text Word hides.

Each file is made with python-docx, then OOXML that python-docx cannot write (content
controls, tracked changes, text boxes, notes, fields, hidden runs) is put into its body.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest

from searchapp.errors import FailureReason, IngestError
from searchapp.ingest.extract import extract
from searchapp.ingest.types import ExtractedDocument, Limits

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
NAMESPACES = (
    f'xmlns:w="{W}"'
    ' xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"'
    ' xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"'
    ' xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"'
    ' xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape"'
    ' xmlns:v="urn:schemas-microsoft-com:vml"'
)


def run(text: str, properties: str = "") -> str:
    return f'<w:r>{properties}<w:t xml:space="preserve">{text}</w:t></w:r>'


def paragraph(*runs: str) -> str:
    return f"<w:p>{''.join(runs)}</w:p>"


def char(kind: str) -> str:
    """A run holding a complex field's `begin`, `separate` or `end`."""
    return f"<w:r><w:fldChar w:fldCharType='{kind}'/></w:r>"


def instruction(text: str) -> str:
    return f'<w:r><w:instrText xml:space="preserve">{text}</w:instrText></w:r>'


def element(xml: str) -> Any:
    from docx.oxml.parser import parse_xml

    return parse_xml(f"<w:wrap {NAMESPACES}>{xml}</w:wrap>")[0]


def make(*blocks: str, edit: Callable[[Any], None] | None = None) -> bytes:
    """A DOCX: "Opening paragraph.", then `blocks` (OOXML), then "Closing paragraph."."""
    import docx

    document = docx.Document()
    document.add_paragraph("Opening paragraph.")
    closing = document.add_paragraph("Closing paragraph.")
    for block in blocks:
        closing._p.addprevious(element(block))
    if edit is not None:
        edit(document)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def read(data: bytes) -> ExtractedDocument:
    return extract(data, "case.docx", Limits())


def lines(doc: ExtractedDocument) -> list[str]:
    return "\n".join(section.text for section in doc.sections).split("\n")


def test_block_content_control() -> None:
    sdt = (
        "<w:sdt><w:sdtPr><w:alias w:val='Terms'/><w:tag w:val='terms'/></w:sdtPr><w:sdtContent>"
        + paragraph(run("Payment is due in 30 days."))
        + paragraph(run("Late payment costs 2% a month."))
        + "</w:sdtContent></w:sdt>"
    )
    assert lines(read(make(sdt))) == [
        "Opening paragraph.",
        "Payment is due in 30 days.",
        "Late payment costs 2% a month.",
        "Closing paragraph.",
    ]


def test_inline_content_control() -> None:
    sdt = "<w:sdt><w:sdtPr><w:tag w:val='client'/></w:sdtPr><w:sdtContent>" + run("Jane Doe")
    sdt += "</w:sdtContent></w:sdt>"
    data = make(paragraph(run("Signed by "), sdt, run(" on behalf of the client.")))
    assert "Signed by Jane Doe on behalf of the client." in lines(read(data))


def test_body_wrapped_in_one_content_control_is_read_with_its_headings() -> None:
    import docx

    document = docx.Document()
    document.add_heading("Policy", level=1)
    document.add_paragraph("Staff may work from home two days a week.")
    document.add_heading("Equipment", level=2)
    document.add_paragraph("Laptops are provided.")
    body = document.element.body
    wrapper = element("<w:sdt><w:sdtPr/><w:sdtContent/></w:sdt>")
    content = wrapper[1]
    for child in list(body):
        if child.tag != f"{{{W}}}sectPr":
            content.append(child)
    body.insert(0, wrapper)
    buffer = io.BytesIO()
    document.save(buffer)

    doc = read(buffer.getvalue())  # was "empty file: the DOCX file has no text to index"
    assert lines(doc) == [
        "Policy",
        "Staff may work from home two days a week.",
        "Equipment",
        "Laptops are provided.",
    ]
    assert [s.heading for s in doc.sections if "from home" in s.text] == ["Policy"]
    assert [s.heading for s in doc.sections if "Laptops" in s.text] == ["Policy > Equipment"]


def test_cv_laid_out_as_a_nested_table() -> None:
    import docx

    document = docx.Document()
    layout = document.add_table(rows=1, cols=2)
    layout.cell(0, 0).text = "Jane Doe"
    details = layout.cell(0, 1).add_table(rows=2, cols=2)
    for r, (label, value) in enumerate([("Skills", "Python, SQL"), ("Experience", "Acme 2019-2024")]):
        details.cell(r, 0).text = label
        details.cell(r, 1).text = value
    buffer = io.BytesIO()
    document.save(buffer)

    text = "\n".join(lines(read(buffer.getvalue())))  # was "empty file"
    assert (
        text.index("Jane Doe")
        < text.index("Skills | Python, SQL")
        < text.index("Experience | Acme 2019-2024")
    )


def test_tracked_insertion_is_read_and_tracked_deletion_is_not() -> None:
    deleted = "<w:del w:id='1' w:author='A'><w:r><w:delText>ten</w:delText></w:r></w:del>"
    inserted = "<w:ins w:id='2' w:author='A'>" + run("twelve") + "</w:ins>"
    data = make(paragraph(run("The fee is "), deleted, inserted, run(" euros.")))
    text = lines(read(data))
    assert "The fee is twelve euros." in text
    assert "ten" not in "\n".join(text)


def test_text_box_is_read_once_after_its_anchor_paragraph() -> None:
    box = paragraph(run("Boxed text."))
    drawing = (
        "<mc:AlternateContent><mc:Choice Requires='wps'><w:drawing><wp:anchor><a:graphic>"
        "<a:graphicData><wps:wsp><wps:txbx><w:txbxContent>" + box + "</w:txbxContent></wps:txbx>"
        "</wps:wsp></a:graphicData></a:graphic></wp:anchor></w:drawing></mc:Choice>"
        "<mc:Fallback><w:pict><v:shape><v:textbox><w:txbxContent>" + box + "</w:txbxContent>"
        "</v:textbox></v:shape></w:pict></mc:Fallback></mc:AlternateContent>"
    )
    data = make(paragraph(run("Anchor paragraph."), f"<w:r>{drawing}</w:r>"))
    assert lines(read(data)) == [
        "Opening paragraph.",
        "Anchor paragraph.",
        "Boxed text.",
        "Closing paragraph.",
    ]


def _add_notes(document: Any) -> None:
    from docx.opc.constants import RELATIONSHIP_TYPE as RT
    from docx.opc.packuri import PackURI
    from docx.opc.part import Part

    for kind in ("footnote", "endnote"):
        xml = (
            f"<w:{kind}s {NAMESPACES}>"
            f"<w:{kind} w:type='separator' w:id='-1'><w:p><w:r><w:separator/><w:t>SEPARATOR</w:t></w:r></w:p></w:{kind}>"
            f"<w:{kind} w:type='continuationSeparator' w:id='0'><w:p><w:r><w:continuationSeparator/></w:r></w:p></w:{kind}>"
            f"<w:{kind} w:id='1'><w:p><w:r><w:{kind}Ref/></w:r>{run(f' The {kind} text.')}</w:p></w:{kind}>"
            f"</w:{kind}s>"
        )
        part = Part(
            PackURI(f"/word/{kind}s.xml"),
            f"application/vnd.openxmlformats-officedocument.wordprocessingml.{kind}s+xml",
            xml.encode(),
            document.part.package,
        )
        document.part.relate_to(part, RT.FOOTNOTES if kind == "footnote" else RT.ENDNOTES)


def test_footnotes_and_endnotes_follow_the_body_without_separators() -> None:
    data = make(
        paragraph(
            run("A claim."),
            "<w:r><w:footnoteReference w:id='1'/></w:r>",
            "<w:r><w:endnoteReference w:id='1'/></w:r>",
        ),
        edit=_add_notes,
    )
    doc = read(data)
    assert lines(doc) == [
        "Opening paragraph.",
        "A claim.",
        "Closing paragraph.",
        "Footnotes",
        "The footnote text.",
        "Endnotes",
        "The endnote text.",
    ]
    assert [s.heading for s in doc.sections if "note text" in s.text] == ["Footnotes", "Endnotes"]


def test_field_results_are_read_and_field_instructions_are_not() -> None:
    simple = "<w:fldSimple w:instr=' DOCPROPERTY Client '>" + run("Acme Corp") + "</w:fldSimple>"

    # { IF { MERGEFIELD Status } = "Approved" "Go" "Stop" }: the nested field's result
    # ("Approved") is part of the outer field's instruction, and not shown.
    complex_field = [
        char("begin"),
        instruction(" IF "),
        char("begin"),
        instruction(" MERGEFIELD Status "),
        char("separate"),
        run("Approved"),
        char("end"),
        instruction(' = "Approved" "Go" "Stop" '),
        char("separate"),
        run("Go"),
        char("end"),
    ]
    data = make(paragraph(run("Client: "), simple, run(". Decision: "), *complex_field, run(".")))
    text = lines(read(data))
    assert "Client: Acme Corp. Decision: Go." in text
    joined = "\n".join(text)
    assert "DOCPROPERTY" not in joined and "MERGEFIELD" not in joined and "Approved" not in joined


def test_a_field_spanning_paragraphs_shows_its_result_and_hides_its_instruction() -> None:
    # A table of contents: one field whose result is several paragraphs.
    toc = [
        paragraph(char("begin"), instruction(r' TOC \o "1-3" '), char("separate"), run("Scope 1")),
        paragraph(run("Methods 2")),
        paragraph(run("Results 3"), char("end")),
    ]
    # { IF { MERGEFIELD Status } = "Approved" "first¶second" "Stop" }: an instruction with a
    # paragraph mark in it; the nested result stays hidden across the break.
    spanning_instruction = [
        paragraph(
            run("Decision: "),
            char("begin"),
            instruction(" IF "),
            char("begin"),
            instruction(" MERGEFIELD Status "),
            char("separate"),
            run("Approved"),
            char("end"),
            instruction(' = "Approved" "first'),
        ),
        paragraph(instruction('second" "Stop" '), char("separate"), run("Stop"), char("end"), run(".")),
    ]
    text = lines(read(make(*toc, *spanning_instruction)))
    assert text == [
        "Opening paragraph.",
        "Scope 1",
        "Methods 2",
        "Results 3",
        "Decision:",
        "Stop.",
        "Closing paragraph.",
    ]
    joined = "\n".join(text)
    assert "TOC" not in joined and "MERGEFIELD" not in joined and "Approved" not in joined


@pytest.mark.parametrize(
    ("field", "shown"),
    [
        # Its `separate` and `end` are lost: its instruction would hide everything after it.
        ([char("begin"), instruction(" REF Total ")], "Total: and more."),
        # Its `end` is lost: its result and what follows are shown.
        ([char("begin"), instruction(" REF Total "), char("separate"), run("42")], "Total: 42 and more."),
        # { IF { MERGEFIELD Status } = "Approved" "Go" "Stop" } whose nested field lost its
        # `end`: the outer `separate` still starts the outer result.
        (
            [
                char("begin"),
                instruction(" IF "),
                char("begin"),
                instruction(" MERGEFIELD Status "),
                char("separate"),
                run("Approved"),
                instruction(' = "Approved" "Go" "Stop" '),
                char("separate"),
                run("Go"),
                char("end"),
            ],
            "Total: Go and more.",
        ),
    ],
    ids=["no-separate-no-end", "no-end", "nested-no-end"],
)
def test_a_field_that_never_closes_does_not_hide_the_rest(field: list[str], shown: str) -> None:
    # A damaged file; Word shows the rest of the document.
    data = make(paragraph(run("Total: "), *field, run(" and more.")), paragraph(run("Next paragraph.")))
    text = lines(read(data))
    assert text == ["Opening paragraph.", shown, "Next paragraph.", "Closing paragraph."]
    joined = "\n".join(text)
    assert "REF" not in joined and "MERGEFIELD" not in joined and "Approved" not in joined


def test_hidden_runs_are_not_read() -> None:
    hidden = "<w:rPr><w:vanish/></w:rPr>"
    not_hidden = "<w:rPr><w:vanish w:val='0'/></w:rPr>"
    data = make(paragraph(run("Shown "), run("SECRET NOTE ", hidden), run("and also shown.", not_hidden)))
    text = lines(read(data))
    assert "Shown and also shown." in text
    assert "SECRET" not in "\n".join(text)


def test_a_document_with_only_hidden_text_is_still_empty() -> None:
    import docx

    document = docx.Document()
    document.add_paragraph("invisible").runs[0].font.hidden = True
    buffer = io.BytesIO()
    document.save(buffer)
    with pytest.raises(IngestError) as caught:
        read(buffer.getvalue())
    assert caught.value.reason == FailureReason.EMPTY_FILE
