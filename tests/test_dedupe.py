"""Reprint detection (newsmon.dedupe): exact copies, verified near copies, the hard cases, and
the persistent index in DuckDB."""

from __future__ import annotations

import random
import shutil
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from newsmon.config import Settings
from newsmon.dedupe import (
    BANDS,
    BINS,
    SIGNATURE_SIZE,
    WINDOW,
    Canonical,
    assign_stories,
    band_hashes,
    char_shingles,
    compare_texts,
    dedupe_keys,
    fingerprint_documents,
    is_reprint,
    oph_signatures,
    prepare_text,
    signature_from_bytes,
    signature_similarity,
    verify,
)
from newsmon.documents import read_documents
from newsmon.models import Document, StoryAssignment
from newsmon.pipeline import RunContext, RunSummary, run_once
from newsmon.steps import Deduped, dedupe_batch, store_batch
from newsmon.topics import load_topics
from storage.store import Store

MakeDocument = Callable[..., Document]

FIRST_SEED = "000_d16311e57be8b6ce.txt"
SECOND_SEED = "002_7a780bc5721e2cfc.txt"


# -- helpers -----------------------------------------------------------------------------------


def paragraphs_of(doc: Document) -> list[str]:
    return [p for p in doc.body.split("\n") if p.strip()]


def variant(doc: Document, name: str, body: str, title: str | None = None, **changes: object) -> Document:
    """Another site's copy of ``doc``: its own id, URL and source."""
    return replace(
        doc,
        id=name,
        url=f"https://{name}.example/story",
        source=name,
        title=doc.title if title is None else title,
        body=body,
        text_hash=f"hash-{name}",
        content_hash=f"content-{name}",
        **changes,
    )


def assign_in_one_batch(docs: Sequence[Document]) -> dict[str, StoryAssignment]:
    return {a.document_id: a for a in assign_stories(fingerprint_documents(docs), {}, {}, {})}


def ocr_noise(text: str, rate: float, seed: int = 3) -> str:
    """Drop, double or swap letters in about ``rate`` of the characters (scanned-text noise)."""
    rng = random.Random(seed)
    out = []
    for ch in text:
        roll = rng.random()
        if ch.isalpha() and roll < rate / 3:
            continue
        if ch.isalpha() and roll < 2 * rate / 3:
            out.append(ch + ch)
        elif ch.isalpha() and roll < rate:
            out.append("l" if ch in "it" else "rn" if ch == "m" else ch.swapcase())
        else:
            out.append(ch)
    return "".join(out)


@pytest.fixture
def seeds(seeds_dir: Path, now: datetime) -> dict[str, Document]:
    docs = read_documents(seeds_dir, now).documents
    return {Path(d.url.removeprefix("file://")).name: d for d in docs}


@pytest.fixture
def seed(seeds: dict[str, Document]) -> Document:
    """The second seed (about 600 words): the original the reprints below copy."""
    return seeds[SECOND_SEED]


def reprint_of(seed_text: str) -> str:
    """A lightly edited reprint: new headline, other boilerplate, a few words changed, a paragraph dropped."""
    lines = seed_text.split("\n")
    paragraphs = [ln for ln in lines[1:] if ln.strip()]
    body = [p for p in paragraphs if p.strip() not in {"Source link", "Leave a Reply"} and "email address" not in p]
    dropped = body.pop(7)
    assert dropped == "The main context is the war in Ukraine."
    for index, old, new in [
        (0, "flying", "traveling"),
        (2, "first by any", "first ever by a"),
        (-1, "pressure point", "lever"),
    ]:
        assert old in body[index]
        body[index] = body[index].replace(old, new)
    header = ["Blinken heads to Central Asia to press allies on Russia", "", "Share this:", "Facebook", "Twitter", ""]
    footer = ["", "Read more at Example Wire", "", "Related Posts", ""]
    return "\n".join(header + [p + "\n" for p in body] + footer)


# -- the seeds and their copies ------------------------------------------------------------------


def test_the_two_seeds_stay_two_stories(seeds: dict[str, Document]) -> None:
    """Two different articles about the same trip: never one story."""
    assignments = assign_in_one_batch(list(seeds.values()))
    assert [a.method for a in assignments.values()] == ["new", "new"]
    assert len({a.story_id for a in assignments.values()}) == 2
    first, second = fingerprint_documents(list(seeds.values()))
    assert signature_similarity(first.signature, second.signature) < 0.2


def test_exact_copy_joins_the_seed_story(tmp_path: Path, seeds_dir: Path, now: datetime) -> None:
    folder = tmp_path / "batch"
    folder.mkdir()
    for path in seeds_dir.iterdir():
        shutil.copy(path, folder / path.name)
    shutil.copy(seeds_dir / SECOND_SEED, folder / "100_exact_copy.txt")
    docs = {Path(d.url).name: d for d in read_documents(folder, now).documents}
    seed, copy = docs[SECOND_SEED], docs["100_exact_copy.txt"]
    assert seed.id != copy.id and seed.text_hash == copy.text_hash
    assignments = assign_in_one_batch(list(docs.values()))
    assert assignments[seed.id].method == "new"
    assert (assignments[copy.id].story_id, assignments[copy.id].method) == (seed.id, "exact")
    assert assignments[copy.id].similarity == 1.0
    assert sum(a.story_id == docs[FIRST_SEED].id for a in assignments.values()) == 1


