"""Many local authorities at once: each authority's PSA with a shared pooled effect, and the region's totals.

The model of shared and local uncertainty. The PSA draws the 12-month relative risk for a new setting:
``log RR = μ + √(σ² + τ²)·z`` (σ: the pooled mean's log-SE, τ: ``rr_between_study_sd``). Across authorities the
pooled mean is one unknown and each authority's deviation from it is its own, so for authority ``a`` in iteration
``i`` the rollup draws ``log RR_ai = μ_a + σ_a·s_i + τ_a·e_ai`` with ``s_i`` one standard normal per iteration
shared by every authority (the *shared effect*) and ``e_ai`` the authority's own (the window RRs follow the 12-month
RR as in the PSA; ``rr_family_12m`` shares ``s_i`` the same way). Every other parameter (costs, risks, care dynamics,
the model-averaged PSA's structural choice) is drawn from the authority's own stream. ``σ·s + τ·e`` is normal with
SD ``√(σ² + τ²)``, so each authority's marginal results have the distribution of its own ``ifpp-econ psa``; the
regional totals carry the correlation the shared effect induces. (Where a workbook's Correlations sheet ties the
12-month RR to another parameter, that rank correlation is scaled by ``τ/√(σ² + τ²)`` in the rollup.)

Streams and reproducibility. ``s_i`` comes from ``PCG64(SeedSequence([seed, block, SHARED_STREAM]))`` per block of
:data:`~ifpp_econ.analyses.sampling.BLOCK` iterations; authority ``a`` samples its own parameters as ``ifpp-econ
psa`` would with the seed :func:`authority_seed` ``(seed, name)`` — keyed by the authority's *name*, so an authority's
numbers do not depend on which other workbooks are rolled up nor on their order. A work unit is one authority and one
chunk of iterations (:func:`run_unit`, a module-level function of picklable arguments): iteration i's numbers depend
only on (seed, name, i), so any executor, worker count or chunk size gives the same numbers, bit for bit.

Memory: four floats per authority per iteration are kept (:data:`KEPT`, for each authority's intervals and the
region's sums: 32 bytes, ≈ 49 MB for 152 authorities × 10,000 iterations) and two per iteration for the region
(:data:`SUMMED`); summaries, totals and value of information are computed from them.
"""
from __future__ import annotations

import copy
import functools
import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from . import comparison, voi
from .sampling import BLOCK

SHARED_STREAM = 2  # SeedSequence([seed, block, 2]): the shared effect's normals (1 is the structural draws')
AUTHORITY_STREAM = 3  # SeedSequence([seed, 3, name hash]): an authority's own seed
METRICS = ("per_child_savings", "placements_avoided_per_child", "incremental_nmb", "net_saving", "placements_avoided",
           "children_referred")  # per iteration, per authority (see :func:`run_unit`)
KEPT = ("per_child_savings", "placements_avoided_per_child", "net_saving", "placements_avoided")  # (A, N) each: intervals
SUMMED = ("net_benefit", "children_referred")  # (N,) the region's, summed over authorities as units arrive


@dataclass(frozen=True)
class Authority:
    """One local authority: its ``name`` (the workbook's ``authority`` setting, else its file name) and validated
    workbook ``inputs`` (picklable: what a work unit is sent)."""

    name: str
    inputs: Any


def authority_name(inputs) -> str:
    """The ``authority`` setting, else the workbook's file name without its extension."""
    from pathlib import Path

    return str(inputs.settings.get("authority") or "").strip() or Path(inputs.path).stem


def authority_seed(seed: int, name: str) -> int:
    """The seed of authority ``name``'s own streams: 128 bits of ``SeedSequence([seed, AUTHORITY_STREAM, h])``, h the
    first 64 bits of the name's SHA-256 (UTF-8)."""
    h = int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "little")
    words = np.random.SeedSequence([int(seed), AUTHORITY_STREAM, h]).generate_state(4, np.uint32)
    return int(sum(int(w) << (32 * k) for k, w in enumerate(words)))


