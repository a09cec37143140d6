"""The same documents in the same arrival order give the same stories and tags, whatever the
batch size, the number of workers, the process's string hash seed, and whether a run was
killed and resumed.

Real White House documents of 2023 from ``../shared/data`` (templated families: national
emergency notices, disaster declarations, nominations, whose reprint candidates crowd the
candidate list), with OCR-noised copies of some of them, written as plain-text files: all
are first seen at the same time, so every one is inside every other's join window.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from support import REPO, python_path, require_shared

from benchmarks.determinism import (
    NOW,
    Outcome,
    differences,
    feed_entries,
    ocr_noise,
    outcome,
    run_bare_process,
    white_house,
    write_corpus,
)
from newsmon.config import load_settings
from newsmon.pipeline import RunContext, run_once
from newsmon.topics import TaggingPool, load_topics
from storage.store import Store


def run_pipeline(folder: Path, db: Path, batch_size: int | None, workers: int) -> None:
    """One run of the pipeline core without Prefect (the same core the flow runs): documents in
    arrival order, in batches, tags computed ahead in the run's worker pool when there are
    workers to spare."""
    settings = load_settings(None, db=db, seeds=folder, extract_workers=workers, batch_size=batch_size)
    store = Store.open_writer(db)
    try:
        run_once(RunContext(settings, store, load_topics(settings.topics_path), NOW, "run"))
    finally:
        store.close(snapshot=False)


# -- batch size and workers (in process) ------------------------------------------------------


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    shared = require_shared()
    folder = tmp_path_factory.mktemp("determinism") / "docs"
    write_corpus(folder, white_house(shared, 330), noisy_every=4, rate=0.03)  # 413 documents
    return folder


@pytest.fixture(scope="module")
def reference(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    """One batch (the default size), no helper process."""
    db = tmp_path_factory.mktemp("reference") / "news.duckdb"
    run_pipeline(corpus, db, None, 1)
    return outcome(db)


@pytest.mark.parametrize(("batch_size", "workers"), [(37, 1), (200, 1), (None, 2), (200, 2)])
def test_stories_and_tags_do_not_depend_on_batch_size_or_workers(
    corpus: Path,
    reference: Outcome,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    batch_size: int | None,
    workers: int,
) -> None:
    monkeypatch.setattr(TaggingPool, "MIN_DOCUMENTS", 1)  # tags ahead in a helper process even for a few
    run_pipeline(corpus, tmp_path / "news.duckdb", batch_size, workers)
    found = outcome(tmp_path / "news.duckdb")
    assert len(found[0]) == len(reference[0])
    assert differences(reference, found) == []


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


# -- killed and resumed (subprocesses) --------------------------------------------------------


@pytest.mark.slow
def test_a_killed_and_resumed_run_stores_what_an_uninterrupted_run_does(shared_data: Path, tmp_path: Path) -> None:
    """A few thousand documents: one uninterrupted run in one batch, against a run killed with
    SIGKILL inside its third batch's transaction (batches of 300) and resumed with batches of
    400 and tags ahead in a helper process, each process with another hash seed. (The killed
    run tags in its own process: a killed run's tagging pool outlives it.)"""
    seeds = tmp_path / "docs"
    n = write_corpus(seeds, white_house(shared_data, 1000), noisy_every=4, rate=0.03)
    for j, (title, summary) in enumerate(feed_entries(shared_data, 1500)):
        (seeds / f"feed{j:05d}.txt").write_text(f"{title}\n{summary}\n", encoding="utf-8")
    n += 1500

    log = lambda run: (tmp_path / run / "log.txt").read_text(encoding="utf-8")[-3000:]  # noqa: E731
    assert run_bare_process(tmp_path / "whole", seeds, 1, NEWSMON_EXTRACT_WORKERS="1") == 0, log("whole")
    killed = run_bare_process(
        tmp_path / "resumed", seeds, 2, NEWSMON_BATCH_SIZE="300", NEWSMON_EXTRACT_WORKERS="1",
        NEWSMON_FAULT="mid-store@3",
    )  # fmt: skip
    assert killed == -signal.SIGKILL, log("resumed")
    assert len(outcome(tmp_path / "resumed" / "news.duckdb")[0]) == 600  # two batches committed
    resumed = run_bare_process(tmp_path / "resumed", seeds, 3, NEWSMON_BATCH_SIZE="400", NEWSMON_EXTRACT_WORKERS="2")
    assert resumed == 0, log("resumed")

    expected = outcome(tmp_path / "whole" / "news.duckdb")
    assert len(expected[0]) == n
    assert differences(expected, outcome(tmp_path / "resumed" / "news.duckdb")) == []
