"""A seeded synthetic SSDA903 generator: children simulated from known banded rates, written
as annual returns with the artefacts real returns have. Tests use these data only.

Care periods have competing cause-specific hazards (per month) that are constant within
duration bands 0–6, 6–12, 12–24, 24–48 and 48+ months (the last two equal unless
``late_factor`` ≠ 1): reunification, other permanence (adoption, SGO, CAO, other exits)
and transfer to another LA (E3, censoring); every period ends at the 18th birthday at the
latest. After a return home, re-entry has constant hazards in 0–3, 3–12 and 12+ months.
Artefacts: episodes split by placement and legal-status changes (RNE P/L/B, REC X1);
T0–T4 temporary moves of 1–7 days; series of short breaks (LS V3/V4) for other children;
UASC children (UASC table) with their own dynamics; transfers E3; episodes open at a year
end repeated in the next return, some never closed ("stale"); placement codes that change
by year (H5/P2 → K3 from 2024-25, Z1 → Z11–Z14 from 2021-22), SEX 1/2 → M/F from 2020-21,
lower-case codes in one year; periods open before the first return.

Reproducible: everything is drawn from ``numpy.random.default_rng(seed)`` in a fixed order.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..local_data.care_dynamics import hazards, probabilities
from ..local_data.ssda903 import DAYS_PER_MONTH, PLACEMENT_TYPES, Returns, band_edges, eighteenth_birthday

CARE_EDGES = np.array([0, 6, 12, 24, 48, np.inf])  # months: generator bands (model bands + 24–48 / 48+)
MODEL_CARE_BANDS = ("0_6m", "6_12m", "12_24m", "24m_plus")
CARE_BAND_OF = np.array([0, 1, 2, 3, 3])  # generator band → model band
RETURN_EDGES = np.array([0, 3, 12, np.inf])
RETURN_BANDS = ("0_3m", "3_12m", "12m_plus")
EPOCH = pd.Timestamp("1970-01-01")
AGE_SHARES = {"0-4": 0.35, "5-10": 0.25, "11-17": 0.40}
# Entrant placement mix by age band (evidence.md, Revisions), order of PLACEMENT_TYPES.
PLACEMENT_MIX = {
    "0-4": (0.30, 0.35, 0.20, 0.00, 0.00, 0.00, 0.12, 0.03),
    "5-10": (0.26, 0.31, 0.25, 0.04, 0.00, 0.00, 0.11, 0.03),
    "11-17": (0.15, 0.20, 0.25, 0.14, 0.01, 0.10, 0.08, 0.07),
}
REUNIFY_CODES = (("E4A", 0.85), ("E4B", 0.05), ("E13", 0.10))
PERMANENCE_CODES = (("E11", 0.25), ("E12", 0.05), ("E45", 0.20), ("E46", 0.10), ("E47", 0.05), ("E48", 0.05),
                    ("E41", 0.10), ("E8", 0.15), ("E9", 0.05))
LEGAL = (("C2", 0.45), ("V2", 0.35), ("C1", 0.1), ("E1", 0.05), ("L2", 0.04), ("J2", 0.01))
CIN = (("N1", 0.6), ("N2", 0.05), ("N3", 0.02), ("N4", 0.08), ("N5", 0.1), ("N6", 0.05), ("N7", 0.05), ("N8", 0.05))


@dataclass
class SyntheticConfig:
    """What to simulate. Monthly probabilities per model band (the truth), rates per month."""
    entrants_per_year: float = 700.0
    years: int = 5
    last_year: int = 2024  # collection year ending 31 March
    reunify: tuple = (0.040, 0.025, 0.012, 0.006)
    permanence: tuple = (0.005, 0.015, 0.015, 0.008)
    reentry: tuple = (0.042, 0.0105, 0.0035)
    late_factor: float = 1.0  # multiplies exit hazards after 48 months in care
    transfer_rate: float = 0.001  # E3 per month
    age_shares: dict = field(default_factory=lambda: dict(AGE_SHARES))
    placement_mix: dict = field(default_factory=lambda: dict(PLACEMENT_MIX))
    split_rate: float = 0.06  # placement / legal-status changes per month in care
    temporary_rate: float = 0.01  # T0–T4 moves per month in care
    short_break_share: float = 0.05  # children with series of short breaks, per simulated child
    uasc_share: float = 0.04
    stale_share: float = 0.3  # of X1 episodes open at a year end, never resubmitted
    burn_in_years: int = 18


@dataclass
class Synthetic:
    """Annual returns (``episodes``/``header``/``uasc``: year → DataFrame, dates as Timestamps) and the truth."""
    config: SyntheticConfig
    episodes: dict[int, pd.DataFrame]
    header: dict[int, pd.DataFrame]
    uasc: dict[int, pd.DataFrame]
    truth: dict[str, float]  # parameter name → true monthly probability over the default window
    true_mix: pd.DataFrame  # age band × placement type → share
    true_age_shares: dict[str, float]

    def as_returns(self):
        """The returns as :func:`~ifpp_econ.ssda903.read_returns` reads them from files (without the files)."""
        frames = [df.assign(DECOM_D=df["DECOM"], DEC_D=df["DEC"], _file=f"episodes_{y}.csv", _row=np.arange(2, len(df) + 2),
                            _year=y, _order=i) for i, (y, df) in enumerate(sorted(self.episodes.items()))]
        header = pd.concat(self.header.values(), ignore_index=True)
        return Returns(pd.concat(frames, ignore_index=True), header.assign(DOB_D=header["DOB"]),
                       pd.concat(self.uasc.values(), ignore_index=True), [])

    @property
    def n_children(self) -> int:
        return pd.concat([e["CHILD"] for e in self.episodes.values()]).nunique()

    @property
    def n_episodes(self) -> int:
        return int(pd.concat(self.episodes.values())[["CHILD", "DECOM"]].drop_duplicates().shape[0])


def _choice(rng, table, size):
    codes, p = zip(*table)
    return np.asarray(codes)[rng.choice(len(codes), size=size, p=np.asarray(p) / sum(p))]


def _competing(rng, edges_days: np.ndarray, rates: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Time to the first event (days) and its cause for ``m`` subjects; ``rates``: (bands, causes) per day."""
    t = np.full(m, np.inf)
    cause = np.full(m, -1)
    done = np.zeros(m, bool)
    for j in range(len(edges_days) - 1):
        total = rates[j].sum()
        x = rng.exponential(1.0 / total, m) if total > 0 else np.full(m, np.inf)
        which = rng.choice(len(rates[j]), size=m, p=rates[j] / total) if total > 0 else np.zeros(m, int)
        hit = ~done & (x < edges_days[j + 1] - edges_days[j])
        t[hit] = edges_days[j] + x[hit]
        cause[hit] = which[hit]
        done |= hit
    return t, cause


