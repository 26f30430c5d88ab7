"""Where work runs: ``concurrent.futures`` executors for the pipeline, knowing nothing of what they run.

The pipeline (:mod:`ifpp_econ.pipeline`) computes the same numbers wherever a job runs; it is handed an ordinary
:class:`concurrent.futures.Executor` and only calls ``submit`` and :func:`result`. Two kinds live here:

* :class:`Serial` — runs each job in the calling thread when it is submitted (the default: no processes, no
  threads; what the Python API uses).
* :class:`Worker` — one forked worker process fed one job at a time from a queue kept here, so a job that has not
  started can still be taken back and run by the caller: :func:`result` runs a pending job here instead of waiting
  for it, and :meth:`Worker.help` draws queued jobs here while the caller would otherwise wait (the newest first;
  the worker takes the oldest). The worker is forked at creation (``start=True``, e.g. so that matplotlib loads
  while the workbook is read) or at the first ``submit`` (so that it inherits what the caller has loaded by
  then, e.g. the compiled model); it dies with the run, even on SIGKILL (Linux), and runs compiled kernels on one
  thread. Without ``fork`` (or on one core) it runs jobs here, as :class:`Serial`.

Any other executor works too (a ``ProcessPoolExecutor``, Dask's ``Client.get_executor()``): jobs are module-level
functions with picklable arguments.
"""
from __future__ import annotations

import os
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, Future
from typing import Any


class Serial(Executor):
    """Runs every job at once, in the calling thread; ``submit`` returns a finished future."""

    def submit(self, fn: Callable, /, *args, **kwargs) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # KeyboardInterrupt included: re-raised by result()
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            future.set_exception(exc)
        return future


def _follow_parent(parent: int) -> None:
    """Worker initializer: end this worker when the run's process ends, even by SIGKILL (no orphans)."""
    import signal
    import time

    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG (Linux)
    except (OSError, AttributeError):
        pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the run's to handle: it stops the workers
    if "matplotlib" in sys.modules:  # a worker draws into files only, whatever backend its parent uses
        sys.modules["matplotlib"].use("Agg", force=True)
    else:
        os.environ["MPLBACKEND"] = "Agg"

    def watch() -> None:  # elsewhere: poll
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    if os.getppid() != parent:
        os._exit(0)
    threading.Thread(target=watch, daemon=True).start()


class _Job:
    """``fn(*args, **kwargs)`` and the future of its result."""

    def __init__(self, fn: Callable, args: tuple, kwargs: dict):
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.future: Future = Future()

    def run_here(self) -> None:
        if not self.future.set_running_or_notify_cancel():
            return
        try:
            self.future.set_result(_one_thread(self.fn, *self.args, **self.kwargs))
        except Exception as exc:  # re-raised by the future's result()
            self.future.set_exception(exc)


def _one_thread(fn: Callable, *args, **kwargs):
    """``fn(*args, **kwargs)`` with the compiled kernels on one thread (a forked worker must not use the thread pools
    of the process it was forked from); the engine is imported only when a job runs."""
    from .engine.threads import on_one_thread

    return on_one_thread(fn, *args, **kwargs)


def forking_available() -> bool:
    """A worker process can be forked here and would run beside this one (``IFPP_ECON_WORKERS=0`` turns workers off:
    everything then runs in the calling process, with the same results)."""
    if os.environ.get("IFPP_ECON_WORKERS", os.environ.get("IFPP_ECON_CHART_WORKER", "1")).strip().lower() in (
            "0", "false", "no", "off"):
        return False
    return (os.cpu_count() or 1) > 1 and hasattr(os, "fork")


