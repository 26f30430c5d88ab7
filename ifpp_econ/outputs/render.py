"""Charts rendered once each, as PNG and SVG, in a worker process while the main process computes.

A chart is a small job: the name of a drawing function (``charts.ce_plane``, ``report.model_diagram``…)
and its arguments, which are summaries or short arrays. :class:`ChartRenderer` queues each job and sends
it to a forked worker process when the worker is free (so matplotlib is imported and charts are drawn on
the second core while the model runs); the main process draws queued charts itself rather than wait. The
SVG text is kept for the HTML report to inline — nothing is drawn twice and nothing is read back from the
run folder. Each figure is laid out and drawn once (:func:`save`). Rendering is deterministic, so the files
are the same whoever draws them (``IFPP_ECON_CHART_WORKER=0`` draws everything in the main process).
"""
from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

FORMATS = ("png", "svg")
PNG_DPI = 150  # PNG resolution, dots per inch
PNG_OPTIONS = {"compress_level": 1}  # a third less encoding time than zlib's default; files a few per cent larger


def render(folder: str | Path | None, name: str, kind: str, args: tuple = (), kwargs: dict | None = None,
           formats: tuple[str, ...] = FORMATS) -> str:
    """Draw chart ``kind`` (a drawing function of :data:`ifpp_econ.outputs.charts.DRAWERS`) from ``args`` and
    ``kwargs`` and save it as ``folder/name.png`` and ``.svg``; returns the SVG text."""
    import matplotlib.pyplot as plt

    from . import charts

    with charts.style(), plt.rc_context({"text.parse_math": False}):  # the house style when drawing and saving
        fig = charts.DRAWERS[kind](*args, **(kwargs or {}))      # (SVG ids, minus signs); workbook labels are plain text
        try:
            return save(fig, folder, name, formats)
        finally:
            plt.close(fig)


def save(fig, folder: str | Path | None, name: str, formats: tuple[str, ...] = FORMATS) -> str:
    """Save ``fig`` as ``folder/name.png`` (150 dpi) and ``.svg``, cropped to the tight bounding box of what is
    drawn (as ``bbox_inches="tight"``); returns the SVG text (written to no file when ``folder`` is None).

    The figure is laid out and drawn once, by Agg: the PNG is that drawing, cropped, and the SVG reuses its
    bounding box, so the SVG backend draws once more and nothing is measured twice (``savefig`` with
    ``bbox_inches="tight"`` lays each format out twice).
    """
    import io

    import matplotlib as mpl
    import numpy as np
    from matplotlib.image import imsave

    dpi = PNG_DPI
    fig.set_dpi(dpi)  # the figure's own dpi, so layout and drawing measure text with one renderer
    fig.canvas.draw()  # runs any layout engine, then draws every artist at its final place
    bbox = fig.get_tightbbox(fig.canvas.get_renderer()).padded(mpl.rcParams["savefig.pad_inches"])  # inches
    fig.set_layout_engine(None)  # laid out: saving must not lay it out again
    if folder is not None and "png" in formats:
        drawn = np.asarray(fig.canvas.buffer_rgba())
        rows, columns = drawn.shape[:2]
        left, right = int(np.floor(bbox.x0 * dpi)), int(np.ceil(bbox.x1 * dpi))
        top, bottom = int(np.floor(rows - bbox.y1 * dpi)), int(np.ceil(rows - bbox.y0 * dpi))  # pixel rows
        if left >= 0 and top >= 0 and right <= columns and bottom <= rows:  # all of it is on the canvas: crop
            imsave(Path(folder) / f"{name}.png", drawn[top:bottom, left:right], format="png", dpi=dpi,
                   pil_kwargs=PNG_OPTIONS)
        else:  # something is drawn beyond the figure's edge: draw again on a canvas the size of the box
            fig.savefig(Path(folder) / f"{name}.png", dpi=dpi, bbox_inches=bbox, pil_kwargs=PNG_OPTIONS)
    text = ""
    if "svg" in formats:
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", bbox_inches=bbox, metadata={"Date": None})
        text = buffer.getvalue()
        if folder is not None:
            (Path(folder) / f"{name}.svg").write_text(text, encoding="utf-8")
    return text