def test_lightly_edited_reprint_with_other_boilerplate_joins(
    tmp_path: Path, seeds_dir: Path, seed: Document, now: datetime
) -> None:
    """A new headline, share buttons and footers instead of the aggregator's, a paragraph
    dropped and three words changed: a verified near copy, with what differs recorded."""
    folder = tmp_path / "reprint"
    folder.mkdir()
    (folder / "101_reprint.txt").write_text(reprint_of((seeds_dir / SECOND_SEED).read_text("utf-8")), "utf-8")
    (reprint,) = read_documents(folder, now).documents
    assert reprint.title != seed.title and "Share this:" not in reprint.body
    joined = assign_in_one_batch([seed, reprint])[reprint.id]
    assert (joined.story_id, joined.method) == (seed.id, "near")
    assert 0.9 <= joined.similarity < 1.0
    assert "headline" in joined.differences and "truncated" not in joined.differences


def test_truncated_reprint_joins_and_is_marked_truncated(seed: Document) -> None:
    paragraphs = paragraphs_of(seed)
    cut = variant(seed, "short-site", "\n".join(paragraphs[:4]), title="Blinken in Central Asia")
    joined = assign_in_one_batch([seed, cut])["short-site"]
    assert (joined.story_id, joined.method) == (seed.id, "near")
    assert joined.containment == 1.0 and joined.coverage is not None and joined.coverage < 0.5
    assert {"headline", "truncated"} <= set(joined.differences)


def test_an_abridged_text_given_again_elsewhere_is_not_a_truncation(seeds: dict[str, Document]) -> None:
    """A speech given again at another venue keeps its opening and a few sentences from all
    over the long one: mostly inside it, but no cut copy of it (a real pair: a vice-president's
    Juneteenth remarks on the South Lawn, then six days later in Los Angeles)."""
    long = seeds[FIRST_SEED]
    paragraphs = paragraphs_of(long)
    picked = paragraphs[1:3] + paragraphs[6::7]
    body = "\n".join(["Greek Theatre, Los Angeles", *picked, "Thank you. May God bless you all."])
    abridged = variant(long, "venue", body, title="Remarks at a concert in Los Angeles")
    c = compare_texts(prepare_text(abridged.title, abridged.body), prepare_text(long.title, long.body))
    assert c.containment >= 0.75 and c.start <= 20  # the old truncation rule held
    assert c.end > 0.9 and c.coverage < 0.4  # but the aligned part spans the whole long text, thinly
    assert not is_reprint(c)
    assert assign_in_one_batch([long, abridged])["venue"].story_id == "venue"


def test_reprint_with_added_commentary_joins(seed: Document, seeds: dict[str, Document]) -> None:
    """A copy with an editor's note and other text appended is still the same story."""
    commentary = paragraphs_of(seeds[FIRST_SEED])[:5]
    longer = variant(seed, "commentary", "\n".join(["Editor's note: our analysis follows.", seed.body, *commentary]))
    joined = assign_in_one_batch([seed, longer])["commentary"]
    assert (joined.story_id, joined.method) == (seed.id, "near")
    assert joined.coverage == 1.0
    assert "added_text" in joined.differences


def test_noisy_ocr_copy_joins_and_is_marked_noisy(seed: Document) -> None:
    noisy = variant(seed, "scan", ocr_noise("\n".join(paragraphs_of(seed)[:8]), 0.04))
    assert noisy.body != seed.body
    joined = assign_in_one_batch([seed, noisy])["scan"]
    assert (joined.story_id, joined.method) == (seed.id, "near")
    assert "noisy" in joined.differences


CONFUSABLE = {"e": "c", "a": "o", "n": "u", "i": "l", "t": "f", "o": "a", "c": "e", "u": "n", "l": "i", "r": "n"}


def two_letter_noise(text: str, share: float, seed: int = 5) -> str:
    """Misread two letters in ``share`` of the words of 6+ letters (heavy scanning noise)."""
    rng = random.Random(seed)
    out = []
    for word in text.split(" "):
        if len(word) >= 6 and word.isalpha() and rng.random() < share:
            chars = list(word)
            for i in rng.sample(range(len(chars)), 2):
                chars[i] = CONFUSABLE.get(chars[i], "x")
            word = "".join(chars)
        out.append(word)
    return " ".join(out)


@pytest.mark.parametrize("share", [0.7, 0.8])
def test_a_very_noisy_copy_joins_through_two_edit_corrections(seed: Document, share: float) -> None:
    text = two_letter_noise(ocr_noise(seed.body, 0.04, seed=11), share)
    one_edit = compare_texts(prepare_text("", text), prepare_text(seed.title, seed.body))
    assert not is_reprint(one_edit)  # one-letter corrections alone leave too much unmatched
    joined = assign_in_one_batch([seed, variant(seed, "scan", text)])["scan"]
    assert (joined.story_id, joined.method) == (seed.id, "near")
    assert "noisy" in joined.differences


def test_a_very_noisy_template_sibling_still_does_not_join(seeds: dict[str, Document]) -> None:
    first, other = seeds[FIRST_SEED], seeds[SECOND_SEED]
    noisy_other = variant(other, "scan", two_letter_noise(ocr_noise(other.body, 0.04, seed=11), 1.0))
    assert assign_in_one_batch([first, noisy_other])["scan"].story_id == "scan"


STATE_DECLARATION = (
    "Today, President Joseph R. Biden, Jr. declared that a major disaster exists in the State of {state} and"
    " ordered Federal assistance to supplement State, tribal, and local recovery efforts in the areas affected"
    " by severe winter storms, flooding, landslides, and mudslides from {dates}.\n"
    "The President's action makes Federal funding available to affected individuals in the counties of"
    " {counties}. Assistance can include grants for temporary housing and home repairs, low-cost loans to cover"
    " uninsured property losses, and other programs to help individuals and business owners recover.\n"
    "Federal funding is also available to State, tribal, and eligible local governments and certain private"
    " nonprofit organizations on a cost-sharing basis for emergency work and the repair or replacement of"
    " facilities damaged by the storms in the counties of {counties}.\n"
    "Finally, Federal funding is available on a cost-sharing basis for hazard mitigation measures statewide.\n"
    "Deanne Criswell, Administrator of the Federal Emergency Management Agency, named {officer} as the Federal"
    " Coordinating Officer for Federal recovery operations in the affected areas."
)


