"""The same documents in the same arrival order give the same stories and tags, whatever the
process's string hash seed.

Real White House documents of 2023 from ``../shared/data`` (templated families: national
emergency notices, disaster declarations, nominations, whose reprint candidates crowd the
candidate list), with OCR-noised copies of some of them, written as plain-text files: all
are first seen at the same time, so every one is inside every other's join window.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from support import REPO, python_path

NOW = datetime(2023, 6, 1, 12, 0, tzinfo=UTC)
FAMILIES = (
    "continuation of the national emergency",
    "disaster declaration",
    "nominations sent to the senate",
    "withdrawal sent to the senate",
    "memorandum on the delegation",
)
OCR = {"l": "1", "o": "0", "e": "c", "a": "o", "m": "rn", "n": "u", "i": "l", "t": "f", "d": "cl"}


def ocr_noise(text: str, rate: float, rng: random.Random) -> str:
    """Replace about ``rate`` of the letters with OCR look-alikes."""
    return "".join(OCR[ch] if ch in OCR and rng.random() < rate else ch for ch in text)


def white_house(shared: Path, wanted: int | None = None) -> list[tuple[int, str, str]]:
    """(index, title, text) of the documents of the families above, then of the first others
    up to ``wanted`` documents in all."""
    rows = []
    with gzip.open(shared / "documents" / "wh-2023.jsonl.gz", "rt", encoding="utf-8") as lines:
        for i, line in enumerate(lines):
            record = json.loads(line)
            rows.append((i, " ".join(record["title"].split()), record["text"]))
    family = [r for r in rows if any(f in r[1].lower() for f in FAMILIES)]
    others = [r for r in rows if r not in family][: max(0, (wanted or 0) - len(family))]
    return sorted(family + others)


# -- string hash seed (subprocesses) ----------------------------------------------------------

_COMPARE = """
import dataclasses, json, sys
from newsmon.dedupe import compare_texts, prepare_text
pairs = json.load(open(sys.argv[1], encoding="utf-8"))
print(json.dumps([dataclasses.astuple(compare_texts(prepare_text(t, c), prepare_text(t, o))) for t, c, o in pairs]))
"""


def test_noisy_copies_compare_the_same_under_any_string_hash_seed(shared_data: Path, tmp_path: Path) -> None:
    """Correcting a noisy copy's near-miss spellings must not depend on set order (which
    follows the process's hash seed): 'wou1d' is 'would' in every process."""
    rng = random.Random(7)
    pairs = []
    for _, title, text in white_house(shared_data, 0)[:120]:
        pairs.append((title, ocr_noise(text, 0.04, rng), text))
    data = tmp_path / "pairs.json"
    data.write_text(json.dumps(pairs), encoding="utf-8")
    results = []
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": python_path(REPO)}
        done = subprocess.run(
            [sys.executable, "-c", _COMPARE, str(data)], env=env, capture_output=True, text=True, check=True
        )
        results.append(json.loads(done.stdout))
    changed = [i for i in range(len(pairs)) if not results[0][i] == results[1][i] == results[2][i]]
    assert changed == []
