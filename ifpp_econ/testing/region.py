"""A synthetic region for ``ifpp-econ rollup``: the default workbook copied once per authority, each with its own name
(the ``authority`` setting) and referrals a year (seeded), for tests and the benchmark. Never real authorities."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def set_settings(path: str | Path, values: dict) -> Path:
    """Write ``values`` (setting → value) into the Settings sheet of the workbook at ``path`` (in place); a setting
    without a row (an older workbook) gets one appended."""
    from openpyxl import load_workbook

    wb = load_workbook(path)
    ws = wb["Settings"]
    header = [c.value for c in ws[1]]
    name_col, value_col = header.index("setting") + 1, header.index("value") + 1
    rows = {ws.cell(r, name_col).value: r for r in range(2, ws.max_row + 1)}
    for name, value in values.items():
        row = rows.get(name) or ws.max_row + 1
        ws.cell(row, name_col).value = name
        ws.cell(row, value_col).value = value
    wb.save(path)
    return Path(path)


def write_region(folder: str | Path, authorities: int, seed: int = 0, referrals: tuple[float, float] = (10, 120),
                 prefix: str = "Authority") -> list[Path]:
    """``authorities`` workbooks ``folder/authority_NNN.xlsx`` named ``"{prefix} NNN"``, with families referred a year
    drawn uniformly in ``referrals`` (whole numbers, seeded). The default workbook is written once and copied."""
    import shutil

    from ..inputs.template import write_template

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    template = write_template(folder / ".template.xlsx", force=True)
    families = np.random.default_rng(seed).integers(int(referrals[0]), int(referrals[1]) + 1, size=authorities)
    paths = []
    for k in range(authorities):
        path = folder / f"authority_{k + 1:03d}.xlsx"
        shutil.copyfile(template, path)
        paths.append(set_settings(path, {"authority": f"{prefix} {k + 1:03d}",
                                         "la_referrals_per_year": int(families[k])}))
    Path(template).unlink()
    return paths