def test_a_misread_copy_of_one_declaration_never_joins_its_template_sibling(make_document: MakeDocument) -> None:
    """Heavy noise earns a copy some tolerance for names it seems to change; but a name that
    nothing in the copy reads like, replaced by one that reads like nothing in the canonical
    (California for Washington), is another declaration however noisy the copy (a real pair of
    the held-out set: a scanned copy of the opening of California's declaration)."""
    same = {"dates": "January 3 to January 8, 2023", "counties": "Clallam, Clark and Skagit"}
    washington = STATE_DECLARATION.format(state="Washington", officer="Thomas J. Dargan", **same)
    (canonical,) = fingerprint_documents([make_document("wa", washington, title="Washington Disaster Declaration")])
    story = Canonical.of("wa", canonical)
    california_scan = (
        "Today, Presiclent Joseph R. Biden, Jr. declarecl that a major d lsaster exlsts in the Staate of Colif0rnia"
        " and orclered Federa1 assistance to supp1ement State, tribal, and 1ocal recovery eff orts in the areas"
        " affectcd by severe wlnter storms, f1ooding, landslides, and mudsl ides from January 3 to Jauuary 8, 2023."
    )
    washington_scan = california_scan.replace("Colif0rnia", "Washingt0n")
    for doc_id, text in (("ca-scan", california_scan), ("wa-scan", washington_scan)):
        (fp,) = fingerprint_documents([make_document(doc_id, text, title="Disaster Declaration", source="scans")])
        assert (verify(fp, story) is not None) == (doc_id == "wa-scan"), doc_id


def test_headline_change_alone_is_an_exact_copy_of_the_body(seed: Document) -> None:
    retitled = variant(seed, "retitled", seed.body, title="US top diplomat tours Central Asia")
    joined = assign_in_one_batch([seed, retitled])["retitled"]
    assert (joined.story_id, joined.method, joined.similarity) == (seed.id, "exact", 1.0)
    assert joined.differences == ("headline",)


# -- different articles about the same event -------------------------------------------------

DECLARATION = (
    "Today, President Joseph R. Biden, Jr. declared that a major disaster exists in the State of {state} "
    "and ordered Federal aid to supplement State and local recovery efforts in the areas affected by "
    "severe storms, straight-line winds, and flooding from {start} to {end}.\n"
    "The President's action makes Federal funding available to affected individuals in the counties of "
    "{counties}.\n"
    "Assistance can include grants for temporary housing and home repairs, low-cost loans to cover "
    "uninsured property losses, and other programs to help individuals and business owners recover from "
    "the effects of the disaster.\n"
    "Federal funding is also available to State and eligible local governments and certain private "
    "nonprofit organizations on a cost-sharing basis for emergency work in the counties of {counties}.\n"
    "{official} of the Federal Emergency Management Agency named {coordinator} as the Federal Coordinating "
    "Officer for Federal recovery operations in the affected areas.\n"
    "Additional designations may be made at a later date if requested by the State and warranted by the "
    "results of further damage assessments."
)


def declaration(state: str, counties: str, coordinator: str, start: str, end: str) -> str:
    return DECLARATION.format(
        state=state, counties=counties, coordinator=coordinator, start=start, end=end, official="Deanne Criswell"
    )


def test_template_siblings_stay_apart(make_document: MakeDocument) -> None:
    """Two declarations from one template share most words: the names and numbers differ."""
    a = make_document(
        "vermont",
        declaration(
            "Vermont", "Addison, Caledonia, Chittenden and Lamoille", "Mr. Thomas J. Dargan", "July 7", "July 21"
        ),
        title="President Joseph R. Biden, Jr. Approves Vermont Disaster Declaration",
    )
    b = make_document(
        "kentucky",
        declaration("Kentucky", "Breathitt, Clay, Floyd and Harlan", "Ms. Myra M. Shird", "July 26", "August 11"),
        title="President Joseph R. Biden, Jr. Approves Kentucky Disaster Declaration",
    )
    fa, fb = fingerprint_documents([a, b])
    assert signature_similarity(fa.signature, fb.signature) > 0.4  # LSH makes them candidates...
    assignments = assign_in_one_batch([a, b])
    assert assignments["kentucky"].method == "new"  # ...verification keeps them apart


def _segments(count: int, size: int = 40) -> list[str]:
    rng = random.Random(11)
    vocabulary = [f"{w}{i}" for w in ("talks", "envoy", "market", "border", "treaty", "grain") for i in range(60)]
    return [" ".join(rng.choice(vocabulary) for _ in range(size)) for _ in range(count)]


def test_no_chaining_through_a_middle_document(make_document: MakeDocument) -> None:
    """B overlaps A, C overlaps B but not A: C is compared with the canonical A only."""
    seg = _segments(14)
    a = make_document("a", " ".join(seg[0:10]))
    b = make_document("b", " ".join(seg[1:11]))
    c = make_document("c", " ".join(seg[4:14]))
    assignments = assign_in_one_batch([a, b, c])
    assert (assignments["b"].story_id, assignments["b"].method) == ("a", "near")
    assert (assignments["c"].story_id, assignments["c"].method) == ("c", "new")


def test_copies_weeks_apart_are_not_one_story(seed: Document) -> None:
    """A release re-issued a month later is a new story, even word for word."""
    first_seen = seed.first_seen_at + WINDOW + timedelta(days=23)
    later = variant(seed, "reissue", seed.body, first_seen_at=first_seen)
    assert assign_in_one_batch([seed, later])["reissue"].method == "new"


# -- boilerplate pages and feed summaries -----------------------------------------------------

PAYWALL = (
    "Subscribe to continue reading. You have reached your limit of free articles this month. "
    "Already a subscriber? Log in. Get unlimited digital access for $1 a week, cancel anytime."
)