def _days(ts) -> np.ndarray:
    return ((pd.DatetimeIndex(ts) - EPOCH) / pd.Timedelta(days=1)).to_numpy()


def _date(days) -> pd.DatetimeIndex:
    return EPOCH + pd.to_timedelta(np.floor(np.asarray(days, float)), unit="D")


def simulate(config: SyntheticConfig | None = None, seed: int = 0) -> Synthetic:
    """Simulate children and write their annual returns (in memory)."""
    cfg = config or SyntheticConfig()
    rng = np.random.default_rng(seed)
    years = list(range(cfg.last_year - cfg.years + 1, cfg.last_year + 1))
    data_start, data_end = pd.Timestamp(f"{years[0] - 1}-04-01"), pd.Timestamp(f"{years[-1]}-04-01")
    d0, d1 = _days([data_start])[0], _days([data_end])[0]
    sim_start = d0 - cfg.burn_in_years * 365.25
    bands = list(cfg.age_shares)
    edges = {b: band_edges(b) for b in bands}

    # Children: main population, UASC. Entry dates uniform; ages by band, uniform within it.
    n_main = rng.poisson(cfg.entrants_per_year * (cfg.years + cfg.burn_in_years))
    n_uasc = rng.poisson(cfg.uasc_share * cfg.entrants_per_year * (cfg.years + 3))
    entry = np.r_[rng.uniform(sim_start, d1, n_main), rng.uniform(d0 - 3 * 365.25, d1, n_uasc)]
    band_idx = rng.choice(len(bands), n_main, p=np.array([cfg.age_shares[b] for b in bands]))
    lo = np.array([edges[b][0] for b in bands])[band_idx]
    hi = np.array([edges[b][1] for b in bands])[band_idx]
    age = np.r_[rng.uniform(lo, hi - 1e-3), rng.uniform(15.0, 17.9, n_uasc)]
    is_uasc = np.r_[np.zeros(n_main, bool), np.ones(n_uasc, bool)]
    dob = _date(entry - age * 365.25)
    t18 = _days(eighteenth_birthday(pd.Series(dob)))
    entry = np.maximum(np.floor(entry), _days(dob))

    # Hazards per day: (generator band, cause) with causes reunification, permanence, transfer.
    reunify, perm = hazards(np.array(cfg.reunify), np.array(cfg.permanence))
    care = np.stack([reunify[CARE_BAND_OF], perm[CARE_BAND_OF], np.full(5, cfg.transfer_rate)], 1)
    care[4, :2] *= cfg.late_factor
    uasc_care = np.tile([0.0, 0.004, 0.01], (5, 1))
    back = -np.log1p(-np.array(cfg.reentry))[:, None]
    care_days, back_days = CARE_EDGES * DAYS_PER_MONTH, RETURN_EDGES * DAYS_PER_MONTH

    periods = []
    child, start = np.arange(len(entry)), entry.copy()
    while len(child):
        dur, cause = _competing(rng, care_days, care / DAYS_PER_MONTH, len(child))
        dur_u, cause_u = _competing(rng, care_days, uasc_care / DAYS_PER_MONTH, len(child))
        u = is_uasc[child]
        dur, cause = np.where(u, dur_u, dur), np.where(u, cause_u, cause)
        end = start + dur
        aged = end >= t18[child]
        end, cause = np.where(aged, t18[child], end), np.where(aged, 3, cause)
        periods.append(pd.DataFrame({"child": child, "start": np.floor(start), "end": np.floor(end), "cause": cause}))
        gap, _ = _competing(rng, back_days, back / DAYS_PER_MONTH, len(child))
        restart = np.floor(end) + np.maximum(np.floor(gap), 1)
        again = (cause == 0) & (restart < t18[child]) & (restart < d1)
        child, start = child[again], restart[again]
    per = pd.concat(periods, ignore_index=True)
    per = per[per["start"] < d1].sort_values(["child", "start"], kind="stable").reset_index(drop=True)
    per["uasc"] = is_uasc[per["child"]]
    per["band"] = np.asarray(bands)[_band_index(per["start"] - _days(dob)[per["child"]], edges, bands)]

    truth = _truth(per, cfg, care, t18, d0, d1)
    episodes = _episodes(rng, per, cfg, bands, d1)
    breaks = _short_breaks(rng, cfg, n_main, d0, d1, start_id=len(entry))
    n_ids = len(entry) + breaks.attrs["children"]
    ids = np.char.add("C", np.char.zfill(np.arange(n_ids).astype(str), 6))
    all_dob = np.r_[_days(dob), breaks.attrs["dob"]]
    eps = pd.concat([episodes, breaks], ignore_index=True)
    returns, headers, uascs = _returns(rng, eps, ids, all_dob, is_uasc, years, cfg)
    true_mix = pd.DataFrame(cfg.placement_mix, index=PLACEMENT_TYPES).T
    return Synthetic(cfg, returns, headers, uascs, truth, true_mix, dict(cfg.age_shares))


