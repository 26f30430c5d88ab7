"""Run folders: written whole or not at all, never over an earlier run, with a manifest.

A run writes into a hidden temporary folder beside its destination and renames it into
place only when everything is written; an interrupted or failed run removes it. Without
``--out`` each run gets a new folder ``outputs/<command>-<YYYYmmdd-HHMMSS>[-N]``; an
explicit ``--out`` that exists and is not empty is refused unless ``force``.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from . import __version__
from .xlsx import write_results_xlsx  # the results workbook's writer

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class OutputError(Exception):
    """The output folder cannot be used (message says why)."""


def safe_text(value):
    """Text that a spreadsheet will never read as a formula (prefix a quote to =, +, -, @)."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _sanitised(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for col in out.columns:
        if not pd.api.types.is_numeric_dtype(out[col]):
            out[col] = out[col].map(safe_text).astype(object)
    out.columns = [safe_text(str(c)) for c in out.columns]
    if not pd.api.types.is_numeric_dtype(out.index):
        out.index = out.index.map(safe_text)
    return out


class RunFolder:
    """Collects a run's tables, charts and manifest in a temporary folder; ``commit`` publishes it."""

    def __init__(self, command: str, out: str | Path | None = None, force: bool = False, root: str | Path = "outputs"):
        self.command = command
        self.started = time.perf_counter()
        self.created = dt.datetime.now().astimezone()
        if out is None:
            root = Path(root)
            stamp = self.created.strftime("%Y%m%d-%H%M%S")
            self.destination = root / f"{command}-{stamp}"
            self._unique = True
        else:
            self.destination = Path(out)
            self._unique = False
            if self.destination.exists() and not self.destination.is_dir():
                raise OutputError(f"--out {self.destination} exists and is not a folder")
            if self.destination.is_dir() and any(self.destination.iterdir()) and not force:
                raise OutputError(
                    f"--out {self.destination} already holds files; choose a new folder, or pass --force to replace it"
                )
        self.destination.parent.mkdir(parents=True, exist_ok=True)
        remove_abandoned(self.destination.parent)
        self.path = Path(tempfile.mkdtemp(prefix=f".{self.destination.name}.partial-{os.getpid()}-",
                                          dir=self.destination.parent))
        self.tables: dict[str, pd.DataFrame] = {}
        self.files: list[str] = []
        self.timings: dict[str, float] = {}
        self.manifest: dict = {}
        self.headline: list[tuple[str, str]] = []  # (topic, sentence) shown first on the Summary sheet
        self.force = force

    # -- writing ---------------------------------------------------------------------------
    def table(self, name: str, df: pd.DataFrame, index: bool = False) -> None:
        """Save a table as CSV now; it also becomes a sheet of ``results.xlsx`` on commit."""
        clean = _sanitised(df)
        clean.to_csv(self.path / f"{name}.csv", index=index)
        self.tables[name] = clean.reset_index() if index else clean
        self.files.append(f"{name}.csv")

    def figure(self, name: str, fig) -> None:
        """Save a matplotlib figure as PNG and SVG, then close it."""
        import matplotlib.pyplot as plt

        for ext in ("png", "svg"):
            fig.savefig(self.path / f"{name}.{ext}", dpi=150 if ext == "png" else None, bbox_inches="tight",
                        metadata={"Date": None} if ext == "svg" else None)
            self.files.append(f"{name}.{ext}")
        plt.close(fig)

    def array(self, name: str, data: dict[str, np.ndarray]) -> None:
        np.savez_compressed(self.path / f"{name}.npz", **data)
        self.files.append(f"{name}.npz")

    def time(self, label: str, seconds: float) -> None:
        self.timings[label] = round(float(seconds), 4)

    # -- finishing -------------------------------------------------------------------------
    def commit(self, inputs=None, settings: dict | None = None, xlsx_writer=None) -> Path:
        """Write data_dictionary.csv, results.xlsx and manifest.json, then move the folder into place.

        ``settings``: what this run used (seed, iterations, command options); the workbook's
        own settings are recorded separately as defaults.
        """
        if self.tables:
            from .presentation import data_dictionary

            data_dictionary(self.tables).to_csv(self.path / "data_dictionary.csv", index=False)
            self.files.append("data_dictionary.csv")
            writer = xlsx_writer or write_results_xlsx
            dsa = self.manifest.get("dsa", {})
            context = {"dsa_outcome": dsa.get("outcome", "savings"), "dsa_base_outcome": dsa.get("base_outcome")}
            if inputs is not None:
                context["units"] = {str(k): str(v) for k, v in inputs.parameters["unit"].items()}
            writer(self.path / "results.xlsx", self.tables, self.manifest_summary(inputs, settings), context)
            self.files.append("results.xlsx")
        self.timings["total_seconds"] = round(time.perf_counter() - self.started, 4)
        manifest = {
            "tool": "ifpp-econ",
            "version": __version__,
            "command": self.command,
            "argv": list(sys.argv),
            "created": self.created.isoformat(timespec="seconds"),
            "workbook": None if inputs is None else {"path": str(Path(inputs.path).resolve()), "sha256": inputs.sha256},
            "settings": settings or {},
            "workbook_settings": None if inputs is None else {
                "note": "the workbook's settings; psa_iterations and psa_seed are defaults, the values used are in "
                        "settings", **inputs.settings},
            "timings": self.timings,
            "python": platform.python_version(),
            "platform": platform.platform(),
            "versions": dependency_versions(),
            "files": sorted(set(self.files)) + ["manifest.json"],
            **self.manifest,
        }
        (self.path / "manifest.json").write_text(json.dumps(manifest, indent=2, default=_json_default), encoding="utf-8")
        return self._publish()

    def _publish(self) -> Path:
        dest = self.destination
        if self._unique:
            n = 1
            while True:
                try:
                    os.rename(self.path, dest)  # atomic; fails if dest exists and is not empty
                    break
                except OSError:
                    if not dest.exists():
                        raise
                    n += 1
                    dest = self.destination.with_name(f"{self.destination.name}-{n}")
        else:
            old = None
            if dest.exists():
                old = dest.with_name(f".{dest.name}.replaced-{os.getpid()}")
                os.rename(dest, old)
            os.rename(self.path, dest)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        self.destination = dest
        return dest

    def discard(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def __enter__(self) -> "RunFolder":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.path.exists() and self.path.name.startswith("."):
            self.discard()  # not committed: leave nothing half-written behind

    def manifest_summary(self, inputs, settings) -> list[tuple[str, str]]:
        rows = list(self.headline)
        if "conventions" in self.manifest:
            rows.append(("Conventions", str(self.manifest["conventions"])))
        rows += [("Tool", f"ifpp-econ {__version__}"), ("Command", self.command)]  # the time is in manifest.json
        if inputs is not None:
            rows += [("Workbook", str(Path(inputs.path).resolve())), ("Workbook SHA-256", inputs.sha256)]
        for k, v in (settings or {}).items():
            numeric = isinstance(v, (int, float, np.number)) and not isinstance(v, bool)
            rows.append((k, v if numeric or isinstance(v, str) else json.dumps(v, default=_json_default)))
        if inputs is not None:
            for k, v in inputs.settings.items():
                numeric = isinstance(v, (int, float, np.number)) and not isinstance(v, bool)
                rows.append((f"Workbook setting: {k}" + (" (default)" if k in ("psa_iterations", "psa_seed") else ""),
                             v if numeric or isinstance(v, str) else json.dumps(v, default=_json_default)))
        return rows


def dependency_versions() -> dict[str, str]:
    """Installed versions of ifpp-econ's dependencies (from its package metadata)."""
    import re
    from importlib import metadata

    try:
        names = [re.split(r"[ ;<>=!~\[]", r, maxsplit=1)[0] for r in metadata.requires("ifpp-econ") or []
                 if "extra ==" not in r]
    except metadata.PackageNotFoundError:
        names = ["numpy", "pandas", "scipy", "openpyxl", "matplotlib", "click", "defusedxml"]
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def remove_abandoned(folder: Path) -> None:
    """Delete temporary run folders left by runs that were killed (their process no longer exists)."""
    for p in folder.glob(".*.partial-*-*"):
        try:
            pid = int(p.name.rsplit(".partial-", 1)[1].split("-", 1)[0])
        except (IndexError, ValueError):
            continue
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(p, ignore_errors=True)
        except PermissionError:
            pass


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    return str(o)

