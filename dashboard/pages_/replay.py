"""Replay & compare: re-send a recorded LLM call, a whole agent trajectory or a filtered batch of calls with an
edited model, prompt or parameters, and put two calls or two cohorts side by side. Reads the contract (DESIGN
section 6): ``POST /api/v1/replays`` (``/stream``, ``/trajectory``, ``/batch``), ``GET /api/v1/replays/batch/{id}``,
``GET /api/v1/compare?a=&b=`` and ``POST /api/v1/compare/cohorts``.

One tab per task; the active tab is in the URL (``?tab=``). Links from the Trace page open it with
``?trace=<trace id>&span=<span id>`` (replay) or ``?a=<span id>`` (compare, which then opens on its tab); a batch
run is ``?tab=Batch+replay&batch=<run id>``.

The ``*_frame`` and ``diff_html`` helpers are pure (answer in, table or HTML out) and tested without Streamlit.
"""

from __future__ import annotations

import html
import json
import time
from typing import Any, Iterator, Mapping, Sequence

import httpx
import pandas as pd
import streamlit as st

from tracehouse.dashboard import session
from tracehouse.dashboard.api_client import ApiError
from tracehouse.dashboard.data import POLL_TTL_S, fetch_json, fetch_metrics, fetch_run, fetch_trace, post_json
from tracehouse.dashboard.formatting import (MISSING, format_change, format_count, format_duration_ms,
                                             format_percent, format_usd)
from tracehouse.dashboard.spanview import render_llm_span, render_messages

REPLAY_PATH = "/api/v1/replays"
STREAM_PATH = "/api/v1/replays/stream"
TRAJECTORY_PATH = "/api/v1/replays/trajectory"
BATCH_PATH = "/api/v1/replays/batch"
COMPARE_PATH = "/api/v1/compare"
COHORTS_PATH = "/api/v1/compare/cohorts"

TAB_PARAM = "tab"
TAB_REPLAY, TAB_TRAJECTORY, TAB_BATCH, TAB_COMPARE, TAB_COHORTS = TABS = (
    "Replay a call", "Replay a trajectory", "Batch replay", "Compare two calls", "Compare cohorts")
BATCH_PARAM = "batch"
BATCH_RUNNING = frozenset({"queued", "running"})
BATCH_POLL_S = 1.0
DEFAULT_BATCH_LIMIT = 20
MAX_BATCH_LIMIT = 500
DEFAULT_COHORT_LIMIT = 500
MAX_COHORT_LIMIT = 1000
STREAM_TIMEOUT_S = 300.0

_RESULT = "replay.result"
_TRAJECTORY = "trajectory.result"
_COHORTS = "cohorts.result"
_LAST_A = "compare.last_a"
ANY = ""  # the "any" choice of a filter

REPLAY_UNAVAILABLE = (
    "**Replay** will re-send a recorded LLM call (its messages, tools, parameters and seed) to an "
    "OpenAI-compatible endpoint or Anthropic, optionally with an edited system prompt, model or parameters, "
    "store the answer as a new trace linked to the original, and show it here."
)
COMPARE_UNAVAILABLE = (
    "**Compare** will put two LLM calls side by side: a text diff of their outputs and the deltas of latency, "
    "tokens and cost."
)
TRAJECTORY_UNAVAILABLE = (
    "**Trajectory replay** will re-run an agent trace's LLM steps in order on the recorded tool results and "
    "report where the new run first diverges from the recording."
)
BATCH_UNAVAILABLE = (
    "**Batch replay** will replay a filtered set of recorded calls against a candidate model or prompt and score "
    "each answer against the recording."
)
COHORTS_UNAVAILABLE = (
    "**Cohort compare** will put two sets of calls (model A vs B, prompt v1 vs v2) side by side: the difference "
    "of their means with bootstrap confidence intervals."
)

# metric -> (label, unit); units: ms, usd, count, rate
METRICS = {
    "latency_ms": ("Latency", "ms"),
    "time_to_first_token_ms": ("Time to first token", "ms"),
    "cost_usd": ("Cost", "usd"),
    "input_tokens": ("Input tokens", "count"),
    "output_tokens": ("Output tokens", "count"),
    "output_chars": ("Answer length (characters)", "count"),
    "error_rate": ("Error rate", "rate"),
    "refusal_rate": ("Refusal rate", "rate"),
}
_DIFF_STYLE = {
    "delete": "background: rgba(255, 75, 75, 0.22); text-decoration: line-through;",
    "insert": "background: rgba(33, 195, 84, 0.25); text-decoration: none;",
}


# -- pure helpers ------------------------------------------------------------------------------------------------
def format_metric(value: Any, unit: str) -> str:
    """A metric's value in its unit; a rate is a percentage, a count keeps one decimal when it is a mean."""
    number = _number(value)
    if number is None:
        return MISSING
    if unit == "ms":
        return format_duration_ms(number)
    if unit == "usd":
        return format_usd(number)
    if unit == "rate":
        return format_percent(number)
    return f"{number:,.0f}" if number == int(number) else f"{number:,.1f}"


def format_signed(value: Any, unit: str) -> str:
    """A difference with its sign ("+1.20 s", "−$0.0003"); a difference of rates is in percentage points."""
    number = _number(value)
    if number is None:
        return MISSING
    sign = "+" if number > 0 else "\u2212" if number < 0 else "±"
    if unit == "rate":
        return f"{sign}{abs(number) * 100:.1f} pp"
    return sign + format_metric(abs(number), unit)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if number != number else number  # NaN


