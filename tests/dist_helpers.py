"""Run a function on several ``torch.distributed`` ranks from a test, and fail (never hang) when one fails.

:func:`run_ranks` starts ``world_size`` fresh processes (multiprocessing start method ``spawn``),
each of which initialises a gloo process group through a ``file://`` store in the test's temporary
directory (no ports, so parallel pytest workers never race) with a short collective ``timeout``,
then calls ``worker(rank, world_size, out_dir, *args)``. A worker reports its results by writing
them under ``out_dir`` (:func:`save_result` / :func:`load_results`); the test compares them with
a single-process reference computed in the test process.

Failure handling: a worker that raises writes its traceback and exits non-zero; the launcher then
kills the other ranks and raises :class:`RankFailed` with that traceback. A rank stuck in a
collective whose peer skipped it raises after the process group's ``timeout``; and the whole job
runs under a hard wall-clock limit after which every rank is killed and :class:`TimeoutError`
raised. So a broken or diverging rank fails the test within seconds.

Start-up flakes: on a loaded machine gloo's full-mesh connect between the spawned ranks can fail
("connectFullMesh failed ... Connection closed by peer") before any test code has run. Such a
job is retried once (``startup_retries``), with a fresh store. It counts only when every failed
rank's traceback is one of gloo's connection errors; a worker's own exception, an assertion or
a rank that died without a traceback fails the test on the first run.

The worker must be a module-level function. It is found in the child by its module's file path
when its module cannot be imported by name there (pytest's ``--import-mode=importlib`` gives test
modules names that are not importable), so workers can live in the test modules themselves.
"""

from __future__ import annotations

import datetime
import importlib
import importlib.util
import inspect
import os
import sys
import time
import traceback
import uuid
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

__all__ = ["RankFailed", "load_results", "run_ranks", "save_result"]

Worker = Callable[..., None]


class RankFailed(RuntimeError):
    """A rank of a :func:`run_ranks` job raised or exited non-zero."""

    def __init__(self, message: str, *, startup: bool = False) -> None:
        super().__init__(message)
        self.startup = startup


# gloo's transport errors while the ranks connect to each other (never a test's own failure)
_STARTUP_ERRORS = ("connectFullMesh", "Connection closed by peer", "Connection reset by peer")


def save_result(out_dir: Path, rank: int, result: dict[str, Any]) -> None:
    """Write one rank's results (tensors, numbers, lists and dicts of them)."""
    torch.save(result, out_dir / f"rank{rank}.pt")


def load_results(out_dir: Path, world_size: int) -> list[dict[str, Any]]:
    """Every rank's :func:`save_result`, in rank order."""
    return [torch.load(out_dir / f"rank{r}.pt", weights_only=True) for r in range(world_size)]


def run_ranks(
    worker: Worker,
    world_size: int,
    out_dir: Path,
    *args: Any,
    timeout: float = 90.0,
    collective_timeout: float = 10.0,
    startup_retries: int = 1,
) -> None:
    """Run ``worker(rank, world_size, out_dir, *args)`` on ``world_size`` gloo ranks; raise if any fails.

    ``timeout``: hard wall-clock limit (seconds) for the whole job, process start-up included
    (importing torch takes seconds per process on a busy machine). ``collective_timeout``: the
    process group's ``timeout``, after which a collective that a peer never joins raises.
    ``startup_retries``: how many times a job whose ranks failed to connect (a gloo transport
    error, see the module docstring) is run again from scratch.
    """
    for attempt in range(startup_retries + 1):
        try:
            _run_once(worker, world_size, out_dir, args, timeout, collective_timeout)
            return
        except RankFailed as err:
            if not err.startup or attempt == startup_retries:
                raise
            sys.stderr.write(f"run_ranks: gloo start-up failed, retrying the job once:\n{err}\n")
            for f in out_dir.glob("*rank*"):
                if f.is_file():
                    f.unlink()


