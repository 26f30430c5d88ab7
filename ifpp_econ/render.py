"""Charts rendered once each, as PNG and SVG, in a worker process while the main process computes.

A chart is a small job: the name of a drawing function (``charts.ce_plane``, ``report.model_diagram``…)
and its arguments, which are summaries or short arrays. :class:`ChartRenderer` sends each job to one
forked worker process (so matplotlib is imported and charts are drawn on the second core while the
model runs) and keeps the SVG text it returns, which the HTML report inlines — nothing is drawn twice
and nothing is read back from the run folder. Rendering is deterministic, so the files are the same
whether a worker is used or not (``IFPP_ECON_CHART_WORKER=0`` draws in the main process).
"""
from __future__ import annotations

import importlib
import os
import sys
from concurrent.futures import Future
from pathlib import Path

FORMATS = ("png", "svg")
PNG_DPI = 150  # PNG resolution, dots per inch


def render(folder: str | Path | None, name: str, function: str, args: tuple = (), kwargs: dict | None = None,
           formats: tuple[str, ...] = FORMATS) -> str:
    """Draw ``function(*args, **kwargs)`` (``"module.name"`` inside ifpp_econ) and save it as ``folder/name.png``
    and ``.svg``; returns the SVG text."""
    import matplotlib.pyplot as plt

    from . import charts

    with charts.style(), plt.rc_context({"text.parse_math": False}):  # the house style when drawing and saving
        fig = _resolve(function)(*args, **(kwargs or {}))        # (SVG ids, minus signs); workbook labels are plain text
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
            imsave(Path(folder) / f"{name}.png", drawn[top:bottom, left:right], format="png", dpi=dpi)
        else:  # something is drawn beyond the figure's edge: draw again on a canvas the size of the box
            fig.savefig(Path(folder) / f"{name}.png", dpi=dpi, bbox_inches=bbox)
    text = ""
    if "svg" in formats:
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", bbox_inches=bbox, metadata={"Date": None})
        text = buffer.getvalue()
        if folder is not None:
            (Path(folder) / f"{name}.svg").write_text(text, encoding="utf-8")
    return text


def _resolve(function: str):
    module, attr = function.rsplit(".", 1)
    return getattr(importlib.import_module(f"ifpp_econ.{module}"), attr)


def call(function: str, args: tuple = (), kwargs: dict | None = None):
    """``function(*args, **kwargs)`` (``"module.name"`` inside ifpp_econ) with the compiled kernels on one thread
    (a worker was forked from a process whose thread pools it must not use; results are the same on any number
    of threads)."""
    from . import kernels

    with kernels.single_thread():
        return _resolve(function)(*args, **(kwargs or {}))


def _warm_up() -> None:
    """In the worker, while the main process reads the workbook and runs the model: import the drawing code and
    draw one small chart (fonts loaded, caches filled), so that the run's first chart costs no more than the rest."""
    render(None, "warm-up", "charts.warm_up")


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


class ChartRenderer:
    """Renders a run's charts in a worker process (or in this process when ``parallel`` is false); with
    ``workers`` = 2, :meth:`submit` runs other work (e.g. the DSA while the PSA runs here) in a second worker,
    which never imports matplotlib; with one worker, in the chart worker.

    Charts wait in a queue here and go to the worker one at a time, when it is free, so that whichever of the
    worker and this process is idle draws the next one (:meth:`svg`, :meth:`wait` and :meth:`result` draw
    queued charts here rather than wait idle)."""

    def __init__(self, folder: Path, parallel: bool | None = None, workers: int = 1):
        import threading
        from collections import deque

        self.folder = folder
        self.results: dict[str, Future] = {}
        self._jobs: dict[str, tuple] = {}
        self._queued: deque[str] = deque()  # charts not yet started, oldest first
        self._busy = False  # the chart worker is drawing one
        self._lock = threading.Lock()  # the queue is also served from the worker's completion callbacks
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

    def draw(self, name: str, function: str, *args, _save: bool = True, **kwargs) -> None:
        """Queue chart ``name`` (files ``name.png`` and ``name.svg`` unless ``_save`` is false)."""
        self._jobs[name] = (self.folder if _save else None, function, args, kwargs)
        self.results[name] = Future()
        if self._pool is None:
            self._draw_here(name)
            return
        with self._lock:
            self._queued.append(name)
        self._dispatch()

    def _dispatch(self) -> None:
        """Send the oldest queued chart to the worker if it is free."""
        with self._lock:
            if self._busy or not self._queued or self._pool is None:
                return
            name = self._queued.popleft()
            self._busy = True
        folder, function, args, kwargs = self._jobs[name]
        try:
            job = self._pool.submit(render, folder, name, function, args, kwargs)
        except RuntimeError:  # the worker died: this process draws what is left
            self._lost(name)
            return
        job.add_done_callback(lambda job, name=name: self._finished(name, job))

    def _finished(self, name: str, job: Future) -> None:
        from concurrent.futures.process import BrokenProcessPool

        exc = job.exception()
        if isinstance(exc, BrokenProcessPool):  # the worker was killed: this process draws what is left
            self._lost(name)
            return
        if exc is None:
            self.results[name].set_result(job.result())
        else:  # re-raised by svg()/wait()
            self.results[name].set_exception(exc)
        with self._lock:
            self._busy = False
        self._dispatch()

    def _lost(self, name: str) -> None:
        with self._lock:
            self._pool, self._busy = None, False
            self._queued.appendleft(name)

    def _draw_here(self, name: str) -> None:
        folder, function, args, kwargs = self._jobs[name]
        try:
            self.results[name].set_result(render(folder, name, function, args, kwargs))
        except Exception as exc:  # re-raised by svg()/wait()
            self.results[name].set_exception(exc)

    def _help(self) -> bool:
        """Draw here the newest queued chart (the worker takes the oldest, so the two do not meet); False when
        none is queued."""
        with self._lock:
            if not self._queued:
                return False
            name = self._queued.pop()
        self._draw_here(name)
        return True

    def submit(self, function: str, *args, **kwargs) -> Future:
        """Run ``function`` (``"module.name"``) in a worker; in this process, at once, without one."""
        pool = self._compute or self._pool
        if pool is not None:
            try:
                return pool.submit(call, function, args, kwargs)
            except RuntimeError:  # a worker died: go on here
                self._compute = None
        done: Future = Future()
        try:
            done.set_result(_resolve(function)(*args, **kwargs))
        except Exception as exc:  # re-raised by result()
            done.set_exception(exc)
        return done

    def result(self, future: Future):
        """``future.result()`` (of :meth:`submit`), drawing queued charts here while it is not done."""
        while not future.done() and self._help():
            pass
        return future.result()

    def svg(self, name: str) -> str:
        """The SVG text of chart ``name`` (waits for it, drawing queued charts meanwhile)."""
        return self.result(self.results[name])

    def wait(self) -> None:
        """Wait for every queued chart (their files are then in the folder); raises a drawing error."""
        for name in list(self.results):
            self.svg(name)

    def close(self, cancel: bool = False) -> None:
        """Stop the workers: after their queued work, or (``cancel``: the run was interrupted or failed, its
        folder is about to be removed) at once, dropping what they were doing."""
        if cancel:
            with self._lock:
                self._queued.clear()
        for pool in (self._pool, self._compute):
            if pool is None:
                continue
            if cancel:
                for process in list((getattr(pool, "_processes", None) or {}).values()):
                    process.kill()
            pool.shutdown(wait=True, cancel_futures=cancel)
        self._pool = self._compute = None