def diff_ops(diff: Any) -> list[dict[str, str]] | None:
    """The word-level ops of a compare answer (``[{op, text}]``), or ``None`` when the diff has another shape."""
    if isinstance(diff, list) and all(isinstance(d, Mapping) and "op" in d for d in diff):
        return [{"op": str(d["op"]), "text": str(d.get("text") or "")} for d in diff]
    return None


def diff_html(ops: Sequence[Mapping[str, str]]) -> str:
    """Ops from A's text to B's as one block of HTML: deleted words struck through on red, inserted ones on
    green, everything escaped."""
    pieces = []
    for op in ops:
        text = html.escape(str(op.get("text") or ""))
        kind = op.get("op")
        if kind == "delete":
            pieces.append(f'<del class="diff-delete" style="{_DIFF_STYLE["delete"]}">{text}</del>')
        elif kind == "insert":
            pieces.append(f'<ins class="diff-insert" style="{_DIFF_STYLE["insert"]}">{text}</ins>')
        else:
            pieces.append(text)
    return ('<div class="replay-diff" style="white-space: pre-wrap; line-height: 1.7; padding: 0.75rem 1rem; '
            'border: 1px solid rgba(128, 128, 128, 0.3); border-radius: 0.5rem;">' + "".join(pieces) + "</div>")


def diff_counts(ops: Sequence[Mapping[str, str]]) -> tuple[int, int]:
    """(words deleted, words inserted)."""
    count = lambda kind: sum(len(o["text"].split()) for o in ops if o.get("op") == kind)  # noqa: E731
    return count("delete"), count("insert")


def pair_deltas_frame(deltas: Any) -> pd.DataFrame:
    """The metric deltas of a two-call compare (``{metric: {a, b, delta}}``) -> one row per metric: numbers
    (``a``, ``b``, ``delta``) and their display text (``a_text``, ``b_text``, ``delta_text``, ``change``)."""
    rows = []
    for metric, value in (deltas.items() if isinstance(deltas, Mapping) else ()):
        if not isinstance(value, Mapping) or "delta" not in value:
            continue  # params, same_output, similarity: shown apart
        label, unit = METRICS.get(str(metric), (str(metric), "count"))
        a, b, delta = _number(value.get("a")), _number(value.get("b")), _number(value.get("delta"))
        rows.append({"metric": label, "a": a, "b": b, "delta": delta, "a_text": format_metric(a, unit),
                     "b_text": format_metric(b, unit), "delta_text": format_signed(delta, unit),
                     "change": format_change(delta / a) if delta is not None and a else MISSING})
    columns = ["metric", "a", "b", "delta", "a_text", "b_text", "delta_text", "change"]
    return pd.DataFrame.from_records(rows, columns=columns)


def params_frame(changes: Any) -> pd.DataFrame:
    """Changed parameters (and model) of a compare: ``name, a, b`` as text."""
    text = lambda v: MISSING if v is None else v if isinstance(v, str) else json.dumps(v, default=str)  # noqa: E731
    rows = [{"name": str(c.get("name")), "a": text(c.get("a")), "b": text(c.get("b"))}
            for c in (changes if isinstance(changes, list) else ()) if isinstance(c, Mapping)]
    return pd.DataFrame.from_records(rows, columns=["name", "a", "b"])


def steps_frame(steps: Any) -> pd.DataFrame:
    """A trajectory report's steps: ``step, name, model, outcome, similarity, output, span_id``."""
    rows = []
    for index, step in enumerate(steps if isinstance(steps, list) else (), start=1):
        if step.get("skipped"):
            outcome = "skipped"
        elif step.get("error"):
            outcome = "failed"
        else:
            outcome = "same" if step.get("same") else "diverged"
        rows.append({"step": index, "name": step.get("name") or "", "model": step.get("model") or "",
                     "outcome": outcome, "similarity": _number(step.get("similarity")),
                     "output": str(step.get("output") or (step.get("error") or {}).get("message") or ""),
                     "span_id": step.get("span_id") or ""})
    return pd.DataFrame.from_records(
        rows, columns=["step", "name", "model", "outcome", "similarity", "output", "span_id"])


def batch_frame(results: Any) -> pd.DataFrame:
    """A batch run's results, one row per call, with a link to each replay's trace."""
    rows = []
    for item in results if isinstance(results, list) else ():
        replayed = item.get("replayed_trace_id")
        rows.append({"span_id": item.get("span_id") or "", "exact_match": item.get("exact_match"),
                     "similarity": _number(item.get("similarity")), "json_valid": item.get("json_valid"),
                     "length_delta": _number(item.get("length_delta")),
                     "latency_delta_ms": _number(item.get("latency_delta_ms")),
                     "cost_delta_usd": _number(item.get("cost_delta_usd")), "error": item.get("error") or "",
                     "replay": f"/trace?{session.TRACE_PARAM}={replayed}" if replayed else None})
    columns = ["span_id", "exact_match", "similarity", "json_valid", "length_delta", "latency_delta_ms",
               "cost_delta_usd", "error", "replay"]
    return pd.DataFrame.from_records(rows, columns=columns)