def _band_index(age_days, edges, bands) -> np.ndarray:
    age = np.asarray(age_days) / 365.25
    upper = np.array([edges[b][1] for b in bands])
    return np.minimum(np.searchsorted(upper, age, side="right"), len(bands) - 1)


def _truth(per: pd.DataFrame, cfg: SyntheticConfig, care: np.ndarray, t18: np.ndarray, d0: float, d1: float) -> dict:
    """True monthly probabilities: each model band's rates weighted by the true exposure in the default
    window (equal to the band's rates when hazards are constant within it)."""
    w0 = max(d0, d1 - 5 * 365.25)
    main = per[~per["uasc"]]
    a = (np.maximum(main["start"], w0) - main["start"]).to_numpy() / DAYS_PER_MONTH
    b = (np.minimum(np.minimum(main["end"], d1), t18[main["child"]]) - main["start"]).to_numpy() / DAYS_PER_MONTH
    b = np.maximum(a, b)
    exposure = np.clip(np.minimum(b[:, None], CARE_EDGES[None, 1:]) - np.maximum(a[:, None], CARE_EDGES[None, :-1]),
                       0, None).sum(0)  # (5,) generator bands
    truth = {}
    for k, name in enumerate(MODEL_CARE_BANDS):
        j = CARE_BAND_OF == k
        w = exposure[j] if exposure[j].sum() > 0 else np.ones(j.sum())
        lam = (care[j, :2] * w[:, None]).sum(0) / w.sum()
        pr, pp = probabilities(lam[0], lam[1])
        truth[f"reunify_{name}"], truth[f"permanence_{name}"] = float(pr), float(pp)
    for name, p in zip(RETURN_BANDS, cfg.reentry):
        truth[f"reentry_{name}"] = float(p)
    return truth


