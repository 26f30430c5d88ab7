"""Usual-care baseline risk of a family's first entry to care, from the CIN census linked to SSDA903.

Time is days since the family's cohort entry t₀ (the earliest index event among its children in
the window). The event is the first new 903 period of care (``ssda903.clean`` periods: short
breaks and UASC already removed) of any child of the family starting on or after t₀ — a
placement change inside a period is not an entry. Competing event: every child has left
childhood — the 18th birthday, death (``PersonDeathDate`` or closure RC2) or adoption closure
(RC1). Censoring: the data end (the earlier of the CIN coverage end and the 903 coverage end)
and transfer to another LA (closure RC5, all children; a family where any child transferred is
censored, never counted as a competing event).

The cumulative incidence is the Aalen–Johansen estimator (:func:`aalen_johansen`); ``risk_3m``,
``risk_6m``, ``risk_12m``, ``risk_24m`` are its values at 91, 183, 365 and 730 days, so they are
non-decreasing by construction. ``annual_risk_after_24m`` = (CIF(1095) − CIF(730)) /
(1 − CIF(730) − CIF₂(730)). ``children_placed_per_family_placement`` (k) = children entering
within 30 days of the family's first entry (counted at that entry; families whose first entry
is under 30 days before the data end are left out of k), mean over families with an entry;
``children_per_family`` = mean family size (children at risk at t₀). Intervals and standard
errors come from a family-level bootstrap (multinomial resampling of families, seeded). PSA:
``beta_alpha_beta`` by method of moments for the risks (n_eff = p(1 − p)/SE² − 1, α = p·n_eff,
β = (1 − p)·n_eff), ``gamma_mean_se`` for k and children per family (positive; the share below
1 is reported). Estimates with fewer than ``min_events`` events are withheld (the workbook's value
is kept). Conventions follow ``shared/docs/cin-census.md`` §4–5.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from ..exceptions import LocalDataError
from .cin_census import MAX_LISTED, CinTables
from .ssda903 import DAYS_PER_MONTH, Cleaned, eighteenth_birthday, parse_dates

HORIZONS = {"risk_3m": 91, "risk_6m": 183, "risk_12m": 365, "risk_24m": 730}  # days since t₀
AFTER_24M = (730, 1095)  # days: annual_risk_after_24m is the conditional risk in this year
K_WINDOW_DAYS = 30
MIN_EVENTS = 10
MIN_LINK_RATE = 0.5
COHORTS = ("cpp_start", "cpp_repeat", "pre_proceedings", "list:FILE")
PARAMETERS = (*HORIZONS, "annual_risk_after_24m", "children_placed_per_family_placement", "children_per_family")
PROXY_CAVEAT = ("families approximated from the census (children sharing the plan start date, initial conference date and "
                "CIN referral date, joined with union-find): children of different families who share a conference day "
                "are merged (more often in large LAs) and siblings referred separately are split; give --families "
                "(LAchildID,FamilyID) from the case management system for a family-level estimate")


@dataclass
class Link:
    """CIN ↔ 903 linkage by ``LAchildID = CHILD`` confirmed with the date of birth.

    ``linked``: the set of linked identifiers; ``rate``: share of 903 periods starting inside the CIN coverage whose
    child has a linked CIN record (``periods_in_coverage`` of them); ``counts``: links by kind and conflicts.
    """
    linked: set[str]
    rate: float
    periods_in_coverage: int
    counts: dict[str, int]
    warnings: list[str] = field(default_factory=list)


@dataclass
class BaselineEstimate:
    """Everything estimated.

    ``estimates``: one row per parameter of :data:`PARAMETERS` — value (what to write: the workbook's value when
    withheld), estimate (the local estimate), se, low, high (``level`` interval),
    events, n_at_risk (families still followed at the horizon), horizon_days, distribution, param_a, param_b,
    status, source, withheld (bool), reason, default. ``curve``: months 0..max (int), cif, low, high (bootstrap
    percentiles), cif_competing, at_risk and events (cumulative) on the day ``round(months × 365.25/12)``.
    ``families``: one row per cohort family — family, t0, size, time (days), status (0 censored, 1 entry,
    2 competing), k (NaN unless counted). ``clusters``: family size → number of families.
    """
    estimates: pd.DataFrame
    curve: pd.DataFrame
    families: pd.DataFrame
    clusters: pd.DataFrame
    counts: dict[str, int]
    link_rate: float
    cohort: str
    window: tuple[pd.Timestamp, pd.Timestamp]  # inclusive dates of cohort entry
    data_end: pd.Timestamp  # exclusive
    family_source: str  # "families file", "cohort list" or "proxy"
    warnings: list[str] = field(default_factory=list)

    def value(self, name: str) -> float:
        return float(self.estimates.set_index("parameter").loc[name, "value"])


# ---------------------------------------------------------------------------------------
# The estimator
# ---------------------------------------------------------------------------------------
def aalen_johansen(time, status, weights=None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Aalen–Johansen cumulative incidence of cause 1 and cause 2 with right censoring.

    ``time``: (n,) follow-up times; ``status``: (n,) 0 censored, 1 event, 2 competing event; ``weights``: (n,) or
    (B, n) case weights (bootstrap replicates), default 1. Tied events come before censorings (a subject censored at
    t is at risk at t). Returns ``t`` (J,) distinct times, ``cif1`` and ``cif2`` ((J,) or (B, J)) just after each time,
    and ``at_risk`` (same shape): the weighted number with time ≥ t_j.
    CIF₁(t) = Σ_{t_j ≤ t} S(t_j−) d₁ⱼ/nⱼ with S the all-cause Kaplan–Meier.
    """
    time, status = np.asarray(time, float), np.asarray(status, int)
    t, idx = np.unique(time, return_inverse=True)
    n, J = len(time), len(t)
    w = np.ones(n) if weights is None else np.asarray(weights, float)
    W = np.atleast_2d(w)  # (B, n)

    def per_time(mask: np.ndarray) -> np.ndarray:  # (B, J) weighted counts at each distinct time
        one_hot = sparse.csr_matrix((mask.astype(float), (np.arange(n), idx)), shape=(n, J))
        return np.asarray(one_hot.T @ W.T).T

    leaving, d1, d2 = per_time(np.ones(n, bool)), per_time(status == 1), per_time(status == 2)
    at_risk = W.sum(axis=1, keepdims=True) - np.cumsum(leaving, axis=1) + leaving
    with np.errstate(divide="ignore", invalid="ignore"):
        h1 = np.where(at_risk > 0, d1 / at_risk, 0.0)
        h2 = np.where(at_risk > 0, d2 / at_risk, 0.0)
    surv = np.cumprod(1.0 - h1 - h2, axis=1)
    before = np.concatenate([np.ones((len(W), 1)), surv[:, :-1]], axis=1)  # S(t_j−)
    cif1, cif2 = np.cumsum(before * h1, axis=1), np.cumsum(before * h2, axis=1)
    if w.ndim == 1:
        return t, cif1[0], cif2[0], at_risk[0]
    return t, cif1, cif2, at_risk


