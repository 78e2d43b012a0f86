"""Generate the reference pages under ``docs/`` from the code, so they cannot drift from it.

* ``render_configuration()`` -> ``docs/configuration.md``: every setting of the collector
  (``tracehouse.collector.settings.Settings`` and its ``ENVIRONMENT`` table), of the SDK
  (``tracehouse._settings``) and of the dashboard (``tracehouse.dashboard.settings``), with its variable,
  default and meaning, plus every command-line option of the ``tracehouse`` command.
* ``render_api_reference(openapi)`` -> ``docs/api-reference.md``: every route of the collector's FastAPI app
  from its OpenAPI schema (``build_openapi(store, wal_dir)`` builds it without serving).

``python -m tracehouse.cli.docs_gen [--out docs] [--check]`` writes both (``--check`` only compares and exits
1 when a committed page is stale). ``tests/test_docs.py`` asserts the committed pages equal the renderers'
output. Variable names and defaults are imported, never retyped; only the prose for the SDK's and the
dashboard's variables lives here (their modules have names and defaults but no meanings), and a variable
without prose fails the render with a message saying where to add it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterable, Mapping

__all__ = [
    "API_REFERENCE",
    "CONFIGURATION",
    "build_openapi",
    "main",
    "render_api_reference",
    "render_configuration",
]

CONFIGURATION = "configuration.md"
API_REFERENCE = "api-reference.md"
REGENERATE = "python -m tracehouse.cli.docs_gen"

# Prose for the SDK's variables, keyed by SDKSettings field (the variable name and default come from the code).
SDK_MEANINGS: dict[str, str] = {
    "endpoint": "collector base URL; spans go to `/v1/traces`, scores to `/api/v1/scores`",
    "api_key": "project key with the `ingest` scope, sent as `Authorization: Bearer ...`",
    "service_name": "`service.name` of the spans (the standard OpenTelemetry variable)",
    "environment": "deployment environment stamped on every span (`production`, `staging`, ...)",
    "release": "release or version stamped on every span, for release-over-release comparisons",
    "capture_content": "content policy: `full`, `redacted` (PII and secrets replaced in-process) or `none`",
    "sample_rate": "fraction of traces kept (0..1); traces with errors are always kept",
    "max_queue_size": "spans buffered in memory; when full the oldest is dropped and counted",
    "max_export_batch_size": "spans per OTLP export request (at most `max_queue_size`)",
    "schedule_delay_ms": "longest wait before a partial batch is exported",
    "export_timeout_s": "timeout of one export request",
    "shutdown_timeout_s": "how long `shutdown()` (and interpreter exit) waits for the queue to drain",
}

# Prose for the dashboard's variables, keyed by DashboardSettings field.
DASHBOARD_MEANINGS: dict[str, str] = {
    "endpoint": "collector base URL the dashboard queries (it never opens storage itself)",
    "api_key": "project key with the `read` scope; one can also be pasted in the sidebar",
}


# -- configuration ------------------------------------------------------------------------------------------

def _code(value: Any) -> str:
    return f"`{value}`"


def _cell(text: str) -> str:
    """Markdown table cell: no pipes, no newlines."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _size(n: int) -> str:
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= factor and n % factor == 0:
            return f"{n // factor} {unit}"
    return f"{n} B"


def _default(name: str, value: Any) -> str:
    if value is None or value == "":
        return "unset"
    if isinstance(value, bool):
        return _code(str(value).lower())
    if isinstance(value, int) and name.endswith("_bytes"):
        return f"{_code(value)} ({_size(value)})"
    return _code(value)


def _env_constants(module: Any) -> list[tuple[str, str]]:
    """``(field, variable)`` for every ``ENV_<FIELD>`` constant of a settings module, in definition order."""
    return [(name[len("ENV_"):].lower(), value) for name, value in vars(module).items()
            if name.startswith("ENV_") and isinstance(value, str)]


def _variables_table(module: Any, defaults: Any, meanings: Mapping[str, str], where: str) -> list[str]:
    rows = ["| variable | argument | default | meaning |", "|---|---|---|---|"]
    for field, variable in _env_constants(module):
        if not hasattr(defaults, field):
            raise LookupError(f"{module.__name__}: ENV_{field.upper()} names no field {field!r} of "
                              f"{type(defaults).__name__}; cli/docs_gen.py maps ENV_<FIELD> to <field>")
        if field not in meanings:
            raise LookupError(f"{module.__name__} has {variable} ({field}) but cli/docs_gen.py {where} has no "
                              f"meaning for it: add one there, then run `{REGENERATE}`")
        rows.append(f"| {_code(variable)} | {_code(field)} | {_default(field, getattr(defaults, field))} | "
                    f"{_cell(meanings[field])} |")
    return rows


