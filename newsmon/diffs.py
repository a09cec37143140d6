"""A short word diff of a copy against its story's canonical: what a reprint added, dropped or
changed, with long unchanged stretches folded, so an analyst sees at a glance how a copy differs.
"""

from __future__ import annotations

import difflib
import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)

MAX_WORDS = 4000  # words of each text compared: enough for an article, bounded for the page


@dataclass(frozen=True, slots=True)
class DiffSegment:
    """A run of words: ``same`` (in both), ``removed`` (canonical only), ``added`` (copy only), or
    ``folded`` (``text`` says how many unchanged words were left out)."""

    kind: str
    text: str


@dataclass(frozen=True, slots=True)
class WordDiff:
    """The segments of a diff, and its word counts."""

    segments: list[DiffSegment]
    added: int
    removed: int
    same: int
    truncated: bool  # a text was longer than MAX_WORDS: only its start was compared

    @property
    def identical(self) -> bool:
        """True when the copy has the canonical's words, in order."""
        return self.added == 0 and self.removed == 0


def word_diff(canonical: str, copy: str, context: int = 8, max_words: int = MAX_WORDS) -> WordDiff:
    """Compare ``copy`` with ``canonical`` word by word (whitespace ignored).

    Unchanged stretches longer than ``2 * context`` words keep ``context`` words on each side of a
    change and fold the rest into one ``folded`` segment.
    """
    old, new = canonical.split(), copy.split()
    truncated = len(old) > max_words or len(new) > max_words
    old, new = old[:max_words], new[:max_words]
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    segments: list[DiffSegment] = []
    added = removed = same = 0
    opcodes = matcher.get_opcodes()
    for n, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        if tag == "equal":
            same += i2 - i1
            segments.extend(_fold(old[i1:i2], context, first=n == 0, last=n == len(opcodes) - 1))
            continue
        if tag in ("replace", "delete"):
            removed += i2 - i1
            segments.append(DiffSegment("removed", " ".join(old[i1:i2])))
        if tag in ("replace", "insert"):
            added += j2 - j1
            segments.append(DiffSegment("added", " ".join(new[j1:j2])))
    return WordDiff(segments, added, removed, same, truncated)


def _fold(words: list[str], context: int, first: bool, last: bool) -> list[DiffSegment]:
    """An unchanged stretch: whole when short, else its ends around a folded middle (no leading
    context before the first change, no trailing context after the last)."""
    head = 0 if first else context
    tail = 0 if last else context
    if len(words) <= head + tail + 3:
        return [DiffSegment("same", " ".join(words))]
    out: list[DiffSegment] = []
    if head:
        out.append(DiffSegment("same", " ".join(words[:head])))
    out.append(DiffSegment("folded", f"{len(words) - head - tail} unchanged words"))
    if tail:
        out.append(DiffSegment("same", " ".join(words[-tail:])))
    return out
