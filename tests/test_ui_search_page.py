"""The search page through AppTest: scores, grouping, more like this, no-match, links, filters.

The same logic as the real-browser test (tests/test_browser.py), without a browser, on
five small documents and the hash embedder.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient
from streamlit.testing.v1 import AppTest

from searchapp.filters import SearchFilters
from searchapp.request import SearchRequest
from searchapp.ui import links, original_links
from tests.ui_helpers import (
    POLICY_PDF,
    cards,
    doc_id,
    new_app,
    run,
    search,
    source_of,
    sources,
    texts,
)


@pytest.fixture
def at(ui_corpus_env: Path) -> AppTest:
    return run(new_app())


# ------------------------------------------------------------------------ scores


@pytest.mark.parametrize("group", [True, False], ids=["grouped", "passages"])
def test_the_big_number_falls_down_the_page_in_every_mode_and_names_it(at: AppTest, group: bool) -> None:
    at.toggle(key="group").set_value(group)
    for mode, label in (
        ("adaptive", "Adaptive"),
        ("hybrid", "Hybrid"),
        ("dense", "Semantic"),
        ("keyword", "Keyword"),
    ):
        at.radio(key="mode").set_value(mode)
        found = search(at, "refunds for damaged goods")
        assert len(found) >= 2, mode
        scores = [c.score for c in found]
        assert scores == sorted(scores, reverse=True), (mode, scores)
        assert all(0 <= s <= 1 for s in scores)
        assert {c.mode for c in found} == {label}
        assert any(text.startswith((f"{label} · ", f"{label} (meaning ")) for text in texts(at.caption)), mode
        if mode in ("hybrid", "adaptive"):  # the ranks it fused are beside it
            assert all("semantic #" in c.details for c in found)


# ---------------------------------------------------------------------- grouping


def test_group_toggle_one_card_per_document_with_the_others_in_place(at: AppTest) -> None:
    grouped = search(at, "refunds shipping damaged")
    assert at.toggle(key="group").value is True  # on by default
    assert len(grouped) == len(sources(grouped)) == 5
    policy = next(c for c in grouped if source_of(c) == "policy.pdf")
    assert policy.more == 2
    labels = [e.label for e in at.expander]
    assert "2 more passages in this document" in labels

    at.toggle(key="group").set_value(False)
    passages = cards(run(at))
    assert len(passages) == 7
    assert sum(source_of(c) == "policy.pdf" for c in passages) == 3
    assert all(c.more == 0 for c in passages)
    assert at.query_params["group"] == "0"


def test_all_passages_of_one_document_from_its_card(at: AppTest) -> None:
    grouped = search(at, "refunds shipping damaged")
    policy = next(c for c in grouped if source_of(c) == "policy.pdf")
    at.button(key=f"only-{policy.chunk_id}").click()
    run(at)
    assert at.multiselect(key="f_docs").value == [doc_id("policy.pdf")]
    assert at.toggle(key="group").value is False
    found = cards(at)
    assert len(found) == 3 and sources(found) == {"policy.pdf"}


# -------------------------------------------------------------------- more like this


def test_more_like_this_uses_the_passage_excludes_it_and_keeps_the_filters(at: AppTest) -> None:
    at.toggle(key="group").set_value(False)
    at.multiselect(key="f_types").set_value(["pdf", "txt"])
    found = search(at, "refunds for damaged goods")
    first = found[0]
    at.button(key=f"like-{first.chunk_id}").click()
    run(at)
    similar = cards(at)
    assert similar and first.chunk_id not in {c.chunk_id for c in similar}
    assert sources(similar) <= {"policy.pdf", "notes.txt"}  # the same filters
    heading = [m.value for m in at.markdown if m.value.startswith("**More like this:**")]
    assert heading and "policy\\.pdf" in heading[0]
    assert not any("No good match" in w.value for w in at.warning)
    assert at.query_params["like"] == first.chunk_id

    at.button(key="like_back").click()
    run(at)
    assert [c.chunk_id for c in cards(at)] == [c.chunk_id for c in found]
    assert "like" not in at.query_params


def test_a_new_query_leaves_the_similar_view(at: AppTest) -> None:
    first = search(at, "refunds")[0]
    at.button(key=f"like-{first.chunk_id}").click()
    run(at)
    assert at.session_state["like"] == first.chunk_id
    search(at, "shipping")
    assert "like" not in at.session_state
    assert not [m for m in at.markdown if m.value.startswith("**More like this:**")]


# ---------------------------------------------------------------------- no match


def test_an_off_topic_query_gets_the_no_match_notice(at: AppTest) -> None:
    found = search(at, "zebra xylophone quartz")  # no word in common with the corpus
    assert found  # dense search always returns its nearest passages
    (notice,) = [w.value for w in at.warning if "No good match" in w.value]
    assert notice.startswith("**No good match.**") and "best similarity 0.00" in notice
    search(at, "refunds for damaged goods")
    assert not [w for w in at.warning if "No good match" in w.value]


# ------------------------------------------------------------------------ filters


def test_clear_filters_sticks_after_changing_the_mode(at: AppTest) -> None:
    search(at, "refunds")
    at.multiselect(key="f_docs").set_value([doc_id("notes.txt")])
    assert sources(cards(run(at))) == {"notes.txt"}
    assert at.button(key="f_clear").disabled is False

    at.button(key="f_clear").click()  # one click
    run(at)
    assert at.multiselect(key="f_docs").value == []
    assert len(sources(cards(at))) == 5
    assert at.button(key="f_clear").disabled is True

    at.radio(key="mode").set_value("dense")
    run(at)
    assert at.multiselect(key="f_docs").value == []  # the cleared filter stays cleared
    assert len(sources(cards(at))) == 5
    assert "doc" not in at.query_params


def test_clear_filters_empties_every_kind_of_filter(at: AppTest) -> None:
    search(at, "refunds")
    at.multiselect(key="f_types").set_value(["pdf"])
    at.number_input(key="f_page_from").set_value(2)
    at.multiselect(key="f_tags").set_value(["finance"])
    at.text_input(key="f_contains").input("refund")
    at.slider(key="f_min_score").set_value(0.05)
    run(at)
    at.button(key="f_clear").click()
    run(at)
    assert at.multiselect(key="f_types").value == []
    assert at.number_input(key="f_page_from").value is None
    assert at.multiselect(key="f_tags").value == []
    assert at.text_input(key="f_contains").value == ""
    assert at.slider(key="f_min_score").value == 0.0
    assert len(sources(cards(at))) == 5


def test_the_search_box_takes_the_query_syntax_and_says_so(at: AppTest) -> None:
    assert "`type:pdf`" in (at.text_input(key="query").help or "")
    mode_help = at.radio(key="mode").help or ""
    assert "Adaptive (the default)" in mode_help and "Hybrid" in mode_help
    assert sources(search(at, "refunds type:md,txt")) == {"guide.md", "notes.txt"}
    assert sources(search(at, "refunds doc:policy")) == {"policy.pdf"}
    found = search(at, "refunds -weeks")  # "a week" is the same word to the keyword index
    assert found and "guide.md" not in sources(found) and "faq.html" not in sources(found)
    search(at, 'refunds "open phrase')
    assert any("a phrase is not closed" in e.value for e in at.error)
    assert at.query_params["q"] == "refunds -weeks"  # the last request that could be read


def test_a_page_range_says_which_documents_it_leaves_out(at: AppTest) -> None:
    search(at, "refunds")
    at.number_input(key="f_page_from").set_value(1)
    found = cards(run(at))
    assert sources(found) == {"policy.pdf"}
    (notice,) = [w.value for w in at.warning if "page range" in w.value]
    assert "leaves out 4 documents without pages (HTML, Markdown, text, Word)" in notice
    at.multiselect(key="f_types").set_value(["pdf"])
    run(at)
    assert not [w for w in at.warning if "page range" in w.value]  # nothing left out any more


# ----------------------------------------------------------------------------- URL


def test_query_mode_filters_and_options_go_into_the_url(at: AppTest) -> None:
    search(at, "refunds")
    at.radio(key="mode").set_value("keyword")
    at.multiselect(key="f_types").set_value(["pdf", "md"])
    at.number_input(key="f_page_to").set_value(3)
    at.multiselect(key="f_tags").set_value(["ops"])
    at.toggle(key="group").set_value(False)
    at.slider(key="top_k").set_value(5)
    run(at)
    assert at.query_params == {  # one value as a string, several as a list
        "q": "refunds",
        "mode": "keyword",
        "type": ["pdf", "md"],
        "pages": "-3",
        "tag": "ops",
        "k": "5",
        "group": "0",
    }


def test_a_shared_link_restores_the_search(ui_corpus_env: Path) -> None:
    request = SearchRequest(
        query="refunds",
        mode="dense",
        filters=SearchFilters(file_types=("txt", "md"), tags=("ops",)),
        k=3,
        group=False,
    )
    at = new_app()
    for key, values in links.to_params(request).items():
        at.query_params[key] = values
    run(at)
    assert at.text_input(key="query").value == "refunds"
    assert at.radio(key="mode").value == "dense"
    assert at.multiselect(key="f_types").value == ["txt", "md"]
    assert at.multiselect(key="f_tags").value == ["ops"]
    assert at.toggle(key="group").value is False
    assert at.slider(key="top_k").value == 3
    found = cards(at)
    assert found and sources(found) == {"notes.txt", "guide.md"}
    assert {c.mode for c in found} == {"Semantic"}


def test_a_broken_link_says_so_and_searches_without_it(ui_corpus_env: Path) -> None:
    at = new_app()
    at.query_params["q"] = "refunds"
    at.query_params["pages"] = "seven"
    run(at)
    assert any("could not be used" in w.value and "page range" in w.value for w in at.warning)
    assert at.text_input(key="query").value == ""  # nothing of a broken link is applied


# ---------------------------------------------------------------- show more, focus


def test_show_more_raises_the_number_of_results(at: AppTest) -> None:
    at.toggle(key="group").set_value(False)
    at.slider(key="top_k").set_value(5)
    assert len(search(at, "refunds")) == 5
    at.button(key="show_more").click()
    run(at)
    assert at.slider(key="top_k").value == 15
    assert len(cards(at)) == 7  # all there are
    assert not [b for b in at.button if b.key == "show_more"]


def test_the_search_box_is_focused_by_a_fixed_script(at: AppTest) -> None:
    (html,) = at.get("html")
    assert html.proto.unsafe_allow_javascript
    assert 'input[aria-label="Search query"]' in html.proto.body
    assert at.text_input(key="query").label == "Search query"


# ------------------------------------------------------------------ compare texts


def test_compare_two_texts_shows_the_similarity_on_the_search_scale(at: AppTest) -> None:
    at.text_area(key="compare_a").input("refunds for damaged goods")
    at.text_area(key="compare_b").input("refunds for damaged goods")
    at.button[[b.label for b in at.button].index("Compare")].click()
    run(at)
    bars = [p.proto.text for p in at.get("progress") if p.proto.text.startswith("Similarity")]
    assert bars == ["Similarity 1.000"]
    assert any(c.value.startswith("Cosine similarity 1.000") for c in at.caption)

    at.text_area(key="compare_b").input("zebra xylophone")
    at.button[[b.label for b in at.button].index("Compare")].click()
    run(at)
    bars = [p.proto.text for p in at.get("progress") if p.proto.text.startswith("Similarity")]
    assert bars == ["Similarity 0.000"]


def test_compare_with_an_empty_text_is_a_clear_error(at: AppTest) -> None:
    at.text_area(key="compare_a").input("refunds")
    at.button[[b.label for b in at.button].index("Compare")].click()
    run(at)
    assert any("Type something to search for" in e.value for e in at.error)


# ------------------------------------------------------------------- open at page


def test_open_at_page_and_download_are_signed_links_served_by_the_routes(
    at: AppTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sign-in off here; what the routes check with it on is in tests/test_original_routes.py."""
    monkeypatch.setitem(original_links._state, "mounted", True)
    found = search(at, "refunds for damaged goods")
    assert not at.get("iframe") and not at.get("download_button")  # no PDF, no /media URL in the page
    links = [b.proto.url for b in at.link_button if b.proto.label == "Open at page 3"]
    assert len(links) == 1
    url = links[0]
    match = re.fullmatch(r"/searchapp/original/([A-Za-z0-9_.-]+)/policy\.pdf#page=3", url)
    assert match, url
    assert source_of(found[0]) == "policy.pdf"
    downloads = {b.proto.url for b in at.link_button if b.proto.label == "Download original"}
    assert f"/searchapp/download/{match.group(1)}/policy.pdf" in downloads

    client = TestClient(Starlette(routes=original_links.routes()))
    response = client.get(url.split("#")[0])
    assert response.status_code == 200 and response.content == POLICY_PDF
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-disposition"].startswith("inline")
    download = client.get(f"/searchapp/download/{match.group(1)}/policy.pdf")
    assert download.status_code == 200 and download.content == POLICY_PDF
    assert download.headers["content-disposition"].startswith('attachment; filename="policy.pdf"')
    assert download.headers["content-security-policy"] == "sandbox"
    token = match.group(1)
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert client.get(f"/searchapp/original/{tampered}/policy.pdf").status_code == 403
    assert client.get(f"/searchapp/original/{token}/other.pdf").status_code == 200  # the name is cosmetic
    other = original_links.make_token("another-team", doc_id("policy.pdf"))
    assert client.get(f"/searchapp/original/{other}/policy.pdf").status_code == 404  # not this library's
    assert unquote(url.split("/")[-1]).startswith("policy.pdf")