class Worker(Executor):
    """One forked worker process fed one job at a time from a queue kept here (see the module docstring).

    ``warm_up``: a job run first in the worker (e.g. importing and drawing a small chart), so the run's first real
    job costs no more than the rest. ``start``: fork now (else at the first ``submit``).
    """

    def __init__(self, warm_up: Callable | None = None, start: bool = False):
        self._pool: Any = None  # the ProcessPoolExecutor of the one worker process, once forked
        self._lock = threading.Lock()  # also taken from the pool's completion callbacks
        self._queue: deque[_Job] = deque()  # not yet started, oldest first
        self._busy = False
        self._closed = False
        self._warm_up = warm_up
        self._available = forking_available()
        if start:
            self._start()

    # -- the worker process ------------------------------------------------------------------------------------------
    def _start(self) -> None:
        if self._pool is not None or not self._available or self._closed:
            return
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        try:
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork"),
                                             initializer=_follow_parent, initargs=(os.getpid(),))
            self._pool.submit(self._warm_up or int)  # forks now
        except (OSError, ValueError, ImportError):
            self._pool, self._available = None, False

    @property
    def parallel(self) -> bool:
        """True when jobs run in a worker process beside this one."""
        return self._pool is not None

    # -- the Executor interface --------------------------------------------------------------------------------------
    def submit(self, fn: Callable, /, *args, **kwargs) -> Future:
        if self._closed:
            raise RuntimeError("cannot submit to a closed worker")
        self._start()
        job = _Job(fn, args, kwargs)
        if self._pool is None:
            job.run_here()
            return job.future
        with self._lock:
            self._queue.append(job)
        self._next()
        return job.future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop the worker: after its queued jobs, or (``cancel_futures``: the run failed or was interrupted) at once,
        dropping what it was doing."""
        with self._lock:
            self._closed = True
            if cancel_futures:
                for job in self._queue:
                    job.future.cancel()
                self._queue.clear()
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if cancel_futures:
            for process in list((getattr(pool, "_processes", None) or {}).values()):
                process.kill()
        elif wait:
            self.help()  # what is still queued: the worker takes the oldest, this process the newest
        pool.shutdown(wait=wait or cancel_futures, cancel_futures=cancel_futures)

    def queued(self) -> int:
        """How many submitted jobs have not started."""
        with self._lock:
            return len(self._queue)

    # -- taking work back --------------------------------------------------------------------------------------------
    def take(self, future: Future | None = None) -> _Job | None:
        """The job of ``future`` if it has not started, or (None) the newest job not started; None if there is none."""
        with self._lock:
            if future is None:
                return self._queue.pop() if self._queue else None
            for job in self._queue:
                if job.future is future:
                    self._queue.remove(job)
                    return job
            return None

    def help(self, futures: Iterable[Future] | None = None) -> None:
        """Until ``futures`` (default: every job queued) are done, run queued jobs here, newest first."""
        wanted = list(futures) if futures is not None else None
        while True:
            if wanted is not None and all(f.done() for f in wanted):
                return
            job = self.take()
            if job is None:
                return
            job.run_here()

    # -- feeding the worker ------------------------------------------------------------------------------------------
    def _next(self) -> None:
        with self._lock:
            if self._busy or not self._queue or self._pool is None:
                return
            job = self._queue.popleft()
            self._busy = True
            pool = self._pool
        if not job.future.set_running_or_notify_cancel():
            with self._lock:
                self._busy = False
            self._next()
            return
        try:
            running = pool.submit(_one_thread, job.fn, *job.args, **job.kwargs)
        except RuntimeError:  # the worker died: this process runs what is left
            self._lost(job)
            return
        running.add_done_callback(lambda running: self._done(job, running))

    def _done(self, job: _Job, running: Future) -> None:
        from concurrent.futures.process import BrokenProcessPool

        if running.cancelled():  # the run was stopped (shutdown with cancel_futures): nothing waits for it
            return
        exc = running.exception()
        if isinstance(exc, BrokenProcessPool):  # the worker was killed: this process runs what is left
            self._lost(job)
            return
        if exc is None:
            job.future.set_result(running.result())
        else:
            job.future.set_exception(exc)
        with self._lock:
            self._busy = False
        self._next()

    def _lost(self, job: _Job) -> None:
        """The worker is gone: this job (already marked running) and the queue are run here when asked for."""
        retry = _Job(job.fn, job.args, job.kwargs)
        retry.future = _Relay(job.future)
        with self._lock:
            self._pool, self._busy = None, False
            self._queue.appendleft(retry)


class _Relay(Future):
    """A future whose result is passed on to another (the original job's, already marked running)."""

    def __init__(self, target: Future):
        super().__init__()
        self.add_done_callback(lambda f: target.set_exception(f.exception()) if f.exception() else target.set_result(f.result()))


def result(executor: Executor, future: Future) -> Any:
    """``future.result()``; a job of a :class:`Worker` that has not started is run here instead of waiting for it."""
    if not future.done() and isinstance(executor, Worker):
        job = executor.take(future)
        if job is not None:
            job.run_here()
        elif isinstance(future, Future) and not future.done():
            executor.help([future])  # draw other queued jobs while the worker finishes this one
    return future.result()


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity; ``os.cpu_count()`` where that is unknown)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return os.cpu_count() or 1


