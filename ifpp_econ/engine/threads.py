"""Where compiled code runs: the kernel choice (numba or the numpy reference) and the threads a computation may use.

Every compiled loop in the package asks this module how many threads it may use (:func:`threads_for`), so
one setting (:func:`set_workers`, or :func:`single_thread` inside a chunk that has a thread of its own)
governs them all. numba is imported only when a compiled loop runs (:func:`numba_module`).
"""
from __future__ import annotations

import contextlib
import functools
import os
import threading

KERNELS = ("auto", "numba", "numpy")

_WORKERS: int | None = None
ANNOUNCE: list = []  # the command line puts a function here (message → stderr), told before a first compile
_LOCAL = threading.local()  # a chunk running in a thread of its own uses one thread (see psa.run_psa)


@functools.lru_cache(maxsize=1)
def numba_module():
    """The numba module, or None when it cannot be imported (imported on first use: ~0.5 s)."""
    try:
        import numba
    except Exception:  # pragma: no cover - exercised only without numba
        return None
    return numba


def available_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def set_workers(workers: int | None) -> int | None:
    """Threads for the compiled kernel and the thread pools of a run (``None``: every available core; more than the
    available cores are capped at them).

    Returns the previous setting, so a run can restore it."""
    global _WORKERS
    if workers is not None and int(workers) < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    # more threads than cores would only compete (and keep more chunks in flight): capped at the available cores
    previous, _WORKERS = _WORKERS, None if workers is None else min(int(workers), available_cores())
    return previous


def workers() -> int:
    """Threads the current computation may use: :func:`single_thread` inside a chunk's own
    thread, else :func:`set_workers`, else every available core."""
    return getattr(_LOCAL, "workers", None) or _WORKERS or available_cores()


@contextlib.contextmanager
def single_thread():
    """Within this block (in the current thread) kernels and thread pools use one thread."""
    previous = getattr(_LOCAL, "workers", None)
    _LOCAL.workers = 1
    try:
        yield
    finally:
        _LOCAL.workers = previous


def on_one_thread(func, *args, **kwargs):
    """``func(*args, **kwargs)`` within :func:`single_thread`: for work run in a thread beside others (compiled loops
    then run their serial twins; the numbers are the same on any number of threads)."""
    with single_thread():
        return func(*args, **kwargs)


PARALLEL_MIN_ITERATIONS = 1_024  # below this a batch runs on one thread: starting numba's pool costs more than it saves


def threads_for(iterations: int | None = None) -> int:
    """Threads for a compiled batch of ``iterations``: :func:`workers`, or 1 below :data:`PARALLEL_MIN_ITERATIONS`
    (a compiled module then runs its serial twin, which gives the same numbers); numba's pool is sized to match."""
    threads = workers() if iterations is None or iterations >= PARALLEL_MIN_ITERATIONS else 1
    if threads > 1:
        numba = numba_module()
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    return threads


def choose_kernel(kernel: str | None = None) -> str:
    """Resolve ``kernel`` (argument, else ``IFPP_ECON_KERNEL``, else ``"auto"``) to ``"numba"`` or ``"numpy"``.

    ``"auto"`` is numba whenever it imports: the choice never depends on the batch, so every
    chunk of a run takes the same path and results do not depend on the chunk size.
    """
    kernel = (kernel or os.environ.get("IFPP_ECON_KERNEL") or "auto").strip().lower()
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {KERNELS} (argument or IFPP_ECON_KERNEL), got {kernel!r}")
    if kernel == "numpy":
        return kernel
    if numba_module() is None:
        if kernel == "numba":
            raise ValueError("kernel 'numba' requested but numba cannot be imported; install numba or use 'numpy'")
        return "numpy"
    return "numba"
