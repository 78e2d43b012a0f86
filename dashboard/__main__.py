"""``python -m tracehouse.dashboard [--port 8501] [--host 127.0.0.1]``: the same as ``tracehouse dashboard``."""

from __future__ import annotations

import argparse
import sys

from .run import run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tracehouse.dashboard", description=__doc__)
    parser.add_argument("--port", type=int, default=8501)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    return run(port=args.port, host=args.host)


if __name__ == "__main__":
    sys.exit(main())
