"""Timing, peak-memory and run-metadata helpers for benchmarks (``benchmarks/``, a future CLI).

The methodology is fixed here so every number a benchmark reports is measured the same way
(``benchmarks/README.md`` states the contract):

* **Time**: :func:`time_call` runs warm-up calls, then timed repeats with the garbage collector
  off (as :mod:`timeit` does) and reports the **median**, which is robust to the occasional
  preemption on a shared machine; ``min`` and all samples are kept for inspection. The thread
  count is fixed by :func:`set_threads` before anything is measured.
* **Peak memory**: :class:`PeakMemory` reads the process's resident-set high-water mark. On
  Linux the mark is reset (``/proc/self/clear_refs``) after the inputs are allocated, so the
  delta counts only what the measured call adds: intermediates, saved tensors, gradients. Run
  it in a fresh process per implementation so earlier work cannot have left freed-but-kept
  heap pages or lazily allocated library buffers behind.
* **Metadata**: :func:`run_metadata` records versions, threads, CPU, memory, load average and
  the git commit, so a result can be judged and reproduced.

Only the standard library and torch are needed; nothing here runs at import time.

Example:
    >>> from losscraft.bench import time_call
    >>> t = time_call(lambda: sum(range(100)), warmup=1, repeats=5)
    >>> t.repeats, t.median_s >= t.min_s >= 0.0
    (5, True)
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

__all__ = [
    "RESULT_PREFIX",
    "MemoryDelta",
    "PeakMemory",
    "Timing",
    "package_versions",
    "run_isolated",
    "run_metadata",
    "set_threads",
    "time_call",
]

#: Marks the one stdout line a worker process prints with its JSON result, so that library
#: output (warnings, progress bars) on stdout cannot be mistaken for it.
RESULT_PREFIX = "@@losscraft-bench@@ "


@dataclass(frozen=True)
class Timing:
    """Wall-clock samples of one measured call, in seconds."""

    median_s: float
    min_s: float
    max_s: float
    repeats: int
    warmup: int
    times_s: list[float] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict."""
        return asdict(self)

    @staticmethod
    def from_samples(samples: Sequence[float], warmup: int) -> Timing:
        """Summarise raw samples (at least one)."""
        if not samples:
            raise ValueError("Timing.from_samples: no samples")
        return Timing(
            median_s=statistics.median(samples),
            min_s=min(samples),
            max_s=max(samples),
            repeats=len(samples),
            warmup=warmup,
            times_s=[float(s) for s in samples],
        )


def set_threads(threads: int) -> None:
    """Fix torch's intra-op thread count (and inter-op where still allowed).

    Why both: intra-op threads parallelise one kernel; inter-op threads are unused by eager
    losses but can only be set before the first parallel work, so failing to set them is not
    an error.
    """
    torch.set_num_threads(threads)
    with contextlib.suppress(RuntimeError):  # already initialised: harmless for eager code
        torch.set_num_interop_threads(threads)


def time_call(
    fn: Callable[[], object],
    *,
    warmup: int = 1,
    repeats: int = 7,
    min_repeats: int = 3,
    budget_s: float | None = None,
    setup: Callable[[], object] | None = None,
) -> Timing:
    """Median wall time of ``fn()`` over ``repeats`` calls after ``warmup`` calls.

    Args:
        fn: the call to time (its result is dropped inside the timed region, so freeing an
            autograd graph counts, as it does in a training step).
        warmup: untimed calls first (lazy initialisation, first-touch page faults of buffers
            that are reused).
        repeats: the most timed calls.
        min_repeats: the fewest timed calls, even when ``budget_s`` is exceeded.
        budget_s: stop repeating once the timed calls have taken this long in total and at
            least ``min_repeats`` were made; ``None`` always runs ``repeats``.
        setup: untimed call before every call (e.g. clearing ``.grad``).

    Returns:
        The :class:`Timing` of the timed calls.
    """
    for _ in range(warmup):
        if setup is not None:
            setup()
        fn()
    samples: list[float] = []
    gc_was_enabled = gc.isenabled()
    gc.disable()  # why: a collection inside a timed call is noise, as in timeit
    try:
        spent = 0.0
        while len(samples) < max(repeats, 1):
            if setup is not None:
                setup()
            t0 = time.perf_counter()
            fn()
            dt = time.perf_counter() - t0
            samples.append(dt)
            spent += dt
            if budget_s is not None and spent >= budget_s and len(samples) >= max(min_repeats, 1):
                break
    finally:
        if gc_was_enabled:
            gc.enable()
    return Timing.from_samples(samples, warmup)


def _proc_status_kib(key: str) -> int | None:
    """A ``kB`` field of ``/proc/self/status`` (Linux), or ``None`` elsewhere."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _ru_maxrss_bytes() -> int:
    """``ru_maxrss`` in bytes (kilobytes on Linux, bytes on macOS)."""
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(r) if sys.platform == "darwin" else int(r) * 1024


def _malloc_trim() -> None:
    """Return freed heap pages to the OS (glibc), so they cannot hide new allocations."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to trim
        ctypes.CDLL("libc.so.6").malloc_trim(0)


@dataclass(frozen=True)
class MemoryDelta:
    """Peak resident memory added by a measured region, in bytes."""

    peak_bytes: int  # high-water mark minus the resident size at the start
    base_bytes: int  # resident size at the start (inputs already allocated)
    method: str  # "vmhwm-reset" (exact peak) or "ru_maxrss" (fallback, see PeakMemory)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict."""
        return asdict(self)