def family_curve(values: dict[str, float], months: int) -> np.ndarray:
    """The model's usual-care cumulative risk of a family's first entry by month 0..``months`` ``(months + 1,)``, from
    plain workbook values: ``risk_3m/6m/12m/24m`` (cumulative probabilities) and ``annual_risk_after_24m``
    (probability/year). Constant monthly hazard between the knots, as the model draws it
    (:func:`ifpp_econ.model.entry.usual_care_family_curve`)."""
    from ..inputs.units import to_model_units
    from ..model.entry import usual_care_family_curve

    p = {name: np.array([float(values[name])]) for name in HORIZONS}
    p["annual_risk_after_24m"] = to_model_units(np.array([float(values["annual_risk_after_24m"])]), "probability/year")
    return usual_care_family_curve(p, int(months))[0]


def cif_at(t: np.ndarray, cif: np.ndarray, at: float | np.ndarray) -> np.ndarray:
    """Step function value of ``cif`` (…, J) at time(s) ``at`` (0 before the first time)."""
    j = np.searchsorted(t, np.asarray(at, float), side="right") - 1
    padded = np.concatenate([np.zeros(cif.shape[:-1] + (1,)), cif], axis=-1)
    return padded[..., j + 1]


# ---------------------------------------------------------------------------------------
# Optional CSV inputs
# ---------------------------------------------------------------------------------------
def _columns(df: pd.DataFrame, path: Path, wanted: dict[str, tuple[str, ...]], optional: tuple[str, ...] = ()) -> dict:
    lower = {str(c).strip().lower(): c for c in df.columns}
    found, problems = {}, []
    for role, names in wanted.items():
        col = next((lower[n.lower()] for n in names if n.lower() in lower), None)
        if col is None and role not in optional:
            problems.append(f"{path}: row 1, column {names[0]}: missing (also accepted: {', '.join(names[1:])}); found "
                            f"{', '.join(map(str, df.columns)) or 'no columns'}")
        found[role] = col
    if problems:
        raise LocalDataError(problems)
    return found


def _read_small_csv(path) -> tuple[Path, pd.DataFrame]:
    path = Path(path)
    if not path.is_file():
        raise LocalDataError([f"{path}: file not found"])
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig", skipinitialspace=True)
    except Exception as exc:
        raise LocalDataError([f"{path}: cannot be read as CSV ({type(exc).__name__}: {str(exc)[:200]})"]) from None
    return path, df.apply(lambda c: c.str.strip())


def read_families(path) -> pd.DataFrame:
    """A families CSV (``LAchildID,FamilyID``; also ``child_id``/``family_id``) → columns LAchildID, FamilyID.

    Raises :class:`LocalDataError` for missing columns, empty cells and a child listed in two families.
    """
    path, df = _read_small_csv(path)
    cols = _columns(df, path, {"child": ("LAchildID", "child_id", "CHILD"), "family": ("FamilyID", "family_id")})
    out = pd.DataFrame({"LAchildID": df[cols["child"]], "FamilyID": df[cols["family"]], "_row": np.arange(2, len(df) + 2)})
    problems = []
    for role, col in (("child", "LAchildID"), ("family", "FamilyID")):
        problems += [f"{path}: row {r}, column {cols[role]}: empty" for r in out.loc[out[col] == "", "_row"]][:MAX_LISTED]
    out = out.drop_duplicates(["LAchildID", "FamilyID"])
    two = out[out["LAchildID"].duplicated(keep=False) & (out["LAchildID"] != "")]
    problems += [f"{path}: row {r}, column {cols['family']}: child {c} is listed in more than one family ({f})"
                 for r, c, f in zip(two["_row"], two["LAchildID"], two["FamilyID"])][:MAX_LISTED]
    if problems:
        raise LocalDataError(problems)
    return out.drop(columns="_row").reset_index(drop=True)


