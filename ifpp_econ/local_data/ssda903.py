"""SSDA903 returns → cleaned episodes → periods of care (the unit the model calls "in care").

Reads one or more years of Episodes (and Header / UASC) files as the DfE and regional
platforms write them: CSV or xlsx, DD/MM/YYYY or ISO dates, upper- or lower-case codes,
extra ``LA``/``YEAR`` columns. Nothing is ever written to the input files. Every repair,
exclusion and contradiction is counted in :attr:`Cleaned.counts` (label → number).

Conventions (``shared/docs/ssda903.md``): dates are days; a period starts at an episode
with ``RNE == "S"``, after a gap (``DECOM`` later than the previous ``DEC``) or after an
exit code (``REC`` starting with ``E``); ``T0``–``T4`` temporary placements take the
surrounding placement type; short breaks (``LS`` V3/V4) are dropped before periods are
built; a collection year ``y`` runs from 1 April ``y − 1`` to 31 March ``y``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import declarations
from ..exceptions import LocalDataError

EPISODE_COLUMNS = ("CHILD", "DECOM", "RNE", "LS", "PLACE", "DEC", "REC")
HEADER_COLUMNS = ("CHILD", "DOB")
UASC_COLUMNS = ("CHILD",)
CODE_COLUMNS = ("RNE", "LS", "PLACE", "PLACE_PROVIDER", "REC", "CIN", "SEX")
PLACEMENT_TYPES = declarations.PLACEMENT_TYPES
MAX_LISTED = 10  # problems of one kind listed before "… and N more"

# PLACE → model placement type (U4–U6 depend on PLACE_PROVIDER; T0–T4 take the surrounding placement).
_PLACE = {
    **dict.fromkeys(("U1", "U2", "U3"), "kinship"),
    **dict.fromkeys(("K2", "R1", "S1"), "residential"),
    "K1": "secure",
    **dict.fromkeys(("H5", "K3", "P2"), "semi_independent"),
    "P1": "with_parents",
    **dict.fromkeys(("A3", "A4", "A5", "A6", "P3", "R2", "R3", "R5", "Z1", "Z11", "Z12", "Z13", "Z14"), "other"),
}
FOSTER = ("U4", "U5", "U6")
IFA_PROVIDERS = ("PR4", "PR5")
TEMPORARY = ("T0", "T1", "T2", "T3", "T4")
# Codes valid only in some collection years (year ending 31 March): (first, last) year.
CODE_YEARS = {"H5": (None, 2024), "P2": (None, 2024), "K3": (2025, None)}

REUNIFICATION = ("E4A", "E4B")
PERMANENCE = ("E11", "E12", "E41", "E43", "E44", "E45", "E46", "E47", "E48")
OTHER_EXITS = ("E5", "E6", "E7", "E8", "E9", "E14", "E16")
CENSORING = ("E2", "E3", "E15", "E17")
SHORT_BREAKS = ("V3", "V4")
YOUTH_JUSTICE = ("J1", "J2", "J3")
CONTINUING_RNE = ("L", "P", "T", "U", "B")
DAYS_PER_MONTH = 365.25 / 12


@dataclass
class Returns:
    """Raw rows of every file, codes normalised and dates parsed (``_file``, ``_row``, ``_year`` added)."""
    episodes: pd.DataFrame
    header: pd.DataFrame
    uasc: pd.DataFrame
    files: list[str]
    warnings: list[str] = field(default_factory=list)


@dataclass
class Cleaned:
    """Episodes after stitching and repairs, the periods built from them, and what was counted.

    ``episodes``: one row per kept episode (``period`` = index into ``periods``, ``ptype`` =
    model placement type). ``periods``: ``child``, ``start``, ``end`` (NaT if open), ``rec``
    (last episode's REC), ``dob``, ``start_known`` and ``first_decom``.
    """
    episodes: pd.DataFrame
    periods: pd.DataFrame
    counts: dict[str, int]
    data_start: pd.Timestamp
    data_end: pd.Timestamp  # exclusive: the day after the last return's 31 March
    years: list[int]
    warnings: list[str]


# ---------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------
def _read_raw(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise LocalDataError([f"{path}: file not found"])
    if path.is_dir():
        raise LocalDataError([f"{path}: is a folder, not a 903 file"])
    try:
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            df = pd.read_excel(path, dtype=str, keep_default_na=False, engine="openpyxl")
        else:
            df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig", skipinitialspace=True)
    except Exception as exc:  # pandas raises many types for damaged files
        raise LocalDataError([f"{path}: cannot be read as CSV or xlsx ({type(exc).__name__}: {str(exc)[:200]})"]) from None
    df.columns = [str(c).strip().upper() for c in df.columns]
    return df


def read_table(path: str | Path, required: tuple[str, ...], kind: str) -> pd.DataFrame:
    """One 903 file as text columns (stripped; codes upper-case) with ``_file`` and ``_row`` (spreadsheet row)."""
    path = Path(path)
    df = _read_raw(path)
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise LocalDataError([f"{path}: missing column(s) {', '.join(missing)} for a 903 {kind} file; found "
                            f"{', '.join(df.columns) or 'none'}"])
    for col in df.columns:
        df[col] = df[col].astype(str).str.strip()
        if col in CODE_COLUMNS:
            df[col] = df[col].str.upper()
    df["_file"] = path.name
    df["_row"] = np.arange(2, len(df) + 2)
    return df


def parse_dates(values: pd.Series, allow_month: bool = False) -> pd.Series:
    """DD/MM/YYYY, ISO YYYY-MM-DD (a time part is ignored) or, with ``allow_month``, MM/YYYY / YYYY-MM
    (the 15th); blanks → NaT; anything else → NaT too (callers report it)."""
    text = values.fillna("").astype(str).str.strip()
    out = pd.to_datetime(text, format="%d/%m/%Y", errors="coerce")
    rest = out.isna() & (text != "")
    if rest.any():
        out[rest] = pd.to_datetime(text[rest].str[:10], format="%Y-%m-%d", errors="coerce")
    if allow_month:
        rest = out.isna() & (text != "")
        if rest.any():
            month = pd.to_datetime(text[rest], format="%m/%Y", errors="coerce")
            month = month.fillna(pd.to_datetime(text[rest], format="%Y-%m", errors="coerce"))
            out[rest] = month + pd.Timedelta(days=14)
    return out.astype("datetime64[ns]")  # one resolution whatever the source (text or Excel dates)


def _date_problems(df: pd.DataFrame, col: str, parsed: pd.Series, allowed: str) -> list[str]:
    bad = parsed.isna() & (df[col] != "")
    return _listed([f"{f}: row {r}, column {col}: found {v!r}; expected a date ({allowed})"
                    for f, r, v in zip(df.loc[bad, "_file"], df.loc[bad, "_row"], df.loc[bad, col])])


def _listed(problems: list[str]) -> list[str]:
    if len(problems) > MAX_LISTED:
        return problems[:MAX_LISTED] + [f"(… and {len(problems) - MAX_LISTED} more of the same kind)"]
    return problems


def collection_year(dates: pd.Series) -> pd.Series:
    """Collection year (year ending 31 March) containing each date."""
    return dates.dt.year + (dates.dt.month >= 4).astype(int)


def _year_column(df: pd.DataFrame) -> pd.Series | None:
    """A ``YEAR`` column as the year ending 31 March: 2023, 2022-23, 2022/23 or 202223 → 2023."""
    if "YEAR" not in df.columns:
        return None
    text = df["YEAR"].astype(str).str.strip()
    two = text.str.extract(r"^(\d{4})\s*[-/]?\s*(\d{2})$")
    one = pd.to_numeric(text.where(text.str.fullmatch(r"\d{4}")), errors="coerce")
    return one.fillna(pd.to_numeric(two[0], errors="coerce") + 1)


def kind_of(path: str | Path) -> str:
    """``episodes``, ``header`` or ``uasc`` from a file's columns (DECOM; DUC; DOB), else ``unknown``."""
    path = Path(path)
    if not path.is_file():
        return "episodes"  # reported as missing by the reader
    try:
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            cols = pd.read_excel(path, nrows=0, engine="openpyxl").columns
        else:
            cols = pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns
    except Exception:
        return "episodes"  # the reader reports why it cannot be read
    cols = {str(c).strip().upper() for c in cols}
    return "episodes" if "DECOM" in cols else "uasc" if "DUC" in cols else "header" if "DOB" in cols else "unknown"



def _readable(paths, columns, kind: str, problems: list[str]):
    """``(path, table)`` for each of ``paths`` that reads as a 903 ``kind`` file; the problems of those that do
    not are added to ``problems``."""
    for path in paths:
        try:
            yield path, read_table(path, columns, kind)
        except LocalDataError as exc:
            problems += exc.problems

def read_returns(episode_paths, header_paths=(), uasc_paths=()) -> Returns:
    """Read and parse every file; raises :class:`LocalDataError` listing every problem found.

    Header and UASC files given among ``episode_paths`` are recognised by their columns."""
    kinds = {p: kind_of(p) for p in episode_paths}
    problems = [f"{p}: not a 903 Episodes (DECOM), Header (DOB) or UASC (DUC) file; found none of those columns"
                for p, k in kinds.items() if k == "unknown"]
    header_paths = [*header_paths, *(p for p, k in kinds.items() if k == "header")]
    uasc_paths = [*uasc_paths, *(p for p, k in kinds.items() if k == "uasc")]
    episode_paths = [p for p, k in kinds.items() if k == "episodes"]
    if not episode_paths:
        problems.append("no 903 Episodes file among the files given (an Episodes file has a DECOM column)")
    frames: list[pd.DataFrame] = []
    for path, df in _readable(episode_paths, EPISODE_COLUMNS, "Episodes", problems):
        df["DECOM_D"] = parse_dates(df["DECOM"])
        df["DEC_D"] = parse_dates(df["DEC"])
        problems += _date_problems(df, "DECOM", df["DECOM_D"], "DD/MM/YYYY or YYYY-MM-DD")
        problems += _date_problems(df, "DEC", df["DEC_D"], "DD/MM/YYYY or YYYY-MM-DD, or blank while open")
        blank = df["DECOM"] == ""
        problems += _listed([f"{f}: row {r}, column DECOM: empty; every episode needs its start date"
                             for f, r in zip(df.loc[blank, "_file"], df.loc[blank, "_row"])])
        no_child = df["CHILD"] == ""
        problems += _listed([f"{f}: row {r}, column CHILD: empty; every episode needs the child's identifier"
                             for f, r in zip(df.loc[no_child, "_file"], df.loc[no_child, "_row"])])
        backwards = df["DEC_D"] < df["DECOM_D"]
        problems += _listed([f"{f}: row {r}, column DEC: episode ends ({e:%d/%m/%Y}) before it starts (DECOM "
                             f"{s:%d/%m/%Y})" for f, r, s, e in zip(df.loc[backwards, "_file"], df.loc[backwards, "_row"],
                                                                   df.loc[backwards, "DECOM_D"], df.loc[backwards, "DEC_D"])])
        year = _year_column(df)
        ended = collection_year(df["DEC_D"].dropna())
        if year is None and len(ended) and ended.max() > ended.min():
            problems.append(f"{path}: episodes end in collection years {int(ended.min())}–{int(ended.max())} but there "
                            "is no YEAR column to say which return each row comes from; give one file per year or "
                            "add YEAR (e.g. 2023-24)")
            continue
        if year is None or year.isna().any():
            latest = pd.concat([df["DECOM_D"], df["DEC_D"]]).max()
            if pd.isna(latest):
                problems.append(f"{path}: no episodes with dates")
                continue
            inferred = int(latest.year + (latest.month >= 4))
            year = pd.Series(inferred, index=df.index) if year is None else year.fillna(inferred)
        df["_year"] = year.astype(int)
        df["_order"] = len(frames)
        frames.append(df)
    headers = []
    for _, h in _readable(header_paths, HEADER_COLUMNS, "Header", problems):
        h["DOB_D"] = parse_dates(h["DOB"], allow_month=True)
        problems += _date_problems(h, "DOB", h["DOB_D"], "DD/MM/YYYY, YYYY-MM-DD, or month MM/YYYY")
        headers.append(h)
    uascs = [u for _, u in _readable(uasc_paths, UASC_COLUMNS, "UASC", problems)]
    if problems:
        raise LocalDataError(problems)
    episodes = pd.concat(frames, ignore_index=True)
    if episodes.empty:
        raise LocalDataError(["the Episodes files hold no rows"])
    if "DOB" in episodes.columns and not headers:  # pooled files sometimes carry DOB on each episode
        h = episodes[["CHILD", "DOB", "_file", "_row"]].copy()
        h["DOB_D"] = parse_dates(h["DOB"], allow_month=True)
        problems += _date_problems(h, "DOB", h["DOB_D"], "DD/MM/YYYY, YYYY-MM-DD, or month MM/YYYY")
        headers.append(h)
    if not headers:
        raise LocalDataError(["no dates of birth: give the 903 Header file(s) with --header (CHILD, DOB); they are "
                            "needed for age at entry and the 18th birthday"])
    if problems:
        raise LocalDataError(problems)
    header = pd.concat(headers, ignore_index=True)
    uasc = pd.concat(uascs, ignore_index=True) if uascs else pd.DataFrame({"CHILD": pd.Series(dtype=str)})
    return Returns(episodes, header, uasc, [str(p) for p in [*episode_paths, *header_paths, *uasc_paths]])


# ---------------------------------------------------------------------------------------
# Cleaning and periods
# ---------------------------------------------------------------------------------------
def placement_types(place: pd.Series, provider: pd.Series, year: pd.Series) -> tuple[pd.Series, dict[str, int]]:
    """Model placement type of each episode (NaN for T0–T4) and counts of unknown / out-of-year codes."""
    out = place.map(_PLACE)
    foster = place.isin(FOSTER)
    out[foster] = np.where(provider[foster].isin(IFA_PROVIDERS), "ifa", "la_foster")
    temporary = place.isin(TEMPORARY)
    unknown = out.isna() & ~temporary
    out[unknown] = "other"
    counts = {"episodes with an unknown placement code (counted as other)": int(unknown.sum()),
              "foster placements (U4–U6) without a provider code (counted as LA foster)":
                  int((foster & ~provider.isin(("PR0", "PR1", "PR2", "PR3", "PR4", "PR5"))).sum())}
    outside = pd.Series(False, index=place.index)
    for code, (first, last) in CODE_YEARS.items():
        is_code = place == code
        outside |= is_code & (((year < first) if first else False) | ((year > last) if last else False))
    counts["placement codes used outside their collection years (mapped anyway)"] = int(outside.sum())
    return out, counts


def exit_events(rec: pd.Series, e13: str = "reunification", other_exits: str = "permanence") -> pd.Series:
    """Model event of a period's last REC: ``reunification``, ``permanence`` or ``censored``."""
    out = pd.Series("censored", index=rec.index, dtype=object)
    out[rec.isin(REUNIFICATION)] = "reunification"
    out[rec.isin(PERMANENCE)] = "permanence"
    out[rec == "E13"] = e13
    if other_exits == "permanence":
        out[rec.isin(OTHER_EXITS)] = "permanence"
    return out


def exit_group(rec: pd.Series) -> pd.Series:
    """Reporting group of each REC (returned home, adoption/SGO/CAO, other exit, age-out/censoring, open)."""
    out = pd.Series("unknown or other code", index=rec.index, dtype=object)
    out[rec.isin(REUNIFICATION)] = "returned home (E4A/E4B)"
    out[rec == "E13"] = "left to live with relatives (E13)"
    out[rec.isin(PERMANENCE)] = "adoption, SGO, CAO (E11/E12/E41/E43–E48)"
    out[rec.isin(OTHER_EXITS)] = "other exit (E5–E9/E14/E16)"
    out[rec.isin(CENSORING)] = "censored (E2/E3/E15/E17)"
    out[rec == ""] = "open or no reason"
    return out


def _next_in_child(series: pd.Series, child: pd.Series):
    nxt = series.shift(-1)
    same = child.shift(-1) == child
    return nxt.where(same), same


def clean(returns: Returns, *, include_uasc: bool = False, keep_short_breaks: bool = False,
          episodes_as_periods: bool = False) -> Cleaned:
    """Stitch the years, repair what can be repaired, drop short breaks and UASC, build periods.

    ``keep_short_breaks`` and ``episodes_as_periods`` switch guards off (for demonstrating
    their effect only). Raises :class:`LocalDataError` for overlaps that cannot be repaired.
    """
    counts: dict[str, int] = {}
    ep = returns.episodes
    counts["episode rows read"] = len(ep)
    years = sorted(ep["_year"].unique().tolist())
    # 1. The same CHILD + DECOM in several returns: keep the latest return's row.
    ep = ep.sort_values(["CHILD", "DECOM_D", "_year", "_order", "_row"], kind="stable")
    content = ["CHILD", "DECOM_D", "DEC_D", "RNE", "LS", "PLACE", "REC", "_year"]
    exact = ep.duplicated(content, keep="last")
    counts["identical rows within one return (removed)"] = int(exact.sum())
    ep = ep[~exact]
    clash = ep.duplicated(["CHILD", "DECOM_D", "_year"], keep=False)
    if clash.any():
        rows = ep[clash]
        raise LocalDataError(_listed([
            f"{f}: row {r}: child {c} has two different episodes starting {d:%d/%m/%Y} in the same return; "
            "overlapping episodes that cannot be repaired (keep one)"
            for f, r, c, d in zip(rows["_file"], rows["_row"], rows["CHILD"], rows["DECOM_D"])]))
    repeated = ep.duplicated(["CHILD", "DECOM_D"], keep="last")
    counts["episodes repeated in a later return (latest kept)"] = int(repeated.sum())
    ep = ep[~repeated].reset_index(drop=True)

    # 2. Exclusions before periods are built.
    if not keep_short_breaks:
        short = ep["LS"].isin(SHORT_BREAKS)
        counts["short-break episodes (LS V3/V4) excluded"] = int(short.sum())
        counts["children with only short breaks excluded"] = int(
            ep.loc[short, "CHILD"].nunique() - ep.loc[~short & ep["CHILD"].isin(ep.loc[short, "CHILD"]), "CHILD"].nunique())
        ep = ep[~short]
    uasc = set(returns.uasc["CHILD"].astype(str))  # every child in a UASC table was unaccompanied
    if not include_uasc:
        is_uasc = ep["CHILD"].isin(uasc)
        counts["UASC children excluded"] = int(ep.loc[is_uasc, "CHILD"].nunique())
        counts["UASC episodes excluded"] = int(is_uasc.sum())
        ep = ep[~is_uasc]
    ep = ep.reset_index(drop=True)

    # 3. Stale open episodes and overlaps (needs the next episode of the same child).
    year_end = pd.to_datetime(ep["_year"].astype(str) + "-04-01")  # exclusive end of each row's return
    next_decom, has_next = _next_in_child(ep["DECOM_D"], ep["CHILD"])
    next_rne, _ = _next_in_child(ep["RNE"], ep["CHILD"])
    stale = ep["DEC_D"].isna() & has_next
    contiguous = stale & (next_rne != "S")
    ep.loc[contiguous, "DEC_D"] = next_decom[contiguous]
    ep.loc[contiguous, "REC"] = "X1"
    cut = stale & ~contiguous
    ep.loc[cut, "DEC_D"] = year_end[cut].where(year_end[cut] < next_decom[cut], next_decom[cut])
    ep.loc[cut, "REC"] = ""
    counts["stale open episodes closed at the next episode (X1)"] = int(contiguous.sum())
    counts["stale open episodes censored at their return's 31 March"] = int(cut.sum())
    overlap = has_next & (ep["DEC_D"] > next_decom)
    ep.loc[overlap, "DEC_D"] = next_decom[overlap]
    counts["overlapping episodes truncated at the next episode's start"] = int(overlap.sum())

    # 4. Periods.
    prev_dec = ep["DEC_D"].shift(1)
    prev_rec = ep["REC"].shift(1)
    first = ep["CHILD"] != ep["CHILD"].shift(1)
    gap = ~first & (ep["DECOM_D"] > prev_dec)
    exit_before = ~first & prev_rec.astype(str).str.startswith("E")
    new = first | (ep["RNE"] == "S") | gap | exit_before
    if episodes_as_periods:
        new = pd.Series(True, index=ep.index)
    odd_rne = ~ep["RNE"].isin(("S", *CONTINUING_RNE))
    counts["episodes with an unknown RNE (a continuation unless after a gap or an exit)"] = int(odd_rne.sum())
    counts["gaps between episodes without RNE S (new period)"] = int((gap & (ep["RNE"] != "S")).sum())
    counts["X1 followed by a gap or a new start RNE S (period censored)"] = int(
        (~first & (prev_rec == "X1") & (gap | (ep["RNE"] == "S"))).sum())
    counts["exit code followed by a same-day continuation (new period)"] = int(
        (exit_before & ~gap & (ep["RNE"] != "S")).sum())
    ep["period"] = np.cumsum(new.to_numpy()) - 1
    starts = np.flatnonzero(new.to_numpy())
    ends = np.r_[starts[1:], len(ep)] - 1
    ptype, code_counts = placement_types(ep["PLACE"], ep.get("PLACE_PROVIDER", pd.Series("", index=ep.index)),
                                         ep["_year"])
    counts.update(code_counts)
    ptype = ptype.groupby(ep["period"]).ffill()  # a temporary placement keeps the one before it ...
    ep["ptype"] = ptype.groupby(ep["period"]).bfill().fillna("other")  # ... or, first in a period, the next

    data_start = pd.Timestamp(f"{years[0] - 1}-04-01")
    data_end = pd.Timestamp(f"{years[-1]}-04-01")
    first_ep = ep.iloc[starts]
    last_ep = ep.iloc[ends]
    periods = pd.DataFrame({
        "child": first_ep["CHILD"].to_numpy(),
        "start": first_ep["DECOM_D"].to_numpy(),
        "end": last_ep["DEC_D"].to_numpy(),
        "rec": last_ep["REC"].fillna("").to_numpy(),
        "first_rne": first_ep["RNE"].to_numpy(),
        "cin": first_ep["CIN"].to_numpy() if "CIN" in ep.columns else "",
        "youth_justice": ep["LS"].isin(YOUTH_JUSTICE).groupby(ep["period"]).all().to_numpy(),
    })
    periods["start_known"] = (periods["first_rne"] == "S") | (periods["start"] >= data_start)
    counts["periods starting with a continuation code (RNE ≠ S) inside the data (treated as a start)"] = int(
        ((periods["first_rne"] != "S") & (periods["start"] >= data_start)).sum())
    counts["periods open at the first return without their start (RNE ≠ S before it)"] = int(
        (~periods["start_known"]).sum())
    open_end = periods["end"].isna()
    periods.loc[open_end, "rec"] = ""
    counts["periods still open at the end of the data (censored)"] = int(open_end.sum())
    unknown_rec = periods["rec"].ne("") & ~periods["rec"].isin(
        (*REUNIFICATION, *PERMANENCE, *OTHER_EXITS, *CENSORING, "E13", "X1"))
    counts["periods ending with an unknown REC (censored)"] = int(unknown_rec.sum())
    closed_without_reason = ~open_end & periods["rec"].eq("")
    counts["periods closed without a reason (censored)"] = int(closed_without_reason.sum())

    dob = returns.header.sort_values("DOB_D").drop_duplicates("CHILD", keep="last").set_index("CHILD")["DOB_D"]
    periods["dob"] = periods["child"].map(dob)
    counts["periods of children without a date of birth (excluded)"] = int(periods["dob"].isna().sum())
    warnings = []
    unknown_codes = {
        "episodes with an unknown placement code (counted as other)":
            ep.loc[ep["PLACE"].map(_PLACE).isna() & ~ep["PLACE"].isin((*FOSTER, *TEMPORARY)), "PLACE"],
        "periods ending with an unknown REC (censored)": periods.loc[unknown_rec, "rec"],
        "episodes with an unknown RNE (a continuation unless after a gap or an exit)": ep.loc[odd_rne, "RNE"],
    }
    for label, codes in unknown_codes.items():
        if counts[label]:
            warnings.append(f"{counts[label]} {label}: {', '.join(sorted(set(codes))[:10])}")
    return Cleaned(ep, periods, counts, data_start, data_end, years, returns.warnings + warnings)


def eighteenth_birthday(dob: pd.Series) -> pd.Series:
    """The 18th birthday of each date of birth (29 February → 1 March)."""
    shifted = dob + pd.DateOffset(years=18)
    leap = (dob.dt.month == 2) & (dob.dt.day == 29)
    return shifted.where(~leap, shifted + pd.Timedelta(days=1))


def band_edges(label: str) -> tuple[float, float]:
    """Ages [lo, hi) in years of an age band label such as ``0-4``, ``11–17`` or ``16+``."""
    m = re.fullmatch(r"\s*(\d+)\s*[-–]\s*(\d+)\s*", str(label))
    if m and int(m.group(1)) <= int(m.group(2)):
        return float(m.group(1)), float(m.group(2)) + 1
    m = re.fullmatch(r"\s*(\d+)\s*\+\s*", str(label))
    if m:
        return float(m.group(1)), 18.0
    raise ValueError(f"age band {label!r} is not a range of whole years such as 0-4 or 16+")