def _collector_table() -> list[str]:
    from tracehouse.collector.settings import ENVIRONMENT, Settings

    defaults = Settings()
    rows = ["| variable | setting | type | default | meaning |", "|---|---|---|---|---|"]
    for field in dataclasses.fields(Settings):
        if field.name not in ENVIRONMENT:
            raise LookupError(f"collector/settings.py: Settings.{field.name} has no entry in ENVIRONMENT")
        variable, meaning = ENVIRONMENT[field.name]
        rows.append(f"| {_code(variable)} | {_code(field.name)} | {_code(_cell(str(field.type)))} | "
                    f"{_default(field.name, getattr(defaults, field.name))} | {_cell(meaning)} |")
    return rows


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    for action in parser._actions:  # argparse keeps subcommands here; there is no public accessor
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            return [(name, helps.get(name, ""), sub) for name, sub in action.choices.items()]
    return []


def _cli_section() -> list[str]:
    from tracehouse.cli.main import build_parser

    lines = ["## Command-line options", "",
             "`tracehouse COMMAND --help` prints the same. An option given on the command line beats the "
             "environment variable named in its description.", ""]
    for name, summary, sub in _subcommands(build_parser()):
        lines += [f"### `tracehouse {name}`", ""]
        if summary:
            lines += [summary[0].upper() + summary[1:] + ".", ""]
        options = [a for a in sub._actions if a.option_strings and not isinstance(a, argparse._HelpAction)]
        if not options:
            lines += ["No options.", ""]
            continue
        lines += ["| option | default | description |", "|---|---|---|"]
        for action in options:
            flag = ", ".join(action.option_strings)
            if action.metavar or action.nargs != 0:
                flag += f" {action.metavar or action.dest.upper()}"
            default = "unset" if action.default in (None, argparse.SUPPRESS) else _code(action.default)
            if isinstance(action.default, bool):
                default = _code(str(action.default).lower())
            lines.append(f"| {_code(flag)} | {default} | {_cell(action.help or '')} |")
        lines.append("")
    return lines


def render_configuration() -> str:
    """The configuration reference, from the settings code (deterministic: no environment is read)."""
    from tracehouse import _settings as sdk_settings
    from tracehouse.dashboard import settings as dash_settings
    from tracehouse.storage import target as storage_target

    sdk_defaults = sdk_settings.resolve_settings(env={})
    dash_defaults = dash_settings.dashboard_settings(environ={})
    lines = [
        "# Configuration reference",
        "",
        f"<!-- Generated by `{REGENERATE}` (cli/docs_gen.py) from the settings code. Do not edit by hand:",
        "     tests/test_docs.py fails when this page and the code disagree. -->",
        "",
        "Every part resolves a setting the same way: **explicit argument > environment variable > default**. "
        "An empty variable counts as unset. A bad value stops the process at start-up (the collector, the "
        "dashboard) or at `tracehouse.init()` (the SDK) with a message that names the variable.",
        "",
        "## Collector (`tracehouse serve`)",
        "",
        "From `tracehouse.collector.settings`: the `Settings` dataclass and its `ENVIRONMENT` table.",
        "",
        *_collector_table(),
        "",
        "### Storage URL",
        "",
        f"- `chdb://PATH`: embedded ClickHouse (chDB) in directory PATH, relative to the working directory "
        f"or absolute (`chdb:///var/lib/tracehouse/data`). Default `{storage_target.DEFAULT_STORAGE_URL}`. "
        f"Option `?database=NAME` (default `{storage_target.DEFAULT_DATABASE}`). One process per directory: "
        "the collector owns it.",
        "- `http://USER:PASSWORD@HOST:8123/DATABASE` or `https://...:8443/...`: a ClickHouse server; the path "
        f"selects the database (default `{storage_target.DEFAULT_DATABASE}`). Percent-encode reserved "
        "characters in the password, or use a hex password. Option `?cluster=NAME` runs the schema's DDL "
        "`ON CLUSTER NAME` (see docs/deployment.md).",
        "",
        "Logs never show the password (`StorageTarget.describe()`).",
        "",
        "## SDK (`tracehouse.init(...)`)",
        "",
        "From `tracehouse._settings` (`ENV_*` constants; defaults are what `resolve_settings()` returns with "
        "nothing set). The argument is the keyword of `tracehouse.init()`.",
        "",
        *_variables_table(sdk_settings, sdk_defaults, SDK_MEANINGS, "SDK_MEANINGS"),
        "",
        "## Dashboard (`tracehouse dashboard`)",
        "",
        "From `tracehouse.dashboard.settings` (`ENV_*` constants; defaults are what `dashboard_settings()` "
        "returns with nothing set). The dashboard talks to the collector's HTTP API only.",
        "",
        *_variables_table(dash_settings, dash_defaults, DASHBOARD_MEANINGS, "DASHBOARD_MEANINGS"),
        "",
        *_cli_section(),
    ]
    while lines and lines[-1] == "":
        lines.pop()
    return "\n".join(lines) + "\n"


