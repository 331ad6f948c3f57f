"""``python -m harness.loadgen ...``: the ``domino load`` command before it is wired in."""

from __future__ import annotations

import argparse
import sys

from harness.loadgen.command import add_arguments, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m harness.loadgen", description="Open-loop HTTP load (Domino's engine)."
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
