"""Article extraction accuracy and speed: newsmon's page path against a bare trafilatura call.

Reads the 181 real pages with gold text of ``../shared/data/html/article-extraction-benchmark``
and prints token-level precision, recall and F1 (mean over pages, and pooled over all tokens)
and pages per second, for newsmon's path (the guarded process pool, page classification and
boilerplate stripping that feed items go through) and for ``trafilatura.extract`` in a process
pool of the same size, with its default settings and with the options newsmon passes
(``newsmon.extract.TRAFILATURA_OPTIONS``), measured side by side in one run.

    python -m benchmarks.extraction [--workers 2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing
import os
import re
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import trafilatura

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from newsmon.boilerplate import strip_boilerplate  # noqa: E402
from newsmon.extract import TRAFILATURA_OPTIONS, PagePool  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "html" / "article-extraction-benchmark"
_TOKEN = re.compile(r"\w+", re.UNICODE)


def tokens(text: str) -> Counter[str]:
    """Lower-cased word tokens as a multiset."""
    return Counter(_TOKEN.findall(text.lower()))


def prf(pred: Counter[str], gold: Counter[str]) -> tuple[int, int, int]:
    """(overlap, predicted, gold) token counts."""
    return sum((pred & gold).values()), sum(pred.values()), sum(gold.values())


def scores(triples: list[tuple[int, int, int]]) -> dict[str, float]:
    """Mean per-page and pooled precision, recall and F1."""
    per_page = []
    for overlap, npred, ngold in triples:
        p = overlap / npred if npred else 0.0
        r = overlap / ngold if ngold else 0.0
        per_page.append((p, r, 2 * p * r / (p + r) if p + r else 0.0))
    n = len(per_page)
    overlap, npred, ngold = (sum(t[i] for t in triples) for i in range(3))
    pp, pr = overlap / npred, overlap / ngold
    return {
        "precision": sum(x[0] for x in per_page) / n,
        "recall": sum(x[1] for x in per_page) / n,
        "f1": sum(x[2] for x in per_page) / n,
        "pooled_f1": 2 * pp * pr / (pp + pr),
    }


def bare_extract(args: tuple[bytes, str]) -> str:
    """``trafilatura.extract`` with its defaults (one ``(html, url)`` page)."""
    return trafilatura.extract(args[0], url=args[1]) or ""


def bare_extract_same_options(args: tuple[bytes, str]) -> str:
    """``trafilatura.extract`` with the options newsmon passes."""
    return trafilatura.extract(args[0], url=args[1], **TRAFILATURA_OPTIONS) or ""


def run_bare(pages: list[tuple[bytes, str]], workers: int, same_options: bool = False) -> tuple[list[str], float]:
    """trafilatura.extract in a plain process pool (pool start-up included, as for newsmon),
    with its defaults or with the options newsmon passes."""
    t0 = time.perf_counter()
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver")) as pool:
        texts = list(pool.map(bare_extract_same_options if same_options else bare_extract, pages, chunksize=4))
    return texts, time.perf_counter() - t0


def run_newsmon(pages: list[tuple[bytes, str]], workers: int, metadata: bool) -> tuple[list[str], float, Counter[str]]:
    """newsmon's path: guarded pool, classification, boilerplate stripping."""
    t0 = time.perf_counter()
    with PagePool(workers) as pool:
        results = pool.extract(pages, [metadata] * len(pages))
    texts = [strip_boilerplate(r.extracted.text).body if r.extracted else "" for r in results]
    return texts, time.perf_counter() - t0, Counter(r.page_kind for r in results)


def main() -> int:
    """Print the comparison table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes for both paths")
    parser.add_argument("--repeat", type=int, default=3, help="timed passes over the pages (best is kept)")
    args = parser.parse_args()
    if not DATA.is_dir():
        print(f"benchmarks/extraction: {DATA} is absent: put the shared data folder beside the checkout")
        return 2
    gold = json.loads((DATA / "ground-truth.json").read_text(encoding="utf-8"))
    ids = sorted(gold)
    pages = [(gzip.decompress((DATA / "html" / f"{i}.html.gz").read_bytes()), gold[i]["url"]) for i in ids]
    gold_tokens = [tokens(gold[i]["articleBody"]) for i in ids]

    best = {"bare": float("inf"), "bare+options": float("inf"), "newsmon": float("inf"), "newsmon+meta": float("inf")}
    texts: dict[str, list[str]] = {}
    kinds: Counter[str] = Counter()
    for _ in range(args.repeat):  # interleaved, so machine noise hits all paths alike
        texts["bare"], t = run_bare(pages, args.workers)
        best["bare"] = min(best["bare"], t)
        texts["bare+options"], t = run_bare(pages, args.workers, same_options=True)
        best["bare+options"] = min(best["bare+options"], t)
        texts["newsmon"], t, kinds = run_newsmon(pages, args.workers, metadata=False)
        best["newsmon"] = min(best["newsmon"], t)
        texts["newsmon+meta"], t, _ = run_newsmon(pages, args.workers, metadata=True)
        best["newsmon+meta"] = min(best["newsmon+meta"], t)

    results = {k: scores([prf(tokens(t), g) for t, g in zip(v, gold_tokens, strict=True)]) for k, v in texts.items()}
    n = len(pages)
    print(f"pages: {n}, workers: {args.workers}, best of {args.repeat} passes, trafilatura {trafilatura.__version__}")
    print(f"{'path':<44}{'precision':>10}{'recall':>10}{'F1':>8}{'pooled F1':>11}{'pages/s':>9}")
    labels = {
        "bare": "trafilatura.extract (bare, its defaults)",
        "bare+options": "trafilatura.extract (bare, newsmon's options)",
        "newsmon": "newsmon (item dated by its feed)",
        "newsmon+meta": "newsmon (undated item: metadata search)",
    }
    for key, label in labels.items():
        s = results[key]
        print(
            f"{label:<44}{s['precision']:>10.3f}{s['recall']:>10.3f}{s['f1']:>8.3f}{s['pooled_f1']:>11.3f}"
            f"{n / best[key]:>9.1f}"
        )
    for key in ("newsmon", "newsmon+meta"):
        ratio_f1 = results[key]["f1"] / results["bare"]["f1"]
        print(f"{labels[key]} / bare: F1 x{ratio_f1:.3f}, speed x{best['bare'] / best[key]:.3f}")
    same = best["bare+options"] / best["newsmon"]
    print(f"{labels['newsmon']} / bare with the same options: speed x{same:.3f}")
    print(f"newsmon's trafilatura options: {TRAFILATURA_OPTIONS}")
    print(f"newsmon page kinds: {dict(kinds)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
