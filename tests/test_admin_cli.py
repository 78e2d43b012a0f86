"""`tracehouse projects` and `tracehouse keys` as a user runs them, against a collector process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

EXE = str(Path(sys.executable).parent / "tracehouse")


def cli(collector, *args: str, key: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "TRACEHOUSE_ENDPOINT": collector.base_url, "TRACEHOUSE_ADMIN_KEY": key or collector.admin_key}
    return subprocess.run([EXE, *args], capture_output=True, text=True, env=env, timeout=60)


def test_projects_and_keys_lifecycle_from_the_command_line(empty_collector):
    made = cli(empty_collector, "projects", "create", "billing-bot", "--quiet")
    assert made.returncode == 0, made.stderr
    project = made.stdout.strip()
    assert project in cli(empty_collector, "projects", "list").stdout

    key = cli(empty_collector, "keys", "create", "--project", project, "--scopes", "ingest,read", "--name", "ci",
              "--quiet").stdout.strip()
    assert key.startswith("th_")
    read = lambda k: httpx.get(f"{empty_collector.base_url}/api/v1/spans",  # noqa: E731
                               headers={"Authorization": f"Bearer {k}"}).status_code
    assert read(key) == 200
    listing = cli(empty_collector, "keys", "list", "--project", project)
    assert listing.returncode == 0 and "ci" in listing.stdout and key not in listing.stdout
    key_id = listing.stdout.splitlines()[1].split()[0]

    rotated = cli(empty_collector, "keys", "rotate", key_id, "--project", project, "--quiet")
    new_key = rotated.stdout.strip()
    assert rotated.returncode == 0 and new_key.startswith("th_") and new_key != key
    assert read(key) == 401 and read(new_key) == 200

    new_id = cli(empty_collector, "keys", "list", "--project", project).stdout.splitlines()[1].split()[0]
    assert cli(empty_collector, "keys", "revoke", new_id, "--project", project).returncode == 0
    assert read(new_key) == 401
    assert "revoked" in cli(empty_collector, "keys", "list", "--project", project, "--all").stdout


def test_refusals_are_reported_with_exit_status_2(empty_collector):
    wrong = cli(empty_collector, "projects", "list", key="th_not-a-key")
    assert wrong.returncode == 2 and "401" in wrong.stderr
    missing = cli(empty_collector, "keys", "revoke", "0123456789abcdef", "--project", "nope")
    assert missing.returncode == 2 and "404" in missing.stderr
