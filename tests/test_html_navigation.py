"""Navigation that documentation generators and hand-made pages put in plain divs is not
indexed: texinfo's "Next: …, Previous: …, Up: … [Index]" line, DocBook's navheader and
navfooter, Sphinx's related bar, Confluence's breadcrumbs, a div of breadcrumbs (found by
an exploratory tester: each became a passage that outranked the page's real text)."""

from __future__ import annotations

from searchapp.ingest.extract import extract
from searchapp.ingest.types import ExtractedDocument, Limits

LIMITS = Limits()


def all_text(doc: ExtractedDocument) -> str:
    return "\n".join(s.text for s in doc.sections)


# The body of /usr/share/doc/libffi8/html/Multiple-ABIs.html (GNU Texinfo 6.8).
TEXINFO_6 = b"""<html><head><title>Multiple ABIs (libffi)</title></head>
<body lang="en">
<div class="section" id="Multiple-ABIs">
<div class="header">
<p>
Next: <a href="The-Closure-API.html" accesskey="n" rel="next">The Closure API</a>, Previous: <a
href="Types.html" accesskey="p" rel="prev">Types</a>, Up: <a href="Using-libffi.html" accesskey="u"
rel="up">Using libffi</a> &nbsp; [<a href="Index.html" title="Index" rel="index">Index</a>]</p>
</div>
<hr>
<span id="Multiple-ABIs-1"></span><h3 class="section">2.4 Multiple ABIs</h3>

<p>A given platform may provide multiple different ABIs at once.  For
instance, the x86 platform has both &lsquo;<samp>stdcall</samp>&rsquo; and &lsquo;<samp>fastcall</samp>&rsquo;
functions.
</p>
<p><code>libffi</code> provides some support for this.  However, this is
necessarily platform-specific.
</p>
</div>
</body>
</html>
"""

# What Texinfo 7 writes instead: the same line in a div.nav-panel.
TEXINFO_7 = b"""<html><body lang="en">
<div class="section-level-extent" id="Multiple-ABIs">
<div class="nav-panel">
<p>
Next: <a href="The-Closure-API.html" accesskey="n" rel="next">The Closure API</a>, Previous: <a
href="Types.html" accesskey="p" rel="prev">Types</a>, Up: <a href="Using-libffi.html" accesskey="u"
rel="up">Using libffi</a> &nbsp; [<a href="Index.html" title="Index" rel="index">Index</a>]</p>
</div>
<hr>
<h3 class="section" id="Multiple-ABIs-1">2.4 Multiple ABIs</h3>
<p>A given platform may provide multiple different ABIs at once.</p>
</div>
</body></html>
"""


def test_texinfo_navigation_lines_are_not_indexed() -> None:
    for page in (TEXINFO_6, TEXINFO_7):
        doc = extract(page, "Multiple-ABIs.html", LIMITS)
        text = all_text(doc)
        assert "Previous" not in text and "Using libffi" not in text and "[Index]" not in text
        assert "multiple different ABIs at once" in text
        assert doc.sections[0].heading == "2.4 Multiple ABIs"


# The hand-made help page from the report (its <header>, <nav> and <footer> already went).
HELP_PAGE = b"""<!DOCTYPE html><html><head><title>Connecting to the office VPN - IT Help Center</title></head>
<body>
<header><div class="logo">IT Help Center</div><nav><a href="/">Home</a> | <a href="/net">Network</a></nav></header>
<div class="breadcrumbs">Home &gt; Network &gt; VPN</div>
<main>
<h1>Connecting to the office VPN</h1>
<p>The office VPN uses WireGuard. Install the WireGuard client from the software center.</p>
<h2>Troubleshooting</h2>
<p>If the handshake did not complete, check that UDP port 51820 is not blocked.</p>
</main>
<footer>Copyright 2026 Example Corp. All rights reserved.</footer>
</body></html>
"""


def test_a_breadcrumbs_div_is_not_indexed() -> None:
    doc = extract(HELP_PAGE, "vpn-setup.html", LIMITS)
    text = all_text(doc)
    assert "Home" not in text and "Network" not in text
    assert "UDP port 51820" in text
    assert all(section.heading for section in doc.sections)  # no passage without a heading left


