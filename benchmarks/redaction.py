"""Recall and precision of ``tracehouse.redaction`` per kind on a labelled corpus: one command, one table.

    python -m benchmarks.redaction                   # 4,000 documents (about 6,000 entities), seed 7
    python -m benchmarks.redaction --n 20000 --seed 3
    python -m benchmarks.redaction --show 5          # also print up to 5 misses and false alarms per kind

The corpus (``benchmarks.redaction_corpus``) is generated at run time from the seed: prompts and answers in seven
languages, JSON tool calls, logs, configuration, code, HTTP dumps and tables, with entities of every kind and hard
negatives.

Scoring. ``redact`` runs on each document; for each placeholder we know the span of the original it replaced
(``tracehouse.redaction._redact_spans``, which gives the same text as ``redact``).

* An entity is found (TP) when placeholders of its kind cover every letter and digit of its span. Separators and
  punctuation at its edges may stay (``+`` before a phone number), a placeholder may reach beyond the entity
  (over-redaction is not a leak), and several placeholders may share the work. Anything less is a miss (FN): a
  placeholder of the wrong kind, a partly covered value, nothing at all.
* A placeholder is a false alarm (FP) when it overlaps no entity of its kind.
* recall = TP / support; precision = (placeholders - FP) / placeholders, over the placeholders of that kind.

Targets: recall >= 99% and precision >= 95% for every kind; exit status 1 when one is missed. As a check on
precision from outside this corpus, the benchmark also counts texts of the clustering benchmark's LLM traffic
(support, developer and document requests and answers, no PII planted) where anything was redacted.

Throughput is ``redact`` over the corpus (all documents; the documents without entities) and over that LLM
traffic (as generated, ~125 characters a text, and joined into ~10 KB documents), best of three passes, in MB of
UTF-8 per second of CPU time of one thread: short texts measure the fixed cost of a call, long ones the cost
per character.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field

from tracehouse.redaction import KINDS, _redact_spans, redact

from .redaction_corpus import Sample, generate

RECALL_TARGET = 0.99
PRECISION_TARGET = 0.95


@dataclass
class KindScore:
    kind: str
    support: int = 0
    tp: int = 0
    fn: int = 0
    placeholders: int = 0
    fp: int = 0
    misses: list[str] = field(default_factory=list)
    false_alarms: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.tp / self.support if self.support else 1.0

    @property
    def precision(self) -> float:
        return (self.placeholders - self.fp) / self.placeholders if self.placeholders else 1.0

    @property
    def ok(self) -> bool:
        return self.recall >= RECALL_TARGET and self.precision >= PRECISION_TARGET


def _context(text: str, start: int, end: int, width: int = 40) -> str:
    return repr(text[max(0, start - width):start] + "[[" + text[start:end] + "]]" + text[end:end + width])


def score(samples: list[Sample], keep_examples: int = 0) -> dict[str, KindScore]:
    scores = {kind: KindScore(kind) for kind in KINDS}
    for sample in samples:
        text = sample.text
        _, found = _redact_spans(text)
        by_kind: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for start, end, kind in found:
            by_kind[kind].append((start, end))
        for entity in sample.entities:
            s = scores[entity.kind]
            s.support += 1
            spans = by_kind.get(entity.kind, [])
            covered = all(not text[i].isalnum() or any(a <= i < b for a, b in spans)
                          for i in range(entity.start, entity.end))
            if covered:
                s.tp += 1
            else:
                s.fn += 1
                if len(s.misses) < keep_examples:
                    got = [(k, text[a:b][:30]) for a, b, k in found if a < entity.end and entity.start < b]
                    s.misses.append(f"{_context(text, entity.start, entity.end)}  got {got}")
        for start, end, kind in found:
            s = scores[kind]
            s.placeholders += 1
            if not any(e.kind == kind and e.start < end and start < e.end for e in sample.entities):
                s.fp += 1
                if len(s.false_alarms) < keep_examples:
                    s.false_alarms.append(_context(text, start, end))
    return scores


def throughput(texts: list[str], rounds: int = 3) -> tuple[float, float]:
    """MB/s of UTF-8 through ``redact`` and microseconds per text, best of ``rounds`` passes, by the CPU time of this
    thread (steadier than wall time on a shared machine)."""
    size = sum(len(t.encode()) for t in texts)
    best = float("inf")
    for _ in range(rounds):
        started = time.thread_time()
        for t in texts:
            redact(t)
        best = min(best, time.thread_time() - started)
    return size / best / 1e6, best / len(texts) * 1e6


def traffic_texts(n: int, seed: int) -> list[str]:
    """System prompts, requests and answers of the clustering benchmark's LLM traffic (no planted PII)."""
    from .clustering import generate_corpus

    corpus = generate_corpus(n, seed)
    return [t for i in corpus.interactions for t in (i.system, i.request, i.response) if t]