def _episodes(rng, per: pd.DataFrame, cfg: SyntheticConfig, bands: list[str], d1: float) -> pd.DataFrame:
    """Split each period into episodes: placement/legal changes and temporary moves."""
    n = len(per)
    start, end = per["start"].to_numpy(), per["end"].to_numpy()
    length = np.maximum(np.minimum(end, d1) - start, 0)
    k = rng.poisson(cfg.split_rate * length / DAYS_PER_MONTH)
    pid = np.repeat(np.arange(n), k)
    day = start[pid] + 1 + np.floor(rng.uniform(size=len(pid)) * np.maximum(length[pid] - 1, 0))
    kind = _choice(rng, (("P", 0.6), ("L", 0.25), ("B", 0.15)), len(pid))
    kt = rng.poisson(cfg.temporary_rate * length / DAYS_PER_MONTH)
    tid = np.repeat(np.arange(n), kt)
    tday = start[tid] + 1 + np.floor(rng.uniform(size=len(tid)) * np.maximum(length[tid] - 9, 0))
    tlen = rng.integers(1, 8, len(tid))
    ok = tday + tlen < np.minimum(end[tid], d1)
    tid, tday, tlen = tid[ok], tday[ok], tlen[ok]
    seg = pd.DataFrame({
        "pid": np.r_[np.arange(n), pid, tid, tid],
        "day": np.r_[start, day, tday, tday + tlen],
        "kind": np.r_[np.full(n, "S"), kind, np.full(len(tid), "T"), np.full(len(tid), "R")],
        "order": np.r_[np.zeros(n), np.ones(len(pid)), np.full(len(tid), 2), np.full(len(tid), 3)],
    })
    seg = seg[(seg["kind"] == "S") | (seg["day"] < np.minimum(end[seg["pid"]], d1))]
    seg = seg.sort_values(["pid", "day", "order"], kind="stable").drop_duplicates(["pid", "day"]).reset_index(drop=True)
    m = len(seg)
    band = per["band"].to_numpy()[seg["pid"]]
    draw = np.empty(m, int)
    for b in bands:
        at = band == b
        mix = np.asarray(cfg.placement_mix[b], float)
        draw[at] = rng.choice(len(PLACEMENT_TYPES), size=at.sum(), p=mix / mix.sum())
    new_place = seg["kind"].isin(["S", "P", "B"]).to_numpy()
    ptype = pd.Series(np.where(new_place, draw, np.nan)).ffill().astype(int).to_numpy()
    legal = _choice(rng, LEGAL, m)
    new_legal = seg["kind"].isin(["S", "L", "B"]).to_numpy()
    ls = pd.Series(np.where(new_legal, legal, None)).ffill().to_numpy()
    variant = rng.uniform(size=m)
    temp = _choice(rng, (("T0", .2), ("T1", .3), ("T2", .2), ("T3", .2), ("T4", .1)), m)
    provider = rng.uniform(size=m)
    last = np.r_[seg["pid"].to_numpy()[1:] != seg["pid"].to_numpy()[:-1], True]
    seg_end = np.r_[seg["day"].to_numpy()[1:], 0.0]
    seg_end[last] = end[seg["pid"].to_numpy()[last]]
    cause = per["cause"].to_numpy()[seg["pid"]]
    uasc = per["uasc"].to_numpy()[seg["pid"]]
    rec = np.full(m, "X1", dtype=object)
    rec[last & (cause == 0)] = _choice(rng, REUNIFY_CODES, int((last & (cause == 0)).sum()))
    rec[last & (cause == 1)] = np.where(uasc[last & (cause == 1)], "E5",
                                        _choice(rng, PERMANENCE_CODES, int((last & (cause == 1)).sum())))
    rec[last & (cause == 2)] = "E3"
    rec[last & (cause == 3)] = _choice(rng, (("E17", 0.6), ("E5", 0.3), ("E8", 0.1)), int((last & (cause == 3)).sum()))
    cin = _choice(rng, CIN, n)[seg["pid"]]
    return pd.DataFrame({
        "child": per["child"].to_numpy()[seg["pid"]], "decom": seg["day"].to_numpy(), "dec": seg_end,
        "rne": np.where(seg["kind"] == "R", "T", seg["kind"]), "ls": ls, "ptype": ptype, "variant": variant,
        "temp": np.where(seg["kind"] == "T", temp, ""), "provider": provider, "rec": rec, "cin": cin,
    })


