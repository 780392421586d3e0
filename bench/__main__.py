"""``python -m bench [--quick] [--only tokens] [--out bench/results]``: run, print, write results.

``--only SECTION`` (repeatable; storage, tokens, async) runs those sections and keeps the other
sections' earlier results in the out directory.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from . import Options, run
from .report import markdown, write
from .runner import SECTIONS


def _sizes(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(","))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smoke run: fewer N and repeats")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    parser.add_argument("--repeats", type=int, default=0, help="runs per cell (default 15)")
    parser.add_argument("--sizes", type=_sizes, default=(), help="e.g. 1,10,100,1000")
    parser.add_argument("--memory-sizes", type=_sizes, default=(), help="e.g. 2500,5000,10000")
    parser.add_argument("--latency-samples", type=int, default=0, help="default 200")
    parser.add_argument("--workers", type=int, default=10, help="the floor's threads")
    parser.add_argument(
        "--proxy",
        choices=("process", "thread"),
        default="process",
        help="run the counting proxy in a child process (default) or in this process",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=SECTIONS,
        default=[],
        help="run only this section (storage: find, delete, latency, memory; tokens: refresh "
        "storms; async: 1,000 concurrent calls and cold start); repeatable; default: all",
    )
    parser.add_argument("--storms", type=int, default=0, help="token storms per mode (20)")
    parser.add_argument("--rounds", type=int, default=0, help="async rounds per op and side (9)")
    parser.add_argument(
        "--cold-starts", type=int, default=0, help="async: fresh processes per side (10)"
    )
    parser.add_argument(
        "--no-gc-freeze",
        action="store_true",
        help="async: leave every side's clients in the garbage collector's reach",
    )
    parser.add_argument("-q", "--silent", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    options = Options(
        quick=args.quick,
        out=args.out,
        repeats=args.repeats,
        sizes=args.sizes,
        latency_samples=args.latency_samples,
        memory_sizes=args.memory_sizes,
        workers=args.workers,
        proxy=args.proxy,
        only=tuple(args.only),
        token_storms=args.storms,
        async_rounds=args.rounds,
        cold_starts=args.cold_starts,
        gc_freeze=not args.no_gc_freeze,
        verbose=not args.silent,
    )
    started = time.monotonic()
    report = run(options)
    paths = write(report, options.out)
    print(markdown(report))
    print(f"\nfull report: {paths['md']} ({time.monotonic() - started:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
