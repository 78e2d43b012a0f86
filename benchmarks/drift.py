"""Evaluation of drift detection on seeded synthetic traffic: one command, one table.

    python -m benchmarks.drift                  # 20 seeds per scenario (about 15 minutes on one core)
    python -m benchmarks.drift --jobs 2         # the same numbers on two processes
    python -m benchmarks.drift --seeds 5        # a quick look
    python -m benchmarks.drift --scenarios topic_shift,control_stationary --json

Traffic: 72 hours of LLM calls at about 100 an hour (with a daily cycle), from the clustering benchmark's
realistic corpus (12 topics of support, developer, document and internal-assistant requests and answers), two
models with their own prices and speeds, five tenants of different sizes, background errors (2%), truncations
(2%), refusals (the corpus's own plus 0.5%), user thumbs (15% of calls, 12% of them down), a helpfulness score on
20% of calls, and time to first token on streamed calls. Every row goes through ``window_from_rows``, so the
failure rules of ``tracehouse.analytics.signals`` decide what is an error, a refusal or a truncation.

A change happens at hour 48. Scenarios with injected drift:

* ``topic_shift``        two topics never seen before (translation, HR policy) become 35% of the requests
* ``model_swap``         the bigger model's traffic moves to a verbose model: answers about 1.8x longer
* ``latency_regression`` the provider slows down: latency and time to first token x1.35
* ``tenant_cost_spike``  one tenant (15% of traffic) starts sending 5x longer prompts: its cost per call ~x4
* ``refusal_spike``      prompt version v8 replaces v7 and refuses 5% more requests
* ``refusal_spike_by_prompt``  the same, compared as prompt version v8 against v7 (filter pair)

and no-drift controls: ``control_stationary`` (nothing changes), ``control_volume`` (traffic doubles, same
behaviour: windows of different sizes) and ``control_prompt`` (prompt v8 against v7, behaving alike).

Comparisons are what the scheduled job runs: the trailing 24 hours against the 24 hours before them (the
version scenarios: calls of the new version so far against the old version's last 24 hours). *Detection*: a
target signal of the scenario has verdict ``drift`` in the comparison made 24 hours after the change.
*Delay*: the first hour after the change at which an hourly comparison detects it. *False alarm*: any signal
with verdict ``drift`` in a control's 24-hour comparison; the hourly false-alarm rate is over the controls'
comparisons every 3 hours. Targets: detection >= 95% on every drift scenario, false alarms <= 5% on every
control. Exit status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import numpy as np

from tracehouse.analytics.drift import DRIFT, DriftParams, DriftReport, DriftWindow, compute_drift, window_from_rows

HOUR_NS = 3600 * 1_000_000_000
T0 = 1_767_225_600 * 1_000_000_000  # 2026-01-01T00:00:00Z
CHANGE_H = 48
AFTER_H = 24

MODELS = {  # name: (share, $ per input token, $ per output token, ms per output token)
    "gpt-4o-mini": (0.6, 0.15e-6, 0.60e-6, 9.0),
    "claude-haiku-4-5": (0.4, 1.0e-6, 5.0e-6, 12.0),
}
VERBOSE_MODEL = ("gpt-4.1", 2.0e-6, 8.0e-6, 10.0)
TENANTS = {"acme": 0.35, "globex": 0.25, "initech": 0.15, "umbrella": 0.15, "soylent": 0.10}
NEW_TOPICS = ("translation", "hr_policy")
REFUSALS = ("I'm sorry, but I can't help with that.", "I'm sorry, but I can't assist with that request.",
            "I'm not able to help with that request.", "I can't provide that information.")
VERBOSE_OPENERS = ("Certainly! Here's a detailed, step-by-step answer to your question.",
                   "Great question! Let me walk you through everything you need to know.",
                   "Absolutely, happy to help. Below is a thorough explanation.")
VERBOSE_CLOSERS = ("In summary, the steps above should resolve the issue. If anything remains unclear, feel free to "
                   "ask a follow-up question and I will gladly elaborate on any part of this explanation.",
                   "To recap: review the details above carefully, and let me know if you would like more context, "
                   "alternative approaches, or additional examples for your specific situation.")


@dataclass(frozen=True)
class Scenario:
    name: str
    kind: str                        # drift | control
    targets: tuple[str, ...] = ()    # signal names; "name*" matches a prefix
    comparison: str = "window"       # window | version
    description: str = ""


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("topic_shift", "drift", ("input_embedding", "cluster_mix", "output_embedding"),
             description="two unseen topics become 35% of requests"),
    Scenario("model_swap", "drift", ("output_length", "output_tokens", "output_embedding"),
             description="60% of traffic moves to a verbose model (~1.8x longer answers)"),
    Scenario("latency_regression", "drift", ("latency_ms", "ttft_ms"),
             description="latency and time to first token x1.35"),
    Scenario("tenant_cost_spike", "drift", ("cost_per_call*",),
             description="one tenant (15%) sends 5x longer prompts"),
    Scenario("refusal_spike", "drift", ("refusal_rate",), description="prompt v8 refuses 5% more requests"),
    Scenario("refusal_spike_by_prompt", "drift", ("refusal_rate",), comparison="version",
             description="the same, as prompt v8 vs v7"),
    Scenario("control_stationary", "control", description="nothing changes"),
    Scenario("control_volume", "control", description="traffic doubles, behaviour unchanged"),
    Scenario("control_prompt", "control", comparison="version", description="prompt v8 vs v7, alike"),
)
BY_NAME = {s.name: s for s in SCENARIOS}


# ---------------------------------------------------------------------------------------------------------------
# Traffic
# ---------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Pool:
    by_topic: dict[str, list[tuple[str, str]]]  # topic -> (request, answer)
    weights: dict[str, float]


_POOLS: dict[int, _Pool] = {}


def _pool(seed: int) -> _Pool:
    """Clean request/answer pairs by topic from the clustering benchmark's corpus (its planted failures out)."""
    if seed not in _POOLS:
        from benchmarks.clustering import TOPICS, generate_corpus

        corpus = generate_corpus(3000, seed=10_000 + seed, noise_share=0.03)
        by_topic: dict[str, list[tuple[str, str]]] = {}
        for i, topic, mode in zip(corpus.interactions, corpus.topics, corpus.modes):
            if mode or i.status == "error" or not i.response.strip() or i.finish_reason != "stop":
                continue
            by_topic.setdefault(topic, []).append((i.request, i.response))
        weights = {t.name: float(t.weight) for t in TOPICS if t.name in by_topic}
        weights["noise"] = 1.0
        _POOLS.clear()  # keep one corpus in memory
        _POOLS[seed] = _Pool(by_topic, weights)
    return _POOLS[seed]


