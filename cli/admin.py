"""``tracehouse projects ...`` and ``tracehouse keys ...``: project and API-key administration over the API.

Talks to the collector (``--endpoint`` > ``TRACEHOUSE_ENDPOINT`` > http://127.0.0.1:4318) with an admin key
(``--admin-key`` > ``TRACEHOUSE_ADMIN_KEY`` > ``TRACEHOUSE_API_KEY``: the bootstrap key manages every project,
a project key with the admin scope only its own). A new key is printed once, on stdout alone when ``--quiet``,
so scripts can capture it. Exit status: 0 done, 2 the collector refused or could not be reached.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Callable

import httpx

from .analyze import DEFAULT_ENDPOINT, _detail

__all__ = ["register"]


class AdminError(Exception):
    pass


def _client(args: argparse.Namespace) -> httpx.Client:
    endpoint = (args.endpoint or os.environ.get("TRACEHOUSE_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")
    key = args.admin_key or os.environ.get("TRACEHOUSE_ADMIN_KEY") or os.environ.get("TRACEHOUSE_API_KEY")
    if not key:
        raise AdminError("no admin key: pass --admin-key or set TRACEHOUSE_ADMIN_KEY")
    return httpx.Client(base_url=endpoint, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def _call(args: argparse.Namespace, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    try:
        with _client(args) as client:
            response = client.request(method, path, json=body)
    except httpx.HTTPError as exc:
        raise AdminError(f"cannot reach the collector: {exc}") from exc
    if response.status_code >= 400:
        raise AdminError(f"{method} {path}: {response.status_code} {_detail(response)}")
    return response.json()


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    cells = [[", ".join(v) if isinstance(v := row.get(c, ""), list) else str(v) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in cells]
    return "\n".join(lines)


def _print_key(args: argparse.Namespace, made: dict[str, Any]) -> None:
    if args.quiet:
        print(made["key"])
        return
    print(f"key:     {made['key']}\nkey_id:  {made['key_id']}\nscopes:  {', '.join(made['scopes'])}\n"
          f"project: {made['project']}\n(store it now: it cannot be shown again)")


def _projects_create(args: argparse.Namespace) -> None:
    made = _call(args, "POST", "/api/v1/projects", {"name": args.name})
    print(made["id"] if args.quiet else f"project {made['id']} ({made['name']}) created")


def _projects_list(args: argparse.Namespace) -> None:
    rows = _call(args, "GET", "/api/v1/projects")["items"]
    print(json.dumps(rows, indent=2) if args.json else _table(rows, ["id", "name", "retention_days", "created_at"]))


def _keys_create(args: argparse.Namespace) -> None:
    scopes = [s.strip() for s in args.scopes.split(",") if s.strip()]
    _print_key(args, _call(args, "POST", f"/api/v1/projects/{args.project}/keys", {"scopes": scopes,
                                                                                   "name": args.name}))


def _keys_list(args: argparse.Namespace) -> None:
    query = "?include_revoked=true" if args.all else ""
    rows = _call(args, "GET", f"/api/v1/projects/{args.project}/keys{query}")["items"]
    columns = ["key_id", "prefix", "name", "scopes", "created_at"] + (["revoked"] if args.all else [])
    print(json.dumps(rows, indent=2) if args.json else _table(rows, columns))


def _keys_revoke(args: argparse.Namespace) -> None:
    _call(args, "DELETE", f"/api/v1/projects/{args.project}/keys/{args.key_id}")
    print(f"key {args.key_id} revoked")


def _keys_rotate(args: argparse.Namespace) -> None:
    _print_key(args, _call(args, "POST", f"/api/v1/projects/{args.project}/keys/{args.key_id}/rotate"))


def _run(func: Callable[[argparse.Namespace], None]) -> Callable[[argparse.Namespace], int]:
    def command(args: argparse.Namespace) -> int:
        try:
            func(args)
        except AdminError as exc:
            print(f"tracehouse: {exc}", file=sys.stderr)
            return 2
        return 0
    return command


def register(commands: Any) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--endpoint", default=None, help="collector URL (TRACEHOUSE_ENDPOINT)")
    common.add_argument("--admin-key", default=None, help="admin key (TRACEHOUSE_ADMIN_KEY)")
    common.add_argument("--json", action="store_true", help="print JSON instead of a table")
    common.add_argument("--quiet", action="store_true", help="print only the new id or key")

    projects = commands.add_parser("projects", help="create and list projects (admin)").add_subparsers(
        dest="action", required=True)
    create = projects.add_parser("create", parents=[common], help="create a project")
    create.add_argument("name")
    create.set_defaults(func=_run(_projects_create))
    projects.add_parser("list", parents=[common], help="list projects").set_defaults(func=_run(_projects_list))

    keys = commands.add_parser("keys", help="create, list, revoke and rotate API keys (admin)").add_subparsers(
        dest="action", required=True)
    create = keys.add_parser("create", parents=[common], help="create a key (printed once)")
    create.add_argument("--project", required=True)
    create.add_argument("--scopes", default="ingest,read", help="comma-separated: ingest, read, admin")
    create.add_argument("--name", default="", help="a label, e.g. ci-ingest")
    create.set_defaults(func=_run(_keys_create))
    listing = keys.add_parser("list", parents=[common], help="list a project's keys (never the secrets)")
    listing.add_argument("--project", required=True)
    listing.add_argument("--all", action="store_true", help="include revoked keys")
    listing.set_defaults(func=_run(_keys_list))
    for action, func, text in (("revoke", _keys_revoke, "revoke a key at once"),
                               ("rotate", _keys_rotate, "new key with the same scopes; the old one is revoked")):
        sub = keys.add_parser(action, parents=[common], help=text)
        sub.add_argument("key_id", help="the key's id from `tracehouse keys list`")
        sub.add_argument("--project", required=True)
        sub.set_defaults(func=_run(func))