def cohort_frame(answer: Any) -> pd.DataFrame:
    """A cohort compare's deltas, one row per metric, as display text: means, the difference ``B − A``, its
    confidence interval and whether it excludes zero; ``n_a``/``n_b`` count the calls that have the metric."""
    rows = []
    for row in (answer.get("deltas") if isinstance(answer, Mapping) else None) or ():
        label, unit = METRICS.get(str(row.get("metric")), (str(row.get("metric")), "count"))
        low, high = _number(row.get("ci_low")), _number(row.get("ci_high"))
        interval = f"[{format_signed(low, unit)}, {format_signed(high, unit)}]" if low is not None and \
            high is not None else MISSING
        significant = row.get("significant")
        rows.append({"metric": label, "a": format_metric(row.get("a"), unit), "b": format_metric(row.get("b"), unit),
                     "delta": format_signed(row.get("delta"), unit), "interval": interval,
                     "significant": MISSING if significant is None else "yes" if significant else "no",
                     "n_a": int(row.get("n_a") or 0), "n_b": int(row.get("n_b") or 0),
                     "note": str(row.get("note") or "")})
    columns = ["metric", "a", "b", "delta", "interval", "significant", "n_a", "n_b", "note"]
    return pd.DataFrame.from_records(rows, columns=columns)


def cohort_filters(model: str, tenant: str, prompt_version: str, limit: int, start: str, end: str) -> dict[str, Any]:
    """The filters of one cohort (blank choices mean "any")."""
    chosen = {"model": model, "tenant": tenant, "prompt_version": prompt_version}
    return {"start": start, "end": end, "limit": int(limit), **{k: v for k, v in chosen.items() if v}}


def cohort_label(filters: Mapping[str, Any]) -> str:
    shown = [f"{k} {filters[k]}" for k in ("model", "tenant", "prompt_version") if filters.get(k)]
    if "spans" in filters:
        shown.append(f"{len(filters['spans'])} chosen calls")
    return ", ".join(shown) or "every call"


