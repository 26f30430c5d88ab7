"""Care dynamics from cleaned SSDA903 periods: occurrence/exposure by duration band.

Time is measured in months of 365.25/12 days since the period start (care) or since the
return home (re-entry). Each period contributes person-time inside the window [W0, W1)
only — a period already open at W0 enters at its current duration (left truncation) —
and stops at its exit, at W1 or at the 18th birthday (exits on or after it are censored).
In band b with exposure E_b (person-months) and D_bk events of cause k, the rate is
λ_bk = D_bk / E_b and the one-month probability with competing causes is
p_bk = (λ_bk / Λ_b)(1 − e^(−Λ_b)), Λ_b = Σ_k λ_bk (re-entry: p = 1 − e^(−λ)).

Intervals: the exact (Garwood) Poisson interval of each rate mapped through the formula
above, widened to cover the child-level bootstrap percentile interval (children contribute
several periods). PSA: ``beta_alpha_beta`` moment-matched to the probability implied by
λ ~ Gamma(D + 0.5, E) — mean at (D + 0.5)/E, relative variance design effect / (D + 0.5) —
so α ≈ D + 0.5 events and α + β ≈ the exposure. Optional shrinkage towards the workbook's
value adds ``shrink_months`` person-months at the default rate to every band (reported
beside the raw estimate).

Thin cells: a band with fewer than ``min_person_months`` person-months (default
:data:`MIN_PERSON_MONTHS`, 100) or fewer than ``min_events`` events (default :data:`MIN_EVENTS`, 5) is
never written as it stands: it keeps the workbook's value (``action`` "kept workbook value"), or with
shrinkage its shrunk value is written (``action`` "shrunk"); each is named in ``warnings``. A band with
no person-time keeps the workbook's value (and then so does the multiplier of its kind, ``care_multiplier_*``, which
gives the kept rows their PSA spread). Every beta written has α ≥ 1 (a smaller α, e.g. from one
event with a large design effect, puts a spike at 0): α is raised to 1 keeping the mean
(``alpha_raised``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from ..exceptions import LocalDataError
from .ssda903 import DAYS_PER_MONTH, PLACEMENT_TYPES, Cleaned, band_edges, eighteenth_birthday, exit_events, exit_group

CARE_EDGES = np.array([0.0, 6.0, 12.0, 24.0, np.inf])
CARE_BANDS = ("0_6m", "6_12m", "12_24m", "24m_plus")
RETURN_EDGES = np.array([0.0, 3.0, 12.0, np.inf])
RETURN_BANDS = ("0_3m", "3_12m", "12m_plus")
CAUSES = ("reunification", "permanence")
PREFIX = {"reunification": "reunify", "permanence": "permanence"}
NATIONAL = {"share of leavers returning home": "England 34% (2014/15), 27% (2022/23)",
            "re-entry within 1 year of return": "≈ 20% (Goldacre et al. 2022)",
            "re-entry within 6 years of return": "over a third (Goldacre et al. 2022)"}
LEFT_TRUNCATION_MONTHS = 24.0
MIN_PERSON_MONTHS = 100.0  # a band with less person-time (months) is thin: the workbook's value is kept
MIN_EVENTS = 5  # a band with fewer events is thin too
KEPT, SHRUNK, LOCAL = "kept workbook value", "shrunk", "local estimate"  # values of the estimates' ``action``


@dataclass
class Options:
    """Choices of the calibration (defaults follow ssda903.md)."""
    window: tuple[pd.Timestamp, pd.Timestamp] | None = None  # [start, end] inclusive; None = last ≤ 5 years
    exclude_youth_justice: bool = False
    cin: tuple[str, ...] = ()  # keep only periods whose first episode has one of these CIN codes
    e13: str = "reunification"  # or "permanence"
    other_exits: str = "permanence"  # or "censored"
    shrink_months: float = 0.0
    bootstrap: int = 200
    seed: int = 903
    level: float = 0.95
    drop_left_truncated: bool = False  # demonstration only: drop every period open at W0
    min_person_months: float = MIN_PERSON_MONTHS  # thin below this (person-months in the band)
    min_events: int = MIN_EVENTS  # thin below this (events of the cause in the band)


@dataclass
class Calibration:
    """Everything estimated; tables are tidy DataFrames (see module docstring for units)."""
    estimates: pd.DataFrame  # one row per parameter; action and reason say what was written and why
    mix: pd.DataFrame  # band × placement type: person_days, share, children
    age_shares: pd.DataFrame  # band: children, share
    curves: pd.DataFrame  # months; Aalen–Johansen and implied cumulative incidence
    reentry_curve: pd.DataFrame  # months; Kaplan–Meier and implied cumulative re-entry
    checks: pd.DataFrame  # observed figure, implied by the estimates, national figure
    exits: pd.DataFrame  # periods ending in the window by REC group
    counts: dict[str, int]
    window: tuple[pd.Timestamp, pd.Timestamp]  # [W0, W1) with W1 exclusive
    warnings: list[str] = field(default_factory=list)

    def value(self, name: str) -> float:
        return float(self.estimates.set_index("parameter").loc[name, "probability"])

    @property
    def thin(self) -> pd.DataFrame:
        """The thin cells: parameter, events, person_months, action, value_written (the workbook's value when kept)."""
        t = self.estimates[self.estimates["thin"]]
        return pd.DataFrame({"parameter": t["parameter"], "events": t["events"], "person_months": t["person_months"],
                             "action": t["action"], "value_written": t["value"]}).reset_index(drop=True)


def _window(cleaned: Cleaned, window) -> tuple[pd.Timestamp, pd.Timestamp, list[str]]:
    notes: list[str] = []
    if window is None:
        first_year = cleaned.years[max(0, len(cleaned.years) - 5)]
        return pd.Timestamp(f"{first_year - 1}-04-01"), cleaned.data_end, notes
    w0, w1 = pd.Timestamp(window[0]), pd.Timestamp(window[1]) + pd.Timedelta(days=1)
    if w1 <= w0:
        raise LocalDataError([f"--window: the end ({window[1]:%d/%m/%Y}) must be after the start ({window[0]:%d/%m/%Y})"])
    if w1 <= cleaned.data_start or w0 >= cleaned.data_end:
        raise LocalDataError([f"--window {w0:%d/%m/%Y} to {window[1]:%d/%m/%Y} holds no data: the returns cover "
                            f"{cleaned.data_start:%d/%m/%Y} to {cleaned.data_end - pd.Timedelta(days=1):%d/%m/%Y}"])
    if w0 < cleaned.data_start or w1 > cleaned.data_end:
        notes.append(f"window cut to the returns' span {max(w0, cleaned.data_start):%d/%m/%Y} to "
                     f"{min(w1, cleaned.data_end) - pd.Timedelta(days=1):%d/%m/%Y}")
    return max(w0, cleaned.data_start), min(w1, cleaned.data_end), notes


def _months(delta: pd.Series) -> np.ndarray:
    return (delta / pd.Timedelta(days=1)).to_numpy(float) / DAYS_PER_MONTH


def _band_exposure(a: np.ndarray, b: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Person-months of each interval (a, b] in each band: (n, bands)."""
    return np.clip(np.minimum(b[:, None], edges[None, 1:]) - np.maximum(a[:, None], edges[None, :-1]), 0, None)


def _band_of(t: np.ndarray, edges: np.ndarray) -> np.ndarray:
    return np.clip(np.searchsorted(edges, t, side="right") - 1, 0, len(edges) - 2)


def hazards(p_a: np.ndarray, p_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cause-specific monthly rates whose one-month competing probabilities are ``p_a``, ``p_b``."""
    total = np.asarray(p_a) + np.asarray(p_b)
    lam = -np.log1p(-total)
    share = np.divide(p_a, total, out=np.zeros_like(total, dtype=float), where=total > 0)
    return share * lam, (1 - share) * lam


def probabilities(lam_a, lam_b) -> tuple[np.ndarray, np.ndarray]:
    """Monthly competing probabilities p_k = (λ_k / Λ)(1 − e^(−Λ)) of two cause-specific rates."""
    lam_a, lam_b = np.asarray(lam_a, float), np.asarray(lam_b, float)
    total = lam_a + lam_b
    factor = np.divide(-np.expm1(-total), total, out=np.ones_like(total), where=total > 0)
    with np.errstate(invalid="ignore"):  # NaN rates (no person-time) stay NaN
        return lam_a * factor, lam_b * factor


def _poisson_interval(d: np.ndarray, e: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Garwood) interval of a Poisson rate d/e."""
    alpha = 1 - level
    lo = np.where(d > 0, stats.chi2.ppf(alpha / 2, 2 * d) / 2, 0.0)
    hi = stats.chi2.ppf(1 - alpha / 2, 2 * d + 2) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        return lo / e, hi / e


def estimate(cleaned: Cleaned, options: Options, defaults: dict[str, float], age_bands: list[str]) -> Calibration:
    """Occurrence/exposure estimates, entrant mix, age shares, curves and checks from cleaned periods.

    ``defaults``: the workbook's current values by parameter name (for shrinkage and comparison);
    ``age_bands``: the workbook's age band labels (``0-4``, ``5-10``, …).
    """
    counts = dict(cleaned.counts)
    w0, w1, notes = _window(cleaned, options.window)
    per = cleaned.periods.copy()
    per["pid"] = per.index  # = the episodes' period number
    per["t18"] = eighteenth_birthday(per["dob"])
    per["event"] = exit_events(per["rec"], options.e13, options.other_exits)
    keep = per["dob"].notna()
    too_old = keep & (per["start"] >= per["t18"])
    counts["periods starting at 18 or over (excluded)"] = int(too_old.sum())
    keep &= ~too_old
    if options.exclude_youth_justice:
        counts["periods wholly on youth-justice legal statuses J1–J3 (excluded)"] = int((keep & per["youth_justice"]).sum())
        keep &= ~per["youth_justice"]
    if options.cin:
        off = keep & ~per["cin"].isin(options.cin)
        counts[f"periods whose first category of need is not {', '.join(options.cin)} (excluded)"] = int(off.sum())
        keep &= ~off
    # Periods without their true start: surely 24+ months in care at W0, or dropped.
    early = w0 - pd.Timedelta(days=LEFT_TRUNCATION_MONTHS * DAYS_PER_MONTH)
    unknown = keep & ~per["start_known"]
    surely_long = unknown & (per["start"] <= early)
    counts["periods without their start, surely 24+ months in care at the window start (24+ band only)"] = int(
        surely_long.sum())
    counts["periods without their start, under 24 months before the window (dropped; load older returns)"] = int(
        (unknown & ~surely_long).sum())
    keep &= ~(unknown & ~surely_long)
    per["clock"] = per["start"].where(~surely_long, per["start"].clip(upper=early))
    if options.drop_left_truncated:
        keep &= per["start"] >= w0
    per = per[keep].reset_index(drop=True)

    care = _care_estimates(per, w0, w1, options, counts)
    reentry, spells = _reentry_estimates(per, cleaned.periods, w0, w1, options)
    estimates = pd.concat([care, reentry], ignore_index=True)
    _finish(estimates, defaults, options)
    if (estimates["person_months"] == 0).all():
        raise LocalDataError([f"the window {w0:%d/%m/%Y} to {w1 - pd.Timedelta(days=1):%d/%m/%Y} holds no person-time "
                            "in care after the exclusions; choose another --window or check the files"])
    notes += kept_notes(estimates)
    mix, ages, band_notes = _entrant_mix(per, cleaned.episodes, w0, w1, age_bands, counts)
    curves = _curves(per, w0, w1, estimates)
    reentry_curve = _reentry_curve(spells, estimates)
    exits = _exits(per, w0, w1)
    checks = _checks(exits, curves, reentry_curve)
    return Calibration(estimates, mix, ages, curves, reentry_curve, checks, exits, counts, (w0, w1),
                       cleaned.warnings + notes + band_notes)


def _observed(per: pd.DataFrame, origin: pd.Series, stop: pd.Series, w0, w1):
    """Entry and exit durations (months) inside the window and whether the stop is inside it."""
    enter = origin.clip(lower=w0)
    end = stop.fillna(w1)  # still open: observed to the window end
    limit = per["t18"].clip(upper=w1)
    leave = end.where(end < limit, limit)
    inside = (end < limit) & (end >= w0)
    seen = leave >= enter
    return _months(enter - origin), _months(leave - origin), inside.to_numpy(), seen.to_numpy()


def _care_estimates(per, w0, w1, options: Options, counts) -> pd.DataFrame:
    a, b, inside, seen = _observed(per, per["clock"], per["end"], w0, w1)
    a, b, inside = np.where(seen, a, 0), np.where(seen, b, 0), inside & seen
    counts["periods used"] = int(seen.sum())  # periods with time in care in the window
    counts["children used"] = int(per.loc[seen, "child"].nunique())
    exposure = _band_exposure(a, b, CARE_EDGES)  # (n, 4)
    band = _band_of(b, CARE_EDGES)
    events = np.stack([(inside & (per["event"] == c).to_numpy()) for c in CAUSES], 1)  # (n, 2)
    at18 = per["end"].notna() & (per["end"] >= per["t18"]) & (per["end"] < w1) & (per["end"] >= w0)
    counts["exits on or after the 18th birthday in the window (censored)"] = int(at18.sum())
    child = pd.factorize(per["child"])[0]
    n_child = child.max() + 1 if len(child) else 0
    e_child = np.zeros((n_child, 4))
    np.add.at(e_child, child, exposure)
    d_child = np.zeros((n_child, 4, 2))
    for k in range(2):
        np.add.at(d_child[:, :, k], (child, band), events[:, k])
    e, d = e_child.sum(0), d_child.sum(0)  # (4,), (4, 2)
    boot_e, boot_d = _bootstrap(e_child, d_child, options)
    rows = []
    level = options.level
    for j, name in enumerate(CARE_BANDS):
        lam = d[j] / e[j] if e[j] > 0 else np.full(2, np.nan)
        lo, hi = _poisson_interval(d[j], np.full(2, e[j]), level)
        p = probabilities(lam[0], lam[1])
        with np.errstate(divide="ignore", invalid="ignore"):
            bl = boot_d[:, j, :] / boot_e[:, j, None]  # (B, 2)
        bp = np.stack(probabilities(bl[:, 0], bl[:, 1]), 1) if len(bl) else np.empty((0, 2))
        for k, cause in enumerate(CAUSES):
            other = 1 - k
            pair_lo = [lo[k], lam[other]] if k == 0 else [lam[other], lo[k]]
            pair_hi = [hi[k], lam[other]] if k == 0 else [lam[other], hi[k]]
            rows.append(_row(f"{PREFIX[cause]}_{name}", "care", name, cause, d[j, k], e[j], lam[k], p[k],
                             probabilities(*pair_lo)[k], probabilities(*pair_hi)[k], bp[:, k] if len(bp) else bp,
                             bl[:, k] if len(bl) else bl, level, lam[other]))
    return pd.DataFrame(rows)


def _row(name, kind, band, cause, d, e, lam, p, lo, hi, boot_p, boot_rate, level, other_rate) -> dict:
    alpha = (1 - level) / 2
    ok = np.isfinite(boot_p) if len(boot_p) else np.zeros(0, bool)
    b_lo, b_hi = (np.quantile(boot_p[ok], [alpha, 1 - alpha]) if ok.sum() >= 20 else (np.nan, np.nan))
    var_boot = np.var(boot_rate[ok], ddof=1) if ok.sum() >= 20 else np.nan
    var_pois = d / e ** 2 if e > 0 else np.nan
    deff = float(np.nanmax([1.0, var_boot / var_pois])) if d > 0 and np.isfinite(var_boot) else 1.0
    return {"parameter": name, "kind": kind, "band": band, "cause": cause, "events": int(d), "person_months": float(e),
            "rate": float(lam), "probability": float(p), "exact_low": float(lo), "exact_high": float(hi),
            "bootstrap_low": float(b_lo), "bootstrap_high": float(b_hi), "design_effect": deff,
            "low": float(np.nanmin([lo, b_lo])) if np.isfinite(lo) else np.nan,
            "high": float(np.nanmax([hi, b_hi])) if np.isfinite(hi) else np.nan, "other_rate": float(other_rate)}


def _bootstrap(e_child: np.ndarray, d_child: np.ndarray, options: Options):
    """Child-level bootstrap (Poisson(1) weights): exposure (B, bands) and events (B, bands, causes)."""
    if options.bootstrap <= 0 or len(e_child) == 0:
        return np.empty((0,) + e_child.shape[1:]), np.empty((0,) + d_child.shape[1:])
    rng = np.random.default_rng(options.seed)
    w = rng.poisson(1.0, (options.bootstrap, len(e_child))).astype(float)
    return w @ e_child, np.einsum("bn,njk->bjk", w, d_child)


def _reentry_estimates(per, all_periods: pd.DataFrame, w0, w1, options: Options):
    """Return-home spells: from a reunification to the child's next period (any), censored at W1 and 18."""
    home = per[(per["event"] == "reunification") & per["end"].notna() & (per["end"] < per["t18"])].copy()
    following = pd.Series(pd.NaT, index=home.index, dtype="datetime64[ns]")
    if len(home):
        # next period start after the return: merge_asof on (child, date)
        left = home[["child", "end"]].reset_index().sort_values("end")
        right = all_periods[["child", "start"]].sort_values("start")
        merged = pd.merge_asof(left, right, left_on="end", right_on="start", by="child", direction="forward",
                               allow_exact_matches=False)  # a same-day new period is not a re-entry
        following = merged.set_index("index")["start"].reindex(home.index)
    home["next_start"] = following
    a, b, inside, seen = _observed(home, home["end"], home["next_start"], w0, w1)
    a, b, inside = a[seen], b[seen], inside[seen]
    spells = pd.DataFrame({"child": home["child"].to_numpy()[seen], "enter": a, "leave": b, "event": inside})
    exposure = _band_exposure(a, b, RETURN_EDGES)
    band = _band_of(b, RETURN_EDGES)
    child = pd.factorize(spells["child"])[0]
    n_child = child.max() + 1 if len(child) else 0
    e_child = np.zeros((n_child, 3))
    np.add.at(e_child, child, exposure)
    d_child = np.zeros((n_child, 3, 1))
    np.add.at(d_child[:, :, 0], (child, band), inside.astype(float))
    e, d = e_child.sum(0), d_child[:, :, 0].sum(0)
    boot_e, boot_d = _bootstrap(e_child, d_child, options)
    rows = []
    for j, name in enumerate(RETURN_BANDS):
        lam = d[j] / e[j] if e[j] > 0 else np.nan
        lo, hi = _poisson_interval(np.array(d[j]), np.array(e[j]), options.level)
        with np.errstate(divide="ignore", invalid="ignore"):
            bl = boot_d[:, j, 0] / boot_e[:, j]
        rows.append(_row(f"reentry_{name}", "return", name, "re-entry", d[j], e[j], lam, -np.expm1(-lam),
                         -np.expm1(-lo), -np.expm1(-hi), -np.expm1(-bl), bl, options.level, 0.0))
    return pd.DataFrame(rows), spells


def _finish(est: pd.DataFrame, defaults: dict[str, float], options: Options) -> None:
    """Defaults, shrinkage, the value to write and the PSA beta parameters (in place)."""
    est["default"] = est["parameter"].map(defaults).astype(float)
    m = options.shrink_months
    prior_rate = np.zeros(len(est))
    by = est.set_index("parameter")["default"].to_dict()
    for i, r in est.iterrows():
        if r["kind"] == "care":
            band = r["band"]
            lr, lp = hazards(np.array(by.get(f"reunify_{band}", 0.0)), np.array(by.get(f"permanence_{band}", 0.0)))
            prior_rate[i] = float(lr if r["cause"] == "reunification" else lp)
        else:
            prior_rate[i] = -np.log1p(-by.get(r["parameter"], 0.0))
    est["prior_rate"] = prior_rate
    d, e = est["events"].to_numpy(float), est["person_months"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):  # bands without person-time are not written
        _psa(est, d, e, prior_rate, m, options)


def _psa(est, d, e, prior_rate, m, options) -> None:
    est["raw_low"], est["raw_high"] = est["low"], est["high"]  # the local estimate's own interval
    shrunk_rate = (d + m * prior_rate) / (e + m) if m > 0 else est["rate"].to_numpy()
    other = _paired_other(est, shrunk_rate)
    est["shrunk"] = _prob(est, shrunk_rate, other) if m > 0 else np.nan
    est["value"] = est["shrunk"] if m > 0 else est["probability"]
    # PSA: rate ~ Gamma(D + 0.5 (+ shrinkage events), E (+ m)) with design effect, moment-matched beta.
    shape = d + 0.5 + m * prior_rate
    mean_rate = shape / (e + m)
    mean_p = _prob(est, mean_rate, _paired_other(est, mean_rate))
    rel_var = est["design_effect"].to_numpy() / shape
    n = np.maximum((1 - mean_p) / (mean_p * rel_var) - 1, 2.0)
    est["psa_alpha"] = mean_p * n
    est["psa_beta"] = (1 - mean_p) * n
    if m > 0:  # interval of the shrunk value: the same gamma, as quantiles, through the same formula
        tail = (1 - options.level) / 2
        deff = est["design_effect"].to_numpy()
        lo_rate = stats.gamma.ppf(tail, shape / deff) * deff / (e + m)
        hi_rate = stats.gamma.ppf(1 - tail, shape / deff) * deff / (e + m)
        other = _paired_other(est, shrunk_rate)
        est["low"] = np.minimum(_prob(est, lo_rate, other), est["value"])
        est["high"] = np.maximum(_prob(est, hi_rate, other), est["value"])
    has_data = e > 0
    thin = has_data & ((e < options.min_person_months) | (d < options.min_events))
    written = has_data & (~thin | (m > 0))
    est["thin"], est["written"] = thin, written
    est["action"] = np.where(~written, KEPT, SHRUNK if m > 0 else LOCAL)
    few_events = np.where(d < options.min_events, f"fewer than {options.min_events} events", "")
    little_time = np.where(e < options.min_person_months, f"fewer than {options.min_person_months:,.0f} person-months", "")
    est["reason"] = np.where(~has_data, "no person-time in the window",
                             [" and ".join(w for w in pair if w) for pair in zip(few_events, little_time)])
    est["value"] = np.where(written, est["value"], est["default"])
    # No spike at 0: a beta written with α < 1 gets α = 1 and the same mean.
    alpha, beta = est["psa_alpha"].to_numpy(), est["psa_beta"].to_numpy()
    raised = written & (alpha < 1)
    mean = np.divide(alpha, alpha + beta, out=np.ones(len(est)), where=raised)
    est["psa_alpha"] = np.where(raised, 1.0, alpha)
    est["psa_beta"] = np.where(raised, (1 - mean) / mean, beta)
    est["alpha_raised"] = raised


def kept_notes(est: pd.DataFrame) -> list[str]:
    """A sentence for each thin or empty cell: what the data hold and what was written instead of the estimate."""
    notes = []
    for r in est[est["thin"] | (est["person_months"] == 0)].itertuples():
        held = (f"{r.events:,} event{'' if r.events == 1 else 's'} in {r.person_months:,.0f} person-months"
                if r.person_months > 0 else "no person-time in the window")
        why = f" ({r.reason})" if r.person_months > 0 else ""
        if r.action == KEPT:
            local = f"; the local estimate {r.probability:.2%} was not written" if r.person_months > 0 else ""
            notes.append(f"{r.parameter}: {held}{why}: kept the workbook's value {r.default:.2%} a month{local}")
        else:
            notes.append(f"{r.parameter}: {held}{why}: shrunk towards the workbook's value {r.default:.2%} a month; "
                         f"{r.value:.2%} written (local estimate {r.probability:.2%})")
    return notes


def _paired_other(est: pd.DataFrame, rate: np.ndarray) -> np.ndarray:
    """For each care row the other cause's rate in the same band (0 for re-entry)."""
    key = est["kind"] + ":" + est["band"]
    out = np.zeros(len(est))
    for _, idx in est.groupby(key).groups.items():
        idx = list(idx)
        if len(idx) == 2:
            out[idx[0]], out[idx[1]] = rate[idx[1]], rate[idx[0]]
    return out


def _prob(est: pd.DataFrame, rate: np.ndarray, other: np.ndarray) -> np.ndarray:
    care = (est["kind"] == "care").to_numpy()
    p_care = probabilities(rate, other)[0]
    return np.where(care, p_care, -np.expm1(-rate))


def _entrant_mix(per, episodes, w0, w1, age_bands, counts):
    """Placement mix of entrants (periods starting in the window) by age band at entry, by person-time,
    and age-at-entry shares of children's first periods."""
    edges = [band_edges(b) for b in age_bands]
    age = _months(per["start"] - per["dob"]) / 12
    band = np.full(len(per), -1)
    for i, (lo, hi) in enumerate(edges):
        band[(age >= lo) & (age < hi)] = i
    entrant = (per["start_known"] & (per["start"] >= w0) & (per["start"] < w1)).to_numpy().copy()
    counts["entrants in the window outside the workbook's age bands (not used for shares)"] = int(
        (entrant & (band < 0)).sum())
    entrant &= band >= 0
    ent = per[entrant].assign(band=band[entrant])
    ep = episodes[["DECOM_D", "DEC_D", "period", "ptype"]].merge(
        ent[["pid", "band", "t18", "child"]], left_on="period", right_on="pid")
    stop = ep["DEC_D"].fillna(w1).clip(upper=w1)
    stop = stop.where(stop < ep["t18"], ep["t18"])
    days = ((stop - ep["DECOM_D"]) / pd.Timedelta(days=1)).clip(lower=0)
    ep = ep.assign(days=days)
    grid = pd.MultiIndex.from_product([range(len(age_bands)), PLACEMENT_TYPES], names=["band", "placement_type"])
    pdays = ep.groupby(["band", "ptype"])["days"].sum().reindex(grid, fill_value=0.0)
    mix = pdays.rename("person_days").reset_index()
    totals = mix.groupby("band")["person_days"].transform("sum")
    mix["share"] = np.where(totals > 0, mix["person_days"] / totals.where(totals > 0, 1), np.nan)
    children = ent.groupby("band")["child"].nunique().reindex(range(len(age_bands)), fill_value=0)
    mix["children"] = mix["band"].map(children).astype(int)
    mix["band"] = [age_bands[i] for i in mix["band"]]
    notes = [f"no entrants aged {age_bands[i]} in the window: its placement mix is left unchanged"
             for i in range(len(age_bands)) if children[i] == 0]
    # age at entry: each child's first period in the data, starting in the window
    firsts = per.sort_values("start").drop_duplicates("child")
    firsts = firsts[firsts["pid"].isin(ent["pid"])]
    n_age = pd.Series(band[firsts.index], index=firsts.index).value_counts().reindex(range(len(age_bands)), fill_value=0)
    ages = pd.DataFrame({"band": age_bands, "children": n_age.to_numpy(),
                         "share": n_age.to_numpy() / max(n_age.sum(), 1)})
    return mix, ages, notes


def _curves(per, w0, w1, est: pd.DataFrame, horizon_months: int = 60) -> pd.DataFrame:
    """Aalen–Johansen cumulative incidence of reunification and permanence (periods with a known start,
    left-truncated at W0, on a daily grid) against the curve implied by the banded probabilities."""
    known = per[per["start_known"]]
    a, b, inside, seen = _observed(known, known["start"], known["end"], w0, w1)
    a_d = np.round(a[seen] * DAYS_PER_MONTH).astype(int)
    b_d = np.round(b[seen] * DAYS_PER_MONTH).astype(int) + 1  # an exit on day t counts at t + 1
    ev = known["event"].to_numpy()[seen]
    inside = inside[seen]
    t_max = int(horizon_months * DAYS_PER_MONTH) + 2
    entered = np.cumsum(np.bincount(np.minimum(a_d, t_max), minlength=t_max + 1))
    left = np.cumsum(np.bincount(np.minimum(b_d, t_max), minlength=t_max + 1))
    at_risk = entered[:-1] - left[:-1]  # at risk at t = 1..t_max: a < t ≤ b
    out = {}
    surv_prev = np.ones(t_max)
    d_all = np.zeros(t_max)
    d_k = {}
    for cause in CAUSES:
        hit = inside & (ev == cause) & (b_d <= t_max)
        d_k[cause] = np.bincount(b_d[hit], minlength=t_max + 1)[1:t_max + 1]
        d_all += d_k[cause]
    with np.errstate(divide="ignore", invalid="ignore"):
        hazard = np.where(at_risk > 0, d_all / at_risk, 0.0)
    surv = np.cumprod(1 - hazard)
    surv_prev = np.r_[1.0, surv[:-1]]
    for cause in CAUSES:
        with np.errstate(divide="ignore", invalid="ignore"):
            h = np.where(at_risk > 0, d_k[cause] / at_risk, 0.0)
        out[cause] = np.cumsum(surv_prev * h)
    months = np.arange(horizon_months + 1)
    idx = np.minimum(np.round(months * DAYS_PER_MONTH).astype(int), t_max - 1)
    table = pd.DataFrame({"months": months, "aj_reunification": np.r_[0.0, out["reunification"][idx[1:] - 1]],
                          "aj_permanence": np.r_[0.0, out["permanence"][idx[1:] - 1]]})
    p = est.set_index("parameter")["value"]
    band = _band_of(months[:-1] + 0.5, CARE_EDGES)
    pr = np.array([p[f"reunify_{CARE_BANDS[j]}"] for j in band])
    pp = np.array([p[f"permanence_{CARE_BANDS[j]}"] for j in band])
    stay = np.r_[1.0, np.cumprod(1 - pr - pp)]
    table["implied_reunification"] = np.r_[0.0, np.cumsum(stay[:-1] * pr)]
    table["implied_permanence"] = np.r_[0.0, np.cumsum(stay[:-1] * pp)]
    table["at_risk"] = np.r_[at_risk[0] if len(at_risk) else 0, at_risk[idx[1:] - 1]]
    return table


def _reentry_curve(spells: pd.DataFrame, est: pd.DataFrame, horizon_months: int = 72) -> pd.DataFrame:
    """Kaplan–Meier cumulative re-entry after a return home (left-truncated) against the implied curve."""
    a_d = np.round(spells["enter"].to_numpy() * DAYS_PER_MONTH).astype(int)
    b_d = np.round(spells["leave"].to_numpy() * DAYS_PER_MONTH).astype(int) + 1
    t_max = int(horizon_months * DAYS_PER_MONTH) + 2
    entered = np.cumsum(np.bincount(np.minimum(a_d, t_max), minlength=t_max + 1))
    left = np.cumsum(np.bincount(np.minimum(b_d, t_max), minlength=t_max + 1))
    at_risk = entered[:-1] - left[:-1]
    hit = spells["event"].to_numpy() & (b_d <= t_max)
    d = np.bincount(b_d[hit], minlength=t_max + 1)[1:t_max + 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(1 - np.where(at_risk > 0, d / at_risk, 0.0))
    months = np.arange(horizon_months + 1)
    idx = np.minimum(np.round(months * DAYS_PER_MONTH).astype(int), t_max - 1)
    p = est.set_index("parameter")["value"]
    band = _band_of(months[:-1] + 0.5, RETURN_EDGES)
    pm = np.array([p[f"reentry_{RETURN_BANDS[j]}"] for j in band])
    return pd.DataFrame({"months": months, "km_reentry": np.r_[0.0, 1 - surv[idx[1:] - 1]],
                         "implied_reentry": np.r_[0.0, 1 - np.cumprod(1 - pm)],
                         "at_risk": np.r_[at_risk[0] if len(at_risk) else 0, at_risk[idx[1:] - 1]]})


def _exits(per, w0, w1) -> pd.DataFrame:
    ended = per[per["end"].notna() & (per["end"] >= w0) & (per["end"] < w1) & per["rec"].str.startswith("E")]
    groups = exit_group(ended["rec"]).value_counts()
    out = groups.rename_axis("exit").reset_index(name="periods")
    out["share"] = out["periods"] / max(out["periods"].sum(), 1)
    return out


def _checks(exits: pd.DataFrame, curves: pd.DataFrame, reentry: pd.DataFrame) -> pd.DataFrame:
    total = exits["periods"].sum()
    home = exits.loc[exits["exit"] == "returned home (E4A/E4B)", "periods"].sum()
    rows = [{"check": "share of leavers returning home", "observed": home / total if total else np.nan,
             "implied": np.nan, "national": NATIONAL["share of leavers returning home"],
             "notes": f"{home} of {total} periods ending in the window with an E code returned home (E4A/E4B)"}]
    for m in (6, 12, 24, 36):
        row = curves.loc[curves["months"] == m].iloc[0]
        for cause in CAUSES:
            rows.append({"check": f"cumulative {cause} by {m} months in care", "observed": row[f"aj_{cause}"],
                         "implied": row[f"implied_{cause}"], "national": "",
                         "notes": f"Aalen–Johansen, {int(row['at_risk'])} periods at risk at {m} months"})
    for m, label in ((12, "re-entry within 1 year of return"), (72, "re-entry within 6 years of return")):
        row = reentry.loc[reentry["months"] == m].iloc[0]
        rows.append({"check": label, "observed": row["km_reentry"] if row["at_risk"] > 0 else np.nan,
                     "implied": row["implied_reentry"], "national": NATIONAL[label],
                     "notes": f"Kaplan–Meier, {int(row['at_risk'])} children at home and at risk at {m} months; "
                              "re-entry in another LA is invisible (a lower bound)"})
    return pd.DataFrame(rows)