def test_wall_pages_never_join_or_form_stories(make_document: MakeDocument, seed: Document) -> None:
    walls = [make_document(f"wall{i}", PAYWALL, title=seed.title) for i in range(3)]
    article = variant(seed, "after-the-wall", seed.body)
    assignments = assign_in_one_batch([*walls, article, seed])
    for i in range(3):
        assert (assignments[f"wall{i}"].story_id, assignments[f"wall{i}"].kind) == (f"wall{i}", "boilerplate")
    assert assignments[seed.id].story_id == "after-the-wall"  # joins the article, not the walls


def summary(make_document: MakeDocument, doc_id: str, title: str, body: str, source: str, hours: float) -> Document:
    doc = make_document(doc_id, body, title=title, source=source)
    return replace(doc, extraction="feed-summary", first_seen_at=doc.first_seen_at + timedelta(hours=hours))


def test_feed_summaries_join_on_the_same_headline_from_another_source(make_document: MakeDocument) -> None:
    title = "G7 leaders agree new sanctions on Russia at Hiroshima summit"
    a = summary(make_document, "ap", title, "Leaders of the Group of Seven agreed on Friday.", "AP", 0)
    b = summary(make_document, "wsj", title, "The measures target Russia's energy and metals.", "WSJ", 5)
    joined = assign_in_one_batch([a, b])["wsj"]
    assert (joined.story_id, joined.method, joined.kind) == ("ap", "headline", "short")


def test_same_summary_under_other_headlines_is_not_a_reprint(make_document: MakeDocument) -> None:
    """Newsletter blurbs and photo captions repeat under many headlines: traps, not reprints."""
    blurb = "Sign up for our morning newsletter to get the day's top stories delivered to your inbox."
    a = summary(make_document, "a", "Xi hosts Central Asian leaders in Xi'an", blurb, "Outlet", 0)
    b = summary(make_document, "b", "Kazakhstan wins its World Cup qualifier", blurb, "Outlet", 1)
    c = summary(make_document, "c", "Ukraine's grain corridor deal extended", blurb, "Other", 2)
    assert {a.story_id for a in assign_in_one_batch([a, b, c]).values()} == {"a", "b", "c"}


def test_a_recurring_column_from_one_source_is_not_one_story(make_document: MakeDocument) -> None:
    title = "Morning risk report: what to watch today"
    a = summary(make_document, "mon", title, "Banks brace for the new rules on Monday.", "WSJ", 0)
    b = summary(make_document, "tue", title, "Insurers weigh the cost of climate disclosure.", "WSJ", 24)
    assert assign_in_one_batch([a, b])["tue"].method == "new"


def test_a_daily_roundup_naming_other_companies_is_not_one_story(make_document: MakeDocument) -> None:
    """A source's roundup whose summary keeps its template but names other companies each day
    (the WSJ's "Market Talk" roundups) is a series; the same summary a day later is a repost."""
    title = "Health Care Roundup: Market Talk"
    text = "{} and more featured in the latest Market Talks covering the Health Care sector."
    mon = summary(make_document, "mon", title, text.format("Almirall, Fisher & Paykel"), "WSJ", 0)
    tue = summary(make_document, "tue", title, text.format("Exelixis, Fleury"), "WSJ", 24)
    again = summary(make_document, "again", title, text.format("Almirall, Fisher & Paykel"), "WSJ", 26)
    assigned = assign_in_one_batch([mon, tue, again])
    assert assigned["tue"].method == "new" and assigned["again"].story_id == "mon"


NOMINATIONS = "Nominations Sent to the Senate"
SU = "Julie A. Su, of California, to be Secretary of Labor, vice Martin Joseph Walsh."
BERNSTEIN = (
    "Jared Bernstein, of Virginia, to be Chairman of the Council of Economic Advisers, vice Cecilia Elena Rouse."
)


def test_short_whole_texts_under_one_headline_join_only_when_their_texts_agree(make_document: MakeDocument) -> None:
    """Two nomination lists under the stock headline are two texts (a whole short text is not a
    feed summary: its body is all there is); an identical copy still joins its own list."""
    su = make_document("su", SU, title=NOMINATIONS, source="folder-a")
    bernstein = make_document("bernstein", BERNSTEIN, title=NOMINATIONS, source="folder-a")
    copy = make_document("su-copy", SU, title=NOMINATIONS, source="folder-b")
    other = make_document("bernstein-copy", BERNSTEIN, title=NOMINATIONS, source="folder-c")
    assignments = assign_in_one_batch([su, bernstein, copy, other])
    assert (assignments["bernstein"].method, assignments["bernstein"].kind) == ("new", "short")
    assert (assignments["su-copy"].story_id, assignments["su-copy"].method) == ("su", "exact")
    assert (assignments["bernstein-copy"].story_id, assignments["bernstein-copy"].method) == ("bernstein", "exact")


def test_a_short_whole_text_does_not_join_a_long_text_under_its_headline(make_document: MakeDocument) -> None:
    """A few words that are half found in a long list under the same headline (containment 0.5,
    coverage near 0) are not a reprint of it, whatever the source and time."""
    long_list = " ".join(f"Nominee {i} of State {i}, to be Member of Board {i}, vice Person {i}." for i in range(60))
    full = make_document("list", long_list + " " + BERNSTEIN, title=NOMINATIONS, source="folder-a")
    short = make_document("su", SU, title=NOMINATIONS, source="folder-b")
    assert assign_in_one_batch([full, short])["su"].method == "new"


def test_a_short_whole_text_still_joins_the_text_it_was_cut_from(make_document: MakeDocument, seed: Document) -> None:
    """The opening of an article under the article's headline is its reprint (a truncation)."""
    cut = variant(seed, "cut", " ".join(seed.body.split()[:20]))
    joined = assign_in_one_batch([seed, cut])["cut"]
    assert (joined.story_id, joined.method, joined.kind) == (seed.id, "headline", "short")


