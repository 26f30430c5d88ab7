"""Chart files and the queue of worker jobs (ifpp_econ.render)."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from ifpp_econ.outputs import charts, render


def test_png_is_cropped_to_what_is_drawn_and_svg_text_is_text(tmp_path):

    with charts.style():  # the house style, as render() and RunFolder.figure save in
        fig, ax = plt.subplots(figsize=(4, 3))
        ax.plot([0, 1], [0, 1])
        ax.set_title("Savings per child (£)")
        fig.tight_layout()
        svg = render.save(fig, tmp_path, "inside")
    plt.close(fig)
    width, height = Image.open(tmp_path / "inside.png").size
    assert 0.9 * 4 * render.PNG_DPI < width <= 4 * render.PNG_DPI  # the figure's margin trimmed to the pad
    assert 0.9 * 3 * render.PNG_DPI < height <= 3 * render.PNG_DPI
    assert "Savings per child (£)" in svg and "<text" in svg  # selectable text, not glyph outlines
    assert (tmp_path / "inside.svg").read_text(encoding="utf-8") == svg


def test_text_beyond_the_figure_edge_is_kept_in_the_png(tmp_path):
    fig, ax = plt.subplots(figsize=(4, 3), dpi=render.PNG_DPI)
    ax.plot([0, 1], [0, 1])
    fig.text(0.01, -0.3, "a note below the figure", va="top")
    render.save(fig, tmp_path, "beyond")
    plt.close(fig)
    _, height = Image.open(tmp_path / "beyond.png").size
    assert height > 3.2 * render.PNG_DPI  # the canvas grew to hold the note instead of cutting it off
    pixels = np.asarray(Image.open(tmp_path / "beyond.png").convert("L"))
    assert pixels[-int(0.3 * render.PNG_DPI):].min() < 128  # dark text in the bottom band


def test_a_job_no_worker_has_started_is_run_here(default_inputs):
    from ifpp_econ import executors
    from ifpp_econ.model.spec import base_values

    worker = executors.Worker(start=True)
    try:
        assert worker.parallel
        worker._busy = True  # the worker is busy: the job stays queued here
        future = worker.submit(base_values, default_inputs)
        assert not future.done()
        assert executors.result(worker, future).equals(base_values(default_inputs))  # taken back and run here
        assert not worker._queue
    finally:
        worker._busy = False
        worker.shutdown()


def test_the_serial_executor_and_a_worker_give_the_same_results(default_inputs):
    from ifpp_econ import executors
    from ifpp_econ.analyses.deterministic import run_base_case

    serial = executors.Serial().submit(run_base_case, default_inputs).result()
    with executors.Worker() as worker:
        forked = executors.result(worker, worker.submit(run_base_case, default_inputs))
        assert worker.parallel
    assert forked.to_json() == serial.to_json()