def _run_once(
    worker: Worker,
    world_size: int,
    out_dir: Path,
    args: tuple[Any, ...],
    timeout: float,
    collective_timeout: float,
) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    store = out_dir / f"store-{uuid.uuid4().hex}"
    target = (worker.__module__, inspect.getfile(worker), worker.__qualname__)
    ctx = mp.get_context("spawn")
    procs: list[BaseProcess] = [
        ctx.Process(
            target=_child,
            args=(r, world_size, str(store), target, args, collective_timeout, str(out_dir)),
            daemon=True,
        )
        for r in range(world_size)
    ]
    for p in procs:
        p.start()
    deadline = time.monotonic() + timeout
    try:
        while True:
            codes = [p.exitcode for p in procs]
            failed = [r for r, c in enumerate(codes) if c not in (None, 0)]
            if failed:
                raise RankFailed(
                    _failure_report(out_dir, failed, codes), startup=_connect_failure(out_dir, failed)
                )
            if all(c == 0 for c in codes):
                return
            if time.monotonic() > deadline:
                running = [r for r, c in enumerate(codes) if c is None]
                raise TimeoutError(f"ranks {running} still running after {timeout:g} s (killed)")
            time.sleep(0.02)
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
        for p in procs:
            p.join(5.0)


def _connect_failure(out_dir: Path, failed: list[int]) -> bool:
    """Whether the job died of gloo transport errors alone.

    Every rank that exited non-zero must have written a traceback naming a connection error, and
    so must every other rank that wrote one: a rank that raised its own error first, and whose
    exit then broke its peers' connections, makes the failure real.
    """
    errors = {r: out_dir / f"error-rank{r}.txt" for r in failed}
    errors.update({int(f.stem.removeprefix("error-rank")): f for f in out_dir.glob("error-rank*.txt")})
    for err in errors.values():
        text = err.read_text() if err.exists() else ""
        if not any(e in text for e in _STARTUP_ERRORS):
            return False
    return True


def _failure_report(out_dir: Path, failed: list[int], codes: list[int | None]) -> str:
    lines = [f"ranks {failed} failed (exit codes {codes})"]
    for r in failed:
        err = out_dir / f"error-rank{r}.txt"
        lines.append(f"--- rank {r}:\n{err.read_text() if err.exists() else '(no traceback written)'}")
    return "\n".join(lines)


def _load(target: tuple[str, str, str]) -> Worker:
    module_name, file, qualname = target
    module: Any = None
    try:
        module = importlib.import_module(module_name)
        if os.path.realpath(getattr(module, "__file__", "") or "") != os.path.realpath(file):
            module = None
    except ImportError:
        module = None
    if module is None:
        spec = importlib.util.spec_from_file_location(f"_dist_worker_{Path(file).stem}", file)
        assert spec is not None and spec.loader is not None, file
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    obj: Any = module
    for part in qualname.split("."):
        obj = getattr(obj, part)
    fn: Worker = obj
    return fn


def _child(
    rank: int,
    world_size: int,
    store: str,
    target: tuple[str, str, str],
    args: tuple[Any, ...],
    collective_timeout: float,
    out_dir: str,
) -> None:
    out = Path(out_dir)
    try:
        torch.set_num_threads(1)
        if sys.platform.startswith("linux"):
            os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
        worker = _load(target)
        dist.init_process_group(
            "gloo",
            init_method=f"file://{store}",
            rank=rank,
            world_size=world_size,
            timeout=datetime.timedelta(seconds=collective_timeout),
        )
        worker(rank, world_size, out, *args)
        dist.destroy_process_group()
    except BaseException:
        (out / f"error-rank{rank}.txt").write_text(traceback.format_exc())
        sys.stderr.write(traceback.format_exc())
        sys.stderr.flush()
        os._exit(1)  # no interpreter teardown: a peer may still be blocked on this rank
