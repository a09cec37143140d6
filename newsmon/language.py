"""The language of a document, detected from its text with py3langid.

The model (about 1.2 s to load) is loaded lazily, once per process, on the first text to
detect. Only the start of the text is read (:data:`SAMPLE_CHARS`): on headline-and-summary
texts py3langid is about as accurate as on whole articles, and cost grows with length
(``python -m benchmarks.language`` compares detectors on short texts).

A document keeps two languages: ``language``, what the page or feed *declares*
(``<html lang>``, the feed's ``<language>``), and ``detected_language``, this module's
reading of the text; ``v_documents.language`` shows the detected one first.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from newsmon.models import Document

log = logging.getLogger(__name__)

SAMPLE_CHARS = 400  # the start of the text that is read
MIN_LETTERS = 12  # fewer letters than this: no language
MIN_PROBABILITY = 0.5  # a weaker reading is no reading

_lock = threading.Lock()
_identifier: Any = None


def _model() -> Any:
    """py3langid's identifier with normalized probabilities, loaded once per process."""
    global _identifier
    if _identifier is None:
        with _lock:
            if _identifier is None:
                from py3langid.langid import MODEL_FILE, LanguageIdentifier

                _identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    return _identifier


def detect_language(text: str) -> str | None:
    """The ISO 639-1 code of the text's language (``en``, ``de``, ``zh``), or None when the
    text is too short or the reading too uncertain."""
    sample = " ".join(text[: 2 * SAMPLE_CHARS].split())[:SAMPLE_CHARS]
    if sum(ch.isalpha() for ch in sample) < MIN_LETTERS:
        return None
    code, probability = _model().classify(sample)
    return str(code) if probability >= MIN_PROBABILITY else None


def with_languages(documents: Sequence[Document]) -> list[Document]:
    """The documents with ``detected_language`` filled in from title and body where missing."""
    return [
        d if d.detected_language is not None else replace(d, detected_language=detect_language(f"{d.title}\n{d.body}"))
        for d in documents
    ]