def shared_normals(seed: int, start: int, n: int) -> np.ndarray:
    """The shared effect's standard normals ``(n,)`` for iterations ``[start, start + n)`` (one stream per block, so
    iteration i's value depends only on (seed, i))."""
    first, stop = start // BLOCK, -(-(start + n) // BLOCK)
    blocks = [np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), b, SHARED_STREAM])))
              .standard_normal(BLOCK) for b in range(first, stop)]
    return np.concatenate(blocks)[start - first * BLOCK:][:n] if blocks else np.empty(0)


_PLANS: dict[tuple, Any] = {}  # per process: (name, sha256, years) → (ChunkPlan, strategy, budget spec, weights)


def _plan(authority: Authority, years: int):
    """What every unit of an authority shares, built once per process: the PSA's chunk plan, the strategy compared
    with the comparator, and the model spec the budget is costed with — the horizon capped at the budget's window (the
    cash of months inside the window does not depend on later months: the same numbers, bit for bit — at a fifth of
    the cost) — and the shared effect's weights (:func:`~ifpp_econ.analyses.psa.shared_effect_weights`)."""
    from ..model.scenarios import apply_overrides
    from ..model.spec import build_spec
    from .psa import plan_chunks, shared_effect_weights

    key = (authority.name, authority.inputs.sha256, years)
    if key not in _PLANS:
        plan = plan_chunks(authority.inputs)
        strategy = next(s for s in plan.spec.strategy_names if s != plan.spec.comparator)
        horizon = min(float(authority.inputs.settings["horizon_years"]), float(years))
        _PLANS[key] = (plan, strategy, build_spec(apply_overrides(authority.inputs, {"horizon_years": horizon})),
                       shared_effect_weights(authority.inputs, plan.sampler.parameters))
    return _PLANS[key]


def run_unit(authority: Authority, seed: int, start: int, size: int, years: int
             ) -> tuple[str, int, dict[str, np.ndarray], float]:
    """One work unit: authority ``authority``, iterations ``[start, start + size)``.

    Returns (name, start, arrays ``(size,)``, the unit's CPU seconds): ``per_child_savings`` (£, discounted),
    ``placements_avoided_per_child`` (discounted), ``incremental_nmb`` (£ per child at the workbook's willingness to
    pay), and over the first ``years`` years of referrals at the workbook's ``la_referrals_per_year`` (undiscounted, as
    ``ifpp-econ budget``, summed in closed form by :func:`~ifpp_econ.analyses.budget.window_totals`): ``net_saving``
    (£), ``placements_avoided`` (first placements) and ``children_referred``. Runs the compiled model on one thread
    (units run side by side).
    """
    import time

    from ..engine import threads
    from ..model.family_states import CASH_CATEGORIES, monthly_cash, run_model, sum_arrays
    from .budget import window_totals
    from .psa import draw

    cpu = time.thread_time()
    plan, strategy, window, weights = _plan(authority, years)
    inputs = authority.inputs
    with threads.single_thread():
        values = draw(inputs, size, authority_seed(seed, authority.name), start, plan.structural, plan.sampler,
                      shared_z=shared_normals(seed, start, size), shared_weights=weights)
        results = run_model(values, plan.spec)
        children_per_month = float(inputs.settings["la_referrals_per_year"]) * values["children_per_family"].to_numpy(
            float) / 12.0
        totals = window_totals(monthly_cash(values, window), children_per_month, years)
    names = plan.spec.strategy_names
    inc = comparison.incremental(results.outcomes, names, plan.spec.comparator,
                                 float(inputs.settings["wtp_default"]))[strategy]
    k, c = names.index(strategy), names.index(plan.spec.comparator)
    cash = sum_arrays(totals[cat] for cat in CASH_CATEGORIES)
    return authority.name, start, {
        "per_child_savings": inc["per_child_savings"], "placements_avoided_per_child": inc["placements_avoided_per_child"],
        "incremental_nmb": inc["incremental_nmb"], "net_saving": cash[c] - cash[k],
        "placements_avoided": totals["first_placements"][c] - totals["first_placements"][k],
        "children_referred": 12.0 * years * children_per_month}, time.thread_time() - cpu