# -- API reference ------------------------------------------------------------------------------------------

_METHODS = ("get", "post", "put", "patch", "delete")
_GROUPS = {"healthz": "Health", "readyz": "Health"}


def build_openapi(store: Any, wal_dir: str | Path) -> dict[str, Any]:
    """The collector's OpenAPI schema, from ``create_app`` on ``store`` (nothing is served or started)."""
    from tracehouse.collector.app import create_app
    from tracehouse.collector.settings import Settings

    app = create_app(Settings(wal_dir=str(wal_dir)), store)
    try:
        # JSON round trip: plain dicts and lists, exactly what /openapi.json serves
        return json.loads(json.dumps(app.openapi()))
    finally:
        wal = getattr(getattr(app.state, "pipeline", None), "wal", None)
        if wal is not None:
            wal.close()  # the pipeline locked its log directory; it was never started


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _slug(text: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in text.lower()).split())


def _anchor(name: str) -> str:
    return "schema-" + _slug(name)


def _route_anchor(method: str, path: str) -> str:
    return _slug(f"{method} {path}")


def _type(schema: Mapping[str, Any] | None) -> str:
    """A JSON schema as a short type expression (markdown)."""
    if not schema:
        return "any"
    if "$ref" in schema:
        name = _ref_name(schema["$ref"])
        return f"[{name}](#{_anchor(name)})"
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " or ".join(dict.fromkeys(_type(s) for s in schema[key]))
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return _type(schema["allOf"][0])
    if "enum" in schema:
        return "one of " + ", ".join(_code(json.dumps(v)) for v in schema["enum"])
    if "const" in schema:
        return _code(json.dumps(schema["const"]))
    kind = schema.get("type", "any")
    if isinstance(kind, list):
        return " or ".join(kind)
    if kind == "array":
        return f"array of {_type(schema.get('items'))}"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"object of {_type(schema['additionalProperties'])}"
    if schema.get("format") and kind == "string":
        return f"string ({schema['format']})"
    return str(kind)


def _constraints(schema: Mapping[str, Any]) -> str:
    inner = schema
    if "anyOf" in schema:  # Optional[X]: the constraints sit on X
        inner = next((s for s in schema["anyOf"] if s.get("type") != "null"), schema)
    parts = []
    for key, label in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="), ("exclusiveMaximum", "<"),
                       ("minLength", "length >="), ("maxLength", "length <="), ("minItems", "items >="),
                       ("maxItems", "items <=")):
        if key in inner:
            parts.append(f"{label} {inner[key]}")
    if "pattern" in inner:
        parts.append(f"pattern {_code(inner['pattern'])}")
    if "default" in schema:
        parts.append(f"default {_code(json.dumps(schema['default']))}")
    return "; ".join(parts)


def _describe(schema: Mapping[str, Any]) -> str:
    text = " ".join(filter(None, (schema.get("description", ""), _constraints(schema))))
    return _cell(text)


def _group(path: str) -> str:
    segments = [s for s in path.strip("/").split("/") if s]
    if segments and segments[0] in _GROUPS:
        return _GROUPS[segments[0]]
    if segments[:2] != ["api", "v1"] and segments[-2:-1] == ["v1"] and segments[-1] in ("traces", "logs", "metrics"):
        return "Ingest (OTLP/HTTP)"  # /v1/traces, /v1/logs, the Langfuse-compatible /api/public/otel/v1/traces
    if segments[:2] == ["api", "v1"] and len(segments) > 2:
        return segments[2].replace("_", " ").replace("-", " ").capitalize()
    return "Other"


def _operation_lines(path: str, method: str, op: Mapping[str, Any]) -> list[str]:
    lines = [f"### `{method.upper()} {path}`", ""]
    summary = op.get("summary", "")
    if summary:
        lines += [summary + ("" if summary.endswith(".") else "."), ""]
    description = (op.get("description") or "").strip()
    if description:
        lines += [" ".join(description.split()), ""]
    params = op.get("parameters", [])
    if params:
        lines += ["| parameter | in | type | required | description |", "|---|---|---|---|---|"]
        for p in params:
            schema = p.get("schema", {})
            text = _cell(" ".join(filter(None, (p.get("description", ""), _constraints(schema)))))
            lines.append(f"| {_code(p['name'])} | {p.get('in', '')} | {_cell(_type(schema))} | "
                         f"{'yes' if p.get('required') else 'no'} | {text} |")
        lines.append("")
    body = op.get("requestBody")
    if body:
        content = body.get("content", {})
        kinds = ", ".join(_code(k) for k in content) or "any"
        schemas = [c.get("schema") for c in content.values() if c.get("schema")]
        what = f": {_type(schemas[0])}" if schemas else ""
        lines += [f"Request body ({'required' if body.get('required') else 'optional'}), {kinds}{what}.", ""]
    responses = op.get("responses", {})
    if responses:
        lines += ["| status | meaning | body |", "|---|---|---|"]
        for status in sorted(responses):
            response = responses[status]
            schemas = [c.get("schema") for c in response.get("content", {}).values() if c.get("schema")]
            lines.append(f"| {status} | {_cell(response.get('description', ''))} | "
                         f"{_cell(_type(schemas[0])) if schemas else ''} |")
        lines.append("")
    return lines


