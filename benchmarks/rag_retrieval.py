"""RAG retrieval benchmark on the shared squad_shifts files.

Measures (1) BM25 index build time over every paragraph of each file (tokenising included, no cache)
and (2) BM25 / dense / hybrid recall@5 and MRR@10 against each question's gold paragraph. Dense
indexes come from the on-disk cache when present ($FTSCOPE_CACHE); their open time is shown with
whether it was a build or a load. Prints a table, then one JSON line with every number.

    HF_HUB_OFFLINE=1 python benchmarks/rag_retrieval.py [--limit 500] [--retrievers bm25,dense,hybrid]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

from ftscope.rag import RETRIEVERS, BM25Retriever, Corpus, load_corpus
from ftscope.rag.metrics import recall_at_k, reciprocal_rank

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "squad_shifts"
FILES = ("nyt_v1.0.json", "new_wiki_v1.0.json", "squaddev_v1.1.json")


def bm25_build_seconds(corpus: Corpus, repeats: int) -> dict:
    BM25Retriever.build(corpus.texts[:50])  # warm imports and caches outside the timing
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        BM25Retriever.build(corpus.texts)
        times.append(time.perf_counter() - start)
    return {"median_s": statistics.median(times), "min_s": min(times), "repeats": repeats}


def retrieval_quality(corpus: Corpus, kind: str, limit: int | None) -> dict:
    start = time.perf_counter()
    retriever = RETRIEVERS[kind].open(corpus)
    opened = time.perf_counter() - start
    questions = corpus.questions[:limit]
    start = time.perf_counter()
    hits = retriever.search([q.question for q in questions], k=10)
    searched = time.perf_counter() - start
    ranked = [[corpus.passages[i].id for i, _ in row] for row in hits]
    golds = [q.gold_passage_id for q in questions]
    n = len(questions)
    return {
        "n": n,
        "recall@5": sum(recall_at_k(r, g, 5) for r, g in zip(ranked, golds)) / n,
        "mrr@10": sum(reciprocal_rank(r, g) for r, g in zip(ranked, golds)) / n,
        "open_s": opened,
        "search_s": searched,
    }


def main() -> None:
    args = parse_args()
    results: dict = {"machine": platform.processor() or platform.machine(), "limit": args.limit, "files": {}}
    for name in FILES:
        corpus = load_corpus(args.data / name)
        entry = {"paragraphs": len(corpus.passages), "questions": len(corpus.questions)}
        entry["bm25_build"] = bm25_build_seconds(corpus, args.repeats)
        entry["retrieval"] = {kind: retrieval_quality(corpus, kind, args.limit) for kind in args.retrievers}
        results["files"][corpus.name] = entry
    print_table(results)
    print(json.dumps(results))


def print_table(results: dict) -> None:
    print(f"{'file':<16}{'paragraphs':>11}{'bm25 build s':>14}  {'retriever':<9}{'n':>7}"
          f"{'recall@5':>10}{'mrr@10':>9}{'open s':>9}{'search s':>10}")  # fmt: skip
    for name, e in results["files"].items():
        head = f"{name:<16}{e['paragraphs']:>11}{e['bm25_build']['median_s']:>14.3f}"
        for kind, r in e["retrieval"].items():
            print(f"{head}  {kind:<9}{r['n']:>7}{r['recall@5']:>10.3f}{r['mrr@10']:>9.3f}"
                  f"{r['open_s']:>9.2f}{r['search_s']:>10.2f}")  # fmt: skip
            head = " " * 41


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=SHARED, help="folder holding the squad_shifts files")
    p.add_argument("--limit", type=int, default=None, help="first N questions per file (default: all)")
    p.add_argument("--retrievers", default="bm25,dense,hybrid", type=lambda s: s.split(","))
    p.add_argument("--repeats", type=int, default=5, help="BM25 builds timed per file")
    return p.parse_args()


if __name__ == "__main__":
    main()