def call(function, args: tuple = (), kwargs: dict | None = None):
    """``function(*args, **kwargs)`` (a module-level function, so it can be sent to a worker) with the compiled kernels on one thread
    (a worker was forked from a process whose thread pools it must not use; results are the same on any number
    of threads)."""
    from ..engine import threads

    with threads.single_thread():
        return function(*args, **(kwargs or {}))


def _warm_up() -> None:
    """In the worker, while the main process reads the workbook and runs the model: import the drawing code and
    draw one small chart (fonts loaded, caches filled), so that the run's first chart costs no more than the rest."""
    render(None, "warm-up", "warm_up")


def _follow_parent(parent: int) -> None:
    """Worker initializer: end this worker when the run's process ends, even by SIGKILL (no orphans)."""
    import signal
    import threading
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


def _worker():
    """One forked worker process that dies with this one."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork"),
                               initializer=_follow_parent, initargs=(os.getpid(),))


def _use_worker() -> bool:
    if os.environ.get("IFPP_ECON_CHART_WORKER", "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    return (os.cpu_count() or 1) > 1 and hasattr(os, "fork")


_PRESTARTED: list = []  # a chart worker forked before its run folder exists (see prestart)


def prestart() -> None:
    """Fork the chart worker now, so it imports the drawing code while this process reads the workbook; the
    next :class:`ChartRenderer` adopts it. Pair with :func:`discard_prestarted` (a run that failed before
    making its folder leaves no worker behind)."""
    if _use_worker() and not _PRESTARTED:
        try:
            pool = _worker()
            pool.submit(_warm_up)
        except (OSError, ValueError, ImportError):
            return
        _PRESTARTED.append(pool)


def discard_prestarted() -> None:
    """Stop a prestarted worker that no run adopted."""
    while _PRESTARTED:
        _PRESTARTED.pop().shutdown(wait=False, cancel_futures=True)


@contextlib.contextmanager
def prestarted():
    """``with prestarted():`` :func:`prestart` on entry, :func:`discard_prestarted` on exit: the chart worker loads
    matplotlib while the block reads the workbook, and is left behind by no failure."""
    prestart()
    try:
        yield
    finally:
        discard_prestarted()


class _Job:
    """``function(*args)`` (picklable: :func:`render` or :func:`call`) and the future of its result."""

    def __init__(self, function, args: tuple):
        self.function, self.args = function, args
        self.future: Future = Future()

    def run_here(self) -> None:
        try:
            self.future.set_result(self.function(*self.args))
        except Exception as exc:  # re-raised by the future's result()
            self.future.set_exception(exc)


class _Lane:
    """A worker process fed one job at a time from a queue here, so that a job it has not started can still be
    taken back and run by the main process (a process pool would have moved it into the worker's own queue)."""

    def __init__(self, pool):
        import threading
        from collections import deque

        self.pool = pool
        self.queue: deque[_Job] = deque()  # not yet started, oldest first
        self.busy = False
        self.lock = threading.Lock()  # also used from the pool's completion callbacks

    def put(self, job: _Job) -> None:
        with self.lock:
            self.queue.append(job)
        self._next()

    def _next(self) -> None:
        with self.lock:
            if self.busy or not self.queue or self.pool is None:
                return
            job = self.queue.popleft()
            self.busy = True
        try:
            running = self.pool.submit(job.function, *job.args)
        except RuntimeError:  # the worker died: the main process runs what is left
            self._lost(job)
            return
        running.add_done_callback(lambda running: self._done(job, running))

    def _done(self, job: _Job, running: Future) -> None:
        from concurrent.futures.process import BrokenProcessPool

        if running.cancelled():  # the run was stopped (close(cancel=True)): nothing waits for it
            return
        exc = running.exception()
        if isinstance(exc, BrokenProcessPool):  # the worker was killed: the main process runs what is left
            self._lost(job)
            return
        if exc is None:
            job.future.set_result(running.result())
        else:
            job.future.set_exception(exc)
        with self.lock:
            self.busy = False
        self._next()

    def _lost(self, job: _Job) -> None:
        with self.lock:
            self.pool, self.busy = None, False
            self.queue.appendleft(job)

    def take(self, future: Future | None = None) -> _Job | None:
        """Take back the job of ``future`` if it has not started, or (None) the newest job not started; None if
        there is none."""
        with self.lock:
            if future is None:
                return self.queue.pop() if self.queue else None
            for job in self.queue:
                if job.future is future:
                    self.queue.remove(job)
                    return job
            return None


class ChartRenderer:
    """Renders a run's charts in a worker process (or in this process when ``parallel`` is false); with
    ``workers`` = 2, :meth:`submit` runs other work (e.g. the DSA while the PSA runs here) in a second worker,
    which never imports matplotlib; with one worker, in the chart worker.

    Jobs wait in a queue here and go to their worker one at a time, when it is free. Waiting for a job that has
    not started, this process runs it; waiting for a chart, it draws the newest queued charts meanwhile (the
    worker takes the oldest), so neither process waits idle while the other has work queued."""

    def __init__(self, folder: Path, parallel: bool | None = None, workers: int = 1):
        self.folder = folder
        self.results: dict[str, Future] = {}
        self._pool = self._compute = None
        if parallel is None:
            parallel = _use_worker()
        if parallel:
            try:
                if _PRESTARTED:  # forked earlier, already importing the drawing code
                    self._pool = _PRESTARTED.pop()
                else:
                    self._pool = _worker()
                    self._pool.submit(_warm_up)  # forks now, before the model starts its threads
                if workers > 1:
                    self._compute = _worker()
                    self._compute.submit(int)  # forks now too
            except (OSError, ValueError, ImportError):
                self.close(cancel=True)
        self._charts = _Lane(self._pool)
        self._other = _Lane(self._compute) if self._compute is not None else self._charts

    def _queue(self, lane: _Lane, job: _Job) -> Future:
        if lane.pool is None:
            job.run_here()
        else:
            lane.put(job)
        return job.future

    def draw(self, name: str, kind: str, *args, _save: bool = True, **kwargs) -> None:
        """Queue chart ``name`` (files ``name.png`` and ``name.svg`` unless ``_save`` is false)."""
        job = _Job(render, (self.folder if _save else None, name, kind, args, kwargs))
        self.results[name] = self._queue(self._charts, job)

    def submit(self, function: Callable, *args, **kwargs) -> Future:
        """Run ``function`` (``"module.name"``) in a worker (in this process, at once, without one); the future's
        result is best had from :meth:`result`."""
        return self._queue(self._other, _Job(call, (function, args, kwargs)))

    def result(self, future: Future):
        """``future.result()`` of a :meth:`submit` job; run here if no worker has started it."""
        job = None if future.done() else self._other.take(future)
        if job is not None:
            job.run_here()
        return future.result()

    @property
    def workers(self) -> int:
        """Worker processes running beside this one."""
        return sum(pool is not None for pool in (self._pool, self._compute))

    def svg(self, name: str) -> str:
        """The SVG text of chart ``name`` (waits for it, drawing the newest queued charts meanwhile)."""
        future = self.results[name]
        while not future.done():
            job = self._charts.take()
            if job is None:
                break
            job.run_here()
        return future.result()

    def wait(self) -> None:
        """Wait for every queued chart (their files are then in the folder); raises a drawing error."""
        for name in list(self.results):
            self.svg(name)

    def close(self, cancel: bool = False) -> None:
        """Stop the workers: after their queued work, or (``cancel``: the run was interrupted or failed, its
        folder is about to be removed) at once, dropping what they were doing."""
        for lane in (getattr(self, "_charts", None), getattr(self, "_other", None)):  # none yet if __init__ failed
            if cancel and lane is not None:
                with lane.lock:
                    lane.queue.clear()
        for pool in (self._pool, self._compute):
            if pool is None:
                continue
            if cancel:
                for process in list((getattr(pool, "_processes", None) or {}).values()):
                    process.kill()
            pool.shutdown(wait=True, cancel_futures=cancel)
        self._pool = self._compute = None