def read_cohort_list(path, today: pd.Timestamp | None = None) -> pd.DataFrame:
    """An LA's own cohort CSV: child id (``LAchildID``/``child_id``/``CHILD``), referral date (``referral_date``/
    ``index_date``/``ReferralDate``, DD/MM/YYYY or ISO) and optionally a family id → LAchildID, index_date, FamilyID
    (empty when absent). Raises :class:`LocalDataError` with file, row and column for each problem."""
    today = pd.Timestamp.today().normalize() if today is None else pd.Timestamp(today)
    path, df = _read_small_csv(path)
    cols = _columns(df, path, {"child": ("LAchildID", "child_id", "CHILD"),
                               "date": ("referral_date", "index_date", "ReferralDate", "date"),
                               "family": ("FamilyID", "family_id")}, optional=("family",))
    rows = np.arange(2, len(df) + 2)
    date = parse_dates(df[cols["date"]])
    problems = [f"{path}: row {r}, column {cols['child']}: empty" for r in rows[(df[cols["child"]] == "").to_numpy()]]
    bad = date.isna().to_numpy()
    problems += [f"{path}: row {r}, column {cols['date']}: found {v!r}; expected a date (DD/MM/YYYY or YYYY-MM-DD)"
                 for r, v in zip(rows[bad], df[cols["date"]].to_numpy()[bad])]
    future = (date > today).to_numpy()
    problems += [f"{path}: row {r}, column {cols['date']}: {d:%d/%m/%Y} is in the future (today is {today:%d/%m/%Y})"
                 for r, d in zip(rows[future], date[future])]
    if problems:
        raise LocalDataError(problems[:MAX_LISTED] + ([f"(… and {len(problems) - MAX_LISTED} more)"] if len(problems) > MAX_LISTED else []))
    family = df[cols["family"]] if cols["family"] else pd.Series("", index=df.index)
    return pd.DataFrame({"LAchildID": df[cols["child"]], "index_date": date, "FamilyID": family})


# ---------------------------------------------------------------------------------------
# Linkage
# ---------------------------------------------------------------------------------------
def _degraded(dob: pd.Series, days: tuple[int, ...]) -> bool:
    """Dates of birth degraded to the month (≥ 90% on the given days of the month, at least 20 children)."""
    d = dob.dropna()
    return len(d) >= 20 and d.dt.day.isin(days).mean() >= 0.9


def link(cin: CinTables, cleaned: Cleaned, min_link_rate: float = MIN_LINK_RATE) -> Link:
    """Join CIN children to 903 children on ``LAchildID = CHILD``, confirmed by the date of birth (the same month when
    either side's dates of birth are degraded to the month). Raises :class:`LocalDataError` when the link rate is below
    ``min_link_rate`` or no 903 period starts inside the CIN coverage."""
    counts: dict[str, int] = {}
    kids = cin.children[["LAchildID", "dob", "PersonBirthDate"]]
    per = cleaned.periods
    dob903 = per.drop_duplicates("child").set_index("child")["dob"]
    both = kids.merge(dob903.rename("dob903"), left_on="LAchildID", right_index=True)
    cin_dob = both["PersonBirthDate"].fillna(both["dob"])
    exact = cin_dob == both["dob903"]
    month_ok = _degraded(kids["PersonBirthDate"], (1,)) or _degraded(dob903, (1, 15))
    same_month = (cin_dob.dt.year == both["dob903"].dt.year) & (cin_dob.dt.month == both["dob903"].dt.month)
    by_month = ~exact & same_month & month_ok
    no_dob = ~exact & ~by_month & (cin_dob.isna() | both["dob903"].isna())
    ok = exact | by_month
    counts["CIN children linked to 903 (same LAchildID and date of birth)"] = int(exact.sum())
    counts["CIN children linked to 903 on the month of birth (dates degraded to the month)"] = int(by_month.sum())
    counts["CIN children whose 903 record has another date of birth (not linked)"] = int((~ok & ~no_dob).sum())
    counts["CIN children matching a 903 identifier without a date of birth on one side (not linked)"] = int(no_dob.sum())
    linked = set(both.loc[ok, "LAchildID"])
    warnings = []
    if (~ok).any():
        ex = both.loc[~ok].head(5)
        warnings.append(f"{int((~ok).sum())} CIN children share a 903 identifier but not the date of birth and are not "
                        "linked, e.g. " + "; ".join(f"{i}: CIN {a:%d/%m/%Y} vs 903 {b:%d/%m/%Y}" if pd.notna(a) and pd.notna(b)
                                                    else f"{i}: a date of birth missing"
                                                    for i, a, b in zip(ex["LAchildID"], cin_dob[ex.index], ex["dob903"])))
    lo = max(cin.data_start, cleaned.data_start)
    hi = min(cin.data_end, cleaned.data_end)
    inside = (per["start"] >= lo) & (per["start"] < hi)
    n = int(inside.sum())
    if n == 0:
        raise LocalDataError([f"no 903 period of care starts inside the CIN coverage: the CIN returns cover "
                        f"{cin.data_start:%d/%m/%Y}–{cin.data_end - pd.Timedelta(days=1):%d/%m/%Y} and the 903 returns "
                        f"{cleaned.data_start:%d/%m/%Y}–{cleaned.data_end - pd.Timedelta(days=1):%d/%m/%Y}; give returns "
                        "for overlapping years"])
    hit = per.loc[inside, "child"].isin(linked)
    rate = float(hit.mean())
    counts["903 periods starting inside the CIN coverage"] = n
    counts["of which the child has a linked CIN record"] = int(hit.sum())
    if rate < min_link_rate:
        cin_ex = ", ".join(sorted(kids["LAchildID"].astype(str))[:3])
        ex903 = ", ".join(sorted(per.loc[inside & ~per["child"].isin(linked), "child"].astype(str).unique())[:3])
        raise LocalDataError([f"CIN and 903 children barely link: link rate {rate:.1%} ({int(hit.sum())} of {n} 903 periods "
                        f"starting inside the CIN coverage have a CIN record with the same LAchildID = CHILD and date of "
                        f"birth); at least {min_link_rate:.0%} is needed. Looked-after children are children in need, so "
                        f"the rate should be near 100%: check that both returns use the same identifiers (CIN e.g. "
                        f"{cin_ex or 'none'}; unlinked 903 e.g. {ex903 or 'none'})"])
    if rate < 0.9:
        warnings.append(f"link rate {rate:.1%} is low: entries of unlinked children are not seen, so the risks are "
                        "underestimated")
    return Link(linked, rate, n, counts, warnings)


