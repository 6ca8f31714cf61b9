"""The project at another git ref, to measure beside this tree in the same run.

`export(ref, folder)` writes the files `git archive` gives for the ref; a process that
calls `use_tree(folder)` first imports `simulator` from there (sys.path reaches spawned
children, and the tree's own dependencies must be installed). `in_child` runs a function
in a fresh process, so that two trees never meet in one interpreter.
"""

from __future__ import annotations

import io
import multiprocessing
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def use_tree(tree: str) -> None:
    """Import `simulator` from `tree` in this process, and make sure it did."""
    sys.path.insert(0, tree)
    try:
        import simulator.receiving.receiver  # the tree's dependencies must be here too
    except ImportError as exc:
        raise SystemExit(f"cannot import the project from {tree}: {exc}") from exc

    where = Path(simulator.__file__).resolve()
    if not where.is_relative_to(Path(tree).resolve()):
        raise SystemExit(f"simulator imported from {where}, not from {tree}")


def in_child(target: Any, *args: Any) -> Any:
    """`target(*args)` run in a fresh process; its exception ends the run in one line."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    process = ctx.Process(target=_child_main, args=(target, args, child))
    process.start()
    ok, value = parent.recv()
    process.join()
    if not ok:
        raise SystemExit(value)
    return value


def _child_main(target: Any, args: tuple, conn: Any) -> None:
    try:
        conn.send((True, target(*args)))
    except SystemExit as exc:
        conn.send((False, str(exc)))
    except Exception as exc:
        conn.send((False, f"{type(exc).__name__}: {exc}"))


def export(ref: str, into: str) -> str:
    """The project's files at `ref`, written under `into`; the folder."""
    tar = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", ref], capture_output=True, check=False
    )
    if tar.returncode:
        raise SystemExit(f"cannot export {ref}: {tar.stderr.decode().strip()}")
    # The "data" filter where this Python has it (3.10.12 and later): files, no surprises.
    safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
    with tarfile.open(fileobj=io.BytesIO(tar.stdout)) as archive:
        archive.extractall(into, **safe)  # type: ignore[arg-type]
    return into
