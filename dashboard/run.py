"""Launch the dashboard: ``streamlit run app.py`` in a child process (what ``tracehouse dashboard`` calls).

Streamlit options are passed as command-line flags, so the package ships no ``.streamlit/`` folder and a
user's own Streamlit config cannot be shadowed by ours. ``run`` blocks until the server exits.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator, Sequence

from .settings import ENV_API_KEY, ENV_ENDPOINT

__all__ = ["APP_PATH", "run", "streamlit_command"]

APP_PATH = Path(__file__).resolve().parent / "app.py"
_STOP_GRACE_S = 10.0


def streamlit_command(port: int = 8501, host: str = "127.0.0.1") -> list[str]:
    """The ``streamlit run`` command line, with this interpreter so the same environment serves the app.

    ``-P`` keeps the working directory off ``sys.path``: a stray ``click.py`` (say) where the user happens to
    stand would otherwise shadow one of Streamlit's own imports.

    Three of Streamlit's development conveniences are off, each measured at a few tenths of a second per page
    view on a busy 2-core machine, several times the page's own work: the file watcher (after every run it walks
    every imported module's path on the server's event loop, to reload edited sources), the full garbage
    collection after every run (Python's own collector still runs), and "magic" (the page sources re-parsed
    every run to show bare expressions; the pages have none). ``extra_args`` can turn them back on.
    """
    if not 0 < port < 65536:
        raise ValueError(f"--port must be between 1 and 65535, got {port}")
    if not host:
        raise ValueError("--host must not be empty; use 127.0.0.1 for this machine only, 0.0.0.0 for all")
    return [
        sys.executable, "-P", "-m", "streamlit", "run", str(APP_PATH),
        "--server.port", str(port),
        "--server.address", host,
        "--server.headless", "true",  # no browser popping up, no e-mail prompt on first start
        "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
        "--runner.postScriptGC", "false",
        "--runner.magicEnabled", "false",
    ]  # fmt: skip


def _exit_status(returncode: int) -> int:
    # A child killed by signal N reports -N; shells report 128 + N.
    return 128 - returncode if returncode < 0 else returncode


def _stop(proc: subprocess.Popen[bytes]) -> int:
    """Stop the server the way Ctrl-C in its own terminal would, then harder if it does not go."""
    if proc.poll() is None:
        # Ctrl-C in a terminal has already reached the child (same process group); this covers a SIGINT sent
        # to us alone. A second SIGINT is harmless: Streamlit is already shutting down.
        proc.send_signal(signal.SIGINT if os.name == "posix" else signal.SIGTERM)
    try:
        return _exit_status(proc.wait(_STOP_GRACE_S))
    except (subprocess.TimeoutExpired, KeyboardInterrupt):  # too slow, or Ctrl-C pressed again
        proc.kill()
        return _exit_status(proc.wait())


def run(
    port: int = 8501,
    host: str = "127.0.0.1",
    *,
    endpoint: str | None = None,
    api_key: str | None = None,
    extra_args: Sequence[str] = (),
) -> int:
    """Serve the dashboard on ``host:port`` until it exits or Ctrl-C; returns the server's exit status.

    ``endpoint`` and ``api_key``, when given, reach the app as ``TRACEHOUSE_ENDPOINT`` / ``TRACEHOUSE_API_KEY``
    (an argument beats the environment); ``extra_args`` are appended to ``streamlit run`` (e.g. ``--theme.base
    dark``).
    """
    env = dict(os.environ)
    if endpoint is not None:
        env[ENV_ENDPOINT] = endpoint
    if api_key is not None:
        env[ENV_API_KEY] = api_key
    proc = subprocess.Popen([*streamlit_command(port, host), *extra_args], env=env)
    with _forward_sigterm(proc):
        try:
            return _exit_status(proc.wait())
        except KeyboardInterrupt:
            return _stop(proc)


@contextlib.contextmanager
def _forward_sigterm(proc: subprocess.Popen[bytes]) -> Iterator[None]:
    """Pass SIGTERM (a supervisor such as ``tracehouse up`` stopping us) on to the server, which would
    otherwise outlive us and keep the port. Signal handlers can only be set from the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: proc.terminate())
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