POOLS = ("serial", "processes", "dask")


class Pool:
    """``with Pool(kind, workers, scheduler) as executor:`` an executor for many independent jobs.

    ``serial``: :class:`Serial`. ``processes``: a ``concurrent.futures.ProcessPoolExecutor`` of ``workers`` processes
    (default: every available core), forked where possible so they inherit what this process has loaded (the compiled
    model), each dying with this process. ``dask``: Dask distributed's executor (``Client.get_executor()``) on the
    scheduler at ``scheduler`` (``tcp://host:8786``), or on a ``LocalCluster`` of ``workers`` single-threaded worker
    processes when no address is given (needs ``pip install 'ifpp-econ[dask]'``). ``workers`` after entering: how
    many jobs run at once.
    """

    def __init__(self, kind: str = "serial", workers: int | None = None, scheduler: str | None = None):
        from .exceptions import OptionError

        if kind not in POOLS:
            raise OptionError(f"executor {kind!r}: allowed {', '.join(POOLS)}")
        if scheduler and kind != "dask":
            raise OptionError("--scheduler is the address of a Dask scheduler: use it with --executor dask")
        self.kind, self.scheduler = kind, scheduler
        self.workers = 1 if kind == "serial" else int(workers or available_cores())
        self._closers: list[Callable[[], Any]] = []
        self.executor: Executor = Serial()

    def __enter__(self) -> Executor:
        if self.kind == "processes":
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            context = multiprocessing.get_context("fork") if hasattr(os, "fork") else None
            pool = ProcessPoolExecutor(self.workers, mp_context=context, initializer=_follow_parent,
                                       initargs=(os.getpid(),))
            self.executor = pool
            self._closers.append(lambda: pool.shutdown(wait=True, cancel_futures=True))
        elif self.kind == "dask":
            self.executor = self._dask()
        return self.executor

    def _dask(self) -> Executor:
        from .exceptions import OptionError

        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise OptionError("--executor dask needs Dask distributed: pip install 'ifpp-econ[dask]'") from None
        if self.scheduler:
            try:
                client = Client(self.scheduler, timeout="20s")
            except (OSError, TimeoutError) as exc:
                raise OptionError(f"--scheduler {self.scheduler}: cannot connect to a Dask scheduler there ({exc})"
                                  ) from None
            self.workers = max(1, sum(client.nthreads().values()))
        else:
            cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None)
            self._closers.append(cluster.close)
            client = Client(cluster)
        self._closers.insert(0, client.close)
        return client.get_executor(pure=False)

    def __exit__(self, exc_type, exc, tb) -> None:
        for close in self._closers:
            try:
                close()
            except Exception:  # closing after a failure: the failure is what matters
                if exc_type is None:
                    raise
        self._closers.clear()