def _short_breaks(rng, cfg: SyntheticConfig, n_main: int, d0: float, d1: float, start_id: int) -> pd.DataFrame:
    """Children on an agreed series of short breaks: 1–3 nights every ~4 weeks for 6–36 months."""
    n = rng.poisson(cfg.short_break_share * cfg.entrants_per_year * (cfg.years + 1))
    first = rng.uniform(d0 - 365.25, d1, n)
    span = rng.uniform(180, 1100, n)
    k = np.maximum(rng.poisson(span / 28), 1)
    who = np.repeat(np.arange(n), k)
    gaps = 4 + rng.exponential(24, len(who))  # longer than the 1–3 nights: breaks never overlap
    offset = pd.Series(gaps).groupby(who).cumsum().to_numpy()
    decom = np.floor(first[who] + offset)
    nights = rng.integers(1, 4, len(who))
    keep = decom < d1
    who, decom, nights = who[keep], decom[keep], nights[keep]
    age = rng.uniform(4, 16, n)
    out = pd.DataFrame({
        "child": start_id + who, "decom": decom, "dec": decom + nights, "rne": "S",
        "ls": np.where(rng.uniform(size=len(who)) < 0.8, "V3", "V4"), "ptype": 3, "variant": 0.0, "temp": "",
        "provider": 0.0, "rec": "E4A", "cin": "N1",
    })
    out.attrs["children"] = n
    out.attrs["dob"] = first - age * 365.25
    return out


def _place_codes(ptype: np.ndarray, variant: np.ndarray, provider: np.ndarray, year: int) -> tuple[np.ndarray, np.ndarray]:
    """903 PLACE and PLACE_PROVIDER codes of model placement types as a given collection year writes them."""
    semi = ("K3",) if year >= 2025 else ("H5", "P2")
    other_z = ("Z11", "Z12", "Z13", "Z14") if year >= 2022 else ("Z1",)
    codes = {0: ("U1", "U2", "U3"), 1: ("U4", "U5", "U6"), 2: ("U4", "U5", "U6"), 3: ("K2", "K2", "K2", "R1", "S1"),
             4: ("K1",), 5: semi, 6: ("P1",), 7: ("A4", "A5", "P3", "R3", "R5") + other_z}
    place = np.empty(len(ptype), dtype=object)
    for t, options in codes.items():
        at = ptype == t
        place[at] = np.asarray(options)[np.minimum((variant[at] * len(options)).astype(int), len(options) - 1)]
    prov = np.where(ptype == 2, np.where(provider < 0.8, "PR4", "PR5"),
                    np.where(provider < 0.8, "PR1", np.where(provider < 0.9, "PR2", "PR3")))
    return place, prov


