"""Language per document (newsmon.language) and where it is stored (documents.detected_language)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest

from newsmon.language import detect_language, with_languages
from newsmon.models import Document
from newsmon.steps import dedupe_batch, store_batch
from storage.store import Store

MakeDocument = Callable[..., Document]

SHORT_TEXTS = {
    "en": "Ministers meet in Astana to discuss a new rail corridor to the Caspian Sea",
    "de": "Die Außenminister treffen sich in Astana, um über einen neuen Bahnkorridor zu sprechen",
    "fr": "Les ministres se réunissent à Astana pour discuter d'un nouveau corridor ferroviaire",
    "ru": "Министры встретились в Астане, чтобы обсудить новый железнодорожный коридор",
    "zh": "各国外长在阿斯塔纳会面，讨论通往里海的新铁路走廊。",
    "ja": "外相らはアスタナで会談し、カスピ海への新しい鉄道回廊について協議した。",
}


@pytest.mark.parametrize(("lang", "text"), sorted(SHORT_TEXTS.items()))
def test_short_headlines_are_read_in_their_language(lang: str, text: str) -> None:
    assert detect_language(text) == lang


def test_too_little_text_has_no_language() -> None:
    assert detect_language("") is None
    assert detect_language("12:40 — 3/4") is None


def test_detection_fills_only_what_is_missing(make_document: MakeDocument) -> None:
    fresh = make_document("a", SHORT_TEXTS["de"], title="Bahnkorridor")
    kept = replace(make_document("b", SHORT_TEXTS["ru"]), detected_language="xx")
    out = with_languages([fresh, kept])
    assert out[0].detected_language == "de" and out[0].language is None  # the declared one is not touched
    assert out[1].detected_language == "xx"


def test_the_detected_language_is_stored_and_shown(make_document: MakeDocument, tmp_path: Path, now: datetime) -> None:
    docs = [
        make_document("de1", SHORT_TEXTS["de"] + ". " + SHORT_TEXTS["de"], title="Bahnkorridor"),
        replace(make_document("ru1", SHORT_TEXTS["ru"], title="Коридор"), language="uk"),  # declared by its page
    ]
    store = Store.open_writer(tmp_path / "lang.duckdb")
    try:
        store_batch(store, "run1", now, docs, dedupe_batch(store, docs, 0.5), [])
        rows = store.db.execute("SELECT id, language, detected_language FROM v_documents ORDER BY id")
    finally:
        store.close(snapshot=False)
    assert rows == [("de1", "de", "de"), ("ru1", "uk", "ru")]  # declared first, else detected


def test_the_model_is_read_without_writing_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """py3langid's own loader writes its 68 MB model to a temporary file; ours decompresses it in
    memory, so a full temporary disk cannot stop a run (here: no temporary file can be made)."""
    import tempfile

    import newsmon.language as language

    def refuse(*args: object, **kwargs: object) -> object:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tempfile, "TemporaryFile", refuse)
    monkeypatch.setattr(tempfile, "NamedTemporaryFile", refuse)
    monkeypatch.setattr(language, "_identifier", None)
    monkeypatch.setattr(language, "_unavailable", False)
    assert language.detect_language(SHORT_TEXTS["de"]) == "de"


def test_a_model_that_cannot_load_turns_detection_off_with_one_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import newsmon.language as language

    def broken() -> object:
        raise OSError(27, "File too large")

    monkeypatch.setattr(language, "_load_identifier", broken)
    monkeypatch.setattr(language, "_identifier", None)
    monkeypatch.setattr(language, "_unavailable", False)
    with caplog.at_level("WARNING", logger="newsmon.language"):
        assert [language.detect_language(SHORT_TEXTS[lang]) for lang in ("en", "ru")] == [None, None]
    warnings = [r.getMessage() for r in caplog.records if r.name == "newsmon.language"]
    assert len(warnings) == 1 and "language detection is off" in warnings[0] and "File too large" in warnings[0]