def test_docbook_sphinx_and_confluence_navigation_is_not_indexed() -> None:
    docbook = b"""<html><body>
<div class="navheader"><table width="100%" summary="Navigation header">
<tr><th colspan="3" align="center">2.1. Installing</th></tr>
<tr><td width="20%" align="left"><a accesskey="p" href="ch01.html">Prev</a> </td>
<th width="60%" align="center">Chapter 2. Setup</th>
<td width="20%" align="right"> <a accesskey="n" href="ch02s02.html">Next</a></td></tr></table><hr></div>
<div class="section"><h2 class="title">2.1. Installing</h2><p>Run the installer as root.</p></div>
<div class="navfooter"><hr><table width="100%" summary="Navigation footer">
<tr><td align="left"><a href="ch01.html">Prev</a></td><td align="center"><a href="ch02.html">Up</a></td>
<td align="right"><a href="ch02s02.html">Next</a></td></tr>
<tr><td align="left">Chapter 1. Overview</td><td align="center"><a href="index.html">Home</a></td>
<td align="right">2.2. Configuring</td></tr></table></div>
</body></html>"""
    text = all_text(extract(docbook, "ch02s01.html", LIMITS))
    assert "Run the installer as root." in text
    for nav in ("Prev", "Next", "Chapter 1. Overview", "2.2. Configuring", "Home"):
        assert nav not in text

    # Sphinx before role="navigation" was added to its related bar.
    sphinx = b"""<html><body>
<div class="related"><h3>Navigation</h3><ul>
<li class="right"><a href="genindex.html" title="General Index">index</a></li>
<li class="right"><a href="py-modindex.html" title="Python Module Index">modules</a> |</li>
<li class="right"><a href="intro.html" title="Introduction">next</a> |</li>
<li><a href="index.html">Project 1.0 documentation</a> &raquo;</li></ul></div>
<div class="document"><div class="body"><h1>Usage</h1><p>Call the frobnicate function once.</p></div></div>
</body></html>"""
    text = all_text(extract(sphinx, "usage.html", LIMITS))
    assert "Call the frobnicate function once." in text
    assert "modules" not in text and "Project 1.0 documentation" not in text

    confluence = b"""<html><body><div id="page"><div id="main-header">
<div id="breadcrumb-section"><ol id="breadcrumbs">
<li class="first"><span><a href="index.html">Engineering</a></span></li>
<li><span><a href="Runbooks_12.html">Runbooks</a></span></li></ol></div>
<h1 id="title-heading" class="pagetitle"><span id="title-text">Engineering : Restarting the queue</span></h1>
</div>
<div id="content" class="view"><div id="main-content" class="wiki-content group">
<p>Drain the queue before you restart the broker.</p></div></div></div></body></html>"""
    doc = extract(confluence, "Restarting-the-queue.html", LIMITS)
    text = all_text(doc)
    assert "Runbooks" not in text
    assert "Drain the queue" in text and "Restarting the queue" in text


def test_a_header_div_with_the_page_title_or_prose_is_kept() -> None:
    # Many sites put the real title, or an introduction, in a div.header: not navigation.
    page = b"""<html><body>
<div class="header"><h1>Release notes</h1></div>
<div class="header"><p>This release drops support for Python 3.8 and <a href="/m">migrates</a> the
configuration file to TOML. Read the upgrade guide before you install it.</p></div>
<p>Version 4.0 adds streaming.</p></body></html>"""
    text = all_text(extract(page, "notes.html", LIMITS))
    assert "Release notes" in text and "drops support for Python 3.8" in text


def test_navigation_classes_never_drop_main_or_article_content() -> None:
    page = b"""<html><body class="nav">
<div class="navigation"><main><h1>Guide</h1><p>The whole guide is here.</p></main></div>
<article class="pager"><p>An article that is also styled as a pager.</p></article>
</body></html>"""
    text = all_text(extract(page, "guide.html", LIMITS))
    assert "The whole guide is here." in text and "styled as a pager" in text


def test_class_words_that_only_contain_nav_are_content() -> None:
    page = b"""<html><body>
<div class="canvas-navy"><p>Navy blue canvas is the main product.</p></div>
<div class="related-work"><p>Earlier studies measured the same effect.</p></div>
</body></html>"""
    text = all_text(extract(page, "p.html", LIMITS))
    assert "Navy blue canvas" in text and "Earlier studies" in text


def test_sections_and_headings_named_like_navigation_are_content() -> None:
    """An API's "Pagination" section, a manual's "Navigation" chapter: generators take ids
    from titles (found by review)."""
    page = b"""<html><body><main><article><h1>Components</h1><p>Every component.</p>
<h2 id="pagination">Pagination</h2><p>Use the pagination component for long lists.</p>
<section id="breadcrumb"><h2>Breadcrumb</h2><p>Indicate the current page location.</p></section>
<div id="navigation"><h3>Navigation</h3><p>Menus lead from page to page.</p></div>
</article></main>
<section id="navigation"><h2>Keyboard</h2><p>Tab moves between fields.</p></section>
<div class="pager"><a href="1">1</a> <a href="2">2</a> <a href="3">Next</a></div>
</body></html>"""
    doc = extract(page, "components.html", LIMITS)
    text = all_text(doc)
    for kept in ("long lists", "current page location", "Menus lead", "Tab moves"):
        assert kept in text, (kept, text)
    assert "Pagination" in {s.heading.split(" > ")[-1] for s in doc.sections}, [
        s.heading for s in doc.sections
    ]
    assert "Next" not in text  # the pager is still navigation


def test_a_menu_with_a_script_is_navigation_and_an_old_style_section_is_content() -> None:
    """A script inside a menu is not prose, and docutils' <div class="section" id="navigation">
    is a section (found by the second review)."""
    script = "var menu = document.querySelectorAll('li'); " * 30
    page = f"""<html><body>
<div id="navigation"><ul><li><a href="/">Home</a></li><li><a href="/p">Products catalogue</a></li></ul>
<script>{script}</script></div>
<div class="section" id="navigation"><h2>Navigation</h2><ul><li><a href="a.html">Getting around</a></li></ul>
</div>
<p>The page body explains the product.</p>
</body></html>""".encode()
    doc = extract(page, "p.html", LIMITS)
    text = all_text(doc)
    assert "Products catalogue" not in text and "The page body explains" in text
    assert "Getting around" in text and "Navigation" in {s.heading.split(" > ")[-1] for s in doc.sections}