# ---------------------------------------------------------------------------------------
# Cohort, families and follow-up
# ---------------------------------------------------------------------------------------
def _cohort_kind(cohort: str) -> tuple[str, str | None]:
    if cohort in ("cpp_start", "cpp_repeat", "pre_proceedings"):
        return cohort, None
    m = re.fullmatch(r"list:(.+)", cohort or "")
    if m:
        return "list", m.group(1)
    raise LocalDataError([f"--cohort {cohort!r}: unknown cohort; allowed: {', '.join(COHORTS)}"])


def _check_cohort_data(kind: str, cin: CinTables) -> None:
    if kind in ("cpp_start", "cpp_repeat"):
        missing = cin.returns[~cin.returns["has_plans"]]
        if len(missing):
            raise LocalDataError([f"{r.file}: {r.plan_column}: no child protection plan dates in this census year "
                            f"({r.year - 1}-{r.year % 100:02d}); cohort {kind} needs CPPstartDate in every year"
                            for r in missing.itertuples()])
    if kind == "pre_proceedings" and not cin.has_pre_proceedings:
        raise LocalDataError([f"{r.file}: no PreProceedingsandFGDM block (PPStartDate) in census year "
                        f"{r.year - 1}-{r.year % 100:02d}" for r in cin.returns.itertuples()]
                       + ["cohort pre_proceedings needs PPStartDate, which the CIN census holds only from the 2026-27 "
                          "return (expected); before that use --cohort list:FILE with the LA's pre-proceedings tracker "
                          "(child id, PLO letter date, family id)"])


def _window(window, cin: CinTables, cleaned: Cleaned, kind: str) -> tuple[pd.Timestamp, pd.Timestamp, list[str]]:
    lo, hi = max(cin.data_start, cleaned.data_start), min(cin.data_end, cleaned.data_end) - pd.Timedelta(days=1)
    notes = []
    if kind == "pre_proceedings":
        pp_years = cin.returns.loc[cin.returns["has_pre_proceedings"], "year"]
        first = pd.Timestamp(f"{int(pp_years.min()) - 1}-04-01")
        if first > lo:
            notes.append(f"pre-proceedings dates exist from {first:%d/%m/%Y} only: the window starts there")
            lo = first
    if hi < lo:
        raise LocalDataError([f"the CIN returns ({cin.data_start:%d/%m/%Y}–{cin.data_end - pd.Timedelta(days=1):%d/%m/%Y}) and "
                        f"the 903 returns ({cleaned.data_start:%d/%m/%Y}–{cleaned.data_end - pd.Timedelta(days=1):%d/%m/%Y}) "
                        "do not overlap"])
    if window is None:
        return lo, hi, notes
    w0, w1 = pd.Timestamp(window[0]), pd.Timestamp(window[1])
    if w1 < w0:
        raise LocalDataError([f"--window: the end ({w1:%d/%m/%Y}) is before the start ({w0:%d/%m/%Y})"])
    if w1 < lo or w0 > hi:
        raise LocalDataError([f"--window {w0:%d/%m/%Y} to {w1:%d/%m/%Y} holds no linked data: the CIN and 903 returns "
                        f"together cover {lo:%d/%m/%Y} to {hi:%d/%m/%Y}"])
    if w0 < lo or w1 > hi:
        notes.append(f"window cut to the linked data's span {max(w0, lo):%d/%m/%Y} to {min(w1, hi):%d/%m/%Y}")
    return max(w0, lo), min(w1, hi), notes


def _index_events(kind: str, cin: CinTables, cohort_list: pd.DataFrame | None, w0, w1) -> pd.DataFrame:
    """Every qualifying event in the window: LAchildID, date, key (the family-proxy key), FamilyID."""
    if kind in ("cpp_start", "cpp_repeat"):
        p = cin.cpp
        if kind == "cpp_repeat":
            p = p[p["NumberOfPreviousCPP"] >= 1]
        conf = p["DateOfInitialCPC"].fillna(p["CPPstartDate"])
        key = (p["CPPstartDate"].dt.strftime("%Y%m%d") + "|" + conf.dt.strftime("%Y%m%d") + "|"
               + p["CINreferralDate"].dt.strftime("%Y%m%d").fillna(""))
        ev = pd.DataFrame({"LAchildID": p["LAchildID"], "date": p["CPPstartDate"], "key": key, "FamilyID": ""})
    elif kind == "pre_proceedings":
        p = cin.pre_proceedings
        key = p["PPStartDate"].dt.strftime("%Y%m%d") + "|" + p["LBPSentDate"].dt.strftime("%Y%m%d").fillna("")
        ev = pd.DataFrame({"LAchildID": p["LAchildID"], "date": p["PPStartDate"], "key": key, "FamilyID": ""})
    else:
        assert cohort_list is not None
        lst = cohort_list
        ref = cin.referrals[["LAchildID", "CINreferralDate"]].sort_values("CINreferralDate").dropna()
        merged = pd.merge_asof(lst.reset_index().sort_values("index_date"), ref, left_on="index_date",
                               right_on="CINreferralDate", by="LAchildID").set_index("index").reindex(lst.index)
        key = lst["index_date"].dt.strftime("%Y%m%d") + "|" + merged["CINreferralDate"].dt.strftime("%Y%m%d").fillna("")
        ev = pd.DataFrame({"LAchildID": lst["LAchildID"], "date": lst["index_date"], "key": key,
                           "FamilyID": lst["FamilyID"]})
    return ev[(ev["date"] >= w0) & (ev["date"] <= w1)].reset_index(drop=True)


