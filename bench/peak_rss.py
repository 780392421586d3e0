"""``python bench/peak_rss.py OUT (-m MODULE | SCRIPT) ARGS...``: run a program, then write its
own peak RSS (``VmHWM`` of ``/proc/self/status``, in kB) to the file OUT.

Why not ``wait4``'s ``ru_maxrss``: Linux keeps the parent's high-water mark across the
fork/vfork and exec of a child, so a child of a large bench process reports the bench's peak,
not its own. ``VmHWM`` is that of the program's own address space. Run as a file (not ``-m
bench...``) so that the bench package's imports are not counted either.
"""

from __future__ import annotations

import atexit
import os
import runpy
import sys


def _peak_kb() -> str:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return line.split()[1]
    return "0"


def _write(path: str) -> None:
    with open(path, "w", encoding="ascii") as out:
        out.write(_peak_kb())


def main() -> None:
    out, *program = sys.argv[1:]
    atexit.register(_write, out)
    sys.path.insert(0, os.getcwd())
    if program[0] == "-m":
        sys.argv = [program[1], *program[2:]]
        runpy.run_module(program[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = program
        runpy.run_path(program[0], run_name="__main__")


if __name__ == "__main__":
    main()