class PeakMemory:
    """Context manager measuring the resident-memory peak of its body.

    ``with PeakMemory() as m: run()`` then ``m.result``. On Linux it resets the kernel's
    high-water mark (``VmHWM``) on entry, so the peak belongs to the body alone. Without
    ``/proc`` it falls back to ``ru_maxrss``, which cannot be reset: the delta is then only
    meaningful in a fresh process whose earlier peak was below the body's.
    """

    def __init__(self) -> None:
        self._base = 0
        self._method = "ru_maxrss"
        self.result: MemoryDelta | None = None

    def __enter__(self) -> PeakMemory:
        gc.collect()
        _malloc_trim()
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # why: "5" resets VmHWM to the current RSS (Linux >= 4.0)
            rss = _proc_status_kib("VmRSS")
            if rss is None:
                raise OSError("no VmRSS")
            self._base = rss * 1024
            self._method = "vmhwm-reset"
        except OSError:
            self._base = _ru_maxrss_bytes()
            self._method = "ru_maxrss"
        return self

    def __exit__(self, *exc: object) -> None:
        hwm = _proc_status_kib("VmHWM") if self._method == "vmhwm-reset" else None
        peak = hwm * 1024 if hwm is not None else _ru_maxrss_bytes()
        self.result = MemoryDelta(max(peak - self._base, 0), self._base, self._method)


def package_versions(names: Iterable[str]) -> dict[str, str | None]:
    """Installed distribution versions (``None`` for a missing one), without importing them."""
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _mem_total_bytes() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _git(root: Path, *args: str) -> str | None:
    try:
        r = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout.strip() if r.returncode == 0 else None


def run_metadata(*, threads: int, packages: Iterable[str] = (), root: Path | None = None) -> dict[str, Any]:
    """Everything needed to judge and reproduce a run.

    Args:
        threads: the thread count the measurements use.
        packages: extra distributions whose versions to record (peers).
        root: repository root for the commit (default: the current directory).

    Returns:
        A JSON-serialisable dict: date, python/torch/numpy/losscraft and peer versions,
        threads, CPU model and count, memory, platform, load average, git commit and whether
        the tree had uncommitted changes, and the thread-related environment variables.
    """
    root = root or Path.cwd()
    commit = _git(root, "rev-parse", "HEAD")
    # the benchmark's own outputs (a previous run's results and page) do not make the code dirty
    outputs = (":(exclude)benchmarks/results", ":(exclude)docs/benchmarks.md")
    status = _git(root, "status", "--porcelain", "--untracked-files=no", "--", ".", *outputs)
    try:
        affinity: int | None = len(os.sched_getaffinity(0))
    except AttributeError:  # not on macOS
        affinity = None
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    busy = cpu_busy_fraction()
    env_keys = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE")
    return {
        "date_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": package_versions(["torch", "numpy", "losscraft", *packages]),
        "threads": threads,
        "interop_threads": torch.get_num_interop_threads(),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": affinity,
        "mem_total_bytes": _mem_total_bytes(),
        "loadavg_start": list(load) if load else None,
        # what other processes used in the second before the run (the 1-minute load average
        # still counts whatever ran in the minute before, e.g. a test suite)
        "cpu_busy_start": busy,
        # MKL/oneDNN/OpenMP versions and their thread counts, as torch reports them
        "torch_parallel": [ln.strip() for ln in torch.__config__.parallel_info().splitlines() if ln.strip()],
        "git_commit": commit,
        "git_dirty": bool(status) if status is not None else None,
        "env": {k: os.environ.get(k) for k in env_keys},
    }


def _cpu_times() -> tuple[int, int] | None:
    """(busy, total) jiffies over all CPUs from ``/proc/stat`` (Linux), else ``None``."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # guest time is already inside user/nice
    return total - idle, total


def cpu_busy_fraction(interval_s: float = 1.0) -> float | None:
    """Fraction of all CPUs' time spent busy during ``interval_s`` (Linux), else ``None``.

    Why: the load average is a 1-minute moving average; right after a test suite it reads
    "busy" on an idle machine. One second of ``/proc/stat`` says what competes with the run now.
    """
    a = _cpu_times()
    if a is None:
        return None
    time.sleep(interval_s)
    b = _cpu_times()
    if b is None or b[1] <= a[1]:
        return None
    return (b[0] - a[0]) / (b[1] - a[1])


def run_isolated(
    argv: Sequence[str], *, timeout_s: float, env: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Run a worker process and return the JSON it printed after :data:`RESULT_PREFIX`.

    Never raises for a failing worker: a crash, a timeout or a missing result line comes back
    as ``{"status": "error", "reason": ...}`` so one broken peer cannot stop a benchmark run.

    Args:
        argv: the full command line (``[sys.executable, script, ...]``).
        timeout_s: wall-clock limit; the worker is killed past it.
        env: extra environment variables (e.g. ``OMP_NUM_THREADS``).

    Returns:
        The worker's result dict, with ``wall_s`` (process lifetime) added.
    """
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=timeout_s, env=full_env, check=False
        )
    except subprocess.TimeoutExpired:
        return {"status": "error", "reason": f"timed out after {timeout_s:.0f} s"}
    wall = time.perf_counter() - t0
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            out: dict[str, Any] = json.loads(line[len(RESULT_PREFIX) :])
            out["wall_s"] = wall
            return out
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
    reason = f"worker exited with {proc.returncode}" + (": " + " | ".join(tail) if tail else "")
    return {"status": "error", "reason": reason, "wall_s": wall}
