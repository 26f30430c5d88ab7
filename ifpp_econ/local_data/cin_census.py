"""Children in Need (CIN) census returns → normalised, deduplicated long tables.

Reads one or more census years as the DfE XML return (``Message/Header/CollectionDetails`` +
``Message/Children/Child*``; XML namespaces are stripped; parsed with :mod:`defusedxml`) or as
CSV files whose columns are the census item names (``LAchildID``, ``PersonBirthDate``,
``CINreferralDate``, ``ReferralNFA``, ``CINclosureDate``, ``ReasonForClosure``,
``S47ActualStartDate``, ``DateOfInitialCPC``, ``CPPstartDate``, ``CPPendDate``,
``InitialCategoryOfAbuse``, ``NumberOfPreviousCPP``, ``PPStartDate``, …; any case), one row per
dated item, the referral's fields repeated on each of its rows. Dates are DD/MM/YYYY or ISO.

A CSV's census year comes from a ``ReferenceDate`` column, else a ``Year`` column (2023,
2022-23), else the collection year (1 April – 31 March) holding the file's latest event date
(with a warning). An XML return's year comes from ``Header/CollectionDetails/ReferenceDate``.

Each return re-reports every episode and plan still open in its year, so the years are
stacked and deduplicated on natural keys — referrals ``(LAchildID, CINreferralDate)``, S47
``(LAchildID, S47ActualStartDate)``, plans ``(LAchildID, CPPstartDate)``, pre-proceedings
``(LAchildID, PPStartDate)``, children ``LAchildID`` — keeping the latest return's row (closure
and end dates are filled in later). Every changed value is counted and listed in
:attr:`CinTables.conflicts`. Conventions follow ``shared/docs/cin-census.md``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import LocalDataError
from .ssda903 import MAX_LISTED, collection_year, parse_dates

# Canonical census item names (CSV columns are matched case-insensitively).
CHILD_ITEMS = ("LAchildID", "UPN", "PersonBirthDate", "ExpectedPersonBirthDate", "Sex", "GenderCurrent",
               "PersonDeathDate")
REFERRAL_ITEMS = ("CINreferralDate", "ReferralSource", "PrimaryNeedCode", "CINclosureDate", "ReasonForClosure",
                  "DateOfInitialCPC", "ReferralNFA")
S47_ITEMS = ("S47ActualStartDate", "InitialCPCtarget", "DateOfInitialCPC", "ICPCnotRequired")
CPP_ITEMS = ("CPPstartDate", "CPPendDate", "InitialCategoryOfAbuse", "LatestCategoryOfAbuse", "NumberOfPreviousCPP")
PP_ITEMS = ("PPStartDate", "LBPSentDate", "FGDMMeetingOffer", "FGDMMeetingFac", "InitialPPMeetingDate",
            "ReviewMeetingsCount", "StepDecisionDate", "PPOutcome", "CourtAppDate", "LetterInitCPDate")
DATE_ITEMS = {"PersonBirthDate", "ExpectedPersonBirthDate", "PersonDeathDate", "CINreferralDate", "CINclosureDate",
              "DateOfInitialCPC", "S47ActualStartDate", "InitialCPCtarget", "CPPstartDate", "CPPendDate", "PPStartDate",
              "LBPSentDate", "InitialPPMeetingDate", "StepDecisionDate", "CourtAppDate", "LetterInitCPDate",
              "ReferenceDate"}
# Dates that may lie after today (a pre-birth plan's expected birth date; a target date).
FUTURE_ALLOWED = {"ExpectedPersonBirthDate", "InitialCPCtarget"}
CSV_REQUIRED = ("LAchildID", "CINreferralDate")
TRUE_TEXT = {"true", "1", "y", "yes", "t"}
FALSE_TEXT = {"false", "0", "n", "no", "f", ""}
REASONS = ("RC1", "RC2", "RC3", "RC4", "RC5", "RC6", "RC7", "RC8", "RC9")
KEYS = {"children": ("LAchildID",), "referrals": ("LAchildID", "CINreferralDate"),
        "s47": ("LAchildID", "S47ActualStartDate"), "cpp": ("LAchildID", "CPPstartDate"),
        "pre_proceedings": ("LAchildID", "PPStartDate")}
_CANON = {name.lower(): name for name in (*CHILD_ITEMS, *REFERRAL_ITEMS, *S47_ITEMS, *CPP_ITEMS, *PP_ITEMS,
                                          "ReferenceDate", "Year", "AssessmentFactors", "LA")}


@dataclass
class CinTables:
    """Deduplicated long tables (one row per natural key; dates as ``datetime64[ns]``, NaT when blank).

    ``children``: LAchildID, UPN, PersonBirthDate, ExpectedPersonBirthDate, PersonDeathDate, Sex, dob (birth date,
    else expected birth date), prebirth (bool), uasc_factor (assessment factor 9A seen, bool).
    ``referrals``: LAchildID, CINreferralDate, ReferralSource, PrimaryNeedCode, CINclosureDate, ReasonForClosure,
    DateOfInitialCPC, ReferralNFA (bool).
    ``s47``: LAchildID, CINreferralDate, S47ActualStartDate, DateOfInitialCPC, ICPCnotRequired (bool).
    ``cpp``: LAchildID, CINreferralDate, CPPstartDate, CPPendDate, InitialCategoryOfAbuse, LatestCategoryOfAbuse,
    NumberOfPreviousCPP (float, NaN when blank), DateOfInitialCPC (the referral's or its S47's conference),
    ReferralSource.
    ``pre_proceedings``: LAchildID, CINreferralDate and the ten PP items (dates parsed).
    Every table also has ``_file``, ``_row`` (CSV row or XML line of the ``<Child>``) and ``_year`` of the row kept.
    ``returns``: one row per file: file, format, year (census year ending 31 March), reference_date,
    has_plans, has_pre_proceedings, rows.
    """
    children: pd.DataFrame
    referrals: pd.DataFrame
    s47: pd.DataFrame
    cpp: pd.DataFrame
    pre_proceedings: pd.DataFrame
    returns: pd.DataFrame
    counts: dict[str, int]
    conflicts: pd.DataFrame  # table, LAchildID, key, column, earlier, later, earlier_file, later_file
    warnings: list[str] = field(default_factory=list)

    @property
    def files(self) -> list[str]:
        return list(self.returns["file"])

    @property
    def data_start(self) -> pd.Timestamp:
        """First day covered: 1 April of the earliest census year."""
        return pd.Timestamp(f"{int(self.returns['year'].min()) - 1}-04-01")

    @property
    def data_end(self) -> pd.Timestamp:
        """Exclusive end of coverage: the day after the latest ReferenceDate."""
        return pd.Timestamp(self.returns["reference_date"].max()) + pd.Timedelta(days=1)

    @property
    def has_plans(self) -> bool:
        return bool(self.returns["has_plans"].any())

    @property
    def has_pre_proceedings(self) -> bool:
        return bool(self.returns["has_pre_proceedings"].any())


# ---------------------------------------------------------------------------------------
# Recognising files
# ---------------------------------------------------------------------------------------
def is_cin_file(path: str | Path) -> bool:
    """True for an XML file whose root is ``Message`` (a DfE return) or a CSV with ``LAchildID`` and ``CINreferralDate``."""
    path = Path(path)
    if not path.is_file():
        return False
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"<"):
        return b"Message" in text
    first = text.split(b"\n", 1)[0].decode("utf-8", "replace").lower()
    cols = {c.strip().strip('"') for c in first.split(",")}
    return {"lachildid", "cinreferraldate"} <= cols


# ---------------------------------------------------------------------------------------
# XML
# ---------------------------------------------------------------------------------------
def _strip_namespaces(root) -> None:
    for el in root.iter():
        if isinstance(el.tag, str) and el.tag[:1] == "{":
            el.tag = el.tag.split("}", 1)[1]


def _txt(el, tag: str) -> str:
    v = el.findtext(tag)
    return v.strip() if v else ""


def _child_lines(path: Path) -> np.ndarray:
    """Line number of each ``<Child>`` start tag, in document order (for problem messages)."""
    data = path.read_bytes()
    pos = np.array([m.start() for m in re.finditer(rb"<(?:[\w.-]+:)?Child[\s/>]", data)], dtype=np.int64)
    newlines = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
    return np.searchsorted(newlines, pos) + 1


def _read_xml(path: Path) -> tuple[dict[str, pd.DataFrame], dict]:
    """Raw text tables of one XML return (``_row`` = index of the ``<Child>``, turned into its line later)."""
    from defusedxml import ElementTree as DET

    try:
        root = DET.parse(str(path)).getroot()
    except Exception as exc:  # ParseError, DefusedXmlException (entities, DTDs)
        raise LocalDataError([f"{path}: cannot be read as XML ({type(exc).__name__}: {str(exc)[:200]})"]) from None
    if isinstance(root.tag, str) and root.tag[:1] == "{":
        _strip_namespaces(root)
    collection = _txt(root, "Header/CollectionDetails/Collection")
    if root.tag != "Message" or collection.upper() != "CIN":
        found = f"root <{root.tag}>" + (f", Collection {collection!r}" if collection else ", no Header/CollectionDetails")
        raise LocalDataError([f"{path}: not a CIN census return: expected <Message> with Header/CollectionDetails/Collection "
                        f"= CIN; found {found}"])
    meta: dict[str, Any] = {"ReferenceDate": _txt(root, "Header/CollectionDetails/ReferenceDate"),
            "Year": _txt(root, "Header/CollectionDetails/Year"), "LA": _txt(root, "Header/Source/LEA")}
    children, refs, s47s, cpps, pps = [], [], [], [], []
    s47_tags, pp_tags = ("S47ActualStartDate", *S47_ITEMS[1:]), PP_ITEMS
    for i, child in enumerate(root.iter("Child")):  # one pass over each child's elements (no path lookups)
        ident: dict = {}
        nine_a = ""
        dets = []
        for part in child:
            if part.tag == "ChildIdentifiers":
                ident = {c.tag: c.text for c in part}
            elif part.tag == "CINdetails":
                dets.append(part)
        cid = ident.get("LAchildID") or ""
        for det in dets:
            d: dict = {}
            mine_s47, mine_cpp, mine_pp = [], [], []
            for c in det:
                tag = c.tag
                if tag == "Section47":
                    mine_s47.append({e.tag: e.text for e in c})
                elif tag == "ChildProtectionPlans":
                    mine_cpp.append({e.tag: e.text for e in c})
                elif tag == "PreProceedingsandFGDM":
                    mine_pp.append({e.tag: e.text for e in c})
                elif tag == "Assessments":
                    if any((f.text or "").strip() == "9A" for f in c.iterfind("FactorsIdentifiedAtAssessment/AssessmentFactors")):
                        nine_a = "9A"
                else:
                    d[tag] = c.text
            ref = d.get("CINreferralDate")
            refs.append((i, cid, *(d.get(t) for t in REFERRAL_ITEMS)))
            s47s += [(i, cid, ref, *(x.get(t) for t in s47_tags)) for x in mine_s47]
            cpps += [(i, cid, ref, *(x.get(t) for t in CPP_ITEMS)) for x in mine_cpp]
            pps += [(i, cid, ref, *(x.get(t) for t in pp_tags)) for x in mine_pp]
        children.append((i, cid, ident.get("UPN"), ident.get("PersonBirthDate"), ident.get("ExpectedPersonBirthDate"),
                         ident.get("Sex") or ident.get("GenderCurrent"), ident.get("PersonDeathDate"), nine_a))
    tables = {
        "children": pd.DataFrame(children, columns=["_row", "LAchildID", "UPN", "PersonBirthDate", "ExpectedPersonBirthDate",
                                                    "Sex", "PersonDeathDate", "AssessmentFactors"]),
        "referrals": pd.DataFrame(refs, columns=["_row", "LAchildID", *REFERRAL_ITEMS]),
        "s47": pd.DataFrame(s47s, columns=["_row", "LAchildID", "CINreferralDate", *S47_ITEMS]),
        "cpp": pd.DataFrame(cpps, columns=["_row", "LAchildID", "CINreferralDate", *CPP_ITEMS]),
        "pre_proceedings": pd.DataFrame(pps, columns=["_row", "LAchildID", "CINreferralDate", *PP_ITEMS]),
    }
    for df in tables.values():
        for col in df.columns[1:]:
            codes, uniques = pd.factorize(df[col].fillna(""), use_na_sentinel=False)
            df[col] = np.array([str(u).strip() for u in uniques], dtype=object)[codes] if len(codes) else df[col]
    meta["has_plans"] = bool(len(cpps))
    meta["has_pre_proceedings"] = root.find(".//PreProceedingsandFGDM") is not None
    meta["rows"] = len(children)
    meta["plan_column"] = "element ChildProtectionPlans/CPPstartDate"
    return tables, meta


# ---------------------------------------------------------------------------------------
# CSV
# ---------------------------------------------------------------------------------------
def _read_csv(path: Path) -> tuple[dict[str, pd.DataFrame], dict]:
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig", skipinitialspace=True)
    except Exception as exc:
        raise LocalDataError([f"{path}: cannot be read as CSV ({type(exc).__name__}: {str(exc)[:200]})"]) from None
    df.columns = [_CANON.get(str(c).strip().lower(), str(c).strip()) for c in df.columns]
    missing = [c for c in CSV_REQUIRED if c not in df.columns]
    if "PersonBirthDate" not in df.columns and "ExpectedPersonBirthDate" not in df.columns:
        missing.append("PersonBirthDate")
    if missing:
        raise LocalDataError([f"{path}: row 1, column {c}: missing; a CIN census CSV needs LAchildID, CINreferralDate and "
                        f"PersonBirthDate (found {', '.join(df.columns) or 'no columns'})" for c in missing])
    for col in df.columns:
        df[col] = df[col].astype(str).str.strip()
    df["_row"] = np.arange(2, len(df) + 2)

    def take(cols, *, need: str | None = None) -> pd.DataFrame:
        present = [c for c in cols if c in df.columns]
        part = df[["_row", "LAchildID", *present]]
        if need is not None:
            if need not in df.columns:
                return pd.DataFrame(columns=["_row", "LAchildID", *cols])
            part = part[part[need] != ""]
        return part.reindex(columns=["_row", "LAchildID", *cols], fill_value="")

    child_cols = ("UPN", "PersonBirthDate", "ExpectedPersonBirthDate", "Sex", "PersonDeathDate", "AssessmentFactors")
    children = take(child_cols)
    if "GenderCurrent" in df.columns:
        children["Sex"] = children["Sex"].where(children["Sex"] != "", df["GenderCurrent"])
    children["AssessmentFactors"] = np.where(children["AssessmentFactors"].str.contains(r"\b9A\b", regex=True), "9A", "")
    s47 = take(("CINreferralDate", *S47_ITEMS), need="S47ActualStartDate")
    if "DateOfInitialCPC" in df.columns and "S47ActualStartDate" in df.columns:
        # flat layout: one DateOfInitialCPC column serves the S47 row and, without an S47, the referral
        ref_icpc = df["DateOfInitialCPC"].where(df["S47ActualStartDate"] == "", "")
    else:
        ref_icpc = df.get("DateOfInitialCPC", pd.Series("", index=df.index))
    referrals = take(REFERRAL_ITEMS)
    referrals["DateOfInitialCPC"] = ref_icpc.to_numpy()
    tables = {"children": children, "referrals": referrals, "s47": s47,
              "cpp": take(("CINreferralDate", *CPP_ITEMS), need="CPPstartDate"),
              "pre_proceedings": take(("CINreferralDate", *PP_ITEMS), need="PPStartDate")}
    meta: dict[str, Any] = {"ReferenceDate": "", "Year": "", "LA": ""}
    if "ReferenceDate" in df.columns:
        vals = df["ReferenceDate"][df["ReferenceDate"] != ""].unique()
        meta["ReferenceDate"] = vals[0] if len(vals) else ""
        meta["_reference_values"] = list(vals)
    if "Year" in df.columns:
        vals = df["Year"][df["Year"] != ""].unique()
        meta["Year"] = vals[0] if len(vals) else ""
        meta["_year_values"] = list(vals)
    meta["has_plans"] = "CPPstartDate" in df.columns
    meta["has_pre_proceedings"] = "PPStartDate" in df.columns
    meta["rows"] = len(df)
    meta["plan_column"] = "column CPPstartDate"
    return tables, meta


def _census_year(path: Path, meta: dict, tables: dict[str, pd.DataFrame], problems: list[str],
                 warnings: list[str]) -> tuple[int, pd.Timestamp] | None:
    """(census year ending 31 March, ReferenceDate) of one return."""
    if len(meta.get("_reference_values", [])) > 1 or len(meta.get("_year_values", [])) > 1:
        problems.append(f"{path}: column {'ReferenceDate' if len(meta.get('_reference_values', [])) > 1 else 'Year'}: "
                        "several census years in one file; give one file per census year")
        return None
    if meta["ReferenceDate"]:
        ref = parse_dates(pd.Series([meta["ReferenceDate"]]))[0]
        if pd.isna(ref):
            problems.append(f"{path}: ReferenceDate {meta['ReferenceDate']!r} is not a date (DD/MM/YYYY or YYYY-MM-DD)")
            return None
        return int(collection_year(pd.Series([ref]))[0]), pd.Timestamp(ref)
    if meta["Year"]:
        m = re.fullmatch(r"(\d{4})(?:\s*[-/]\s*(\d{2}))?", meta["Year"])
        if not m:
            problems.append(f"{path}: Year {meta['Year']!r} is not a census year (e.g. 2024 or 2023-24)")
            return None
        year = int(m.group(1)) + (1 if m.group(2) else 0)
        return year, pd.Timestamp(f"{year}-03-31")
    dates = []
    for name, cols in (("referrals", ("CINreferralDate", "CINclosureDate")), ("cpp", ("CPPstartDate", "CPPendDate")),
                       ("s47", ("S47ActualStartDate",)), ("pre_proceedings", ("PPStartDate",))):
        for c in cols:
            if c in tables[name]:
                dates.append(parse_dates(tables[name][c]).max())
    dates = [d for d in dates if pd.notna(d)]
    if not dates:
        problems.append(f"{path}: no census year: no ReferenceDate or Year column and no event dates")
        return None
    year = int(collection_year(pd.Series([max(dates)]))[0])
    warnings.append(f"{path.name}: no ReferenceDate or Year column; census year {year - 1}-{year % 100:02d} taken from "
                    "its latest event date")
    return year, pd.Timestamp(f"{year}-03-31")


# ---------------------------------------------------------------------------------------
# Reading and normalising
# ---------------------------------------------------------------------------------------
def read_cin(paths, today: pd.Timestamp | None = None) -> CinTables:
    """Read every CIN file (XML or CSV, recognised by content), normalise, check and deduplicate.

    Raises :class:`LocalDataError` listing every problem (file, row or line, and column or element): files that cannot be
    read, XML that is not a CIN return, missing columns, unreadable dates, dates after ``today`` (default: the real
    today), plans ending before they start, referrals closed before they start, empty ``LAchildID``.
    """
    today = pd.Timestamp.today().normalize() if today is None else pd.Timestamp(today)
    problems: list[str] = []
    warnings: list[str] = []
    parts: dict[str, list[pd.DataFrame]] = {k: [] for k in KEYS}
    returns = []
    paths = [Path(p) for p in paths]
    if not paths:
        raise LocalDataError(["no CIN census files given"])
    for order, path in enumerate(paths):
        if not path.is_file():
            problems.append(f"{path}: file not found")
            continue
        try:
            head = path.open("rb").read(512).lstrip(b"\xef\xbb\xbf").lstrip()
            fmt = "xml" if head.startswith(b"<") else "csv"
            tables, meta = _read_xml(path) if fmt == "xml" else _read_csv(path)
        except LocalDataError as exc:
            problems += exc.problems
            continue
        got = _census_year(path, meta, tables, problems, warnings)
        if got is None:
            continue
        year, ref = got
        file_problems: list[str] = []
        lines = _child_lines(path) if fmt == "xml" else None
        for name, df in tables.items():
            df = _normalise(name, df.copy(), path, fmt, lines, today, file_problems)
            df["_year"], df["_order"] = year, order
            parts[name].append(df)
        problems += file_problems
        returns.append({"file": str(path), "format": fmt, "year": year, "reference_date": ref,
                        "has_plans": meta["has_plans"], "has_pre_proceedings": meta["has_pre_proceedings"],
                        "rows": meta["rows"], "plan_column": meta["plan_column"]})
    if problems:
        raise LocalDataError(list(dict.fromkeys(problems)))
    ret = pd.DataFrame(returns)
    dup_years = ret["year"][ret["year"].duplicated()].unique()
    for y in dup_years:
        warnings.append(f"census year {y - 1}-{y % 100:02d} given by several files ({', '.join(ret.loc[ret['year'] == y, 'file'])}); "
                        "their rows are stacked and deduplicated")
    years = sorted(ret["year"].unique())
    gaps = [y for y in range(years[0], years[-1] + 1) if y not in years]
    if gaps:
        warnings.append("census years missing between the first and last return: " + ", ".join(f"{y - 1}-{y % 100:02d}" for y in gaps)
                        + " (episodes that opened and closed in those years are not seen)")
    counts: dict[str, int] = {"CIN files read": len(ret)}
    conflicts: list[pd.DataFrame] = []
    out = {}
    for name, frames in parts.items():
        df = pd.concat(frames, ignore_index=True)
        out[name] = _deduplicate(name, df, counts, conflicts)
    children = out["children"]
    children["dob"] = children["PersonBirthDate"].fillna(children["ExpectedPersonBirthDate"])
    children["prebirth"] = children["PersonBirthDate"].isna() & children["ExpectedPersonBirthDate"].notna()
    seen_9a = pd.concat(parts["children"])[lambda d: d["AssessmentFactors"] == "9A"]["LAchildID"].unique()
    children["uasc_factor"] = children["LAchildID"].isin(seen_9a)
    children = children.drop(columns=["AssessmentFactors"])
    out["children"] = children
    out["cpp"] = _plan_conferences(out["cpp"], out["referrals"], out["s47"])
    counts["children without a birth or expected birth date"] = int(children["dob"].isna().sum())
    counts["referrals with no further action (ReferralNFA)"] = int(out["referrals"]["ReferralNFA"].sum())
    unknown = ~out["referrals"]["ReasonForClosure"].isin(("", *REASONS))
    counts["referrals with an unknown ReasonForClosure"] = int(unknown.sum())
    if unknown.any():
        warnings.append(f"{int(unknown.sum())} referrals with an unknown ReasonForClosure: "
                        + ", ".join(sorted(out["referrals"].loc[unknown, "ReasonForClosure"].unique())[:10]))
    conflict_table = (pd.concat(conflicts, ignore_index=True) if conflicts else
                      pd.DataFrame(columns=["table", "LAchildID", "key", "column", "earlier", "later", "earlier_file",
                                            "later_file"]))
    if len(conflict_table):
        warnings.append(f"{len(conflict_table)} values changed between returns for the same record (latest kept); "
                        "listed in the conflicts table")
    return CinTables(out["children"], out["referrals"], out["s47"], out["cpp"], out["pre_proceedings"], ret, counts,
                     conflict_table, warnings)


def _parse_unique(text: pd.Series, allow_month: bool = False) -> pd.Series:
    """:func:`~ifpp_econ.ssda903.parse_dates` of each distinct text once (returns repeat the same dates)."""
    codes, uniques = pd.factorize(text, use_na_sentinel=False)
    parsed = parse_dates(pd.Series(uniques, dtype=object), allow_month=allow_month).to_numpy()
    return pd.Series(parsed[codes] if len(codes) else np.array([], dtype="datetime64[ns]"), index=text.index)


def _where(df: pd.DataFrame, mask, path: Path, fmt: str, lines, column: str, element: str) -> list[str]:
    """``file: row R, column C`` (CSV) or ``file: line L, Child N (LAchildID X), element E`` (XML) of each masked row."""
    rows = df.loc[mask, "_row"].to_numpy()
    ids = df.loc[mask, "LAchildID"].to_numpy()
    if fmt == "csv":
        return [f"{path}: row {r}, column {column}" for r in rows]
    return [f"{path}: line {lines[r] if r < len(lines) else '?'}, Child {r + 1} (LAchildID {i or '?'}), element {element}"
            for r, i in zip(rows, ids)]


_ELEMENT = {"children": "ChildIdentifiers/", "referrals": "CINdetails/", "s47": "CINdetails/Section47/",
            "cpp": "CINdetails/ChildProtectionPlans/", "pre_proceedings": "CINdetails/PreProceedingsandFGDM/"}


def _listed(problems: list[str]) -> list[str]:
    if len(problems) > MAX_LISTED:
        return problems[:MAX_LISTED] + [f"(… and {len(problems) - MAX_LISTED} more of the same kind)"]
    return problems


def _normalise(name: str, df: pd.DataFrame, path: Path, fmt: str, lines, today: pd.Timestamp,
               problems: list[str]) -> pd.DataFrame:
    """Parse dates, booleans and counts of one raw table in place; add problems with their places."""
    df["_file"] = path.name
    for col in [c for c in df.columns if c in DATE_ITEMS]:
        text = df[col]
        parsed = _parse_unique(text, allow_month=col == "PersonBirthDate")
        if col == "CINreferralDate" and name != "referrals":  # the referral's own date: checked once, in referrals
            df[col] = parsed
            continue
        bad = parsed.isna() & (text != "")
        element = ("CINdetails/" if col == "CINreferralDate" and name != "referrals" else _ELEMENT[name]) + col
        if bad.any():
            problems += _listed([f"{w}: found {v!r}; expected a date (DD/MM/YYYY or YYYY-MM-DD)"
                                 for w, v in zip(_where(df, bad, path, fmt, lines, col, element), text[bad])])
        if col not in FUTURE_ALLOWED:
            future = parsed > today
            if future.any():
                problems += _listed([f"{w}: {d:%d/%m/%Y} is in the future (today is {today:%d/%m/%Y})"
                                     for w, d in zip(_where(df, future, path, fmt, lines, col, element), parsed[future])])
        df[col] = parsed
    required = {"cpp": "CPPstartDate", "s47": "S47ActualStartDate", "pre_proceedings": "PPStartDate"}.get(name)
    if required and fmt == "xml":  # a CSV row without the date is not a record of that kind
        empty = df[required].isna()
        problems += _listed([f"{w}: empty; every {_ELEMENT[name].split('/')[-2]} element needs its {required}"
                             for w in _where(df, empty, path, fmt, lines, required, _ELEMENT[name] + required)])
    if name == "cpp":
        backwards = df["CPPendDate"] < df["CPPstartDate"]
        problems += _listed([f"{w}: the plan ends ({e:%d/%m/%Y}) before it starts (CPPstartDate {s:%d/%m/%Y})"
                             for w, s, e in zip(_where(df, backwards, path, fmt, lines, "CPPendDate", _ELEMENT[name] + "CPPendDate"),
                                                df.loc[backwards, "CPPstartDate"], df.loc[backwards, "CPPendDate"])])
        df["NumberOfPreviousCPP"] = pd.to_numeric(df["NumberOfPreviousCPP"], errors="coerce")
    if name == "referrals":
        backwards = df["CINclosureDate"] < df["CINreferralDate"]
        problems += _listed([f"{w}: the referral closes ({e:%d/%m/%Y}) before it starts (CINreferralDate {s:%d/%m/%Y})"
                             for w, s, e in zip(_where(df, backwards, path, fmt, lines, "CINclosureDate",
                                                       "CINdetails/CINclosureDate"),
                                                df.loc[backwards, "CINreferralDate"], df.loc[backwards, "CINclosureDate"])])
        no_date = df["CINreferralDate"].isna()
        problems += _listed([f"{w}: empty; every CIN episode needs its referral date"
                             for w in _where(df, no_date, path, fmt, lines, "CINreferralDate", "CINdetails/CINreferralDate")])
        df["ReasonForClosure"] = df["ReasonForClosure"].str.upper()
        df["ReferralNFA"] = df["ReferralNFA"].str.lower().isin(TRUE_TEXT)
    if name == "s47":
        df["ICPCnotRequired"] = df["ICPCnotRequired"].str.lower().isin(TRUE_TEXT)
    if name == "children":
        no_id = df["LAchildID"] == ""
        problems += _listed([f"{w}: empty; every child needs LAchildID"
                             for w in _where(df, no_id, path, fmt, lines, "LAchildID", "ChildIdentifiers/LAchildID")])
        no_dob = df["PersonBirthDate"].isna() & df["ExpectedPersonBirthDate"].isna() & ~no_id
        if fmt == "xml":  # in a flat CSV the birth date may sit on one of the child's rows only
            problems += _listed([f"{w}: empty; a child needs PersonBirthDate (or ExpectedPersonBirthDate before birth)"
                                 for w in _where(df, no_dob, path, fmt, lines, "PersonBirthDate",
                                                 "ChildIdentifiers/PersonBirthDate")])
    if fmt == "xml":
        df["_row"] = lines[df["_row"].to_numpy(dtype=np.int64)] if len(df) else df["_row"].astype(np.int64)
    return df


def _deduplicate(name: str, df: pd.DataFrame, counts: dict[str, int], conflicts: list[pd.DataFrame]) -> pd.DataFrame:
    """One row per natural key: the latest return's (counts and conflicts recorded)."""
    key = list(KEYS[name])
    content = [c for c in df.columns if c not in ("_row", "_file", "_year", "_order") and c not in key]
    df = df.sort_values([*key, "_year", "_order", "_row"], kind="stable").reset_index(drop=True)
    # within one return: identical rows (a flat CSV repeats the referral on each plan row) are one record
    same = df.duplicated([*key, *content, "_year", "_order"], keep="last")
    df = df[~same].reset_index(drop=True)
    clash = df.duplicated([*key, "_year", "_order"], keep="last")
    if clash.any() and name != "children":
        counts[f"{name}: different rows with the same key within one return (last kept)"] = int(clash.sum())
    if name == "children":  # a flat CSV writes the identifiers on each row; keep the fullest
        filled = df[["PersonBirthDate", "ExpectedPersonBirthDate", "PersonDeathDate"]].notna().sum(axis=1) + (df["Sex"] != "")
        df = df.assign(_filled=filled).sort_values([*key, "_year", "_order", "_filled"], kind="stable")
        df = df.drop(columns="_filled").reset_index(drop=True)
    df = df[~df.duplicated([*key, "_year", "_order"], keep="last")].reset_index(drop=True)
    later = df.duplicated(key, keep="last")  # rows superseded by a later return
    counts[f"{name}: rows repeated in a later return (latest kept)"] = int(later.sum())
    if later.any():
        idx = np.flatnonzero(later.to_numpy())
        for col in content:
            if name == "children" and col == "AssessmentFactors":
                continue
            a, b = df[col].iloc[idx].reset_index(drop=True), df[col].iloc[idx + 1].reset_index(drop=True)
            blank_a = a.isna() | (a.astype(str) == "")
            blank_b = b.isna() | (b.astype(str) == "")
            changed = (~blank_a & (blank_b | (a.astype(str) != b.astype(str)))).to_numpy()
            if changed.any():
                rows = idx[changed]
                conflicts.append(pd.DataFrame({
                    "table": name, "LAchildID": df["LAchildID"].iloc[rows].to_numpy(),
                    "key": df[key[-1]].iloc[rows].astype(str).to_numpy(), "column": col,
                    "earlier": a[changed].astype(str).to_numpy(), "later": b[changed].astype(str).to_numpy(),
                    "earlier_file": df["_file"].iloc[rows].to_numpy(), "later_file": df["_file"].iloc[rows + 1].to_numpy()}))
                counts[f"{name}: {col} changed in a later return (latest kept)"] = int(changed.sum())
            filled = (blank_a & ~blank_b).to_numpy()
            if filled.any():
                counts[f"{name}: {col} filled in by a later return"] = int(filled.sum())
    return df[~later].drop(columns="_order").reset_index(drop=True)