def _proxy_families(events: pd.DataFrame) -> pd.Series:
    """Union-find over children sharing a proxy key (connected components of the child–key graph): family label per
    child (index = LAchildID)."""
    kids, ci = np.unique(events["LAchildID"].to_numpy(), return_inverse=True)
    keys, ki = np.unique(events["key"].to_numpy(), return_inverse=True)
    n = len(kids) + len(keys)
    graph = sparse.csr_matrix((np.ones(len(events)), (ci, len(kids) + ki)), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    return pd.Series(np.char.add("P", label[: len(kids)].astype(str)), index=kids)


def _first_entries(members: pd.DataFrame, periods: pd.DataFrame) -> pd.Series:
    """Date of each member's first 903 period start on or after its family's t₀ (NaT if none); index of members."""
    left = members[["LAchildID", "t0"]].reset_index().sort_values("t0")
    right = periods[["child", "start"]].rename(columns={"child": "LAchildID"}).sort_values("start")
    got = pd.merge_asof(left, right, left_on="t0", right_on="start", by="LAchildID", direction="forward",
                        allow_exact_matches=True)
    return got.set_index("index")["start"].reindex(members.index)


def _in_care_at(members: pd.DataFrame, periods: pd.DataFrame) -> pd.Series:
    """True where a member has a 903 period that started before t₀ and had not ended by t₀."""
    left = members[["LAchildID", "t0"]].reset_index().sort_values("t0")
    right = periods[["child", "start", "end"]].rename(columns={"child": "LAchildID"}).sort_values("start")
    right = right.assign(probe=right["start"] + pd.Timedelta(days=1))  # started strictly before t₀
    got = pd.merge_asof(left, right.sort_values("probe"), left_on="t0", right_on="probe", by="LAchildID",
                        direction="backward")
    open_at = got["start"].notna() & (got["end"].isna() | (got["end"] > got["t0"]))
    return pd.Series(open_at.to_numpy(), index=got["index"]).reindex(members.index).fillna(False).astype(bool)


def _closure_after(members: pd.DataFrame, referrals: pd.DataFrame, reasons: tuple[str, ...]) -> pd.Series:
    """First CIN closure on or after t₀ with one of ``reasons``, per member (NaT if none)."""
    closed = referrals.loc[referrals["ReasonForClosure"].isin(reasons) & referrals["CINclosureDate"].notna(),
                           ["LAchildID", "CINclosureDate"]].sort_values("CINclosureDate")
    left = members[["LAchildID", "t0"]].reset_index().sort_values("t0")
    got = pd.merge_asof(left, closed, left_on="t0", right_on="CINclosureDate", by="LAchildID", direction="forward")
    return got.set_index("index")["CINclosureDate"].reindex(members.index)


def _days(delta: pd.Series) -> np.ndarray:
    return (delta / pd.Timedelta(days=1)).to_numpy(float)


def estimate_baseline(cin: CinTables, cleaned: Cleaned, cohort: str = "cpp_start", families=None, window=None,
                      bootstrap: int = 1000, seed: int = 27, uasc=(), defaults: dict[str, float] | None = None,
                      min_link_rate: float = MIN_LINK_RATE, min_events: int = MIN_EVENTS, level: float = 0.95,
                      k_window_days: int = K_WINDOW_DAYS, sources: str = "", today: pd.Timestamp | None = None
                      ) -> BaselineEstimate:
    """Family-level usual-care risk of a first entry to care after cohort entry.

    ``cin``: :func:`~ifpp_econ.local_data.cin_census.read_cin` tables; ``cleaned``: :func:`~ifpp_econ.local_data.ssda903.clean` of the 903
    returns; ``cohort``: ``cpp_start``, ``cpp_repeat``, ``pre_proceedings`` or ``list:FILE``; ``families``: a path or
    a DataFrame (LAchildID, FamilyID), else the census proxy; ``window``: (first, last) dates of cohort entry,
    inclusive (default: the span both returns cover); ``uasc``: 903 UASC identifiers (``returns.uasc["CHILD"]``);
    ``defaults``: the workbook's values by parameter name (kept for withheld estimates; default: the schema's);
    ``sources``: text naming the input files for the ``source`` column. Raises :class:`LocalDataError`.
    """
    from ..inputs import schema

    kind, list_path = _cohort_kind(cohort)
    _check_cohort_data(kind, cin)
    cohort_list = read_cohort_list(list_path, today) if kind == "list" else None
    fam_table = read_families(families) if isinstance(families, (str, Path)) else families
    if fam_table is not None:
        fam_table = fam_table.assign(LAchildID=fam_table["LAchildID"].astype(str), FamilyID=fam_table["FamilyID"].astype(str))
    defaults = defaults or {p["name"]: p["value"] for p in schema.PARAMETERS}
    lk = link(cin, cleaned, min_link_rate)
    counts: dict[str, int] = dict(cin.counts)
    counts.update(lk.counts)
    warnings = list(cin.warnings) + list(cleaned.warnings) + list(lk.warnings)
    w0, w1, notes = _window(window, cin, cleaned, kind)
    warnings += notes
    data_end = min(cin.data_end, cleaned.data_end)

    # 1. Index events and child-level exclusions.
    events = _index_events(kind, cin, cohort_list, w0, w1)
    kids = cin.children.set_index("LAchildID")
    if kind == "list":
        unknown = ~events["LAchildID"].isin(kids.index)
        counts["children in the cohort list without a CIN record (excluded)"] = int(events.loc[unknown, "LAchildID"].nunique())
        events = events[~unknown]
    counts["index events in the window"] = len(events)
    uasc_ids = set(map(str, uasc)) | set(kids.index[kids["uasc_factor"]])
    if not len(uasc) and cleaned.counts.get("UASC children excluded", 0):
        warnings.append("the 903 returns have UASC children but no UASC identifiers were given to the baseline: "
                        "pass uasc=returns.uasc['CHILD'] so they are excluded from the cohort")
    is_uasc = events["LAchildID"].isin(uasc_ids)
    counts["UASC children excluded (903 UASC table or assessment factor 9A)"] = int(events.loc[is_uasc, "LAchildID"].nunique())
    events = events[~is_uasc]
    if not len(events):
        raise LocalDataError([f"cohort {cohort}: no index events between {w0:%d/%m/%Y} and {w1:%d/%m/%Y}"])

    # 2. Families.
    if fam_table is not None:
        family_source = "families file"
        fam_of = fam_table.drop_duplicates("LAchildID").set_index("LAchildID")["FamilyID"].astype(str)
        unlisted = ~events["LAchildID"].isin(fam_of.index)
        counts["cohort children not in the families file (a family of their own)"] = int(events.loc[unlisted, "LAchildID"].nunique())
        events["FamilyID"] = events["LAchildID"].map(fam_of).fillna("solo:" + events["LAchildID"])
    elif kind == "list" and (events["FamilyID"] != "").any():
        family_source = "cohort list"
        events["FamilyID"] = events["FamilyID"].where(events["FamilyID"] != "", "solo:" + events["LAchildID"])
    else:
        family_source = "proxy"
        events["FamilyID"] = events["LAchildID"].map(_proxy_families(events))
        warnings.append(PROXY_CAVEAT)
    t0 = events.groupby("FamilyID")["date"].min()
    if family_source == "families file":  # every child of the family known to the census is at risk
        members = fam_table[fam_table["FamilyID"].isin(t0.index)][["LAchildID", "FamilyID"]].drop_duplicates("LAchildID")
        members = pd.concat([members, events.loc[~events["LAchildID"].isin(members["LAchildID"]), ["LAchildID", "FamilyID"]]])
        absent = ~members["LAchildID"].isin(kids.index)
        counts["family members in the families file without a CIN record (not counted)"] = int(absent.sum())
        members = members[~absent]
    else:
        members = events[["LAchildID", "FamilyID"]].drop_duplicates("LAchildID")
    members = members.reset_index(drop=True)
    members["t0"] = members["FamilyID"].map(t0)
    members["dob"] = members["LAchildID"].map(kids["dob"])
    members["t18"] = eighteenth_birthday(members["dob"])
    members["linked"] = members["LAchildID"].isin(lk.linked)
    per = cleaned.periods[cleaned.periods["child"].isin(lk.linked)]

    # 3. Members not at risk at t₀.
    drop = {
        "children without a date of birth (excluded)": members["dob"].isna(),
        "children aged 18 or over at cohort entry (excluded)": members["t18"] <= members["t0"],
        "children who died before cohort entry (excluded)": members["LAchildID"].map(kids["PersonDeathDate"]) < members["t0"],
        "children in care at cohort entry (open 903 period; excluded)": _in_care_at(members, per),
    }
    gone = pd.Series(False, index=members.index)
    for label, mask in drop.items():
        mask = mask.fillna(False).astype(bool) & ~gone
        counts[label] = int(mask.sum())
        gone |= mask
    n_before = members["FamilyID"].nunique()
    members = members[~gone].reset_index(drop=True)
    counts["families with no child at risk at cohort entry (excluded)"] = n_before - members["FamilyID"].nunique()
    earlier = per[per["child"].isin(members["LAchildID"])].merge(members[["LAchildID", "t0"]], left_on="child",
                                                                 right_on="LAchildID")
    counts["cohort children with an earlier period of care that had ended (kept: entries after t0 are re-entries)"] = int(
        earlier.loc[earlier["end"] <= earlier["t0"], "child"].nunique())
    if not len(members):
        raise LocalDataError([f"cohort {cohort}: no family has a child at risk at cohort entry after the exclusions"])

    # 4. Follow-up of each member, then of each family.
    entry = _first_entries(members, per)
    death = members["LAchildID"].map(kids["PersonDeathDate"])
    closed = _closure_after(members, cin.referrals, ("RC1", "RC2"))
    gone_date = pd.concat([members["t18"], death.where(death >= members["t0"]), closed], axis=1).min(axis=1)
    transfer = _closure_after(members, cin.referrals, ("RC5",))
    leave = pd.concat([gone_date, transfer], axis=1).min(axis=1)
    entry = entry.where(entry < leave)
    members["entry_day"] = _days(entry - members["t0"])
    members["leave_day"] = _days(leave - members["t0"])
    members["transferred"] = (transfer <= gone_date) | (transfer.notna() & gone_date.isna())
    fam = members.groupby("FamilyID").agg(t0=("t0", "first"), size=("LAchildID", "size"),
                                          entry=("entry_day", "min"), last_leave=("leave_day", "max"),
                                          transferred=("transferred", "any"))
    end_day = _days(data_end - fam["t0"])  # exclusive: events happen on days < end_day
    entry_f, leave_f = fam["entry"].to_numpy(), fam["last_leave"].to_numpy()
    time = np.fmin(np.fmin(entry_f, leave_f), end_day)
    status = np.where(entry_f == time, 1, np.where((leave_f == time) & (time < end_day) & ~fam["transferred"].to_numpy(), 2, 0))
    fam["time"], fam["status"] = time, status
    # k: members entering within k_window_days of the family's first entry, for entries seen for the whole window
    m_entry = members["entry_day"].to_numpy()
    first = members["FamilyID"].map(fam["entry"]).to_numpy()
    within = (m_entry >= first) & (m_entry <= first + k_window_days)
    k_all = pd.Series(within, index=members["FamilyID"]).groupby(level=0).sum().reindex(fam.index)
    k_ok = (fam["status"] == 1) & (fam["time"] + k_window_days < end_day)
    fam["k"] = np.where(k_ok, k_all, np.nan)
    counts["families in the cohort"] = len(fam)
    counts["children in the cohort"] = int(fam["size"].sum())
    counts["families with an entry to care"] = int((fam["status"] == 1).sum())
    counts["families reaching the competing event (all children 18, died or adopted)"] = int((fam["status"] == 2).sum())
    counts["families censored by a transfer out (RC5)"] = int(((fam["status"] == 0) & fam["transferred"]
                                                               & (fam["last_leave"] == fam["time"])).sum())
    counts[f"families whose first entry is under {k_window_days} days before the data end (not counted for k)"] = int(
        ((fam["status"] == 1) & ~k_ok).sum())
    sizes = fam["size"].value_counts().sort_index()
    clusters = pd.DataFrame({"size": sizes.index.astype(int), "families": sizes.to_numpy()})
    if family_source == "proxy":
        counts["proxy clusters (families)"] = len(fam)
        counts["largest proxy cluster (children)"] = int(fam["size"].max())

    # 5. Estimates with a family-level bootstrap.
    est, curve = _estimates(fam, bootstrap, seed, level, min_events, defaults, k_window_days)
    text = (f"CIN census linked to SSDA903 ({sources or ', '.join(Path(f).name for f in cin.files)}); cohort {cohort}; "
            f"entries {w0:%d/%m/%Y}–{w1:%d/%m/%Y}, followed to {data_end - pd.Timedelta(days=1):%d/%m/%Y}; "
            f"{len(fam):,} families ({family_source}), {counts['families with an entry to care']:,} with an entry; "
            f"link rate {lk.rate:.1%}")
    est["source"] = text
    warnings += _order_withheld(est)
    warnings += [f"{r.parameter} withheld ({r.reason}): the workbook's value {r.default:g} is kept"
                 for r in est[est["withheld"]].itertuples()]
    warnings += _psa_checks(est)
    return BaselineEstimate(est, curve, fam.reset_index().rename(columns={"FamilyID": "family"}), clusters, counts,
                            lk.rate, cohort, (w0, w1), data_end, family_source, warnings)


def _beta_mom(p: float, se: float) -> tuple[float, float] | None:
    """Beta (α, β) with mean p and SD se by the method of moments, or None when impossible."""
    if not (0 < p < 1) or not se > 0:
        return None
    n_eff = p * (1 - p) / se ** 2 - 1
    return (p * n_eff, (1 - p) * n_eff) if n_eff > 0 else None


def _estimates(fam: pd.DataFrame, bootstrap: int, seed: int, level: float, min_events: int, defaults: dict,
               k_window_days: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    time, status = fam["time"].to_numpy(), fam["status"].to_numpy()
    n = len(fam)
    t, cif1, cif2, _ = aalen_johansen(time, status)
    if bootstrap > 0:
        rng = np.random.default_rng(seed)
        weights = rng.multinomial(n, np.full(n, 1.0 / n), size=bootstrap).astype(float)  # (B, n)
        _, b1, b2, _ = aalen_johansen(time, status, weights)
    else:
        weights, b1, b2 = np.empty((0, n)), np.empty((0, len(t))), np.empty((0, len(t)))
    alpha = (1 - level) / 2
    rows = []

    def spread(draws: np.ndarray) -> tuple[float, float, float]:
        ok = draws[np.isfinite(draws)]
        if len(ok) < 20:
            return np.nan, np.nan, np.nan
        lo, hi = np.quantile(ok, [alpha, 1 - alpha])
        return float(np.std(ok, ddof=1)), float(lo), float(hi)

    for name, h in HORIZONS.items():
        p = float(cif_at(t, cif1, h))
        se, lo, hi = spread(cif_at(t, b1, h))
        events = int(((status == 1) & (time <= h)).sum())
        rows.append(_param_row(name, p, se, lo, hi, events, int((time >= h).sum()), h, "beta", min_events, defaults))
    a, b = AFTER_24M
    reach = int((time >= b).sum())
    events = int(((status == 1) & (time > a) & (time <= b)).sum())

    def after(c1, c2):
        with np.errstate(divide="ignore", invalid="ignore"):
            return (cif_at(t, c1, b) - cif_at(t, c1, a)) / (1 - cif_at(t, c1, a) - cif_at(t, c2, a))

    p = float(after(cif1, cif2)) if reach else np.nan
    se, lo, hi = spread(after(b1, b2)) if reach else (np.nan,) * 3
    row = _param_row("annual_risk_after_24m", p, se, lo, hi, events, reach, b, "beta", min_events, defaults)
    if not reach:
        row.update(withheld=True, reason="the data do not follow any family beyond 36 months")
    rows.append(row)
    # k and children per family: weighted means over families (NaN k for families without a counted entry)
    k = fam["k"].to_numpy(float)
    has_k = np.isfinite(k)
    k_val = float(k[has_k].mean()) if has_k.any() else np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        k_boot = (weights[:, has_k] @ k[has_k]) / weights[:, has_k].sum(axis=1)
        size = fam["size"].to_numpy(float)
        c_boot = (weights @ size) / weights.sum(axis=1)
    se, lo, hi = spread(k_boot)
    rows.append(_param_row("children_placed_per_family_placement", k_val, se, lo, hi, int(has_k.sum()), int(has_k.sum()),
                           k_window_days, "gamma", min_events, defaults))
    se, lo, hi = spread(c_boot)
    rows.append(_param_row("children_per_family", float(size.mean()), se, lo, hi, n, n, 0, "gamma", min_events, defaults))
    est = pd.DataFrame(rows)
    # the curve
    max_month = int(min(np.floor(time.max() / DAYS_PER_MONTH), 60)) if n else 0
    months = np.arange(max_month + 1)
    days = np.round(months * DAYS_PER_MONTH)
    curve = pd.DataFrame({"months": months, "day": days.astype(int), "cif": cif_at(t, cif1, days),
                          "cif_competing": cif_at(t, cif2, days)})
    if len(b1):
        q = np.quantile(cif_at(t, b1, days), [alpha, 1 - alpha], axis=0)
        curve["low"], curve["high"] = q[0], q[1]
    else:
        curve["low"] = curve["high"] = np.nan
    curve["at_risk"] = (time[None, :] >= days[:, None]).sum(axis=1)
    curve["events"] = ((status[None, :] == 1) & (time[None, :] <= days[:, None])).sum(axis=1)
    return est, curve


def _param_row(name, value, se, lo, hi, events, at_risk, horizon, family, min_events, defaults) -> dict:
    row = {"parameter": name, "value": value, "estimate": value, "se": se, "low": lo, "high": hi, "events": events, "n_at_risk": at_risk,
           "horizon_days": horizon, "distribution": "fixed", "param_a": np.nan, "param_b": np.nan, "status": "L",
           "source": "", "withheld": False, "reason": "", "default": float(defaults.get(name, np.nan))}
    what = "families" if name == "children_per_family" else "events" if family == "beta" else "families with an entry"
    if events < min_events:
        row.update(withheld=True, reason=f"{events} {what}, fewer than {min_events}")
    elif not np.isfinite(value):
        row.update(withheld=True, reason="not estimable")
    if family == "beta":
        ab = _beta_mom(value, se) if np.isfinite(se) else None
        if ab:
            row.update(distribution="beta_alpha_beta", param_a=ab[0], param_b=ab[1])
    elif np.isfinite(se) and se > 0 and value > 0:
        row.update(distribution="gamma_mean_se", param_a=se)
    return row


def _psa_checks(est: pd.DataFrame) -> list[str]:
    """Notes where the PSA distributions of k and children per family put noticeable mass below 1 child, or k's mean
    exceeds children per family (the model caps the child risk at the family risk then)."""
    from scipy import stats

    notes = []
    rows = est.set_index("parameter")
    for name in ("children_placed_per_family_placement", "children_per_family"):
        r = rows.loc[name]
        if r["distribution"] == "gamma_mean_se" and not r["withheld"]:
            below = float(stats.gamma.cdf(1.0, (r["value"] / r["param_a"]) ** 2, scale=r["param_a"] ** 2 / r["value"]))
            if below > 0.001:
                notes.append(f"{name}: its gamma (mean {r['value']:.3g}, SE {r['param_a']:.3g}) puts {below:.1%} of draws "
                             "below 1 child")
    k, cpf = rows.loc["children_placed_per_family_placement", "value"], rows.loc["children_per_family", "value"]
    if k > cpf:
        notes.append(f"children placed per family placement ({k:.2f}) exceeds children per family ({cpf:.2f})")
    return notes


def _order_withheld(est: pd.DataFrame) -> list[str]:
    """Withheld risks keep the workbook's value unless that breaks the order with an estimated later risk: then they are
    capped at it (in place). Returns the notes."""
    notes = []
    risk = est[est["parameter"].isin(HORIZONS)].index
    est.loc[est["withheld"], "value"] = est.loc[est["withheld"], "default"]
    for later in reversed(list(risk)):
        for earlier in [i for i in risk if i < later]:
            if est.at[earlier, "withheld"] and not est.at[later, "withheld"] and est.at[earlier, "value"] > est.at[later, "value"]:
                notes.append(f"{est.at[earlier, 'parameter']}: the workbook's {est.at[earlier, 'value']:g} exceeds the local "
                             f"{est.at[later, 'parameter']} {est.at[later, 'value']:.4g}; capped at it to keep the risks ordered")
                est.at[earlier, "value"] = est.at[later, "value"]
    return notes