@dataclass(frozen=True, eq=False)
class Traffic:
    window: DriftWindow          # every call, in time order
    start_ns: np.ndarray
    prompt_version: np.ndarray
    score_values: dict[str, np.ndarray]  # score name -> value per call (NaN: none)

    def select(self, mask: np.ndarray) -> DriftWindow:
        w = self.window.select(mask)
        scores = {name: v[mask & np.isfinite(v)] for name, v in self.score_values.items()}
        return replace(w, scores=MappingProxyType(scores))


def simulate(scenario: Scenario, seed: int, rate_per_hour: float = 100.0) -> Traffic:
    """72 hours of calls, the scenario's change at hour 48 (see the module docstring). Deterministic."""
    r = random.Random(seed * 7919 + sum(map(ord, scenario.name)))
    pool = _pool(seed)
    base_topics = [t for t in pool.weights if t not in NEW_TOPICS]
    base_w = [pool.weights[t] for t in base_topics]
    model_names = list(MODELS)
    rows: list[dict[str, Any]] = []
    score_rows: list[dict[str, Any]] = []
    starts: list[int] = []
    versions: list[str] = []
    thumbs: list[float] = []
    helpful: list[float] = []
    n = 0
    for hour in range(CHANGE_H + AFTER_H):
        after = hour >= CHANGE_H
        rate = rate_per_hour * (1 + 0.5 * math.sin(2 * math.pi * (hour % 24 - 9) / 24))
        if after and scenario.name == "control_volume":
            rate *= 2
        for _ in range(_poisson(r, rate)):
            n += 1
            start = T0 + hour * HOUR_NS + int(r.random() * HOUR_NS)
            trace_id, span_id = f"{seed:08x}{n:024x}", f"{n:016x}"
            if after and scenario.name == "topic_shift" and r.random() < 0.35:
                topic = r.choices(NEW_TOPICS, weights=[pool.weights[t] for t in NEW_TOPICS])[0]
            else:
                topic = r.choices(base_topics, weights=base_w)[0]
            request, answer = r.choice(pool.by_topic[topic])
            model = r.choices(model_names, weights=[MODELS[m][0] for m in model_names])[0]
            _, p_in, p_out, ms_per_token = MODELS[model]
            tenant = r.choices(list(TENANTS), weights=list(TENANTS.values()))[0]
            version = "v8" if after and scenario.name in ("refusal_spike", "refusal_spike_by_prompt",
                                                          "control_prompt") else "v7"
            if after and scenario.name == "model_swap" and model == "gpt-4o-mini":
                model, p_in, p_out, ms_per_token = VERBOSE_MODEL
                answer = f"{r.choice(VERBOSE_OPENERS)}\n\n{answer}\n\n{r.choice(VERBOSE_CLOSERS)}"
            status, finish, error_message = "ok", "stop", ""
            roll = r.random()
            if roll < 0.02:
                status, answer, finish, error_message = "error", "", "", r.choice(
                    ["RateLimitError: 429 Too Many Requests", "APIError: 502 Bad Gateway", "Request timed out"])
            elif roll < 0.04:
                finish = "length"
                answer = answer[: max(20, len(answer) // 2)]
            elif roll < 0.045 or (version == "v8" and scenario.kind == "drift" and roll < 0.095):
                answer = r.choice(REFUSALS)
            system_tokens = 180
            input_tokens = int(system_tokens + len(request) / 4 * r.lognormvariate(0, 0.1))
            if after and scenario.name == "tenant_cost_spike" and tenant == "initech":
                input_tokens *= 5
            output_tokens = int(len(answer) / 4 * r.lognormvariate(0, 0.1)) if answer else 0
            latency = (250 + output_tokens * ms_per_token) * r.lognormvariate(0, 0.25)
            streamed = r.random() < 0.7
            ttft = 220 * r.lognormvariate(0, 0.3) if streamed else None
            if after and scenario.name == "latency_regression":
                latency *= 1.35
                ttft = ttft * 1.35 if ttft is not None else None
            rows.append({
                "trace_id": trace_id, "span_id": span_id, "start_time_ns": start, "request": request,
                "response": answer, "output_chars": len(answer), "status": status,
                "status_message": error_message, "error_type": error_message.split(":")[0],
                "has_exception": status == "error", "finish_reason": finish, "is_tool_call": False,
                "input_tokens": input_tokens, "output_tokens": output_tokens,
                "cost_usd": input_tokens * p_in + output_tokens * p_out, "cost_source": "computed",
                "duration_ms": latency, "time_to_first_token_ms": ttft, "tenant": tenant, "model": model,
                "session": f"s{seed}-{n}",
            })
            starts.append(start)
            versions.append(version)
            thumb = np.nan
            if status != "error" and r.random() < 0.15:
                bad = 0.12 + (0.5 if answer in REFUSALS else 0.0)
                thumb = 0.0 if r.random() < bad else 1.0
                score_rows.append({"trace_id": trace_id, "span_id": span_id, "name": "thumbs", "value": thumb})
            thumbs.append(thumb)
            value = np.nan
            if status != "error" and r.random() < 0.2:
                value = min(1.0, max(0.05, r.gauss(0.75, 0.15)))
            helpful.append(value)
    window = window_from_rows(rows, score_rows)
    return Traffic(window=window, start_ns=np.array(starts, dtype=np.int64), prompt_version=np.array(versions),
                   score_values={"thumbs": np.array(thumbs), "helpfulness": np.array(helpful)})


def _poisson(r: random.Random, lam: float) -> int:
    return max(0, int(round(r.gauss(lam, math.sqrt(lam))))) if lam > 30 else _knuth(r, lam)


def _knuth(r: random.Random, lam: float) -> int:
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= r.random()
        if p <= limit:
            return k
        k += 1


def windows_at(traffic: Traffic, scenario: Scenario, hours_after: int) -> tuple[DriftWindow, DriftWindow]:
    """(baseline, current) of the comparison made ``hours_after`` hours after the change."""
    t = T0 + (CHANGE_H + hours_after) * HOUR_NS
    s = traffic.start_ns
    if scenario.comparison == "version":
        change = T0 + CHANGE_H * HOUR_NS
        base = (s >= change - 24 * HOUR_NS) & (s < change) & (traffic.prompt_version == "v7")
        cur = (s >= change) & (s < t) & (traffic.prompt_version == "v8")
    else:
        base = (s >= t - 48 * HOUR_NS) & (s < t - 24 * HOUR_NS)
        cur = (s >= t - 24 * HOUR_NS) & (s < t)
    return traffic.select(base), traffic.select(cur)


# ---------------------------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------------------------

def matches(name: str, targets: tuple[str, ...]) -> bool:
    return any(name.startswith(t[:-1]) if t.endswith("*") else name == t for t in targets)


def detected(report: DriftReport, scenario: Scenario) -> bool:
    drifted = [s.name for s in report.signals if s.verdict == DRIFT]
    if scenario.kind == "control":
        return bool(drifted)
    return any(matches(name, scenario.targets) for name in drifted)


@dataclass
class Outcome:
    scenario: Scenario
    runs: int = 0
    hits: int = 0                       # detections (drift) or false alarms (control), at 24 h
    delays: list[int] = field(default_factory=list)   # hours, detected runs
    hourly_runs: int = 0
    hourly_hits: int = 0                # controls: false alarms among the 3-hourly comparisons
    fired: Counter = field(default_factory=Counter)   # signals with verdict drift at 24 h
    seconds: float = 0.0
    compute_s: list[float] = field(default_factory=list)


def run_scenario(scenario: Scenario, seeds: list[int], params: DriftParams, hourly: bool = True,
                 progress: bool = False) -> Outcome:
    out = Outcome(scenario)
    started = time.perf_counter()
    for seed in seeds:
        _run_seed(out, scenario, seed, params, hourly)
        if progress:
            print(f"  {scenario.name} seed {seed}: {out.hits} hits so far", file=sys.stderr, flush=True)
    out.seconds = time.perf_counter() - started
    return out


def _run_seed(out: Outcome, scenario: Scenario, seed: int, params: DriftParams, hourly: bool) -> None:
    traffic = simulate(scenario, seed)
    p = replace(params, seed=seed)

    def compare(hours: int) -> DriftReport:
        t = time.perf_counter()
        report = compute_drift(*windows_at(traffic, scenario, hours), p)
        out.compute_s.append(time.perf_counter() - t)
        return report

    report = compare(AFTER_H)
    out.runs += 1
    hit = detected(report, scenario)
    out.hits += hit
    out.fired.update(s.name.split("[")[0] + ("[segment]" if "[" in s.name else "")
                     for s in report.signals if s.verdict == DRIFT)
    if hourly and scenario.kind == "drift":
        for hours in range(1, AFTER_H + 1):
            if hours == AFTER_H:
                if hit:
                    out.delays.append(AFTER_H)
                break
            if detected(compare(hours), scenario):
                out.delays.append(hours)
                break
    elif hourly:
        for hours in range(3, AFTER_H, 3):
            out.hourly_runs += 1
            out.hourly_hits += detected(compare(hours), scenario)


def _one(task: tuple[str, int, dict[str, Any], bool]) -> Outcome:
    name, seed, params, hourly = task
    out = Outcome(BY_NAME[name])
    started = time.perf_counter()
    _run_seed(out, BY_NAME[name], seed, DriftParams.from_mapping(params), hourly)
    out.seconds = time.perf_counter() - started
    return out


def run_parallel(names: list[str], seeds: list[int], params: DriftParams, hourly: bool, jobs: int) -> list[Outcome]:
    """Every (scenario, seed) on ``jobs`` processes; the same numbers as one process (each task is seeded)."""
    from concurrent.futures import ProcessPoolExecutor
    from dataclasses import asdict

    tasks = [(name, seed, asdict(params), hourly) for name in names for seed in seeds]
    merged = {name: Outcome(BY_NAME[name]) for name in names}
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for part in pool.map(_one, tasks, chunksize=1):
            o = merged[part.scenario.name]
            o.runs += part.runs
            o.hits += part.hits
            o.delays += part.delays
            o.hourly_runs += part.hourly_runs
            o.hourly_hits += part.hourly_hits
            o.fired.update(part.fired)
            o.seconds += part.seconds
            o.compute_s += part.compute_s
    return list(merged.values())


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return max(0.0, c - h), min(1.0, c + h)


def format_table(outcomes: list[Outcome]) -> str:
    header = (f"{'scenario':<25} {'kind':<8} {'runs':>4} {'rate':>6} {'95% CI':>13} {'delay h p50/p90/max':>20} "
              f"{'hourly FA':>10}  signals with verdict drift at 24 h (runs)")
    lines = [header, "-" * len(header)]
    for o in outcomes:
        rate = o.hits / o.runs if o.runs else 0.0
        lo, hi = wilson(o.hits, o.runs)
        if o.scenario.kind == "drift" and o.delays:
            d = np.array(o.delays)
            delay = f"{np.median(d):.0f}/{np.percentile(d, 90):.0f}/{d.max():.0f}"
        else:
            delay = "-"
        hourly = f"{o.hourly_hits}/{o.hourly_runs}" if o.hourly_runs else "-"
        fired = ", ".join(f"{k} ({v})" for k, v in o.fired.most_common(5)) or "none"
        label = "detected" if o.scenario.kind == "drift" else "false al."
        lines.append(f"{o.scenario.name:<25} {o.scenario.kind:<8} {o.runs:>4} {rate:>6.0%} "
                     f"{f'[{lo:.2f}, {hi:.2f}]':>13} {delay:>20} {hourly:>10}  {label}: {fired}")
    return "\n".join(lines)


def summary(outcomes: list[Outcome]) -> tuple[str, bool]:
    drift = [o for o in outcomes if o.scenario.kind == "drift"]
    control = [o for o in outcomes if o.scenario.kind == "control"]
    ok = True
    parts = []
    if drift:
        k, n = sum(o.hits for o in drift), sum(o.runs for o in drift)
        worst = min(o.hits / o.runs for o in drift)
        ok &= worst >= 0.95
        delays = [d for o in drift for d in o.delays]
        parts.append(f"detection {k}/{n} = {k / n:.1%} (worst scenario {worst:.0%}; target >= 95% each)"
                     + (f"; median delay {np.median(delays):.0f} h" if delays else ""))
    if control:
        k, n = sum(o.hits for o in control), sum(o.runs for o in control)
        worst = max(o.hits / o.runs for o in control)
        ok &= worst <= 0.05
        hk, hn = sum(o.hourly_hits for o in control), sum(o.hourly_runs for o in control)
        parts.append(f"false alarms {k}/{n} = {k / n:.1%} (worst control {worst:.0%}; target <= 5% each); "
                     f"hourly comparisons {hk}/{hn}" + (f" = {hk / hn:.1%}" if hn else ""))
    compute = [s for o in outcomes for s in o.compute_s]
    if compute:
        parts.append(f"compute per comparison: median {np.median(compute):.2f} s, p90 "
                     f"{np.percentile(compute, 90):.2f} s over {len(compute)} comparisons")
    return "\n".join(parts), ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=20, help="seeds per scenario (default 20)")
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--scenarios", default="", help="comma-separated names (default: all)")
    parser.add_argument("--no-hourly", action="store_true", help="only the 24-hour comparisons (no delays)")
    parser.add_argument("--params", default="{}", help="DriftParams overrides as JSON")
    parser.add_argument("--json", action="store_true", help="also print the outcomes as JSON")
    parser.add_argument("--progress", action="store_true")
    parser.add_argument("--jobs", type=int, default=1, help="processes (default 1; results are identical)")
    args = parser.parse_args(argv)
    names = [s for s in args.scenarios.split(",") if s] or [s.name for s in SCENARIOS]
    unknown = [s for s in names if s not in BY_NAME]
    if unknown:
        parser.error(f"unknown scenarios {unknown}: use {', '.join(BY_NAME)}")
    params = DriftParams.from_mapping(json.loads(args.params))
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    started = time.perf_counter()
    if args.jobs > 1:
        outcomes = run_parallel(names, seeds, params, not args.no_hourly, args.jobs)
    else:
        outcomes = [run_scenario(BY_NAME[n], seeds, params, hourly=not args.no_hourly, progress=args.progress)
                    for n in names]
    print(f"drift evaluation: {len(seeds)} seeds per scenario, ~100 calls/hour, change at hour {CHANGE_H}, "
          f"24 h trailing window vs the 24 h before; params {json.dumps(json.loads(args.params))}")
    print(format_table(outcomes))
    text, ok = summary(outcomes)
    print(text)
    print(f"total {time.perf_counter() - started:.0f} s; targets {'met' if ok else 'MISSED'}")
    if args.json:
        print(json.dumps([{"scenario": o.scenario.name, "kind": o.scenario.kind, "runs": o.runs, "hits": o.hits,
                           "delays_h": o.delays, "hourly_runs": o.hourly_runs, "hourly_hits": o.hourly_hits,
                           "fired": dict(o.fired)} for o in outcomes], indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