def test_a_short_hard_wrapped_statement_file_is_an_article(tmp_path: Path, now: datetime) -> None:
    """A statement of two wrapped paragraphs (five lines cut mid-sentence) is unwrapped like a
    long one; left wrapped, its lines looked like a page without prose (boilerplate), so its
    identical copies in other folders each started a story of their own."""
    text = (
        "Statement by White House Press Secretary on the State of the Union\n\n"
        "The President is grateful for and accepts Speaker McCarthy's prompt\n"
        "invitation to address the peoples' representatives in Congress.\n\n"
        "He looks forward to speaking with Republicans, Democrats, and the\n"
        "country about how we can work together to continue building an economy\n"
        "that works from the bottom up and the middle out, keep boosting our\n"
        "competitiveness in the world, keep the American people safe, and bring\n"
        "the country together.\n"
    )
    docs = []
    for folder in ("a", "b", "c"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "0068_statement.txt").write_text(text, encoding="utf-8")
        docs.extend(read_documents(tmp_path / folder, now).documents)
    assignments = list(assign_in_one_batch(docs).values())
    assert [a.kind for a in assignments] == ["full"] * 3
    assert [a.method for a in assignments] == ["new", "exact", "exact"]


# -- signatures and bands ------------------------------------------------------------------------


def test_signature_estimates_jaccard_similarity() -> None:
    rng = np.random.default_rng(5)
    base = rng.integers(0, 2**63, 4000, dtype=np.uint64)
    half = np.concatenate([base[:2000], rng.integers(0, 2**63, 2000, dtype=np.uint64)])  # Jaccard 1/3
    same, other = oph_signatures([base, base.copy()]), oph_signatures([base, half])
    assert np.array_equal(same[0], same[1])
    estimate = float(np.mean(other[0] == other[1]))
    assert abs(estimate - 1 / 3) < 0.12


def test_band_hashes_are_deterministic_with_shape_n_by_bands(make_document: MakeDocument) -> None:
    docs = [make_document(f"d{i}", f"document number {i} about the talks in Astana and Tashkent") for i in range(5)]
    sigs = np.stack([fp.signature for fp in fingerprint_documents(docs)])
    assert sigs.shape == (5, SIGNATURE_SIZE)
    first = band_hashes(sigs)
    assert first.shape == (5, BANDS) and first.dtype == np.int64
    again = np.stack([fp.signature for fp in fingerprint_documents(docs)])
    assert np.array_equal(first, band_hashes(again))
    assert np.array_equal(band_hashes(sigs[2:3]), first[2:3])


