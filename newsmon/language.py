"""The language of a document, detected from its text with py3langid.

The model (about 1.2 s to load) is loaded lazily, once per process, on the first text to
detect. Only the start of the text is read (:data:`SAMPLE_CHARS`): on headline-and-summary
texts py3langid is about as accurate as on whole articles, and cost grows with length
(``python -m benchmarks.language`` compares detectors on short texts).

A document keeps two languages: ``language``, what the page or feed *declares*
(``<html lang>``, the feed's ``<language>``), and ``detected_language``, this module's
reading of the text; ``v_documents.language`` shows the declared one, else the detected one.

The model is decompressed in memory (py3langid's own loader streams its 68 MB through a
temporary file, which fails on a full disk). If it cannot be loaded at all, detection is off
for the process, with one warning: a language is an annotation, never a reason to fail a run.
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
_unavailable = False  # the model could not be loaded: detection is off in this process


def _load_identifier() -> Any:
    """py3langid's identifier with normalized probabilities, its model decompressed in memory."""
    import io
    import lzma

    import numpy as np
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier
    from py3langid.modelio import _to_array

    with lzma.open(MODEL_DIR / MODEL_FILE) as src, np.load(io.BytesIO(src.read()), allow_pickle=False) as data:
        return LanguageIdentifier(
            np.asarray(data["ptc"]),
            np.asarray(data["pc"]),
            data["classes"].tolist(),
            _to_array(data["nextmove"]),
            data["out_feat"].tolist(),
            norm_probs=True,
            tk_row=_to_array(data["nextmove_row"]),
        )


def _model() -> Any:
    """The identifier, loaded once per process; None when it cannot be loaded (warned once)."""
    global _identifier, _unavailable
    if _identifier is None and not _unavailable:
        with _lock:
            if _identifier is None and not _unavailable:
                try:
                    _identifier = _load_identifier()
                except Exception as exc:
                    _unavailable = True
                    log.warning("language detection is off: py3langid's model could not be loaded (%s)", exc)
    return _identifier


def detect_language(text: str) -> str | None:
    """The ISO 639-1 code of the text's language (``en``, ``de``, ``zh``), or None when the
    text is too short or the reading too uncertain."""
    sample = " ".join(text[: 2 * SAMPLE_CHARS].split())[:SAMPLE_CHARS]
    if sum(ch.isalpha() for ch in sample) < MIN_LETTERS:
        return None
    model = _model()
    if model is None:
        return None
    code, probability = model.classify(sample)
    return str(code) if probability >= MIN_PROBABILITY else None


def with_languages(documents: Sequence[Document]) -> list[Document]:
    """The documents with ``detected_language`` filled in from title and body where missing."""
    return [
        d if d.detected_language is not None else replace(d, detected_language=detect_language(f"{d.title}\n{d.body}"))
        for d in documents
    ]