def format_table(scores: dict[str, KindScore]) -> str:
    header = f"{'kind':<14}{'support':>8}{'TP':>7}{'FP':>6}{'FN':>6}{'recall':>9}{'precision':>11}  target"
    lines = [header, "-" * len(header)]
    total = KindScore("all")
    for s in scores.values():
        lines.append(f"{s.kind:<14}{s.support:>8}{s.tp:>7}{s.fp:>6}{s.fn:>6}{s.recall:>9.2%}{s.precision:>11.2%}  "
                     f"{'met' if s.ok else 'MISSED'}")
        total.support += s.support
        total.tp += s.tp
        total.fn += s.fn
        total.fp += s.fp
        total.placeholders += s.placeholders
    lines.append("-" * len(header))
    lines.append(f"{'all':<14}{total.support:>8}{total.tp:>7}{total.fp:>6}{total.fn:>6}{total.recall:>9.2%}"
                 f"{total.precision:>11.2%}")
    return "\n".join(lines)


def format_throughput(sets: list[tuple[str, list[str]]]) -> str:
    header = f"{'texts':<46}{'count':>7}{'avg chars':>11}{'MB/s':>8}{'us/text':>9}"
    lines = [header, "-" * len(header)]
    for name, texts in sets:
        mb_s, us = throughput(texts)
        lines.append(f"{name:<46}{len(texts):>7}{sum(map(len, texts)) / len(texts):>11.0f}{mb_s:>8.1f}{us:>9.1f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=4000, help="documents in the corpus (default 4000)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--show", type=int, default=0, help="print up to this many misses and false alarms per kind")
    parser.add_argument("--no-traffic", action="store_true", help="skip the throughput on the clustering traffic")
    parser.add_argument("--json", action="store_true", help="also print the scores as JSON")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    samples = generate(args.n, args.seed)
    generated = time.perf_counter() - started
    scores = score(samples, args.show)
    texts = [s.text for s in samples]
    clean = [s.text for s in samples if not s.entities]
    print(f"redaction: {len(samples)} documents ({sum(len(t.encode()) for t in texts) / 1e6:.2f} MB, "
          f"{sum(len(s.entities) for s in samples)} entities, {len(clean)} documents without any), seed {args.seed}, "
          f"generated in {generated:.1f} s")
    print(format_table(scores))
    ok = all(s.ok for s in scores.values())
    print(f"targets (recall >= {RECALL_TARGET:.0%}, precision >= {PRECISION_TARGET:.0%} per kind): "
          f"{'met' if ok else 'MISSED'}")
    if args.show:
        for s in scores.values():
            for line in s.misses:
                print(f"  miss  {s.kind:<13} {line}")
            for line in s.false_alarms:
                print(f"  false {s.kind:<13} {line}")
    sets = [("corpus: all documents", texts), ("corpus: documents without entities", clean)]
    if not args.no_traffic:
        traffic = traffic_texts(2000, args.seed)
        sets += [("LLM traffic (benchmarks.clustering)", traffic),
                 ("LLM traffic joined into ~10 KB documents", ["\n".join(traffic[i:i + 80])
                                                                for i in range(0, len(traffic), 80)])]
        found = sum(bool(_redact_spans(t)[1]) for t in traffic)
        print(f"false alarms on the clustering traffic (no PII planted): {found} of {len(traffic)} texts")
    print("\nthroughput of redact (CPU time of one thread, best of 3)")
    print(format_throughput(sets))
    if args.json:
        print(json.dumps({s.kind: {"support": s.support, "tp": s.tp, "fp": s.fp, "fn": s.fn, "recall": s.recall,
                                   "precision": s.precision} for s in scores.values()}, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
