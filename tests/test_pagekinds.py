"""Page kinds by shape and multilingual cues (newsmon.pagekinds), and how dedupe treats them."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from newsmon.dedupe import assign_stories, document_kind, fingerprint_documents
from newsmon.extract import classify_page as extract_classify_page
from newsmon.models import Document
from newsmon.pagekinds import CUE_LANGUAGES, CUES, JUNK_KINDS, classify_page, junk_kind, page_shape

MakeDocument = Callable[..., Document]
PAGES = Path(__file__).resolve().parent / "fixtures" / "pages"
FIXTURES = sorted(PAGES.glob("*.txt"))
FOOTERS = [
    "We use cookies to improve your experience. Accept all cookies",
    "Sign up for our newsletter to get the latest news every morning.",
    "Read more: subscribe to continue reading our coverage of the region.",
    "Wir verwenden Cookies. Alle akzeptieren",
    "Nous utilisons des cookies. Tout accepter",
    "Мы используем файлы cookie. Принять все",
]
ARTICLE = (
    "The finance ministers of five Central Asian states met in Astana on Tuesday to discuss a shared railway "
    "corridor to the Caspian Sea.\n"
    "The project, first proposed in 2019, would cut the travel time of freight to European ports by about a "
    "week, according to a statement released after the meeting.\n"
    "Officials said financing talks with two development banks would begin next month, and that a feasibility "
    "study had been completed in the spring.\n"
    "Critics of the plan point to the cost of the mountain sections, which engineers estimate at more than "
    "half of the total budget.\n"
)


def _expected(path: Path) -> str:
    return path.name.split(".")[0]


@pytest.mark.parametrize("path", FIXTURES, ids=[p.name for p in FIXTURES])
def test_handmade_walls_errors_and_bot_checks_are_recognised(path: Path) -> None:
    assert classify_page(path.read_text(encoding="utf-8")) == _expected(path)


@pytest.mark.parametrize("path", FIXTURES, ids=[p.name for p in FIXTURES])
def test_junk_pages_are_junk_for_dedupe(path: Path) -> None:
    assert junk_kind(path.read_text(encoding="utf-8")) == _expected(path)


def test_fixtures_cover_every_cue_language() -> None:
    langs = {p.name.split(".")[1].split("-")[0] for p in FIXTURES}
    assert set(CUE_LANGUAGES) <= langs
    assert {_expected(p) for p in FIXTURES} == {*JUNK_KINDS, "not-article"}


def test_a_wall_in_a_language_without_cues_is_junk_by_shape() -> None:
    text = (PAGES / "not-article.nl-wall.txt").read_text(encoding="utf-8")
    shape = page_shape(text)
    assert not shape.cues and not shape.has_prose
    assert junk_kind(text) == "not-article"
    assert junk_kind(text, by_shape=False) is None  # a feed summary is never junk by shape alone


@pytest.mark.parametrize("text", ["Премиум\n\nВойти", "Premium\nSign in", "Home | News"])
def test_a_page_of_two_labels_without_a_sentence_is_junk(text: str, make_document: MakeDocument) -> None:
    assert junk_kind(text) == "not-article"
    assert junk_kind(text, by_shape=False) is None
    pages = [make_document(f"p{n}", text, title="Home", source=f"site{n}") for n in range(2)]
    docs = [replace(page, extraction="article", page_kind=classify_page(text)) for page in pages]  # as extraction does
    assignments = assign_stories(fingerprint_documents(docs), {}, {}, {})
    assert [a.story_id for a in assignments] == ["p0", "p1"]  # the same two labels on two sites: no story


def test_a_short_note_with_a_sentence_is_not_junk() -> None:
    assert junk_kind("Polls close at 8 p.m. local time on Sunday.") is None


@pytest.mark.parametrize("footer", FOOTERS)
def test_a_short_article_with_one_footer_line_is_an_article(footer: str) -> None:
    text = ARTICLE + footer
    assert 600 < len(text) < 1500
    assert classify_page(text) == "article"
    assert junk_kind(text) is None


def test_a_wall_with_a_headline_above_is_still_a_wall() -> None:
    wall = (PAGES / "cookie-wall.de.txt").read_text(encoding="utf-8")
    assert classify_page("Regierung beschließt neues Haushaltsgesetz\n" + wall) == "cookie-wall"


def test_english_behaviour_is_kept() -> None:
    assert classify_page("Subscribe to continue reading. Already a subscriber? Sign in.") == "paywall"
    assert classify_page("We use cookies. Accept all cookies to continue. Cookie settings.") == "cookie-wall"
    assert classify_page("Are you a robot? Please verify you are human.") == "bot-check"
    assert classify_page("A short note.") == "not-article"
    long_article = ARTICLE * 3 + "The site's cookie policy and its captcha were also criticised by readers."
    assert classify_page(long_article) == "article"
    assert extract_classify_page(ARTICLE) == "article"


def test_cue_lists_cover_thirteen_languages_for_every_kind() -> None:
    assert len(CUE_LANGUAGES) >= 13
    for kind, phrases in CUES.items():
        assert len(phrases) >= 30, kind
        assert all(p == " ".join(p.split()) for p in phrases), kind
    assert classify_page("Nur mit Abo: jetzt ABO ABSCHLIESSEN.\nAnmelden") == "paywall"  # ß folds to ss


# -- dedupe: junk never forms or joins a story ------------------------------------------------


def test_junk_pages_in_any_language_never_merge(make_document: MakeDocument) -> None:
    docs = []
    for i, path in enumerate(FIXTURES):
        text = path.read_text(encoding="utf-8")
        for site in range(2):  # the same page from two unrelated sites, under one headline
            doc = make_document(f"junk{i}-{site}", text, title="Breaking news from the region today", source=f"s{site}")
            docs.append(replace(doc, extraction="article", page_kind=classify_page(text)))  # as extraction does
    fps = fingerprint_documents(docs)
    assert {fp.kind for fp in fps} == {"boilerplate"}
    assignments = assign_stories(fps, {}, {}, {})
    assert all(a.story_id == a.document_id and a.method == "new" for a in assignments)


def test_a_short_article_with_a_footer_joins_its_reprint(make_document: MakeDocument) -> None:
    original = make_document("orig", ARTICLE + FOOTERS[0], title="Central Asian ministers back rail corridor")
    reprint = make_document("copy", ARTICLE + FOOTERS[3], title="Ministers back Caspian rail link", source="other")
    assert document_kind(original, 200) == "full"
    out = {a.document_id: a for a in assign_stories(fingerprint_documents([original, reprint]), {}, {}, {})}
    assert out["copy"].story_id == "orig"


# -- real articles (../shared/data) -----------------------------------------------------------


def _short_version(body: str, goal: int = 900) -> str:
    out, n = [], 0
    for paragraph in (p for p in body.split("\n") if p.strip()):
        if n >= goal:
            break
        out.append(paragraph)
        n += len(paragraph)
    return "\n".join(out)


def test_real_articles_are_articles(shared_data: Path) -> None:
    truth = json.loads((shared_data / "html" / "article-extraction-benchmark" / "ground-truth.json").read_text())
    bodies = [item["articleBody"] for _, item in sorted(truth.items())]
    long_enough = [b for b in bodies if len(b) >= 1000]
    junk = [b[:80] for b in long_enough if junk_kind(b) is not None]
    assert len(junk) <= 1, junk  # one real page is a bare list of race dates
    shorts = [s for s in (_short_version(b) for b in long_enough) if len(s) >= 600]
    assert len(shorts) >= 120
    for footer in FOOTERS:
        walls = [s[:60] for s in shorts if classify_page(s + "\n" + footer) != "article"]
        assert len(walls) <= 0.01 * len(shorts), (footer, walls)


def test_a_summary_that_quotes_a_notice_is_not_a_wall() -> None:
    outage = (
        "Readers who opened the banking app on Monday morning saw nothing but a blank screen for two hours. "
        "The company blamed a failed database update and apologised to its customers in a short statement. "
        'Many of them posted the message they were shown: "Sorry, something went wrong."'
    )
    assert junk_kind(outage, by_shape=False) is None
    privacy = (
        "The payment service will let parents open accounts for children aged 13 to 17, with a debit card and "
        "controls that let them watch spending and manage their child's privacy settings from their own phone. "
        "Critics have long pointed to the lack of privacy protections in the service and its public feed."
    )
    assert classify_page(privacy) != "cookie-wall"
    assert junk_kind(privacy, by_shape=False) is None


@pytest.mark.parametrize("path", FIXTURES, ids=[p.name for p in FIXTURES])
def test_a_notice_is_recognised_however_its_apostrophes_and_case_are_typed(path: Path) -> None:
    """French sites print n’existe with a typographic apostrophe; a Turkish notice in capitals
    (SAYFA BULUNAMADI) casefolds to a dotted i: neither keeps a cue from matching."""
    text = path.read_text(encoding="utf-8")
    for variant in (text.replace("'", "’"), text.replace("'", "ʼ"), text.upper()):
        assert classify_page(variant) == _expected(path)


FRENCH_ERROR = """Désolé, la page demandée n’existe pas ou n’est plus disponible sur le site de votre journal.
Cette page n’existe pas, l’adresse saisie est peut-être erronée, incomplète ou l’article a été retiré.
Il a peut-être été retiré à la demande de son auteur ou archivé par la rédaction il y a quelques mois.
Découvrez nos dernières informations sur la politique, l’économie et la culture en France et dans le monde.
Retrouvez aussi tous nos dossiers, nos enquêtes et nos reportages dans la rubrique consacrée à l’actualité.
Accueil
Contact"""


@pytest.mark.parametrize(
    "text",
    [
        FRENCH_ERROR,  # only typographic apostrophes: the cues are written n'existe
        "SAYFA BULUNAMADI\nARADIĞINIZ SAYFA KALDIRILMIŞ VEYA TAŞINMIŞ OLABİLİR.\nANA SAYFAYA DÖN",
    ],
)
def test_error_pages_without_a_status_number_are_recognised_by_their_words(text: str) -> None:
    assert classify_page(text) == "error-page"
