"""Drawing charts: one function, :func:`draw`, renders a :class:`~ifpp_econ.outputs.figures.ChartSpec` as PNG and SVG,
wherever an executor runs it; :class:`Charts` hands a run's specs to an executor and keeps their SVG text for the
HTML report, so nothing is drawn twice and nothing is read back from the run folder.

Each figure is laid out and drawn once (:func:`save`). Rendering is deterministic, so the files are the same
whoever draws them (the main process, or a forked :class:`~ifpp_econ.executors.Worker`; ``IFPP_ECON_WORKERS=0``
draws everything in the main process).
"""
from __future__ import annotations

import sys
from collections.abc import Iterable
from concurrent.futures import Executor, Future, wait
from pathlib import Path

from .. import executors
from ..executors import Serial
from .figures import ChartSpec

FORMATS = ("png", "svg")
PNG_DPI = 150  # PNG resolution, dots per inch
HELP_FROM = 3  # charts not yet started from which this process draws some too, even if it must import matplotlib
PNG_OPTIONS = {"compress_level": 1}  # a third less encoding time than zlib's default; files a few per cent larger


def draw(spec: ChartSpec, folder: str | Path | None, formats: tuple[str, ...] = FORMATS) -> str:
    """Draw ``spec`` (its drawing function :data:`ifpp_econ.outputs.charts.DRAWERS` ``[spec.kind]``) and save it as
    ``folder/<name>.png`` and ``.svg`` (no file when ``folder`` is None); returns the SVG text."""
    import matplotlib.pyplot as plt

    from . import charts

    with charts.style(), plt.rc_context({"text.parse_math": False}):  # the house style when drawing and saving
        fig = charts.DRAWERS[spec.kind](*spec.args, **spec.kwargs)  # (SVG ids, minus signs); labels are plain text
        try:
            return save(fig, folder, spec.name, formats)
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


def warm_up() -> None:
    """Import the drawing code and draw one small chart (fonts loaded, caches filled), so that a run's first chart
    costs no more than the rest: a chart worker's first job, run while the main process reads the workbook."""
    draw(ChartSpec("warm-up", "warm_up"), None)


class Charts:
    """A run's charts: each spec drawn by :func:`draw` in ``executor`` (default: here, at once) into ``folder``.

    :meth:`svg` gives a chart's SVG text (waiting for it: meanwhile this process draws charts the executor has not
    started); :meth:`wait` waits for every chart and returns the files written. Used as a context manager, an
    exception (a failed or interrupted run) stops a worker executor at once, before its folder is removed.
    """

    def __init__(self, folder: str | Path, executor: Executor | None = None):
        self.folder = Path(folder)
        self.executor = executor or Serial()
        self.futures: dict[str, Future] = {}
        self.files: list[str] = []

    def draw(self, specs: Iterable[ChartSpec]) -> None:
        """Queue each spec (files ``<name>.png`` and ``.svg`` unless the spec is only inlined)."""
        for spec in specs:
            self.futures[spec.name] = self.executor.submit(draw, spec, self.folder if spec.save else None)
            if spec.save:
                self.files += [f"{spec.name}.{fmt}" for fmt in FORMATS]

    def svg(self, name: str) -> str:
        """The SVG text of chart ``name``. Charts the worker has not started are drawn here too, unless this process
        would first have to import matplotlib (≈ 0.4 s) for fewer than :data:`HELP_FROM` of them: then waiting for the
        worker costs less."""
        future = self.futures[name]
        worker = self.executor if isinstance(self.executor, executors.Worker) else None
        while (worker is not None and worker.parallel and "matplotlib.pyplot" not in sys.modules
               and worker.queued() < HELP_FROM):
            if wait([future], timeout=0.1).done:  # (the worker may die meanwhile: then this process draws)
                break
        return executors.result(self.executor, future)

    def wait(self) -> list[str]:
        """Every chart drawn (its files in the folder); raises a drawing error. Returns the files written."""
        for name in list(self.futures):
            self.svg(name)
        return list(self.files)

    def __enter__(self) -> Charts:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None and isinstance(self.executor, executors.Worker):
            self.executor.shutdown(cancel_futures=True)  # interrupted or failed: the worker stops at once