# -- server-sent events ------------------------------------------------------------------------------------------
def _sse_events(path: str, body: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """``POST`` a body to an SSE route and yield its ``data:`` events; failures as ``ApiError``.

    The shared ``ApiClient`` answers JSON only; this reader follows its conventions (key, messages)."""
    settings = session.current_settings()
    headers = {"Accept": "text/event-stream"}
    if settings.api_key:
        headers["Authorization"] = f"Bearer {settings.api_key}"
    base = settings.endpoint.rstrip("/")
    try:
        with httpx.Client(base_url=base, headers=headers, timeout=httpx.Timeout(STREAM_TIMEOUT_S, connect=10)) \
                as client, client.stream("POST", path, json=dict(body)) as response:
            if response.is_error:
                response.read()
                try:
                    detail = str(response.json().get("detail"))
                except ValueError:
                    detail = response.text[:200]
                raise ApiError(f"the collector answered {response.status_code} to {path}: {detail}",
                               status_code=response.status_code, url=str(response.url), detail=detail)
            for line in response.iter_lines():
                if line.startswith("data:"):
                    yield json.loads(line[5:].strip())
    except httpx.TimeoutException as exc:
        raise ApiError(f"the collector at {base} did not finish the stream in time", url=base) from exc
    except httpx.TransportError as exc:
        raise ApiError(f"cannot reach the collector at {base}: start it with `tracehouse serve`", url=base) from exc


def _delete(path: str) -> None:
    """``DELETE`` an API path (cancel a batch run); failures as ``ApiError``."""
    settings = session.current_settings()
    headers = {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else {}
    try:
        response = httpx.delete(settings.endpoint.rstrip("/") + path, headers=headers, timeout=settings.timeout_s)
    except httpx.HTTPError as exc:
        raise ApiError(f"cannot reach the collector at {settings.endpoint}", url=settings.endpoint) from exc
    if response.is_error:
        raise ApiError(f"the collector answered {response.status_code} to {path}: {response.text[:200]}",
                       status_code=response.status_code, url=str(response.url))


# -- Replay a call -----------------------------------------------------------------------------------------------
def _find_span(trace_id: str, span_id: str) -> Mapping[str, Any] | None:
    try:
        spans = fetch_trace(session.current_settings(), trace_id).get("spans") or []
    except ApiError as err:
        if err.status_code == 404:
            st.warning(f"No trace `{trace_id}` in this project.", icon=":material/search_off:")
        else:
            session.show_api_error(err)
        return None
    span = next((s for s in spans if s.get("span_id") == span_id), None)
    if span is None:
        st.warning(f"Trace `{trace_id}` has no span `{span_id}`.", icon=":material/search_off:")
    return span


def _overrides(prefix: str, original: Mapping[str, Any] | None = None, system: bool = True) -> dict[str, Any]:
    """The edit widgets (blank: keep the recorded value) -> the API's ``overrides``."""
    params = (original or {}).get("params") or {}
    cols = st.columns(3)
    model = cols[0].text_input("Model", key=f"{prefix}.model",
                               placeholder=(original or {}).get("request_model") or (original or {}).get("model")
                               or "unchanged")
    temperature = cols[1].number_input("Temperature", min_value=0.0, max_value=2.0, step=0.1, value=None,
                                       key=f"{prefix}.temperature",
                                       placeholder=str(params.get("temperature", "unchanged")))
    max_tokens = cols[2].number_input("Max tokens", min_value=1, step=64, value=None, key=f"{prefix}.max_tokens",
                                      placeholder=str(params.get("max_tokens", "unchanged")))
    prompt = st.text_area("System prompt", key=f"{prefix}.system", placeholder="unchanged", height=100) \
        if system else ""
    overrides: dict[str, Any] = {}
    if model.strip():
        overrides["model"] = model.strip()
    new_params = {k: v for k, v in (("temperature", temperature), ("max_tokens", max_tokens)) if v is not None}
    if new_params:
        overrides["params"] = new_params
    if prompt.strip():
        overrides["system"] = prompt
    return overrides


def _stream_replay(body: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """Stream the replay into the page as the provider answers; the final result, or ``None`` after an error."""
    outcome: dict[str, Any] = {}

    def deltas() -> Iterator[str]:
        for event in _sse_events(STREAM_PATH, body):
            if event.get("type") == "delta":
                yield str(event.get("text") or "")
            elif event.get("type") == "result":
                outcome["result"] = event.get("replay")
            elif event.get("type") == "error":
                outcome["error"] = event

    with st.container(border=True, key="streamed-answer"):
        st.caption("Streaming the answer from the provider…")
        try:
            st.write_stream(deltas())
        except ApiError as err:
            session.show_api_error(err)
            return None
    if "error" in outcome:
        st.error(f"The replay failed ({outcome['error'].get('status')}): {outcome['error'].get('detail')}",
                 icon=":material/error:")
        return None
    return outcome.get("result")


def _show_diff(ops: Sequence[Mapping[str, str]], caption: str) -> None:
    deleted, inserted = diff_counts(ops)
    words = lambda n: f"{n} word{'' if n == 1 else 's'}"  # noqa: E731
    st.markdown(f"**{caption}** · {words(deleted)} removed, {words(inserted)} added")
    st.html(diff_html(ops))


def _show_replay(result: Mapping[str, Any], trace_id: str, span_id: str) -> None:
    of = result.get("of") if isinstance(result.get("of"), Mapping) else {"trace_id": trace_id, "span_id": span_id}
    with st.container(border=True, key="replay-result"):
        model = f" · `{result['model']}`" if result.get("model") else ""
        provider = f" on {result['provider']}" if result.get("provider") else ""
        st.markdown(f"**Replay** `{result.get('replay_id') or '?'}` · status **{result.get('status') or '?'}**"
                    f"{provider}{model}")
        st.caption(f"Replay of span `{of.get('span_id') or span_id}` in trace `{of.get('trace_id') or trace_id}`; "
                   "stored as a new trace tagged `replay` that links back to it.")
        links = st.columns([2, 2, 3])
        if of.get("trace_id"):
            links[0].page_link(session.TRACE_PAGE, label="Open the original trace", icon=":material/history:",
                               query_params={session.TRACE_PARAM: str(of["trace_id"])})
        if result.get("trace_id"):
            links[1].page_link(session.TRACE_PAGE, label="Open the replay's trace", icon=":material/account_tree:",
                               query_params={session.TRACE_PARAM: str(result["trace_id"])})
        error = result.get("error")
        if result.get("status") == "failed" and isinstance(error, Mapping):
            st.error(f"The provider failed: {error.get('message') or error}", icon=":material/error:")
        if result.get("dropped_params"):
            st.caption("Not sent (the target API does not take them): " + ", ".join(result["dropped_params"]))
        span = result.get("span") if isinstance(result.get("span"), Mapping) else {}
        output = result.get("output")
        if span.get("output_messages"):
            render_messages(span["output_messages"])
        elif isinstance(output, list):
            render_messages(output)
        elif output:
            st.code(str(output), language=None, wrap_lines=True)
        diff = result.get("diff") if isinstance(result.get("diff"), Mapping) else {}
        deltas = pair_deltas_frame(diff)
        if not deltas.empty:
            tiles = st.columns(4)
            for tile, metric in zip(tiles, ("Latency", "Cost", "Output tokens")):
                row = deltas[deltas["metric"] == metric]
                if not row.empty:
                    tile.metric(metric, row["b_text"].iloc[0], row["delta_text"].iloc[0], delta_color="off")
            if _number(diff.get("similarity")) is not None:
                tiles[3].metric("Similarity to the original", format_percent(diff["similarity"]))
        ops = diff_ops(diff.get("output"))
        if ops:
            _show_diff(ops, "Changes against the original answer")
        replayed = result.get("span_id") or next(
            (s.get("span_id") for s in _trace_spans(str(result.get("trace_id") or "")) if s.get("kind") == "llm"),
            None)
        if replayed and st.button("Compare with the original", icon=":material/compare_arrows:"):
            session.set_widget_value("a", str(of.get("span_id") or span_id), b=str(replayed),
                                     **{TAB_PARAM: TAB_COMPARE})


def _trace_spans(trace_id: str) -> list[Mapping[str, Any]]:
    if not trace_id:
        return []
    try:
        return fetch_trace(session.current_settings(), trace_id).get("spans") or []
    except ApiError:
        return []  # the replay's trace may not be queryable yet


def _replay_section() -> None:
    ids = st.columns(2)
    trace_id = ids[0].text_input("Trace id", key="trace", bind="query-params",
                                 placeholder="the trace of the call").strip().lower()
    span_id = ids[1].text_input("Span id", key="span", bind="query-params",
                                placeholder="the LLM call's span id").strip().lower()
    original = _find_span(trace_id, span_id) if trace_id and span_id else None
    if original is not None:
        with st.expander(f"Original call · `{original.get('model') or 'unknown model'}`"):
            render_llm_span(original)
    if session.has_route("post", REPLAY_PATH) is False:
        session.show_unavailable(REPLAY_UNAVAILABLE, f"POST {REPLAY_PATH}",
                                 "Open a trace and use **Replay** on one of its LLM calls to land here with it.")
        return
    if not span_id:
        st.info("Pick an LLM call to replay: open a trace and use **Replay** on one of its calls, or paste its ids "
                "above.", icon=":material/info:")
        return
    st.caption("Overrides: leave a field blank to keep the recorded value.")
    overrides = _overrides("replay", original)
    can_stream = session.has_route("post", STREAM_PATH) is True
    stream = st.toggle("Stream the answer", value=True, key="replay.stream",
                       help="Show the answer as the provider sends it") if can_stream else False
    body = {"span_id": span_id, **({"trace_id": trace_id} if trace_id else {}),
            **({"overrides": overrides} if overrides else {})}
    if st.button("Replay", icon=":material/replay:", type="primary"):
        if stream:
            result = _stream_replay(body)
            if result is None:
                return
        else:
            try:
                with st.spinner("Replaying the call…"):
                    result = post_json(session.current_settings(), REPLAY_PATH, body)
            except ApiError as err:
                if err.route_missing:
                    session.show_unavailable(REPLAY_UNAVAILABLE, f"POST {REPLAY_PATH}")
                else:
                    session.show_api_error(err)
                return
        st.session_state[_RESULT] = (span_id, result)
        if stream:
            st.rerun()  # the streamed text gives way to the stored result
    stored = st.session_state.get(_RESULT)
    if stored and stored[0] == span_id and isinstance(stored[1], Mapping):
        _show_replay(stored[1], trace_id, span_id)


# -- Replay a trajectory -----------------------------------------------------------------------------------------
def _trajectory_section() -> None:
    if session.has_route("post", TRAJECTORY_PATH) is False:
        session.show_unavailable(TRAJECTORY_UNAVAILABLE, f"POST {TRAJECTORY_PATH}")
        return
    st.caption("Re-runs the trace's LLM steps in order on the recorded tool and retrieval results (no tool is "
               "called again) and reports the first step whose answer differs from the recording.")
    picked = str(st.session_state.get("trace") or "").strip().lower()
    trace_id = st.text_input("Agent trace id", key="trajectory", bind="query-params",
                             placeholder=picked or "a trace with LLM steps").strip().lower()
    if not trace_id and picked:
        trace_id = picked
        st.caption(f"Using the trace of the call picked in **{TAB_REPLAY}**: `{picked}`.")
    if not trace_id:
        st.info("Enter the id of an agent trace (open one from the Traces page).", icon=":material/info:")
        return
    overrides = _overrides("trajectory", system=False)
    if st.button("Replay the trajectory", icon=":material/route:", type="primary"):
        try:
            with st.spinner("Replaying every step…"):
                result = post_json(session.current_settings(), TRAJECTORY_PATH,
                                   {"trace_id": trace_id, **({"overrides": overrides} if overrides else {})})
        except ApiError as err:
            session.show_api_error(err)
            return
        st.session_state[_TRAJECTORY] = (trace_id, result)
    stored = st.session_state.get(_TRAJECTORY)
    if stored and stored[0] == trace_id and isinstance(stored[1], Mapping):
        _show_trajectory(stored[1], trace_id)


def _show_trajectory(result: Mapping[str, Any], trace_id: str) -> None:
    steps = steps_frame(result.get("steps"))
    ran = steps[steps["outcome"].isin(["same", "diverged"])]
    first = result.get("first_divergence")
    index = next((int(r.step) for r in steps.itertuples() if r.span_id == first), None)
    with st.container(border=True, key="trajectory-result"):
        st.markdown(f"**Trajectory replay** `{result.get('replay_id') or '?'}` · status "
                    f"**{result.get('status') or '?'}**")
        tiles = st.columns(4)
        tiles[0].metric("Steps", format_count(len(steps)))
        tiles[1].metric("Reproduced", f"{int((ran['outcome'] == 'same').sum())} of {len(steps)}")
        tiles[2].metric("First divergence", f"step {index}" if index else "none")
        tiles[3].metric("Mean similarity", format_percent(ran["similarity"].mean()) if not ran.empty else MISSING)
        error = result.get("error")
        if isinstance(error, Mapping):
            st.error(f"The run stopped: {error.get('provider')} failed: {error.get('message')}",
                     icon=":material/error:")
        if index:
            row = steps.iloc[index - 1]
            st.warning(f"Diverged at step {index} ({row['name']}): similarity {format_percent(row['similarity'])} to "
                       "the recorded answer. Later steps were sent the recorded conversation.",
                       icon=":material/alt_route:")
        elif result.get("status") == "done":
            st.success("Every step answered as recorded.", icon=":material/check_circle:")
        st.dataframe(steps, hide_index=True, column_config={
            "similarity": st.column_config.ProgressColumn("Similarity", min_value=0.0, max_value=1.0, format="percent"),
            "output": st.column_config.TextColumn("New answer", width="large"),
            "span_id": st.column_config.TextColumn("Recorded span")})
        links = st.columns([2, 2, 3])
        links[0].page_link(session.TRACE_PAGE, label="Open the original trace", icon=":material/history:",
                           query_params={session.TRACE_PARAM: str(result.get("of_trace_id") or trace_id)})
        if result.get("trace_id"):
            links[1].page_link(session.TRACE_PAGE, label="Open the replayed trace", icon=":material/account_tree:",
                               query_params={session.TRACE_PARAM: str(result["trace_id"])})
        if index:
            step = (result.get("steps") or [])[index - 1]
            try:
                answer = fetch_json(session.current_settings(), COMPARE_PATH, {
                    "a": step["span_id"], "b": step["replayed_span_id"], "a_trace": trace_id,
                    "b_trace": result.get("trace_id")})
            except (ApiError, KeyError):
                return
            ops = diff_ops(answer.get("diff"))
            if ops:
                _show_diff(ops, f"Step {index}: recorded answer → new answer")


# -- Batch replay ------------------------------------------------------------------------------------------------
def _groups(by: str) -> list[str]:
    """The tenants or models seen in the time range (for the filters' choices)."""
    window = session.current_window()
    try:
        items = fetch_metrics(session.current_settings(), window.start_param, window.end_param, "day", by,
                              {"kind": "llm"}).get("items") or []
    except ApiError:
        return []
    return sorted({str(i.get("group")) for i in items if i.get("group")})


def _choice(label: str, options: list[str], key: str) -> str:
    return st.selectbox(label, [ANY, *options], key=key, format_func=lambda v: v or "any",
                        accept_new_options=True) or ANY


def _batch_section(follow: bool) -> None:
    if session.has_route("post", BATCH_PATH) is False:
        session.show_unavailable(BATCH_UNAVAILABLE, f"POST {BATCH_PATH}")
        return
    window = session.current_window()
    st.caption(f"Replays recorded calls of the {window.label.lower()} (newest first; earlier replays are left out) "
               "on a candidate model or prompt, and scores each new answer against the recording.")
    cols = st.columns(3)
    with cols[0]:
        tenant = _choice("Tenant", _groups("tenant"), "batch.tenant")
    with cols[1]:
        model = _choice("Recorded model", _groups("model"), "batch.recorded_model")
    limit = cols[2].number_input("Calls (at most)", min_value=1, max_value=MAX_BATCH_LIMIT, value=DEFAULT_BATCH_LIMIT,
                                 step=10, key="batch.limit")
    st.markdown("**Candidate** (blank: as recorded)")
    overrides = _overrides("batch")
    start, run_box = st.columns([2, 3], vertical_alignment="bottom")
    run_id = run_box.text_input("Batch run id", key=BATCH_PARAM, bind="query-params",
                                placeholder="a run's id, or start one").strip()
    if start.button("Start batch replay", icon=":material/playlist_play:", type="primary"):
        filters = {"start": window.start_param, "end": window.end_param, "limit": int(limit),
                   **({"tenant": tenant} if tenant else {}), **({"model": model} if model else {})}
        try:
            answer = post_json(session.current_settings(), BATCH_PATH, {"filters": filters, "overrides": overrides})
        except ApiError as err:
            session.show_api_error(err)
            return
        session.set_widget_value(BATCH_PARAM, str(answer.get("run_id") or ""))
    if not run_id:
        st.info("Choose the calls and the candidate, then start a batch replay: it runs on the collector and this "
                "tab follows it.", icon=":material/info:")
        return
    try:
        run = fetch_run(session.current_settings(), f"{BATCH_PATH}/{run_id}")
    except ApiError as err:
        if err.status_code == 404:
            st.warning(f"No batch run `{run_id}`: runs are kept in the collector's memory until it restarts.",
                       icon=":material/search_off:")
        else:
            session.show_api_error(err)
        return
    _show_batch(run, run_id, follow)


def _show_batch(run: Mapping[str, Any], run_id: str, follow: bool) -> None:
    status = str(run.get("status") or "unknown")
    n, completed = int(run.get("n") or 0), int(run.get("completed") or 0)
    with st.container(border=True, key="batch-result"):
        overrides = run.get("overrides") or {}
        candidate = ", ".join(f"{k} {v}" for k, v in overrides.items()) or "as recorded"
        st.markdown(f"**Batch replay** `{run_id}` · status **{status}** · candidate: {candidate}")
        if status in BATCH_RUNNING:
            st.progress(float(run.get("progress") or 0.0), text=f"{completed} of {n or '?'} calls replayed")
            if st.button("Cancel the run", icon=":material/stop_circle:"):
                try:
                    _delete(f"{BATCH_PATH}/{run_id}")
                except ApiError as err:
                    session.show_api_error(err)
            if follow:
                time.sleep(max(BATCH_POLL_S, POLL_TTL_S / 2))
                st.rerun()
            return
        if status == "failed":
            st.error(f"The run failed: {run.get('error') or 'no reason given'}", icon=":material/error:")
            return
        summary = run.get("summary") or {}
        tiles = st.columns(6)
        tiles[0].metric("Replayed", f"{summary.get('replayed', 0)} of {summary.get('n', n)}")
        tiles[1].metric("Errors", format_count(summary.get("errors")))
        tiles[2].metric("Exact match", format_percent(summary.get("exact_match_rate")))
        tiles[3].metric("Mean similarity", format_percent(summary.get("mean_similarity")))
        tiles[4].metric("Mean latency change", format_signed(summary.get("mean_latency_delta_ms"), "ms"))
        tiles[5].metric("Cost change", format_signed(summary.get("total_cost_delta_usd"), "usd"),
                        help=f"over the {summary.get('priced', 0)} priced calls")
        if summary.get("json_scored"):
            st.caption(f"Valid JSON where JSON was expected: {format_percent(summary.get('json_valid_rate'))} of "
                       f"{summary['json_scored']} calls")
        for name, value in (summary.get("scores") or {}).items():
            st.caption(f"Evaluator **{name}**: mean {value if value is None else round(value, 3)}")
        st.dataframe(batch_frame(run.get("results")), hide_index=True, column_config={
            "similarity": st.column_config.ProgressColumn("Similarity", min_value=0.0, max_value=1.0, format="percent"),
            "latency_delta_ms": st.column_config.NumberColumn("Latency change (ms)", format="%+.0f"),
            "cost_delta_usd": st.column_config.NumberColumn("Cost change ($)", format="%+.6f"),
            "length_delta": st.column_config.NumberColumn("Length change", format="%+d"),
            "replay": st.column_config.LinkColumn("Replay", display_text="open trace")})
        done = [r for r in run.get("results") or () if r.get("replayed_span_id") and not r.get("error")]
        if done and st.button("Compare recorded and replayed as cohorts", icon=":material/compare:"):
            a = {"spans": [{"trace_id": r["trace_id"], "span_id": r["span_id"]} for r in done]}
            b = {"spans": [{"trace_id": r["replayed_trace_id"], "span_id": r["replayed_span_id"]} for r in done]}
            if _run_cohorts(a, b, ("recorded", f"replayed ({candidate})")):
                session.set_widget_value(TAB_PARAM, TAB_COHORTS)


# -- Compare two calls -------------------------------------------------------------------------------------------
def _side(label: str, side: Any) -> None:
    st.markdown(f"**{label}**")
    if not isinstance(side, Mapping):
        st.code(json.dumps(side, indent=2, default=str) if side is not None else MISSING, language="json")
        return
    tags = " · replay" if "replay" in (side.get("tags") or ()) else ""
    st.caption(f"`{side.get('model') or 'unknown model'}` · {format_duration_ms(side.get('duration_ms'))} · "
               f"{format_count((side.get('input_tokens') or 0) + (side.get('output_tokens') or 0))} tokens · "
               f"{format_usd(side.get('cost_usd'))}{tags}")
    if side.get("trace_id"):
        st.page_link(session.TRACE_PAGE, label=f"Trace {side['trace_id']}", icon=":material/account_tree:",
                     query_params={session.TRACE_PARAM: str(side["trace_id"])})
    if side.get("output_messages"):
        render_messages(side["output_messages"])
    else:
        st.code(str(side.get("output_text") or side.get("output") or MISSING), language=None, wrap_lines=True)


def _compare_section() -> None:
    ids = st.columns(2)
    a = ids[0].text_input("Span A", key="a", bind="query-params", placeholder="span id").strip().lower()
    b = ids[1].text_input("Span B", key="b", bind="query-params", placeholder="span id").strip().lower()
    if session.has_route("get", COMPARE_PATH) is False:
        session.show_unavailable(COMPARE_UNAVAILABLE, f"GET {COMPARE_PATH}?a=&b=")
        return
    if not (a and b):
        st.info("Enter two LLM calls' span ids (the Trace page links here with the first one filled in; a replay "
                "fills both).", icon=":material/info:")
        return
    try:
        with st.spinner("Comparing…"):
            answer = fetch_json(session.current_settings(), COMPARE_PATH, {"a": a, "b": b})
    except ApiError as err:
        if err.route_missing:
            session.show_unavailable(COMPARE_UNAVAILABLE, f"GET {COMPARE_PATH}?a=&b=")
        else:
            session.show_api_error(err)
        return
    deltas = answer.get("deltas") if isinstance(answer.get("deltas"), Mapping) else {}
    if "similarity" in deltas or "same_output" in deltas:
        same = deltas.get("same_output")
        st.markdown(f"**{'Same answer' if same else 'Different answers'}** · similarity "
                    f"{format_percent(_number(deltas.get('similarity')))}")
    ops = diff_ops(answer.get("diff"))
    if ops is not None:
        _show_diff(ops, "Word diff, A → B")
    left, right = st.columns(2)
    with left:
        _side("A", answer.get("a"))
    with right:
        _side("B", answer.get("b"))
    table = pair_deltas_frame(deltas)
    if not table.empty:
        st.markdown("**Deltas** (B minus A)")
        st.dataframe(table, hide_index=True, column_order=["metric", "a_text", "b_text", "delta_text", "change"],
                     column_config={"a_text": "A", "b_text": "B", "delta_text": "B − A", "change": "Change"})
    changed = params_frame(deltas.get("params"))
    if not changed.empty:
        st.markdown("**Changed parameters**")
        st.dataframe(changed, hide_index=True)
    diff = answer.get("diff")
    if diff and ops is None:  # an answer in another shape: shown as it came
        st.markdown("**Output diff**")
        text = "\n".join(map(str, diff)) if isinstance(diff, list) else diff
        if isinstance(text, str):
            st.code(text, language="diff", wrap_lines=True)
        else:
            st.json(text, expanded=False)


# -- Compare cohorts ---------------------------------------------------------------------------------------------
def _run_cohorts(a: Mapping[str, Any], b: Mapping[str, Any], labels: tuple[str, str]) -> bool:
    try:
        with st.spinner("Comparing the cohorts…"):
            answer = post_json(session.current_settings(), COHORTS_PATH, {"a": dict(a), "b": dict(b)})
    except ApiError as err:
        if err.route_missing:
            session.show_unavailable(COHORTS_UNAVAILABLE, f"POST {COHORTS_PATH}")
        else:
            session.show_api_error(err)
        return False
    st.session_state[_COHORTS] = (labels, answer)
    return True


def _cohorts_section() -> None:
    if session.has_route("post", COHORTS_PATH) is False:
        session.show_unavailable(COHORTS_UNAVAILABLE, f"POST {COHORTS_PATH}")
        return
    window = session.current_window()
    st.caption(f"Two sets of recorded calls of the {window.label.lower()} (replays left out), compared metric by "
               "metric: the difference of their means (B minus A) with a 95% bootstrap confidence interval. A "
               "model's cohort counts its failed calls, which are stored under the model they asked for.")
    models, tenants = _groups("model"), _groups("tenant")
    sides = st.columns(2)
    chosen = []
    for side, name in zip(sides, ("A", "B")):
        with side:
            st.markdown(f"**Cohort {name}**")
            model = _choice("Model", models, f"cohorts.{name}.model")
            tenant = _choice("Tenant", tenants, f"cohorts.{name}.tenant")
            version = st.text_input("Prompt version", key=f"cohorts.{name}.prompt_version", placeholder="any")
            chosen.append((model, tenant, version.strip()))
    limit = st.number_input("Calls per cohort (newest, at most)", min_value=5, max_value=MAX_COHORT_LIMIT,
                            value=DEFAULT_COHORT_LIMIT, step=50, key="cohorts.limit")
    if st.button("Compare the cohorts", icon=":material/compare:", type="primary"):
        a, b = (cohort_filters(*c, limit, window.start_param, window.end_param) for c in chosen)
        _run_cohorts(a, b, (cohort_label(a), cohort_label(b)))
    stored = st.session_state.get(_COHORTS)
    if not stored:
        st.info("Choose two cohorts, e.g. one model against another, and compare them.", icon=":material/info:")
        return
    (label_a, label_b), answer = stored
    _show_cohorts(answer, label_a, label_b)


def _show_cohorts(answer: Mapping[str, Any], label_a: str, label_b: str) -> None:
    with st.container(border=True, key="cohorts-result"):
        sizes = st.columns(2)
        sizes[0].metric(f"A: {label_a}", f"{format_count((answer.get('a') or {}).get('n'))} calls")
        sizes[1].metric(f"B: {label_b}", f"{format_count((answer.get('b') or {}).get('n'))} calls")
        table = cohort_frame(answer)
        significant = table[table["significant"] == "yes"]["metric"].tolist()
        if significant:
            st.markdown("Clear differences (the interval excludes zero): " + ", ".join(f"**{m}**" for m in significant))
        else:
            st.markdown("No difference is clear at this sample size (every interval includes zero).")
        st.dataframe(table, hide_index=True, column_config={
            "a": "A (mean)", "b": "B (mean)", "delta": "B − A", "interval": "95% interval",
            "significant": "Clear?", "n_a": "n A", "n_b": "n B", "note": "Note"})
        method = answer.get("method") or {}
        if method:
            st.caption(f"{method.get('statistic')}; {method.get('interval')} of {method.get('resamples')} "
                       f"resamples (seed {method.get('seed')}); no interval below {method.get('min_n_for_interval')} "
                       "values a side.")


def _open_the_right_tab() -> None:
    """Open the tab a link is for: the Trace page's "Compare with…" (a new ``?a=``) opens Compare two calls, a
    batch run's link the Batch tab, a trajectory's the Trajectory tab; an explicit ``?tab=`` wins on arrival."""
    params = st.query_params
    a, last_a = params.get("a"), st.session_state.get(_LAST_A)
    st.session_state[_LAST_A] = a
    if TAB_PARAM not in st.session_state:  # the session's first visit: the link decides
        if TAB_PARAM in params:
            return
        if a and "span" not in params:
            st.session_state[TAB_PARAM] = TAB_COMPARE
        elif BATCH_PARAM in params:
            st.session_state[TAB_PARAM] = TAB_BATCH
        elif "trajectory" in params:
            st.session_state[TAB_PARAM] = TAB_TRAJECTORY
    elif a and a != last_a:  # widgets keep their values across pages: a new span A means a new comparison
        st.session_state[TAB_PARAM] = TAB_COMPARE


def render() -> None:
    st.title("Replay & compare")
    _open_the_right_tab()
    tabs = st.tabs(list(TABS), key=TAB_PARAM, bind="query-params")
    with tabs[0]:
        _replay_section()
    with tabs[1]:
        _trajectory_section()
    with tabs[2]:
        _batch_section(follow=tabs[2].open is not False)
    with tabs[3]:
        _compare_section()
    with tabs[4]:
        _cohorts_section()


if __name__ == "__main__":
    render()