def plan_units(names: list[str], n: int, chunk_size: int) -> list[tuple[int, int, int]]:
    """Work units ``(authority index, start, size)``: every authority's iterations cut into chunks."""
    return [(a, start, min(chunk_size, n - start)) for a in range(len(names)) for start in range(0, n, chunk_size)]


MAX_CHUNK = 10 * BLOCK  # iterations per unit at most: ≈ 100 MB of model temporaries in a worker


def auto_chunk_size(n: int, authorities: int, workers: int) -> int:
    """Iterations per unit: whole sampling blocks, from 1,024 to :data:`MAX_CHUNK`, and at least 4 units per worker
    (an authority's units share its set-up — distributions, model spec, ≈ 30 ms — only within one process, so with many
    authorities each is best one or few units). Results do not depend on it."""
    per = -(-n * authorities // (4 * max(workers, 1)))
    return int(min(max(-(-min(per, n) // BLOCK) * BLOCK, BLOCK), MAX_CHUNK))


def population_factor(inputs) -> float:
    """Children referred a year × the decision's years, discounted (the population EVPI's multiplier; as
    :meth:`~ifpp_econ.analyses.psa.PSAResult.evpi`)."""
    from .psa import population_basis

    basis = population_basis(inputs)
    return float(voi.population_evpi(np.array([1.0]), basis["children_per_year"], basis["years"],
                                     basis["discount_rate"])[0])


@dataclass
class RollupResult:
    """Per authority per-iteration results (``arrays``: metric → ``(A, N)``) and the region's totals.

    ``summary()``: one row per authority (mean and 95% interval per measure, probabilities); ``totals()``: the
    region's totals (and the national extrapolation); ``to_json()``: all of it.
    """

    names: list[str]
    files: list[str]
    referrals: np.ndarray  # (A,) families referred a year (each workbook's la_referrals_per_year)
    population: np.ndarray  # (A,) the population EVPI's multiplier per authority (children a year × years, discounted)
    iterations: int
    seed: int
    years: int
    arrays: dict[str, np.ndarray]  # metric (KEPT) → (A, N)
    regional: dict[str, np.ndarray]  # SUMMED → (N,): the population-weighted incremental NMB (£) and children referred
    shared_z: np.ndarray  # (N,) the shared effect's normals
    strategy: str = "IFPP"
    comparator: str = "Usual care"
    scale_to: float | None = None  # families referred a year nationally (extrapolation), if asked
    chunk_size: int = 0
    executor: str = "serial"
    timings: dict[str, float] = field(default_factory=dict)

    @functools.cached_property
    def _authorities(self) -> pd.DataFrame:
        keys = {(a, m): self.arrays[m][a] for a in range(len(self.names))
                for m in ("per_child_savings", "placements_avoided_per_child", "net_saving", "placements_avoided")}
        s = comparison.summarise_many(keys)
        rows = []
        for a, name in enumerate(self.names):
            row: dict[str, Any] = {"authority": name, "workbook": self.files[a], "families_per_year": self.referrals[a]}
            for m in ("per_child_savings", "placements_avoided_per_child", "net_saving", "placements_avoided"):
                row.update({f"{m}_{k}": v for k, v in s[a, m].items()})
            row["prob_cost_saving"] = float(np.mean(self.arrays["per_child_savings"][a] > 0))
            row["prob_budget_saving"] = float(np.mean(self.arrays["net_saving"][a] > 0))
            rows.append(row)
        out = pd.DataFrame(rows)
        out.insert(0, "rank", out["net_saving_mean"].rank(ascending=False, method="first").astype(int))
        return out.sort_values("rank", kind="stable").reset_index(drop=True)

    def summary(self) -> pd.DataFrame:
        """One row per authority, ranked by mean net saving (largest first)."""
        return self._authorities.copy()

    def incremental(self) -> dict[str, dict[str, float]]:
        """The region's totals (mean, lower, upper) per measure (see :meth:`totals`)."""
        return copy.deepcopy(self._totals)

    @functools.cached_property
    def _regional(self) -> dict[str, np.ndarray]:
        """Per iteration: the region's net saving, placements avoided a year, children kept at home."""
        return {"net_saving": self.arrays["net_saving"].sum(axis=0),
                "placements_avoided_per_year": self.arrays["placements_avoided"].sum(axis=0) / self.years,
                "children_kept_at_home": self.arrays["placements_avoided"].sum(axis=0),
                "children_referred": self.regional["children_referred"]}

    @functools.cached_property
    def _totals(self) -> dict[str, dict[str, float]]:
        out = comparison.summarise_many(dict(self._regional))
        if self.scale_to is not None:
            factor = self.scale_factor
            out.update({f"national_{k}": {s: v * factor for s, v in out[k].items()}
                        for k in ("net_saving", "placements_avoided_per_year", "children_kept_at_home")})
        return out

    @property
    def scale_factor(self) -> float:
        """National referrals ÷ the region's (``--scale-to``); 1 without it."""
        total = float(self.referrals.sum())
        return float(self.scale_to) / total if self.scale_to is not None and total > 0 else 1.0

    @functools.cached_property
    def value_of_information(self) -> dict[str, Any]:
        """The region's population EVPI and EVPPI of the shared effect and of the local parameters (£, at each
        authority's willingness to pay; the decision: the region adopts IFPP or not)."""
        inc = self.regional["net_benefit"]  # (N,) £, the region
        nb = np.vstack([np.zeros_like(inc), inc])
        total = voi.evpi(nb)
        shared = voi.evppi(self.shared_z, nb)
        fitted, _ = voi.fitted_net_benefit(self.shared_z, inc[None, :])
        residual = inc - fitted[0] + inc.mean()  # E[NB | local] if shared and local act additively (an upper bound)
        local = float(max(np.maximum(residual, 0.0).mean() - max(inc.mean(), 0.0), 0.0))
        return {"evpi": total, "evppi_shared_effect": shared["evppi"], "evppi_shared_effect_se": shared["se"],
                "evppi_shared_effect_r_squared": shared["r_squared"], "evppi_local_parameters": min(local, total),
                "prob_adopting_is_right": float(np.mean(inc > 0)) if inc.mean() > 0 else float(np.mean(inc <= 0)),
                "note": "population EVPI of the region (each authority's children a year over its decision years, "
                        "discounted; NMB at its willingness to pay). Shared effect: regression on the shared normal. "
                        "Local parameters: the regional net benefit less its fitted dependence on the shared effect — "
                        "exact when the shared effect and the local parameters act additively, otherwise an upper "
                        "bound (Jensen)."}

    def totals(self) -> pd.DataFrame:
        """The region's totals: measure, label, mean, lower, upper (and the national extrapolation)."""
        labels = {"net_saving": f"Net saving over {self.years} years of referrals (£, undiscounted)",
                  "placements_avoided_per_year": "First placements avoided a year",
                  "children_kept_at_home": f"Children kept at home (first placements avoided over {self.years} years)",
                  "children_referred": f"Children referred over {self.years} years"}
        rows = [{"measure": k, "label": labels[k], **v} for k, v in self._totals.items() if k in labels]
        rows.append({"measure": "prob_region_saves", "label": "Probability the region saves money", "mean":
                     self.prob_region_saves, "lower": np.nan, "upper": np.nan})
        voi_ = self.value_of_information
        for key, label in (("evpi", "Population EVPI of the region (£)"),
                           ("evppi_shared_effect", "EVPPI, shared effect (£)"),
                           ("evppi_local_parameters", "EVPPI, local parameters (£, upper bound)")):
            rows.append({"measure": key, "label": label, "mean": voi_[key], "lower": np.nan, "upper": np.nan})
        if self.scale_to is not None:
            for k in ("net_saving", "placements_avoided_per_year", "children_kept_at_home"):
                rows.append({"measure": f"national_{k}", "label": f"National ({self.scale_to:,.0f} families a year): "
                             + labels[k][0].lower() + labels[k][1:], **self._totals[f"national_{k}"]})
        return pd.DataFrame(rows)

    @property
    def prob_region_saves(self) -> float:
        return float(np.mean(self._regional["net_saving"] > 0))

    def to_json(self) -> dict:
        """Everything as JSON; ``execution`` (executor, chunk size, timings) is the only part that depends on where and
        how fast it ran."""
        return {**copy.deepcopy(self._json),
                "execution": {"executor": self.executor, "chunk_size": self.chunk_size, **self.timings}}

    @functools.cached_property
    def _json(self) -> dict:
        table = self._authorities
        measures = ("per_child_savings", "placements_avoided_per_child", "net_saving", "placements_avoided")
        authorities = [{"name": r["authority"], "workbook": r["workbook"], "rank": int(r["rank"]),
                        "families_per_year": float(r["families_per_year"]),
                        **{m: {k: float(r[f"{m}_{k}"]) for k in ("mean", "lower", "upper")} for m in measures},
                        "prob_cost_saving": float(r["prob_cost_saving"]),
                        "prob_budget_saving": float(r["prob_budget_saving"])}
                       for r in table.sort_values("authority", key=lambda s: s.map(self.names.index)).to_dict("records")]
        totals = self._totals
        out: dict[str, Any] = {
            "iterations": self.iterations, "seed": self.seed, "strategy": self.strategy, "comparator": self.comparator,
            "years": self.years, "authorities": authorities,
            "total": {"families_per_year": float(self.referrals.sum()), "net_saving": totals["net_saving"],
                      "placements_avoided_per_year": totals["placements_avoided_per_year"],
                      "children_kept_at_home": totals["children_kept_at_home"],
                      "children_referred": totals["children_referred"],
                      "prob_region_saves": self.prob_region_saves},
            "value_of_information": self.value_of_information,
        }
        if self.scale_to is not None:
            out["national"] = {"families_per_year": float(self.scale_to), "scale_factor": self.scale_factor,
                               **{k: totals[f"national_{k}"] for k in ("net_saving", "placements_avoided_per_year",
                                                                       "children_kept_at_home")},
                               "basis": "the region's totals per iteration × national ÷ regional referrals (the rest "
                                        "of the country assumed like this region)"}
        return out

    def __repr__(self) -> str:
        t = self._totals["net_saving"]

        def gbp(v: float) -> str:
            return ("−£" if v < 0 else "£") + f"{abs(v):,.0f}"

        count = f"{len(self.names)} authorit{'y' if len(self.names) == 1 else 'ies'}"
        return (f"RollupResult({count}, {self.iterations:,} iterations, seed {self.seed}: net saving over {self.years} "
                f"years {gbp(t['mean'])} (95% interval {gbp(t['lower'])} to {gbp(t['upper'])}); P(region saves) "
                f"{self.prob_region_saves:.1%})")


def common_years(authorities: list[Authority], years: int | None) -> int:
    """The budget window: ``years`` when given, else the workbooks' ``budget_years`` (which must then agree)."""
    from ..exceptions import OptionError

    if years is not None:
        if not 1 <= int(years) <= 5:
            raise OptionError(f"--years {years}: allowed 1 to 5")
        return int(years)
    found = {a.name: int(a.inputs.settings["budget_years"]) for a in authorities}
    if len(set(found.values())) > 1:
        shown = ", ".join(f"{k}: {v}" for k, v in found.items())
        raise OptionError(f"the workbooks' budget_years differ ({shown}); pass --years to choose the window")
    return next(iter(found.values()))


def check_names(authorities: list[Authority]) -> None:
    """Two workbooks naming the same authority are refused (an :class:`~ifpp_econ.exceptions.InputError`)."""
    from ..exceptions import WorkbookError

    seen: dict[str, str] = {}
    problems = []
    for a in authorities:
        path = str(a.inputs.path)
        if a.name in seen:
            problems.append(f"{path}: Settings: authority {a.name!r} is also the authority of {seen[a.name]} (set a "
                            "different authority setting, or rename the file); each authority is rolled up once")
        else:
            seen[a.name] = path
    if problems:
        raise WorkbookError(problems)


def run_rollup(authorities: list, n: int | None = None, seed: int | None = None, *, executor=None,
               chunk_size: int | None = None, workers: int = 1, years: int | None = None, scale_to: float | None = None,
               progress=None, executor_name: str = "serial") -> RollupResult:
    """Roll up ``authorities`` (:class:`Authority`, or workbook ``Inputs`` named by :func:`authority_name`): every
    (authority, chunk) unit submitted to ``executor`` (any ``concurrent.futures.Executor``; default in this process),
    gathered by position. ``n``/``seed``: default the first workbook's ``psa_iterations``/``psa_seed``.

    ``workers``: the executor's workers (for the automatic chunk size only); ``years``: the budget window (default: the
    workbooks' ``budget_years``); ``scale_to``: families referred a year nationally; ``progress(done, total)`` after each
    unit. Results do not depend on the executor, its workers or ``chunk_size``.
    """
    import time

    from .. import executors

    if not authorities:
        raise ValueError("no authorities to roll up")
    authorities = [a if isinstance(a, Authority) else Authority(authority_name(a), a) for a in authorities]
    n = int(authorities[0].inputs.settings["psa_iterations"] if n is None else n)
    seed = int(authorities[0].inputs.settings["psa_seed"] if seed is None else seed)
    if n < 1:
        raise ValueError("the number of iterations must be at least 1")
    check_names(authorities)
    years = common_years(authorities, years)
    executor = executor or executors.Serial()
    names = [a.name for a in authorities]
    chunk_size = int(chunk_size or auto_chunk_size(n, len(names), workers))
    units = plan_units(names, n, chunk_size)
    arrays = {m: np.empty((len(names), n)) for m in KEPT}
    regional = {m: np.zeros(n) for m in SUMMED}  # added to in unit order: the same sums whatever the chunking
    population = np.array([population_factor(a.inputs) for a in authorities])
    wall, cpu = time.perf_counter(), 0.0
    futures = [executor.submit(run_unit, authorities[a], seed, start, size, years) for a, start, size in units]
    for done, ((a, start, size), future) in enumerate(zip(units, futures), start=1):
        name, got_start, values, seconds = executors.result(executor, future)
        cpu += seconds
        assert name == names[a] and got_start == start, "a unit's result came back for another unit"
        for m in KEPT:
            arrays[m][a, start:start + size] = values[m]
        regional["net_benefit"][start:start + size] += population[a] * values["incremental_nmb"]
        regional["children_referred"][start:start + size] += values["children_referred"]
        if progress is not None:
            progress(done, len(units))
    seconds = time.perf_counter() - wall
    first = authorities[0].inputs
    spec_strategies = [str(s) for s in first.strategies["strategy"]]
    comparator = str(first.settings["comparator"])
    return RollupResult(
        names=names, files=[str(a.inputs.path) for a in authorities],
        referrals=np.array([float(a.inputs.settings["la_referrals_per_year"]) for a in authorities]),
        population=population, iterations=n, seed=seed, years=years, arrays=arrays, regional=regional,
        shared_z=shared_normals(seed, 0, n),
        strategy=next(s for s in spec_strategies if s != comparator), comparator=comparator, scale_to=scale_to,
        chunk_size=chunk_size, executor=executor_name,
        timings={"units_seconds": round(seconds, 4), "units_cpu_seconds": round(cpu, 4), "units": len(units)})
