"""Run folders: written whole or not at all, never over anything but an earlier run, with a manifest.

A run writes into a hidden temporary folder and publishes it only when everything is
written; an interrupted or failed run removes it. Without ``--out`` each run gets a new
folder ``outputs/<command>-<YYYYmmdd-HHMMSS>[-N]``. An explicit ``--out``:

- that does not exist, or is empty, is created (or filled) with the run's files;
- that holds files is refused unless ``force``, and even then only a folder this tool
  wrote (it holds an ifpp-econ ``manifest.json``) whose every file the manifest lists is
  replaced, and only those files: anything else in it (or the input workbook among the
  listed files) is refused, so a user's file is never deleted;
- that is the current folder or one of its parents, the home folder, a mount point or a
  file is refused.

Every output problem (read-only, full disk, not a folder, …) is an :class:`OutputError`
"cannot write to <folder>: <reason>; choose another --out" and leaves nothing behind.
Folders and files get the user's normal permissions (``0o777``/``0o666`` less the umask).
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
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, Future
from pathlib import Path

import numpy as np
import pandas as pd

from .. import __version__, executors
from ..exceptions import OutputError
from ..executors import Serial
from .xlsx import write_results_xlsx  # the results workbook's writer

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
MANIFEST = "manifest.json"


def cannot_write(folder, reason: str) -> OutputError:
    """The one wording of every output problem."""
    return OutputError(f"cannot write to {folder}: {reason}; choose another --out")


def _reason(exc: OSError) -> str:
    return (exc.strerror or str(exc)).lower() if isinstance(exc, OSError) else str(exc)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


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


def earlier_run_files(folder: Path) -> list[str] | None:
    """The files an ifpp-econ run wrote to ``folder`` (its manifest's list, manifest included),
    or None when ``folder`` holds no readable ifpp-econ manifest."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    files = manifest.get("files") if isinstance(manifest, dict) and manifest.get("tool") == "ifpp-econ" else None
    if not isinstance(files, list) or not all(isinstance(f, str) and f and Path(f).name == f and f not in (".", "..")
                                              for f in files):
        return None
    return sorted(set(files) | {MANIFEST})


def _protected_folder(path: Path) -> str | None:
    """Why ``path`` (absolute) may never be an output folder, or None."""
    cwd = Path.cwd()
    if path == cwd:
        return "it is the current folder"
    if path in cwd.parents:
        return "it holds the current folder"
    if path == Path.home():
        return "it is the home folder"
    if path.exists() and os.path.ismount(path):
        return "it is a mount point (or a filesystem root)"
    return None


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


class RunFolder:
    """Collects a run's tables, files and manifest in a temporary folder; ``commit`` publishes it, whole.

    ``protect``: files that must never be replaced (the input workbook).
    """

    def __init__(self, command: str, out: str | Path | None = None, force: bool = False, root: str | Path = "outputs",
                 protect=()):
        self.command = command
        self.started = time.perf_counter()
        self.created = dt.datetime.now().astimezone()
        self.tables: dict[str, pd.DataFrame] = {}
        self.files: list[str] = []
        self.timings: dict[str, float] = {}
        self.manifest: dict = {}
        self.headline: list[tuple[str, str]] = []  # (topic, sentence) shown first on the Summary sheet
        self.force = force
        self._replace: list[str] = []  # an earlier run's files in the destination, replaced on commit
        if out is None:
            stamp = self.created.strftime("%Y%m%d-%H%M%S")
            self.destination = Path(root) / f"{command}-{stamp}"
            self._unique = True
        else:
            self.destination = Path(os.path.abspath(out))
            self._unique = False
            self._check_destination([Path(p) for p in protect])
        self._in_place = not self._unique and self.destination.is_dir()
        home = self.destination if self._in_place else self.destination.parent
        try:
            if not self._in_place:
                home.mkdir(parents=True, exist_ok=True)
            remove_abandoned(home)
            self.path = Path(tempfile.mkdtemp(prefix=f".{self.destination.name}.partial-{os.getpid()}-", dir=home))
            os.chmod(self.path, 0o777 & ~_umask())  # mkdtemp makes it owner-only
        except OSError as exc:
            raise cannot_write(self.destination, _reason(exc)) from None
        self._results: tuple | None = None  # (what results.xlsx is written from, its future, the executor)

    def _results_job(self, inputs, settings) -> tuple:
        from .presentation import data_dictionary

        dsa = self.manifest.get("dsa", {})
        context = {"dsa_outcome": dsa.get("outcome", "savings"), "dsa_base_outcome": dsa.get("base_outcome")}
        if inputs is not None:
            context["units"] = {str(k): str(v) for k, v in inputs.parameters["unit"].items()}
        summary = self.manifest_summary(inputs, settings)
        key = json.dumps([sorted(self.tables), [len(t) for t in self.tables.values()], summary, context],
                         default=_json_default)
        return key, data_dictionary(self.tables), summary, context

    def results_workbook(self, inputs=None, settings: dict | None = None, executor: Executor | None = None) -> Future:
        """Write data_dictionary.csv now and results.xlsx (in ``executor``, default here) from the tables written so far;
        :meth:`commit` waits for it, and writes them again if tables or settings changed since."""
        key, dictionary, summary, context = self._results_job(inputs, settings)
        dictionary.to_csv(self.path / "data_dictionary.csv", index=False)
        executor = executor or Serial()
        future = executor.submit(write_results_xlsx, self.path / "results.xlsx", dict(self.tables), summary, context)
        self._results = (key, future, executor)
        return future

    def _check_destination(self, protect: list[Path]) -> None:
        dest = self.destination
        why = _protected_folder(dest)
        if why:
            raise cannot_write(dest, why)
        if dest.is_symlink() and not dest.is_dir():
            raise cannot_write(dest, "it is a link to something that is not a folder")
        if dest.exists() and not dest.is_dir():
            raise cannot_write(dest, "it is a file, not a folder")
        blocking = next((p for p in dest.parents if p.exists() and not p.is_dir()), None)
        if blocking is not None:
            raise cannot_write(dest, f"{blocking} is a file, not a folder")
        if not dest.is_dir():
            return
        try:
            present = sorted(p.name for p in dest.iterdir() if ".partial-" not in p.name)
        except OSError as exc:
            raise cannot_write(dest, _reason(exc)) from None
        if not present:
            return
        if not self.force:
            raise cannot_write(dest, "it already holds files (pass --force to replace an earlier ifpp-econ run there)")
        ours = earlier_run_files(dest)
        if ours is None:
            raise cannot_write(dest, "it holds files that ifpp-econ did not write (no ifpp-econ manifest.json); "
                                     "--force only replaces an earlier ifpp-econ run")
        foreign = [name for name in present if name not in ours or (dest / name).is_dir()]
        if foreign:
            shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
            raise cannot_write(dest, f"it holds files its ifpp-econ manifest does not list ({shown}); "
                                     "--force replaces only an earlier run's own files")
        for name in present:
            if any(_same_file(dest / name, p) for p in protect):
                raise cannot_write(dest, f"{name} is the input workbook")
        self._replace = present

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

        from .charts import style
        from .render import save

        with style():  # the charts' style (labels from the workbook are plain text; fixed SVG ids)
            save(fig, self.path, name)
        self.files += [f"{name}.png", f"{name}.svg"]
        plt.close(fig)

    def array(self, name: str, data: dict[str, np.ndarray]) -> None:
        # mypy matches **data against the keyword allow_pickle: bool; the keys here are array names
        np.savez_compressed(self.path / f"{name}.npz", **data)  # type: ignore[arg-type]
        self.files.append(f"{name}.npz")

    def time(self, label: str, seconds: float) -> None:
        self.timings[label] = round(float(seconds), 4)

    # -- finishing -------------------------------------------------------------------------
    def commit(self, inputs=None, settings: dict | None = None,
               files: Iterable[str] | Callable[[], Iterable[str]] = ()) -> Path:
        """Write data_dictionary.csv and results.xlsx (unless :meth:`results_workbook` already wrote them from the same
        tables) and manifest.json, then move the folder into place.

        ``settings``: what this run used (seed, iterations, command options); the workbook's own settings are
        recorded separately as defaults. ``files``: files written into the folder by others (charts), or a function
        waiting for them and returning them, called once results.xlsx is written (so charts drawn elsewhere finish
        meanwhile).
        """
        if self.tables:
            key = self._results_job(inputs, settings)[0]
            if self._results is not None:
                executors.result(self._results[2], self._results[1])  # raises a writing error
            if self._results is None or self._results[0] != key:  # not written, or from tables since changed
                self.results_workbook(inputs, settings).result()
            self.files += ["data_dictionary.csv", "results.xlsx"]
        self.files += list(files() if callable(files) else files)
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
        if self._in_place:
            new = sorted(p.name for p in self.path.iterdir())
            for name in self._replace:
                if name not in new:
                    (dest / name).unlink(missing_ok=True)
            for name in sorted(new, key=lambda n: n == MANIFEST):  # the manifest last
                os.replace(self.path / name, dest / name)
            self.path.rmdir()
        elif self._unique:
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
            os.rename(self.path, dest)
        self.destination = dest
        return dest

    def discard(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def __enter__(self) -> "RunFolder":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.path.exists() and self.path.name.startswith("."):
            self.discard()  # not committed: leave nothing half-written behind
        if isinstance(exc, OSError):  # read-only, full disk, removed folder…: the user's to fix
            raise cannot_write(self.destination, _reason(exc)) from exc

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
        if not p.is_dir() or p.is_symlink():
            continue
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