def _returns(rng, eps: pd.DataFrame, ids, dob_days, is_uasc, years, cfg: SyntheticConfig):
    """Each collection year's Episodes, Header and UASC tables."""
    episodes, headers, uascs = {}, {}, {}
    stale_pick = rng.uniform(size=len(eps)) < cfg.stale_share
    dropped_after = np.full(len(eps), np.inf)
    n_main_uasc = len(is_uasc)
    for y in years:
        ys, ye = _days([pd.Timestamp(f"{y - 1}-04-01")])[0], _days([pd.Timestamp(f"{y}-04-01")])[0]
        dec = eps["dec"].to_numpy()
        rows = (eps["decom"].to_numpy() < ye) & (dec >= ys) & (dropped_after > y)
        # stale: an X1 episode open at this year end that later returns never resubmit
        stale = rows & stale_pick & (eps["rec"].to_numpy() == "X1") & (dec >= ye)
        dropped_after[stale] = np.minimum(dropped_after[stale], y)
        e = eps[rows]
        open_now = e["dec"].to_numpy() >= ye
        place, prov = _place_codes(e["ptype"].to_numpy(), e["variant"].to_numpy(), e["provider"].to_numpy(), y)
        place = np.where(e["temp"] != "", e["temp"], place)
        df = pd.DataFrame({
            "CHILD": ids[e["child"]], "DECOM": _date(e["decom"]), "RNE": e["rne"].to_numpy(), "LS": e["ls"].to_numpy(),
            "CIN": e["cin"].to_numpy(), "PLACE": place, "PLACE_PROVIDER": prov,
            "DEC": pd.Series(_date(e["dec"])).where(~open_now).to_numpy(),
            "REC": np.where(open_now, "", e["rec"].to_numpy()), "REASON_PLACE_CHANGE": "",
            "HOME_POST": "", "PL_POST": "", "URN": "",
        })
        episodes[y] = df.sort_values(["CHILD", "DECOM"], kind="stable").reset_index(drop=True)
        children = np.unique(e["child"].to_numpy())
        sex = rng.choice(2, len(children))
        headers[y] = pd.DataFrame({
            "CHILD": ids[children],
            "SEX": np.where(sex == 0, "M", "F") if y >= 2021 else np.where(sex == 0, "1", "2"),
            "DOB": _date(dob_days[children]), "ETHNIC": "WBRI"})
        u = children[(children < n_main_uasc)]
        u = u[is_uasc[u]]
        uascs[y] = pd.DataFrame({"CHILD": ids[u], "SEX": "M", "DOB": _date(dob_days[u]),
                                 "DUC": eighteenth_birthday(pd.Series(_date(dob_days[u]))).to_numpy()})
    return episodes, headers, uascs


def write_returns(synth: Synthetic, folder: str | Path, style: str = "dfe") -> dict[str, list[Path]]:
    """Write the returns as CSV files: ``dfe`` = one file per table and year, DD/MM/YYYY dates, codes
    lower-case in the second year; ``pooled`` = one file per table with ``LA`` and ``YEAR`` columns
    and ISO dates. Returns ``{"episodes": [...], "header": [...], "uasc": [...]}``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, list] = {"episodes": [], "header": [], "uasc": []}
    years = sorted(synth.episodes)
    if style == "pooled":
        for table, data in (("episodes", synth.episodes), ("header", synth.header), ("uasc", synth.uasc)):
            frames = [df.assign(LA="999", YEAR=f"{y - 1}-{y % 100:02d}") for y, df in data.items()]
            path = folder / f"{table}.csv"
            _dates(pd.concat(frames, ignore_index=True), "%Y-%m-%d").to_csv(path, index=False)
            out[table].append(path)
        return out
    for y in years:
        for table, data in (("episodes", synth.episodes), ("header", synth.header), ("uasc", synth.uasc)):
            df = _dates(data[y], "%d/%m/%Y")
            if y == years[min(1, len(years) - 1)] and table == "episodes":
                for col in ("RNE", "LS", "PLACE", "PLACE_PROVIDER", "REC", "CIN"):
                    df[col] = df[col].str.lower()
            path = folder / f"{table}_{y}.csv"
            df.to_csv(path, index=False)
            out[table].append(path)
    return out


def _dates(df: pd.DataFrame, fmt: str) -> pd.DataFrame:
    df = df.copy()
    for col in ("DECOM", "DEC", "DOB", "DUC"):
        if col in df.columns:
            df[col] = pd.to_datetime(df[col]).dt.strftime(fmt).fillna("")
    return df