def test_changing_one_signature_value_changes_exactly_its_band(make_document: MakeDocument) -> None:
    (fp,) = fingerprint_documents([make_document("d", "the foreign ministers met in Astana on Tuesday")])
    rows = BINS // (BANDS // 2)
    for position, band in ((rows * 5 + 1, 5), (BINS + rows * 2, BANDS // 2 + 2)):
        changed = fp.signature.copy()
        changed[position] += 1
        diff = band_hashes(fp.signature[None, :]) != band_hashes(changed[None, :])
        assert diff.tolist() == [[i == band for i in range(BANDS)]]


def test_signature_round_trips_through_bytes(make_document: MakeDocument) -> None:
    (fp,) = fingerprint_documents([make_document("d", "the foreign ministers met in Astana on Tuesday")])
    blob = fp.signature_bytes()
    assert len(blob) == 4 * SIGNATURE_SIZE
    assert np.array_equal(signature_from_bytes(blob), fp.signature)


def test_char_shingles_ignore_case_and_punctuation(make_document: MakeDocument) -> None:
    a, b = fingerprint_documents(
        [make_document("a", "The U.N. met, in Geneva!"), make_document("b", "the u n met in geneva")]
    )
    assert np.array_equal(char_shingles(a.text.tokens), char_shingles(b.text.tokens))
    assert a.exact_key == b.exact_key


def test_empty_batch() -> None:
    assert assign_stories([], {}, {}, {}) == []


# -- the persistent index ------------------------------------------------------------------------


def _dedupe_and_store(store: Store, docs: Sequence[Document], run_id: str, now: datetime) -> list[StoryAssignment]:
    store.runs.start(run_id, now, "test")
    deduped = dedupe_batch(store, list(docs), 0.5)
    fps, assignments = deduped.fingerprints, deduped.assignments
    store_batch(store, run_id, now, list(docs), Deduped.of(fps, assignments), [])
    store.runs.finish(run_id, "completed", now)
    return assignments


@pytest.fixture
def reprints(seed: Document, seeds: dict[str, Document]) -> list[Document]:
    paragraphs = paragraphs_of(seed)
    later = seed.first_seen_at + timedelta(hours=3)
    return [
        variant(seed, "cut", "\n".join(paragraphs[:4]), title="Blinken in Central Asia", first_seen_at=later),
        variant(seed, "copy", seed.body, first_seen_at=later),
        variant(seeds[FIRST_SEED], "other-copy", seeds[FIRST_SEED].body, first_seen_at=later),
    ]


def test_later_runs_find_stored_stories_through_the_index(
    tmp_path: Path, seeds: dict[str, Document], reprints: list[Document], now: datetime
) -> None:
    """Two runs give the stories one batch would: the stored canonicals are found by key and band."""
    together = assign_in_one_batch([*seeds.values(), *reprints])
    store = Store.open_writer(tmp_path / "db.duckdb")
    try:
        _dedupe_and_store(store, list(seeds.values()), "run-1", now)
        assert store.con.execute("SELECT count(*), count(DISTINCT story_id) FROM story_index").fetchall() == [(2, 2)]
        second = _dedupe_and_store(store, reprints, "run-2", now)
        assert [(a.story_id, a.method) for a in second] == [
            (together[a.document_id].story_id, together[a.document_id].method) for a in second
        ]
        assert [a.method for a in second] == ["near", "exact", "exact"]
        # only new canonicals are indexed: the copies added no index rows
        assert store.con.execute("SELECT count(*) FROM story_index").fetchall() == [(2,)]
    finally:
        store.close(snapshot=False)


def test_a_rerun_produces_the_same_stories(
    tmp_path: Path, seeds: dict[str, Document], reprints: list[Document], now: datetime
) -> None:
    store = Store.open_writer(tmp_path / "db.duckdb")
    try:
        docs = [*seeds.values(), *reprints]
        first = _dedupe_and_store(store, docs, "run-1", now)
        snapshot = store.con.execute("SELECT * FROM story_members ORDER BY document_id").fetchall()
        index = store.con.execute("SELECT * FROM story_index ORDER BY story_id").fetchall()
        again = _dedupe_and_store(store, docs, "run-2", now)
        assert [(a.document_id, a.story_id) for a in again] == [(a.document_id, a.story_id) for a in first]
        assert store.con.execute("SELECT * FROM story_index ORDER BY story_id").fetchall() == index
        members = store.con.execute("SELECT document_id, story_id, method FROM story_members ORDER BY 1").fetchall()
        assert members == [(r[0], r[1], r[3]) for r in snapshot]
    finally:
        store.close(snapshot=False)


def test_lineage_views(tmp_path: Path, seeds: dict[str, Document], reprints: list[Document], now: datetime) -> None:
    store = Store.open_writer(tmp_path / "db.duckdb")
    try:
        origin_seed = replace(seeds[SECOND_SEED], origin="WeChat official account: Example")
        _dedupe_and_store(store, [seeds[FIRST_SEED], origin_seed, *reprints], "run-1", now)
        story = origin_seed.id
        (row,) = store.con.execute(
            "SELECT documents, reprints, sources, origin, canonical_document_id FROM v_stories WHERE story_id = ?",
            [story],
        ).fetchall()
        assert row == (3, 2, 3, "WeChat official account: Example", story)
        reprint_rows = store.con.execute(
            "SELECT document_id, is_canonical, method, differences, lag FROM v_reprints WHERE story_id = ?"
            " ORDER BY document_id",
            [story],
        ).fetchall()
        by_id = {r[0]: r[1:] for r in reprint_rows}
        assert by_id[story][:2] == (True, "new")
        assert by_id["cut"][1:3] == ("near", ["headline", "truncated"])
        assert by_id["cut"][3] == timedelta(hours=3)
        assert by_id["copy"][1] == "exact"
    finally:
        store.close(snapshot=False)


def test_stories_stored_before_the_index_are_indexed_on_the_next_run(
    tmp_path: Path, seeds: dict[str, Document], reprints: list[Document], now: datetime
) -> None:
    """An upgraded database queues its stories; the next dedupe step indexes them first."""
    path = tmp_path / "db.duckdb"
    store = Store.open_writer(path)
    try:
        _dedupe_and_store(store, list(seeds.values()), "run-1", now)
        store.con.execute("DELETE FROM lsh_bands")
        store.con.execute("DELETE FROM story_index")
        store.con.execute("INSERT INTO story_index_backlog SELECT id FROM stories")
    finally:
        store.close(snapshot=False)
    store = Store.open_writer(path)
    try:
        second = _dedupe_and_store(store, reprints, "run-2", now)
        assert [a.method for a in second] == ["near", "exact", "exact"]
        assert store.con.execute("SELECT count(*) FROM story_index_backlog").fetchall() == [(0,)]
    finally:
        store.close(snapshot=False)


def test_an_index_of_the_previous_scheme_is_rebuilt_after_the_upgrade(
    tmp_path: Path, seeds: dict[str, Document], reprints: list[Document], now: datetime
) -> None:
    """Migration 0009 drops the band rows of the previous shingling and queues every story: the
    next dedupe step re-indexes them before looking anything up, so stored stories keep
    attracting their reprints."""
    path = tmp_path / "db.duckdb"
    store = Store.open_writer(path)
    try:
        _dedupe_and_store(store, list(seeds.values()), "run-1", now)
        store.con.execute("UPDATE lsh_bands SET band_key = band_key + 1")  # bands no new document can share
        store.con.execute("DELETE FROM schema_migrations WHERE version >= 9")
        # a database of the release before 0009 has none of the later migrations' objects either
        store.con.execute("DROP VIEW v_topic_reviews")
        store.con.execute("DROP TABLE review_items; DROP TABLE review_strata; DROP TABLE review_members")
        store.con.execute("DROP TABLE topic_reviews")
        store.con.execute("ALTER TABLE runs DROP COLUMN kind; ALTER TABLE runs DROP COLUMN seq")
    finally:
        store.close(snapshot=False)
    store = Store.open_writer(path)
    try:
        assert store.con.execute("SELECT count(*) FROM lsh_bands").fetchall() == [(0,)]
        assert store.con.execute("SELECT count(*) FROM story_index_backlog").fetchall() == [(2,)]
        assert store.stories.backlog_size() == 2  # what the run announces before it re-indexes
        second = _dedupe_and_store(store, reprints, "run-2", now)
        assert [a.method for a in second] == ["near", "exact", "exact"]
        assert store.con.execute("SELECT count(*) FROM story_index_backlog").fetchall() == [(0,)]
        assert store.con.execute("SELECT count(*) FROM lsh_bands").fetchall() == [(2 * BANDS,)]
        assert store.stories.backlog_size() == 0
    finally:
        store.close(snapshot=False)


def test_stories_indexed_before_the_token_folds_are_indexed_again(
    tmp_path: Path, make_document: MakeDocument, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Migration 0015: a story whose canonical holds ё, indexed when ё was not read as е, is
    queued and indexed again, so a headline printed with е joins it; a story without such
    characters keeps its index rows."""
    import newsmon.dedupe as dedupe_module

    kind = "feed-summary"
    first = replace(make_document("a", "", title="Мирзиёев и Токаев обсудили объединённый рынок"), extraction=kind)
    other = replace(make_document("o", "", title="Токаев провел переговоры с Путиным в Астане"), extraction=kind)
    copy = replace(make_document("b", "", title="Мирзиеев и Токаев обсудили объединенный рынок", source="two"),
                   extraction=kind)  # fmt: skip
    path = tmp_path / "db.duckdb"
    store = Store.open_writer(path)
    try:
        with monkeypatch.context() as patch:  # the release before: ё kept as it is
            patch.setattr(dedupe_module, "_TOKEN_FOLD", {})
            _dedupe_and_store(store, [first, other], "run-1", now)
        store.con.execute("DELETE FROM schema_migrations WHERE version >= 15")
    finally:
        store.close(snapshot=False)
    store = Store.open_writer(path)
    try:
        queued = store.con.execute("SELECT s.canonical_document_id FROM story_index_backlog b"
                                   " JOIN stories s ON s.id = b.story_id").fetchall()  # fmt: skip
        assert queued == [("a",)]
        kept = store.con.execute("SELECT count(*) FROM story_index i JOIN stories s ON s.id = i.story_id"
                                 " WHERE s.canonical_document_id = 'o'").fetchall()  # fmt: skip
        assert kept == [(1,)]
        (joined,) = _dedupe_and_store(store, [copy], "run-2", now)
        assert (
            joined.story_id
            == store.con.execute("SELECT story_id FROM story_members WHERE document_id = 'a'").fetchone()[0]
        )
    finally:
        store.close(snapshot=False)


def test_a_headline_only_copy_has_no_similarity_rather_than_none_alike(
    tmp_path: Path, make_document: MakeDocument, now: datetime
) -> None:
    """A feed item joined by its headline with no text to compare has similarity NULL (not
    compared), not 0; migration 0016 turns the zeros stored before into NULL."""
    kind = "feed-summary"
    title = "Tokayev and Mirziyoyev agree on a joint water council"
    summary = "The presidents of Kazakhstan and Uzbekistan met in Tashkent and signed a water accord."
    first = replace(make_document("a", summary, title=title), extraction=kind)
    bare = replace(make_document("b", "", title=title, source="two"), extraction=kind)
    path = tmp_path / "db.duckdb"
    store = Store.open_writer(path)
    try:
        _, joined = _dedupe_and_store(store, [first, bare], "run-1", now)
        assert (joined.method, joined.similarity, joined.story_id) == ("headline", None, "a")
        query = "SELECT method, similarity FROM v_reprints WHERE document_id = 'b'"
        assert store.con.execute(query).fetchall() == [("headline", None)]
        assert store.con.execute("SELECT min_similarity FROM v_stories").fetchall() == [(None,)]
        store.con.execute("UPDATE story_members SET similarity = 0 WHERE document_id = 'b'")  # as stored before
        store.con.execute("DELETE FROM schema_migrations WHERE version >= 16")
    finally:
        store.close(snapshot=False)
    store = Store.open_writer(path)
    try:
        assert store.con.execute(query).fetchall() == [("headline", None)]
        assert store.con.execute("SELECT similarity FROM story_members WHERE document_id = 'a'").fetchall() == [(1.0,)]
    finally:
        store.close(snapshot=False)


MISREADS = {"l": "1", "o": "0", "e": "c", "c": "e", "m": "rn", "n": "u", "u": "n", "i": "l", "t": "f", "d": "cl"}


def misread(text: str, rate: float, seed: int) -> str:
    """Scanner misreads: about ``rate`` of the letters read as a confusable one, and some words
    split in two or run into the next."""
    rng = random.Random(seed)
    out = []
    for ch in text:
        roll = rng.random()
        if ch in MISREADS and roll < rate:
            out.append(MISREADS[ch])
        elif ch.isalpha() and roll < rate * 1.1:
            out.append(ch + " ")
        elif ch == " " and roll < rate / 4:
            continue
        else:
            out.append(ch)
    return "".join(out)


def test_a_badly_misread_copy_still_shares_lsh_bands_with_its_original(seed: Document) -> None:
    """Candidates come from LSH bands: shingles of the OCR skeleton survive misread letters and
    split words, so even a copy with a sixth of its letters misread is found."""
    (original,) = fingerprint_documents([seed])
    found = 0
    for n in range(12):
        copy = variant(seed, f"scan{n}", misread(seed.body, 0.17, seed=n))
        (fp,) = fingerprint_documents([copy])
        found += bool(np.isin(band_hashes(fp.signature[None, :]), band_hashes(original.signature[None, :])).any())
    assert found == 12


def test_lookups_read_only_the_join_window(tmp_path: Path, seed: Document, now: datetime) -> None:
    """A copy far outside the window is not even a candidate: the lookup filters by day."""
    store = Store.open_writer(tmp_path / "db.duckdb")
    try:
        _dedupe_and_store(store, [seed], "run-1", now)
        late = variant(seed, "late", seed.body, first_seen_at=seed.first_seen_at + timedelta(days=60))
        (fp,) = fingerprint_documents([late])
        assert store.stories.band_candidates(dedupe_keys([fp])) == {}
        assert store.stories.key_matches(dedupe_keys([fp])) == ({}, {})
        soon = variant(seed, "soon", seed.body, first_seen_at=seed.first_seen_at + timedelta(days=2))
        (fp,) = fingerprint_documents([soon])
        assert store.stories.band_candidates(dedupe_keys([fp])) == {"soon": {seed.id: BANDS}}
    finally:
        store.close(snapshot=False)


def test_a_changed_copy_keeps_its_story_when_the_run_is_past_the_window(tmp_path: Path, seeds_dir: Path) -> None:
    """A reprint whose text changes is deduped again from when it was first seen, not from the
    run's clock: edited nine days after it appeared (past the 7-day window from the run's clock,
    within it from its own time), it stays in its original's story, and no new story alerts."""
    folder, original = tmp_path / "in", (seeds_dir / SECOND_SEED).read_text(encoding="utf-8")
    folder.mkdir()
    settings = Settings(db=tmp_path / "news.duckdb", seeds=folder, alerts_dir=tmp_path / "alerts", extract_workers=1)

    def run(day: int, reprint: str | None) -> RunSummary:
        if reprint is not None:
            (folder / "b.txt").write_text(reprint, encoding="utf-8")
        store = Store.open_writer(settings.db)
        try:
            clock = datetime(2023, 9, day, 20, tzinfo=UTC)
            return run_once(RunContext(settings, store, load_topics(settings.topics_path), clock, f"run-{day}"))
        finally:
            store.close(snapshot=False)

    (folder / "a.txt").write_text(original, encoding="utf-8")
    assert run(15, None).stories_new == 1
    reprint = original.replace("Source link", "Share this:")
    assert run(16, reprint).stories_new == 0
    reprint = reprint.replace(" the ", " a ", 1)
    assert run(17, reprint).stories_new == 0
    reprint = reprint.replace(" and ", " or ", 1)
    late = run(25, reprint)
    assert (late.documents_new, late.documents_unchanged, late.stories_new, late.alerts) == (0, 1, 0, [])
    store = Store.open_writer(settings.db)
    try:
        rows = store.con.execute(
            "SELECT regexp_extract(url, '[^/]+$'), story_id, is_canonical, first_seen_at FROM v_documents ORDER BY 1"
        ).fetchall()
    finally:
        store.close(snapshot=False)
    (a, a_story, a_canonical, a_seen), (b, b_story, b_canonical, b_seen) = rows
    assert (a, b) == ("a.txt", "b.txt") and a_story == b_story and a_canonical and not b_canonical
    assert (a_seen.day, b_seen.day) == (15, 16)  # the document keeps when it was first seen


GERMAN = (
    "Die Europäische Union hat am Freitag ein weiteres Sanktionspaket gegen Russland beschlossen. "
    "Die Maßnahmen richten sich gegen Unternehmen, die militärisch nutzbare Technologie über Drittstaaten "
    "liefern, sowie gegen mehrere Banken und Reedereien. Die Außenminister der Mitgliedstaaten einigten sich "
    "nach wochenlangen Verhandlungen auf die Liste. Ungarn hatte zunächst Vorbehalte angemeldet, stimmte "
    "aber schließlich zu. Die Kommission kündigte an, die Umsetzung der Beschränkungen streng zu überwachen "
    "und Umgehungsgeschäfte konsequent zu verfolgen. Der ukrainische Präsident begrüßte die Entscheidung und "
    "forderte zugleich schärfere Kontrollen der Exporte in die Nachbarländer Russlands."
)


UKRAINIAN = (
    "Президент України заявив, що пошкоджений об’єкт енергетики у Харкові відновлять за п’ять тижнів. "
    "За його словами, ремонтні бригади вже працюють на місці, а сім’ї, які залишилися без світла, "
    "отримають тимчасове живлення від мобільних генераторів. Міська рада скликала позачерговий з’їзд "
    "депутатів, щоб ухвалити рішення про додаткове фінансування. Уряд пообіцяв компенсувати збитки "
    "підприємствам, а міжнародні партнери запропонували обладнання для швидшого відновлення мережі. "
    "Мер міста подякував рятувальникам і закликав мешканців економно витрачати електроенергію."
)


def _with_soft_hyphens(text: str) -> str:
    """Two soft hyphens in every word of nine letters or more, as German sites set them."""
    return " ".join(
        f"{w[:3]}\u00ad{w[3:6]}\u00ad{w[6:]}" if len(w) >= 9 and w.isalpha() else w for w in text.split(" ")
    )


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ((_with_soft_hyphens("Neue Sanktionen gegen Russland"), _with_soft_hyphens(GERMAN)),
         ("Neue Sanktionen gegen Russland", GERMAN)),
        (("Зеленський: обʼєкт у Харкові відновлять", UKRAINIAN.replace("’", "ʼ")),
         ("Зеленський: об’єкт у Харкові відновлять", UKRAINIAN)),
        (("Зеленський: Вʼячеслав відповість за обстріл Харкова", ""),  # headlines alone (feed summaries)
         ("Зеленський: В’ячеслав відповість за обстріл Харкова", "")),
        (("Neue Sank\u00adtio\u00adnen gegen Russland beschlossen", ""),
         ("Neue Sanktionen gegen Russland beschlossen", "")),
        (("Мирзиёев и Токаев обсудили объединённый рынок", ""),
         ("Мирзиеев и Токаев обсудили объединенный рынок", "")),
    ],
)  # fmt: skip
def test_invisible_marks_and_apostrophe_letters_do_not_keep_a_reprint_apart(
    make_document: MakeDocument, first: tuple[str, str], second: tuple[str, str]
) -> None:
    """A soft hyphen inside words, ʼ (a letter to Unicode) for ’, or ё printed as е: the same
    text (the copy with soft hyphens stood alone at containment 0.50)."""
    kind = "article" if first[1] else "feed-summary"
    a = replace(make_document("a", first[1], title=first[0], source="one"), extraction=kind)
    b = replace(make_document("b", second[1], title=second[0], source="two"), extraction=kind)
    assert assign_in_one_batch([a, b])["b"].story_id == "a"
