"""A seeded synthetic local authority: CIN census returns linked to SSDA903 returns, with a known baseline risk.

Families start a child protection plan (all their children on the same day, after one referral and S47
enquiry) uniformly over the census years. Each family's first entry to care follows a piecewise-constant
monthly hazard set by the true cumulative risks at 3/6/12/24 months (``LinkedConfig.risks``) and an
annual risk after 24 months; it is seen only before the last child's 18th birthday (competing event),
the family's move to another LA (RC5, censoring) and the data end. At the first entry one child enters;
each other child still under 18 enters within 0–20 days with probability ``sibling_placed`` (so k is
known). Artefacts: rows repeated across census years with closure and end dates filled in later; earlier
periods of care that ended before the plan; another child already in care at the plan start; second
plans; plans open before the first return; separately referred siblings (the census family proxy splits
them); CIN episodes without plans (some NFA); children entering care without a plan; 903 children
without a CIN record; UASC children (903 UASC table); series of short breaks; placement changes inside a
period (RNE P, REC X1); one XML year with a namespace.

Days are integers since 1970-01-01. Everything is drawn from ``numpy.random.default_rng(seed)`` in a
fixed order. :attr:`LinkedSynthetic.truth` holds the estimands as :func:`~ifpp_econ.local_data.baseline_risk.
estimate_baseline` defines them for the ``cpp_start`` cohort over the whole span (cumulative incidence
with the competing event, computed exactly from each family's latent competing time).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..local_data.ssda903 import DAYS_PER_MONTH, eighteenth_birthday

EPOCH = pd.Timestamp("1970-01-01")
KNOTS = np.array([0.0, 3.0, 6.0, 12.0, 24.0])  # months
CATEGORIES = ("NEG", "EMO", "PHY", "SAB", "MUL")
NAMESPACE = "http://www.dfe.gov.uk/CIN"


@dataclass
class LinkedConfig:
    """What to simulate (rates per year unless stated; risks are family-level cumulative probabilities)."""
    families_per_year: float = 500.0
    years: int = 6  # census years written, CIN and 903 alike
    last_year: int = 2025  # census / collection year ending 31 March
    risks: tuple[float, float, float, float] = (0.22, 0.30, 0.40, 0.50)  # first entry by 3/6/12/24 months
    annual_risk_after_24m: float = 0.08
    family_sizes: tuple[float, ...] = (0.40, 0.30, 0.18, 0.08, 0.04)  # P(1, 2, … children at risk)
    sibling_placed: float = 0.8  # chance each other child enters within 20 days of the family's first entry
    older_single_share: float = 0.06  # one-child families aged 16–17 at the plan (the 18th birthday competes)
    in_care_share: float = 0.05  # families with one more child already in care at the plan start
    earlier_care_share: float = 0.06  # children whose earlier period of care ended before the plan
    split_share: float = 0.05  # families where one child is referred and planned 1–6 weeks later
    second_plan_share: float = 0.15  # children of families without an entry who get a second plan
    previous_plan_share: float = 0.2  # families whose plan is a repeat (NumberOfPreviousCPP ≥ 1)
    transfer_rate: float = 0.004  # families moving to another LA (RC5), per month
    no_plan_children_per_year: float = 800.0  # CIN episodes without a plan
    other_entrants_per_year: float = 120.0  # children entering care from a CIN episode without a plan
    unlinked_entrants_per_year: float = 10.0  # 903 children without a CIN record
    uasc_per_year: float = 5.0  # UASC on a plan and in care (excluded by the baseline)
    short_break_share: float = 0.03  # children at home with a series of short breaks (not entries)
    placement_changes_per_year: float = 1.5
    mean_care_days: float = 420.0
    burn_in_years: int = 2  # families whose plans started before the first census year
    pre_proceedings_share: float = 0.0  # families with a PreProceedingsandFGDM block (PPStartDate)
    namespaced_year: int | None = None  # census year whose XML carries a default namespace (None: the second)


@dataclass
class LinkedSynthetic:
    """Simulated tables (days since 1970-01-01) and the truth.

    ``children``: LAchildID, family (FamilyID or ''), dob, sex, kind; ``referrals``, ``s47``, ``cpp``, ``pp``: one row per
    record with day columns (NaN = none); ``episodes``: 903 episodes (CHILD, decom, dec, RNE, LS, PLACE, REC, CIN);
    ``uasc``: UASC identifiers; ``families``: the cohort families' latent times (days since t₀): t0, size, T
    (first entry, uncensored), C (last 18th birthday), R (transfer; inf if none), observed, and the follow-up the
    estimator should see: time (days) and status (0 censored, 1 entry, 2 competing); ``truth``: parameter → value.
    """
    config: LinkedConfig
    children: pd.DataFrame
    referrals: pd.DataFrame
    s47: pd.DataFrame
    cpp: pd.DataFrame
    pp: pd.DataFrame
    episodes: pd.DataFrame
    uasc: list[str]
    families: pd.DataFrame
    truth: dict[str, float]
    years: list[int]

    @property
    def data_start(self) -> int:
        return _day(f"{self.years[0] - 1}-04-01")

    @property
    def data_end(self) -> int:
        """Exclusive: 1 April after the last census year."""
        return _day(f"{self.years[-1]}-04-01")

    def write(self, folder: str | Path, cin_format: str = "xml") -> dict[str, list[Path]]:
        """Write ``cin_<year>.xml|csv``, ``episodes_<year>.csv``, ``header_<year>.csv``, ``uasc_<year>.csv`` and
        ``families.csv``; returns ``{"cin": [...], "episodes": [...], "header": [...], "uasc": [...],
        "families": [path]}``."""
        if cin_format not in ("xml", "csv"):
            raise ValueError(f"cin_format must be 'xml' or 'csv', not {cin_format!r}")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        out: dict[str, list[Path]] = {"cin": [], "episodes": [], "header": [], "uasc": [], "families": []}
        ns_year = self.config.namespaced_year or self.years[min(1, len(self.years) - 1)]
        for y in self.years:
            tables = self._cin_year(y)
            path = folder / f"cin_{y}.{cin_format}"
            if cin_format == "xml":
                path.write_text(_xml(tables, y, NAMESPACE if y == ns_year else None), encoding="utf-8")
            else:
                _csv(tables).to_csv(path, index=False)
            out["cin"].append(path)
            eps, header, uasc = self._903_year(y)
            for name, df in (("episodes", eps), ("header", header), ("uasc", uasc)):
                p = folder / f"{name}_{y}.csv"
                df.to_csv(p, index=False)
                out[name].append(p)
        fam = self.children.loc[self.children["family"] != "", ["LAchildID", "family"]]
        p = folder / "families.csv"
        fam.rename(columns={"family": "FamilyID"}).to_csv(p, index=False)
        out["families"].append(p)
        return out

    # -- one census year ------------------------------------------------------------------
    def _cin_year(self, y: int) -> dict[str, pd.DataFrame]:
        ys, ye = _day(f"{y - 1}-04-01"), _day(f"{y}-03-31")
        r = self.referrals
        keep = (r["ref"] <= ye) & ~(r["closure"] < ys)
        refs = r[keep].copy()
        late = refs["closure"] > ye
        refs.loc[late, "closure"] = np.nan
        refs.loc[late, "reason"] = ""
        c = self.cpp[self.cpp["rid"].isin(refs["rid"])]
        c = c[(c["start"] <= ye) & ~(c["end"] < ys)].copy()
        c.loc[c["end"] > ye, "end"] = np.nan
        s = self.s47[self.s47["rid"].isin(refs["rid"]) & (self.s47["start"] >= ys) & (self.s47["start"] <= ye)]
        s = s[s["icpc"].isna() | (s["icpc"] <= ye)]
        pp = self.pp[self.pp["rid"].isin(refs["rid"]) & (self.pp["start"] <= ye)]
        kids = self.children[self.children["LAchildID"].isin(refs["LAchildID"])]
        return {"children": kids, "referrals": refs, "s47": s, "cpp": c, "pp": pp}

    def _903_year(self, y: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        ys, ye = _day(f"{y - 1}-04-01"), _day(f"{y}-03-31")
        e = self.episodes
        e = e[(e["decom"] <= ye) & ~(e["dec"] < ys)].copy()
        open_now = ~(e["dec"] <= ye)
        episodes = pd.DataFrame({
            "CHILD": e["CHILD"], "DECOM": _text(e["decom"]), "RNE": e["RNE"], "LS": e["LS"], "CIN": e["CIN"],
            "PLACE": e["PLACE"], "PLACE_PROVIDER": e["PLACE_PROVIDER"],
            "DEC": np.where(open_now, "", _text(e["dec"])), "REC": np.where(open_now, "", e["REC"]),
            "REASON_PLACE_CHANGE": "", "HOME_POST": "", "PL_POST": "", "URN": ""})
        kids = self.children.set_index("LAchildID").loc[e["CHILD"].unique()]
        header = pd.DataFrame({"CHILD": kids.index, "SEX": kids["sex"].to_numpy(), "DOB": _text(kids["dob"]),
                               "ETHNIC": "WBRI"})
        u = [c for c in kids.index if c in set(self.uasc)]
        uasc = pd.DataFrame({"CHILD": u, "SEX": "M", "DOB": _text(kids.loc[u, "dob"]),
                             "DUC": _text(_day_of(eighteenth_birthday(pd.Series(_dates(kids.loc[u, "dob"])))))})
        return episodes, header, uasc


# ---------------------------------------------------------------------------------------
# Dates
# ---------------------------------------------------------------------------------------
def _day(text: str) -> int:
    return int((pd.Timestamp(text) - EPOCH).days)


def _dates(days) -> pd.DatetimeIndex:
    return EPOCH + pd.to_timedelta(np.asarray(days, float), unit="D")


def _day_of(ts) -> np.ndarray:
    return ((pd.DatetimeIndex(ts) - EPOCH) / pd.Timedelta(days=1)).to_numpy()


def _text(days, fmt: str = "%d/%m/%Y") -> np.ndarray:
    d = np.asarray(days, float)
    out = pd.Series(_dates(np.where(np.isfinite(d), d, 0))).dt.strftime(fmt).to_numpy(object)
    out[~np.isfinite(d)] = ""
    return out


# ---------------------------------------------------------------------------------------
# The risk curve
# ---------------------------------------------------------------------------------------
def cumulative_hazard(months: np.ndarray, risks, annual_after: float) -> np.ndarray:
    """H(t) of the piecewise-constant monthly hazard through the cumulative risks at 3/6/12/24 months, then
    −ln(1 − annual_after)/12 a month; F(t) = 1 − e^(−H(t))."""
    h_knots = np.r_[0.0, -np.log1p(-np.asarray(risks, float))]
    t = np.asarray(months, float)
    inside = np.interp(np.minimum(t, 24.0), KNOTS, h_knots)
    return inside + np.maximum(t - 24.0, 0.0) * -np.log1p(-annual_after) / 12.0


def _inverse_hazard(h: np.ndarray, risks, annual_after: float) -> np.ndarray:
    """Months t with H(t) = h."""
    h_knots = np.r_[0.0, -np.log1p(-np.asarray(risks, float))]
    slope = -np.log1p(-annual_after) / 12.0
    within = np.interp(np.minimum(h, h_knots[-1]), h_knots, KNOTS)
    return np.where(h <= h_knots[-1], within, 24.0 + (h - h_knots[-1]) / slope)


# ---------------------------------------------------------------------------------------
# Simulation
# ---------------------------------------------------------------------------------------
class _Ids:
    def __init__(self):
        self.n = 0

    def take(self, k: int, prefix: str = "C") -> np.ndarray:
        ids = np.char.add(prefix, np.char.zfill(np.arange(self.n, self.n + k).astype(str), 6))
        self.n += k
        return ids


def simulate_linked(config: LinkedConfig | None = None, seed: int = 0) -> LinkedSynthetic:
    """Simulate the linked authority (in memory); :meth:`LinkedSynthetic.write` writes its files."""
    cfg = config or LinkedConfig()
    rng = np.random.default_rng(seed)
    years = list(range(cfg.last_year - cfg.years + 1, cfg.last_year + 1))
    d0, d1 = _day(f"{years[0] - 1}-04-01"), _day(f"{years[-1]}-04-01")
    ids = _Ids()
    kids, refs, s47s, cpps, pps = [], [], [], [], []

    # --- cohort families ------------------------------------------------------------------
    n_fam = rng.poisson(cfg.families_per_year * (cfg.years + cfg.burn_in_years))
    t0 = np.floor(rng.uniform(d0 - cfg.burn_in_years * 365.25, d1, n_fam))
    sizes = 1 + rng.choice(len(cfg.family_sizes), n_fam, p=np.asarray(cfg.family_sizes) / sum(cfg.family_sizes))
    older = rng.uniform(size=n_fam) < cfg.older_single_share
    sizes[older] = 1
    fam_ids = np.char.add("F", np.char.zfill(np.arange(n_fam).astype(str), 5))
    fam = np.repeat(np.arange(n_fam), sizes)
    m = len(fam)
    age = np.where(older[fam], rng.uniform(16.0, 17.95, m), rng.uniform(0.05, 15.5, m))
    dob = np.floor(t0[fam] - age * 365.25)
    t18 = _day_of(eighteenth_birthday(pd.Series(_dates(dob))))
    child_id = ids.take(m)
    C = pd.Series(t18 - t0[fam]).groupby(fam).max().to_numpy()  # last 18th birthday, days since t0
    u = rng.uniform(size=n_fam)
    T = np.floor(_inverse_hazard(-np.log(u), cfg.risks, cfg.annual_risk_after_24m) * DAYS_PER_MONTH)
    R = np.floor(rng.exponential(DAYS_PER_MONTH / cfg.transfer_rate, n_fam)) if cfg.transfer_rate > 0 else np.full(n_fam, np.inf)
    end = d1 - t0
    in_window = (t0 >= d0) & (t0 < d1)
    # who would enter (before any transfer): one child still under 18 at T first, then each other one under 18 with
    # chance q within 0–20 days
    seen0 = (T < C) & (T < end)
    eligible_first = (t18 - t0[fam]) > T[fam]
    pick = rng.uniform(size=m) * eligible_first
    first_child = pd.Series(pick).groupby(fam).idxmax().to_numpy()  # member index (row of fam)
    offset = rng.integers(0, 21, m).astype(float)
    offset[first_child] = 0.0
    goes = rng.uniform(size=m) < cfg.sibling_placed
    goes[first_child] = True
    entry_day = T[fam] + offset
    enters0 = seen0[fam] & goes & (t18 - t0[fam] > entry_day)
    entry0 = np.where(enters0, t0[fam] + entry_day, np.nan)

    # referral, S47, conference, plan per member; split families (in the window): one child 1–6 weeks later
    split = (rng.uniform(size=n_fam) < cfg.split_share) & (sizes >= 2) & in_window
    is_split = np.zeros(m, bool)
    last_member = np.r_[np.flatnonzero(np.diff(fam)), m - 1]
    is_split[last_member[split]] = True
    shift = np.where(is_split, rng.integers(7, 43, m), 0)
    ref_day = t0[fam] - rng.integers(15, 61, n_fam)[fam] + shift
    source = np.array(["1A", "2A", "3A", "5A", "6", "8"])[rng.integers(0, 6, n_fam)][fam]
    plan_start = t0[fam] + shift
    plan_end0 = plan_start + rng.integers(90, 700, m)
    plan_end0 = np.where(seen0[fam], np.minimum(plan_end0, np.where(enters0, entry0, t0[fam] + T[fam] + 30)), plan_end0)
    plan_end0 = np.maximum(plan_end0, plan_start)
    care_len = np.ceil(rng.exponential(cfg.mean_care_days, m))
    care_end = np.minimum(entry0 + care_len, t18)
    closure0 = np.where(enters0, care_end + rng.integers(0, 30, m), plan_end0 + rng.integers(0, 90, m))
    closure0 = np.maximum(closure0, ref_day)
    # a family moves away (RC5 for every child) only while all its cases are open; otherwise it does not move
    open_until = pd.Series(closure0 - t0[fam]).groupby(fam).min().to_numpy()
    R = np.where(R < open_until, R, np.inf)
    transfer_abs = t0[fam] + R[fam]
    observed = seen0 & (T < R)
    enters = enters0 & observed[fam] & (entry_day < R[fam])
    entry_abs = np.where(enters, entry0, np.nan)
    plan_end = np.maximum(np.minimum(plan_end0, transfer_abs), plan_start)
    moved = np.isfinite(R[fam])
    closure = np.where(moved, transfer_abs, closure0)
    reason = np.where(moved, "RC5", "RC7").astype(object)

    # k truth: expected children entering within 30 days, families with an entry seen for 30 days
    counted = observed & (T + 30 < end)
    a = np.minimum(t18 - t0[fam] - T[fam], R[fam] - T[fam])  # another child enters if its offset < a
    p_other = np.clip(np.ceil(np.minimum(a, 1e6)), 0, 21) / 21 * cfg.sibling_placed
    p_other[first_child] = 0.0
    k_exp = 1 + pd.Series(p_other).groupby(fam).sum().to_numpy()

    previous = np.where(rng.uniform(size=n_fam) < cfg.previous_plan_share, rng.integers(1, 3, n_fam), 0)[fam]
    rid = np.arange(m)
    kids.append(pd.DataFrame({"LAchildID": child_id, "family": fam_ids[fam], "dob": dob, "kind": "cohort"}))
    refs.append(pd.DataFrame({"rid": rid, "LAchildID": child_id, "ref": ref_day.astype(float), "source": source,
                              "need": "N1", "closure": closure.astype(float), "reason": reason, "nfa": False}))
    s47_start = ref_day + rng.integers(1, 10, m)
    s47s.append(pd.DataFrame({"rid": rid, "start": s47_start.astype(float), "icpc": plan_start.astype(float)}))
    cpps.append(pd.DataFrame({"rid": rid, "start": plan_start.astype(float), "end": plan_end.astype(float),
                              "cat": np.array(CATEGORIES)[rng.integers(0, 5, n_fam)][fam], "previous": previous}))
    if cfg.pre_proceedings_share > 0:
        has_pp = (rng.uniform(size=n_fam) < cfg.pre_proceedings_share)[fam]
        pp_start = t0[fam] + rng.integers(20, 90, n_fam)[fam]
        ok = has_pp & (pp_start < closure)
        pps.append(pd.DataFrame({"rid": rid[ok], "start": pp_start[ok].astype(float),
                                 "lbp": (pp_start[ok] - 1).astype(float)}))
    next_rid = m

    # second plans for children of families without an entry, after the first plan and before any transfer
    second = (rng.uniform(size=m) < cfg.second_plan_share) & ~observed[fam] & ~moved & in_window[fam]
    ref2 = closure + rng.integers(60, 300, m)
    second &= (ref2 < t18 - 200) & (ref2 < transfer_abs)
    n2 = int(second.sum())
    rid2 = np.arange(next_rid, next_rid + n2)
    next_rid += n2
    p2 = ref2[second] + rng.integers(20, 50, n2)
    end2 = p2 + rng.integers(90, 400, n2)
    refs.append(pd.DataFrame({"rid": rid2, "LAchildID": child_id[second], "ref": ref2[second].astype(float),
                              "source": "5A", "need": "N1", "closure": (end2 + 30).astype(float), "reason": "RC7",
                              "nfa": False}))
    s47s.append(pd.DataFrame({"rid": rid2, "start": (ref2[second] + 5).astype(float), "icpc": p2.astype(float)}))
    cpps.append(pd.DataFrame({"rid": rid2, "start": p2.astype(float), "end": end2.astype(float), "cat": "NEG",
                              "previous": previous[second] + 1}))

    # 903 periods of the cohort children who enter
    per = [pd.DataFrame({"CHILD": child_id[enters], "start": entry_abs[enters], "end": care_end[enters],
                         "rec": np.where(care_end[enters] >= t18[enters], "E17",
                                         rng.choice(["E4A", "E4A", "E4A", "E11", "E45"], int(enters.sum())))})]
    # earlier periods that ended before the plan (children at risk)
    early = (rng.uniform(size=m) < cfg.earlier_care_share) & (t0[fam] - dob > 800)
    es = t0[fam][early] - rng.integers(400, 800, int(early.sum()))
    es = np.maximum(es, dob[early])
    ee = np.minimum(es + rng.integers(30, 300, int(early.sum())), t0[fam][early] - 5)
    per.append(pd.DataFrame({"CHILD": child_id[early], "start": es, "end": ee, "rec": "E4A"}))
    # another child of the family already in care at the plan start (also on the plan)
    in_care = rng.uniform(size=n_fam) < cfg.in_care_share
    n_ic = int(in_care.sum())
    ic_id = ids.take(n_ic)
    ic_t0 = t0[in_care]
    ic_dob = np.floor(ic_t0 - rng.uniform(3, 15, n_ic) * 365.25)
    ic_start = ic_t0 - rng.integers(30, 900, n_ic)
    ic_end = ic_t0 + rng.integers(1, 700, n_ic)
    kids.append(pd.DataFrame({"LAchildID": ic_id, "family": fam_ids[in_care], "dob": ic_dob, "kind": "in_care"}))
    ic_rid = np.arange(next_rid, next_rid + n_ic)
    next_rid += n_ic
    ic_ref = ref_day[np.searchsorted(fam, np.flatnonzero(in_care))]
    refs.append(pd.DataFrame({"rid": ic_rid, "LAchildID": ic_id, "ref": ic_ref.astype(float),
                              "source": source[np.searchsorted(fam, np.flatnonzero(in_care))], "need": "N1",
                              "closure": (ic_end + 10).astype(float), "reason": "RC7", "nfa": False}))
    s47s.append(pd.DataFrame({"rid": ic_rid, "start": (ic_ref + 3).astype(float), "icpc": ic_t0.astype(float)}))
    cpps.append(pd.DataFrame({"rid": ic_rid, "start": ic_t0.astype(float), "end": (ic_t0 + 1).astype(float),
                              "cat": "NEG", "previous": 0}))
    per.append(pd.DataFrame({"CHILD": ic_id, "start": ic_start, "end": ic_end, "rec": "E11"}))

    # short breaks for children at home (families without an entry, no earlier period)
    sb = (rng.uniform(size=m) < cfg.short_break_share) & ~observed[fam] & ~early
    sb_child = np.repeat(child_id[sb], 6)
    sb_day = np.repeat(t0[fam][sb] - 40, 6) + np.tile(np.arange(6) * 30, int(sb.sum())) + rng.integers(0, 5, 6 * int(sb.sum()))
    short = pd.DataFrame({"CHILD": sb_child, "decom": sb_day, "dec": sb_day + rng.integers(1, 4, len(sb_day)), "RNE": "S",
                          "LS": "V3", "PLACE": "K2", "PLACE_PROVIDER": "PR1", "REC": "E4A", "CIN": "N2"})

    # --- other children --------------------------------------------------------------------
    span = cfg.years + cfg.burn_in_years
    # CIN episodes without a plan
    n_np = rng.poisson(cfg.no_plan_children_per_year * span)
    np_id = ids.take(n_np)
    np_ref = np.floor(rng.uniform(d0 - cfg.burn_in_years * 365.25, d1, n_np))
    np_dob = np.floor(np_ref - rng.uniform(0.1, 17, n_np) * 365.25)
    nfa = rng.uniform(size=n_np) < 0.3
    np_close = np.where(nfa, np_ref, np_ref + rng.integers(20, 300, n_np))
    kids.append(pd.DataFrame({"LAchildID": np_id, "family": "", "dob": np_dob, "kind": "no_plan"}))
    np_rid = np.arange(next_rid, next_rid + n_np)
    next_rid += n_np
    refs.append(pd.DataFrame({"rid": np_rid, "LAchildID": np_id, "ref": np_ref, "source": "2A",
                              "need": np.array(["N1", "N4", "N5", "N2"])[rng.integers(0, 4, n_np)],
                              "closure": np_close, "reason": np.where(nfa, "RC8", np.array(["RC7", "RC8", "RC9"])[
                                  rng.integers(0, 3, n_np)]), "nfa": nfa}))
    with_s47 = ~nfa & (rng.uniform(size=n_np) < 0.3)
    s47s.append(pd.DataFrame({"rid": np_rid[with_s47], "start": np_ref[with_s47] + 5, "icpc": np.nan}))
    # children entering care from a CIN episode without a plan
    n_oe = rng.poisson(cfg.other_entrants_per_year * span)
    oe_id = ids.take(n_oe)
    oe_ref = np.floor(rng.uniform(d0 - cfg.burn_in_years * 365.25, d1, n_oe))
    oe_dob = np.floor(oe_ref - rng.uniform(0.1, 17, n_oe) * 365.25)
    oe_start = oe_ref + rng.integers(0, 60, n_oe)
    oe_t18 = _day_of(eighteenth_birthday(pd.Series(_dates(oe_dob))))
    oe_end = np.minimum(oe_start + np.ceil(rng.exponential(cfg.mean_care_days, n_oe)), oe_t18)
    kids.append(pd.DataFrame({"LAchildID": oe_id, "family": "", "dob": oe_dob, "kind": "other_entrant"}))
    oe_rid = np.arange(next_rid, next_rid + n_oe)
    next_rid += n_oe
    refs.append(pd.DataFrame({"rid": oe_rid, "LAchildID": oe_id, "ref": oe_ref, "source": "6", "need": "N4",
                              "closure": oe_end + 20, "reason": "RC7", "nfa": False}))
    ok = oe_start < oe_t18
    per.append(pd.DataFrame({"CHILD": oe_id[ok], "start": oe_start[ok], "end": oe_end[ok],
                             "rec": np.where(oe_end[ok] >= oe_t18[ok], "E17", "E4A")}))
    # 903 children without a CIN record
    n_un = rng.poisson(cfg.unlinked_entrants_per_year * span)
    un_id = ids.take(n_un, prefix="X")
    un_start = np.floor(rng.uniform(d0 - cfg.burn_in_years * 365.25, d1, n_un))
    un_dob = np.floor(un_start - rng.uniform(0.5, 16, n_un) * 365.25)
    kids.append(pd.DataFrame({"LAchildID": un_id, "family": "", "dob": un_dob, "kind": "unlinked"}))
    per.append(pd.DataFrame({"CHILD": un_id, "start": un_start, "end": un_start + rng.integers(30, 500, n_un), "rec": "E4A"}))
    # UASC: on a plan and in care
    n_u = rng.poisson(cfg.uasc_per_year * span)
    u_id = ids.take(n_u, prefix="U")
    u_t0 = np.floor(rng.uniform(d0 - cfg.burn_in_years * 365.25, d1 - 60, n_u))
    u_dob = np.floor(u_t0 - rng.uniform(15, 17.5, n_u) * 365.25)
    kids.append(pd.DataFrame({"LAchildID": u_id, "family": "", "dob": u_dob, "kind": "uasc"}))
    u_rid = np.arange(next_rid, next_rid + n_u)
    refs.append(pd.DataFrame({"rid": u_rid, "LAchildID": u_id, "ref": u_t0 - 20, "source": "7", "need": "N1",
                              "closure": np.nan, "reason": "", "nfa": False}))
    s47s.append(pd.DataFrame({"rid": u_rid, "start": u_t0 - 10, "icpc": u_t0}))
    cpps.append(pd.DataFrame({"rid": u_rid, "start": u_t0, "end": u_t0 + 30, "cat": "NEG", "previous": 0}))
    per.append(pd.DataFrame({"CHILD": u_id, "start": u_t0 + 30, "end": np.nan, "rec": ""}))

    children = pd.concat(kids, ignore_index=True)
    children["sex"] = np.where(rng.uniform(size=len(children)) < 0.5, "M", "F")
    periods = pd.concat(per, ignore_index=True)
    periods = periods[periods["start"] < d1]
    episodes = pd.concat([_split_periods(rng, periods, cfg), short[short["decom"] < d1]], ignore_index=True)
    episodes = episodes.sort_values(["CHILD", "decom"], kind="stable").reset_index(drop=True)
    referrals = pd.concat(refs, ignore_index=True)
    referrals = referrals[referrals["ref"] < d1].reset_index(drop=True)
    s47 = pd.concat(s47s, ignore_index=True)
    cpp = pd.concat(cpps, ignore_index=True)
    pp = pd.concat(pps, ignore_index=True) if pps else pd.DataFrame(columns=["rid", "start", "lbp"])

    status = np.where(observed, 1, np.where(C < np.fmin(R, end), 2, 0))  # a transfer or the data end on the day wins
    families = pd.DataFrame({"family": fam_ids, "t0": t0, "size": sizes, "T": T, "C": C, "R": R, "observed": observed,
                             "time": np.where(observed, T, np.fmin(np.fmin(C, R), end)), "status": status,
                             "k_expected": k_exp, "counted_for_k": counted, "in_window": in_window})
    truth = _truth(families[in_window], cfg)
    return LinkedSynthetic(cfg, children, referrals, s47, cpp, pp, episodes, list(u_id), families, truth, years)


def _truth(f: pd.DataFrame, cfg: LinkedConfig) -> dict[str, float]:
    """Estimands over the cohort families: CIF(h) = mean F(min(h + 1, C)) (an entry on day ⌊T⌋ ≤ h before the last
    18th birthday C), the conditional risk in months 24–36, k and the mean family size."""
    def F(days):
        return -np.expm1(-cumulative_hazard(np.asarray(days, float) / DAYS_PER_MONTH, cfg.risks, cfg.annual_risk_after_24m))

    C = f["C"].to_numpy(float)
    out = {name: float(F(np.minimum(h + 1, C)).mean())
           for name, h in (("risk_3m", 91), ("risk_6m", 183), ("risk_12m", 365), ("risk_24m", 730))}
    num = (F(np.minimum(1096, C)) - F(np.minimum(731, C))).mean()
    den = ((C > 730) * (1 - F(731))).mean()
    out["annual_risk_after_24m"] = float(num / den)
    counted = f["counted_for_k"].to_numpy(bool)
    out["children_placed_per_family_placement"] = float(f.loc[counted, "k_expected"].mean())
    out["children_per_family"] = float(f["size"].mean())
    return out


def _split_periods(rng, per: pd.DataFrame, cfg: LinkedConfig) -> pd.DataFrame:
    """903 episodes of periods (start, end NaN if open): placement changes (RNE P, REC X1) inside each period."""
    per = per.reset_index(drop=True)
    start, end = per["start"].to_numpy(float), per["end"].to_numpy(float)
    length = np.where(np.isfinite(end), end - start, 365.0)
    k = rng.poisson(cfg.placement_changes_per_year * np.maximum(length, 0) / 365.25)
    pid = np.repeat(np.arange(len(per)), k)
    day = start[pid] + 1 + np.floor(rng.uniform(size=len(pid)) * np.maximum(length[pid] - 2, 0))
    seg = pd.DataFrame({"pid": np.r_[np.arange(len(per)), pid], "decom": np.r_[start, day],
                        "first": np.r_[np.ones(len(per), bool), np.zeros(len(pid), bool)]})
    seg = seg.sort_values(["pid", "decom", "first"], ascending=[True, True, False]).drop_duplicates(["pid", "decom"])
    seg = seg.reset_index(drop=True)
    last = np.r_[seg["pid"].to_numpy()[1:] != seg["pid"].to_numpy()[:-1], True]
    dec = np.r_[seg["decom"].to_numpy()[1:], np.nan]
    dec[last] = end[seg["pid"].to_numpy()[last]]
    rec = np.where(last, per["rec"].to_numpy()[seg["pid"]], "X1")
    n = len(seg)
    place = np.array(["U1", "U4", "U5", "U6", "K2", "P1"])[rng.integers(0, 6, n)]
    return pd.DataFrame({"CHILD": per["CHILD"].to_numpy()[seg["pid"]], "decom": seg["decom"].to_numpy(), "dec": dec,
                         "RNE": np.where(seg["first"], "S", "P"), "LS": np.where(rng.uniform(size=n) < 0.6, "C2", "V2"),
                         "PLACE": place, "PLACE_PROVIDER": np.where(rng.uniform(size=n) < 0.7, "PR1", "PR4"),
                         "REC": rec, "CIN": "N1"})


# ---------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------
def _el(tag: str, values) -> pd.Series:
    v = pd.Series(values).astype(str).reset_index(drop=True)
    return pd.Series(np.where(v != "", "<" + tag + ">" + v + "</" + tag + ">", ""))


def _joined(frag: pd.Series, key: pd.Series) -> pd.Series:
    return pd.Series(frag.to_numpy(), index=key.to_numpy()).groupby(level=0).agg("".join)


def _xml(t: dict[str, pd.DataFrame], year: int, namespace: str | None) -> str:
    """One census year as a DfE CIN XML return (ISO dates)."""
    iso = "%Y-%m-%d"
    s, c, pp, r = t["s47"], t["cpp"], t["pp"], t["referrals"]
    s_x = _joined("<Section47>" + _el("S47ActualStartDate", _text(s["start"], iso)) + _el("DateOfInitialCPC", _text(s["icpc"], iso))
                  + _el("ICPCnotRequired", np.where(s["icpc"].isna(), "true", "false")) + "</Section47>", s["rid"])
    c_x = _joined("<ChildProtectionPlans>" + _el("CPPstartDate", _text(c["start"], iso)) + _el("CPPendDate", _text(c["end"], iso))
                  + _el("InitialCategoryOfAbuse", c["cat"]) + _el("LatestCategoryOfAbuse", c["cat"])
                  + _el("NumberOfPreviousCPP", c["previous"]) + "</ChildProtectionPlans>", c["rid"])
    p_x = (_joined("<PreProceedingsandFGDM>" + _el("PPStartDate", _text(pp["start"], iso)) + _el("LBPSentDate", _text(pp["lbp"], iso))
                   + "<FGDMMeetingOffer>true</FGDMMeetingOffer></PreProceedingsandFGDM>", pp["rid"])
           if len(pp) else pd.Series(dtype=str))
    rid = r["rid"].to_numpy()
    det = ("<CINdetails>" + _el("CINreferralDate", _text(r["ref"], iso)) + _el("ReferralSource", r["source"])
           + _el("PrimaryNeedCode", r["need"]) + _el("CINclosureDate", _text(r["closure"], iso))
           + _el("ReasonForClosure", r["reason"]) + pd.Series(s_x.reindex(rid).fillna("").to_numpy())
           + _el("ReferralNFA", np.where(r["nfa"], "true", "false")) + pd.Series(c_x.reindex(rid).fillna("").to_numpy())
           + pd.Series(p_x.reindex(rid).fillna("").to_numpy()) + "</CINdetails>")
    det_by_child = _joined(det, r["LAchildID"])
    k = t["children"]
    child = ("<Child><ChildIdentifiers>" + _el("LAchildID", k["LAchildID"]) + _el("PersonBirthDate", _text(k["dob"], iso))
             + _el("Sex", k["sex"]) + "</ChildIdentifiers>" + pd.Series(det_by_child.reindex(k["LAchildID"]).to_numpy())
             + "</Child>")
    xmlns = f' xmlns="{namespace}"' if namespace else ""
    head = (f'<?xml version="1.0" encoding="utf-8"?>\n<Message{xmlns}>\n<Header><CollectionDetails><Collection>CIN</Collection>'
            f"<Year>{year}</Year><ReferenceDate>{year}-03-31</ReferenceDate></CollectionDetails><Source><SourceLevel>L"
            "</SourceLevel><LEA>999</LEA><SoftwareCode>synthetic</SoftwareCode><Release>1</Release><SerialNo>1</SerialNo>"
            f"<DateTime>{year}-05-01T00:00:00</DateTime></Source></Header>\n<Children>\n")
    return head + "\n".join(child) + "\n</Children>\n</Message>\n"


def _csv(t: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One census year as a flat CSV: one row per S47 and per plan (the referral's items repeated), a referral
    without either on a row of its own; DD/MM/YYYY dates."""
    r = t["referrals"]
    base = pd.DataFrame({"rid": r["rid"].to_numpy(), "LAchildID": r["LAchildID"].to_numpy(),
                         "CINreferralDate": _text(r["ref"]), "ReferralSource": r["source"].to_numpy(),
                         "PrimaryNeedCode": r["need"].to_numpy(), "CINclosureDate": _text(r["closure"]),
                         "ReasonForClosure": r["reason"].to_numpy(),
                         "ReferralNFA": np.where(r["nfa"], "true", "false")})
    s, c, pp = t["s47"], t["cpp"], t["pp"]
    s_rows = pd.DataFrame({"rid": s["rid"].to_numpy(), "S47ActualStartDate": _text(s["start"]),
                           "DateOfInitialCPC": _text(s["icpc"]), "ICPCnotRequired": np.where(s["icpc"].isna(), "true", "false")})
    c_rows = pd.DataFrame({"rid": c["rid"].to_numpy(), "CPPstartDate": _text(c["start"]), "CPPendDate": _text(c["end"]),
                           "InitialCategoryOfAbuse": c["cat"].to_numpy(), "LatestCategoryOfAbuse": c["cat"].to_numpy(),
                           "NumberOfPreviousCPP": c["previous"].astype(int).astype(str).to_numpy()})
    parts = [s_rows, c_rows]
    if len(pp):
        parts.append(pd.DataFrame({"rid": pp["rid"].to_numpy(), "PPStartDate": _text(pp["start"]),
                                   "LBPSentDate": _text(pp["lbp"]), "FGDMMeetingOffer": "true"}))
    items = pd.concat(parts, ignore_index=True)
    alone = base.loc[~base["rid"].isin(items["rid"]), ["rid"]]
    rows = base.merge(pd.concat([items, alone], ignore_index=True), on="rid", how="right")
    k = t["children"].set_index("LAchildID")
    rows.insert(1, "PersonBirthDate", _text(k.loc[rows["LAchildID"], "dob"]))
    rows.insert(2, "Sex", k.loc[rows["LAchildID"], "sex"].to_numpy())
    rows = rows.sort_values(["LAchildID", "CINreferralDate"], kind="stable").drop(columns="rid")
    cols = ["LAchildID", "PersonBirthDate", "Sex", "CINreferralDate", "ReferralSource", "PrimaryNeedCode", "ReferralNFA",
            "CINclosureDate", "ReasonForClosure", "S47ActualStartDate", "DateOfInitialCPC", "ICPCnotRequired", "CPPstartDate",
            "CPPendDate", "InitialCategoryOfAbuse", "LatestCategoryOfAbuse", "NumberOfPreviousCPP"]
    if len(pp):
        cols += ["PPStartDate", "LBPSentDate", "FGDMMeetingOffer"]
    return rows.reindex(columns=cols).fillna("")