def _schema_lines(name: str, schema: Mapping[str, Any]) -> list[str]:
    lines = [f'<a id="{_anchor(name)}"></a>', "", f"### {name}", ""]
    if schema.get("description"):
        lines += [" ".join(schema["description"].split()), ""]
    properties = schema.get("properties", {})
    if not properties:
        return lines + [f"Type: {_type(schema)}.", ""]
    required = set(schema.get("required", []))
    lines += ["| field | type | required | description |", "|---|---|---|---|"]
    for field, sub in properties.items():
        lines.append(f"| {_code(field)} | {_cell(_type(sub))} | {'yes' if field in required else 'no'} | "
                     f"{_describe(sub)} |")
    return lines + [""]


def render_api_reference(openapi: Mapping[str, Any]) -> str:
    """The API reference page from an OpenAPI document (pure, deterministic)."""
    info = openapi.get("info", {})
    operations: dict[str, list[tuple[str, str, Mapping[str, Any]]]] = {}
    for path in sorted(openapi.get("paths", {})):
        item = openapi["paths"][path]
        for method in _METHODS:
            if method in item:
                operations.setdefault(_group(path), []).append((path, method, item[method]))
    order = ["Health", "Ingest (OTLP/HTTP)"]
    groups = sorted(operations, key=lambda g: (order.index(g) if g in order else len(order), g == "Other", g))
    lines = [
        "# API reference",
        "",
        f"<!-- Generated by `{REGENERATE}` (cli/docs_gen.py) from the collector's OpenAPI schema. Do not",
        "     edit by hand: tests/test_docs.py fails when this page and the code disagree. -->",
        "",
        f"{info.get('title', 'API')} {info.get('version', '')}, OpenAPI {openapi.get('openapi', '')}. A running "
        "collector serves the same schema at `/openapi.json` and an interactive explorer at `/docs`. Conventions "
        "(authentication, times, ids, pagination, errors) are in [api.md](api.md).",
        "",
        "Every `/api/v1` route and OTLP ingest need `Authorization: Bearer <key>` (scopes: see api.md); the "
        "`authorization` header parameter below is that header. Errors are `{\"detail\": \"<reason>\"}` with "
        "a 4xx or 5xx status; 503 comes with `Retry-After`.",
        "",
        "## Routes",
        "",
    ]
    for group in groups:
        for path, method, _ in operations[group]:
            lines.append(f"- {group}: [`{method.upper()} {path}`](#{_route_anchor(method, path)})")
    lines.append("")
    for group in groups:
        lines += [f"## {group}", ""]
        for path, method, op in operations[group]:
            lines += [f'<a id="{_route_anchor(method, path)}"></a>', ""]
            lines += _operation_lines(path, method, op)
    schemas = openapi.get("components", {}).get("schemas", {})
    if schemas:
        lines += ["## Schemas", ""]
        for name in sorted(schemas):
            lines += _schema_lines(name, schemas[name])
    while lines and lines[-1] == "":
        lines.pop()
    return "\n".join(lines) + "\n"


# -- command ------------------------------------------------------------------------------------------------

def _openapi_from_temporary_store() -> dict[str, Any]:
    from tracehouse.storage import Store

    with tempfile.TemporaryDirectory(prefix="tracehouse-docs-") as tmp:
        store = Store.open(f"chdb://{tmp}/data?database=docs")
        try:
            return build_openapi(store, Path(tmp) / "wal")
        finally:
            store.close()


def _pages(openapi: Mapping[str, Any]) -> dict[str, str]:
    return {CONFIGURATION: render_configuration(), API_REFERENCE: render_api_reference(openapi)}


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tracehouse docs",
                                     description="write docs/configuration.md and docs/api-reference.md from the code")
    parser.add_argument("--out", default="docs", help="directory to write into (default ./docs)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a page is out of date")
    args = parser.parse_args(list(argv) if argv is not None else None)
    out = Path(args.out)
    stale = []
    for name, text in _pages(_openapi_from_temporary_store()).items():
        path = out / name
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(str(path))
        if not args.check:
            out.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if args.check and stale:
        print(f"out of date: {', '.join(stale)}; run `{REGENERATE}`", file=sys.stderr)
        return 1
    print(("wrote " + ", ".join(stale)) if stale else "docs are up to date", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
