"""Test-only builders: small real files (PDF, DOCX) with known text."""

from __future__ import annotations

import io
from collections.abc import Sequence


def make_pdf(pages: Sequence[str], *, title: str = "", encrypt_user_password: str | None = None) -> bytes:
    """A valid PDF with one text page per string (Helvetica, latin-1 text).

    Written by hand (no reportlab here); pypdf and pdfium both read it. With
    `encrypt_user_password`, pypdf encrypts it (AES-256).
    """
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled in below
    pages_obj = add(b"")
    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    page_ids: list[int] = []
    for text in pages:
        lines = []
        for raw_line in text.split("\n"):
            safe = raw_line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            lines.append(f"({safe}) Tj T*".encode("latin-1", "replace"))
        stream = b"BT /F1 11 Tf 14 TL 50 780 Td " + b" ".join(lines) + b" ET"
        content = add(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        page_ids.append(
            add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 842] /Contents %d 0 R "
                b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (pages_obj, content, font)
            )
        )
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % pages_obj
    kids = b" ".join(b"%d 0 R" % pid for pid in page_ids)
    objects[pages_obj - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(page_ids))
    info = add(b"<< /Title (%s) >>" % title.encode("latin-1")) if title else 0

    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    trailer = b"<< /Size %d /Root %d 0 R" % (len(objects) + 1, catalog)
    if info:
        trailer += b" /Info %d 0 R" % info
    out.write(b"trailer\n" + trailer + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref)
    data = out.getvalue()
    if encrypt_user_password is not None:
        import pypdf

        reader = pypdf.PdfReader(io.BytesIO(data))
        writer = pypdf.PdfWriter(clone_from=reader)
        writer.encrypt(user_password=encrypt_user_password, owner_password="owner", algorithm="AES-256")
        buffer = io.BytesIO()
        writer.write(buffer)
        data = buffer.getvalue()
    return data


def make_docx(blocks: Sequence[tuple[str, str]], *, title: str = "") -> bytes:
    """A DOCX from (style, text) pairs; style is 'Heading 1', 'Normal', 'table:a|b' ..."""
    import docx

    document = docx.Document()
    if title:
        document.core_properties.title = title
    for style, text in blocks:
        if style.startswith("table"):
            rows = [row.split("|") for row in text.split("\n")]
            table = document.add_table(rows=len(rows), cols=len(rows[0]))
            for r, row in enumerate(rows):
                for c, cell in enumerate(row):
                    table.cell(r, c).text = cell
        elif style.startswith("Heading"):
            document.add_heading(text, level=int(style.split()[-1]))
        else:
            document.add_paragraph(text, style=style)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def make_scan_pdf(pages: Sequence[str], *, dpi: int = 150) -> bytes:
    """An image-only PDF (no text layer), as a scanner makes: each string drawn on an A4 page.

    Pillow draws the text with its built-in scalable font, about 12 pt, and writes the
    pages as a PDF of images.
    """
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=dpi // 6)
    images = []
    for text in pages:
        image = Image.new("L", (dpi * 827 // 100, dpi * 1169 // 100), 255)
        ImageDraw.Draw(image).multiline_text((dpi, dpi), text, fill=0, font=font, spacing=dpi // 10)
        images.append(image)
    out = io.BytesIO()
    images[0].save(out, "PDF", resolution=dpi, save_all=True, append_images=images[1:])
    return out.getvalue()


def join_pdfs(*files: bytes) -> bytes:
    """The pages of several PDFs, in order, as one PDF."""
    import pypdf

    writer = pypdf.PdfWriter()
    for data in files:
        writer.append(pypdf.PdfReader(io.BytesIO(data)))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