def _plan_conferences(cpp: pd.DataFrame, referrals: pd.DataFrame, s47: pd.DataFrame) -> pd.DataFrame:
    """Each plan's initial conference: its referral's DateOfInitialCPC, else the latest S47 conference of the same
    referral on or before the plan start; and the referral's source."""
    ref = referrals[["LAchildID", "CINreferralDate", "DateOfInitialCPC", "ReferralSource"]]
    out = cpp.drop(columns=[c for c in ("DateOfInitialCPC", "ReferralSource") if c in cpp.columns]).merge(
        ref, on=["LAchildID", "CINreferralDate"], how="left")
    conf = s47.loc[s47["DateOfInitialCPC"].notna(), ["LAchildID", "CINreferralDate", "DateOfInitialCPC"]]
    if len(conf) and len(out):
        cand = out[["LAchildID", "CINreferralDate", "CPPstartDate"]].reset_index().merge(
            conf, on=["LAchildID", "CINreferralDate"])
        cand = cand[cand["DateOfInitialCPC"] <= cand["CPPstartDate"]]
        latest = cand.sort_values("DateOfInitialCPC").drop_duplicates("index", keep="last").set_index("index")
        fill = out["DateOfInitialCPC"].isna() & out.index.isin(latest.index)
        out.loc[fill, "DateOfInitialCPC"] = latest["DateOfInitialCPC"].reindex(out.index[fill]).to_numpy()
    out["ReferralSource"] = out["ReferralSource"].fillna("")
    return out
