"""Analyses on model outcomes: incremental results, dominance, CEAC, EVPI.

Everything here works on plain arrays ``(strategies, iterations)`` and knows nothing
about the model's states. Conventions: the effect is *placements avoided* (first
placements of the comparator minus the strategy's; more is better); per-child savings
are comparator cost minus strategy cost; net monetary benefit at a willingness to pay
``λ`` per placement avoided is ``NMB = −cost − λ × first placements`` per strategy, so
the incremental NMB against the comparator is ``λ × placements avoided + savings``.
"""
from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from ..engine.threads import choose_kernel

DOMINANT = "dominant (cheaper, fewer placements)"
DOMINATED = "dominated (costlier, no fewer placements)"
SAVES_MORE_PLACEMENTS = "cheaper but more placements"
NO_DIFFERENCE = "no difference"


def dominance_label(savings: float, placements_avoided: float, tol: float = 1e-12, strategy: str = "") -> str:
    """How to read cost per placement avoided for one comparison ("IFPP dominant", "dominated", "ratio", …)."""
    label = _dominance(savings, placements_avoided, tol)
    return f"{strategy} {label}" if strategy and label == DOMINANT else label


def _dominance(savings: float, placements_avoided: float, tol: float) -> str:
    if abs(placements_avoided) <= tol and abs(savings) <= tol:
        return NO_DIFFERENCE
    if placements_avoided > tol and savings >= -tol:
        return DOMINANT
    if placements_avoided <= tol and savings < -tol:
        return DOMINATED
    if placements_avoided < -tol and savings >= -tol:
        return SAVES_MORE_PLACEMENTS
    if abs(placements_avoided) <= tol:
        return DOMINANT if savings > 0 else DOMINATED
    return "ratio"


def cost_per_placement_avoided(savings: float, placements_avoided: float) -> float | None:
    """Incremental cost ÷ placements avoided, or None where the ratio is not meaningful."""
    return -savings / placements_avoided if dominance_label(savings, placements_avoided) == "ratio" else None


def incremental(outcomes: dict[str, np.ndarray], strategies: list[str], comparator: str, wtp: float) -> dict[str, dict[str, np.ndarray]]:
    """Per non-comparator strategy: savings, placements and care months avoided, NMB → arrays ``(N,)``."""
    c = strategies.index(comparator)
    out = {}
    for k, name in enumerate(strategies):
        if k == c:
            continue
        savings = outcomes["cost"][c] - outcomes["cost"][k]
        avoided = outcomes["first_placements"][c] - outcomes["first_placements"][k]
        out[name] = {
            "per_child_savings": savings,
            "per_family_savings": outcomes["cost_per_family"][c] - outcomes["cost_per_family"][k],
            "placements_avoided_per_child": avoided,
            "care_entries_avoided_per_child": outcomes["care_entries"][c] - outcomes["care_entries"][k],
            "care_months_avoided_per_child": outcomes["care_months"][c] - outcomes["care_months"][k],
            "incremental_nmb": wtp * avoided + savings,
        }
        if "first_placements_undiscounted" in outcomes:
            out[name]["placements_avoided_per_child_undiscounted"] = (
                outcomes["first_placements_undiscounted"][c] - outcomes["first_placements_undiscounted"][k])
            out[name]["programme_cost_per_child"] = outcomes["cost_intervention"][k] - outcomes["cost_intervention"][c]
    return out


def decision_ratios(savings: float, avoided_undiscounted: float, programme_cost: float, children_per_family: float,
                    cost_multiplier: float = 1.0) -> dict[str, float | None]:
    """What a commissioner asks even when a strategy dominates (per child inputs; counts undiscounted).

    ``programme_cost``: incremental programme cost per child (GBP, at referral). Returns programme cost and net
    saving per placement avoided, children and families referred per placement avoided, and the maximum
    affordable programme cost per family (savings + programme cost, per family, ÷ the cost multiplier): the
    break-even, found in closed form because savings fall one for one with the programme cost.
    """
    ok = avoided_undiscounted > 1e-12
    per = (lambda v: v / avoided_undiscounted) if ok else (lambda v: None)  # noqa: E731
    children = per(1.0)
    return {
        "programme_cost_per_placement_avoided": per(programme_cost),
        "net_saving_per_placement_avoided": per(savings),
        "children_referred_per_placement_avoided": children,
        "families_referred_per_placement_avoided": None if children is None else children / children_per_family,
        "max_affordable_cost_per_family": ((savings + programme_cost) * children_per_family / cost_multiplier
                                           if cost_multiplier > 0 else None),
    }


def net_benefit(outcomes: dict[str, np.ndarray], wtp: np.ndarray) -> np.ndarray:
    """NMB ``(W, K, N)`` for each willingness to pay ``wtp`` ``(W,)``."""
    wtp = np.asarray(wtp, dtype=float)
    return -outcomes["cost"][None] - wtp[:, None, None] * outcomes["first_placements"][None]


def frontier(costs: np.ndarray, placements: np.ndarray, strategies: list[str]) -> pd.DataFrame:
    """Incremental analysis with strong and extended dominance (effect = fewer placements).

    ``costs``, ``placements``: ``(K,)`` expected values. Returns one row per strategy with
    its status ("frontier", "dominated", "extendedly dominated") and, on the frontier,
    the incremental cost per placement avoided against the previous frontier strategy.
    """
    effect = -np.asarray(placements, dtype=float)
    costs = np.asarray(costs, dtype=float)
    order = sorted(range(len(costs)), key=lambda k: (costs[k], -effect[k]))
    status = {k: "frontier" for k in order}
    for k in order:  # strong dominance: another is no costlier and at least as effective
        for j in order:
            if j != k and costs[j] <= costs[k] and effect[j] >= effect[k] and (costs[j] < costs[k] or effect[j] > effect[k]):
                status[k] = "dominated"
                break
    changed = True
    while changed:  # extended dominance: ICERs must increase along the frontier
        changed = False
        live = [k for k in order if status[k] == "frontier"]
        for a, b, c in zip(live, live[1:], live[2:]):
            icer_ab = (costs[b] - costs[a]) / (effect[b] - effect[a])
            icer_bc = (costs[c] - costs[b]) / (effect[c] - effect[b])
            if icer_ab > icer_bc:
                status[b] = "extendedly dominated"
                changed = True
                break
    live = [k for k in order if status[k] == "frontier"]
    icer = {live[0]: np.nan}
    for a, b in zip(live, live[1:]):
        icer[b] = (costs[b] - costs[a]) / (effect[b] - effect[a])
    return pd.DataFrame(
        {
            "strategy": [strategies[k] for k in order],
            "expected_cost": costs[order],
            "expected_placements": -effect[order],
            "status": [status[k] for k in order],
            "icer_per_placement_avoided": [icer.get(k, np.nan) for k in order],
        }
    )


class PSAAccumulator:
    """Streams chunks of PSA outcomes into exact summaries whose memory does not grow with N.

    Keeps running sums for means, counts for the CEAC / cost-saving probability and the
    expected maximum NMB for EVPI. Per-iteration headline results for intervals, the CE
    plane and convergence are kept by the caller (8 bytes per value per iteration).
    """

    def __init__(self, strategies: list[str], comparator: str, wtp: np.ndarray):
        self.strategies, self.comparator = strategies, comparator
        self.wtp = np.asarray(wtp, dtype=float)
        k = len(strategies)
        self.n = 0
        self.nmb_sum = np.zeros((len(self.wtp), k))
        self.best_counts = np.zeros((len(self.wtp), k))
        self.max_nmb_sum = np.zeros(len(self.wtp))

    def add(self, outcomes: dict[str, np.ndarray]) -> None:
        """Add a block of iterations (outcomes ``(K, n)``)."""
        self._merge(self.block_sums(outcomes))

    def add_blocks(self, blocks: list[dict[str, np.ndarray]], then: Sequence[tuple] = ()) -> None:
        """Add several blocks, their sums computed side by side in threads (numpy releases the GIL) and
        added in order: exactly the sums of :meth:`add` called block by block. ``then``: sums of later blocks
        already made by :meth:`block_sums`, added after them in order."""
        from ..engine.threads import workers

        threads = min(workers(), len(blocks))
        if threads <= 1:
            sums = [self.block_sums(b) for b in blocks]
        else:
            with ThreadPoolExecutor(threads) as pool:
                sums = list(pool.map(self.block_sums, blocks))
        for block in [*sums, *then]:
            self._merge(block)

    def block_sums(self, outcomes: dict[str, np.ndarray]) -> tuple:
        """Counts and sums of one block, one willingness to pay at a time (temporaries ``(K, n)``, not ``(W, K, n)``);
        compiled when the kernel is numba (:mod:`ifpp_econ.engine._net_benefit`: the same numbers, ≈ 6× faster)."""
        cost, placements = outcomes["cost"], outcomes["first_placements"]
        counts, nmb_sum, max_sum = np.zeros_like(self.best_counts), np.zeros_like(self.nmb_sum), np.zeros_like(self.max_nmb_sum)
        if choose_kernel() == "numba":
            from ..engine._net_benefit import net_benefit_sums

            cost, placements = (np.ascontiguousarray(a, dtype=float) for a in (cost, placements))
            net_benefit_sums(cost, placements, self.wtp, counts, nmb_sum, max_sum, np.empty(cost.shape),
                             np.empty(cost.shape[1]))
            return counts, nmb_sum, max_sum, cost.shape[1]
        for w, wtp in enumerate(self.wtp):
            nmb = -cost - wtp * placements  # (K, n), as net_benefit
            best = nmb.argmax(axis=0)
            for k in range(len(self.strategies)):
                counts[w, k] = np.count_nonzero(best == k)
            nmb_sum[w] = nmb.sum(axis=1)
            max_sum[w] = nmb.max(axis=0).sum()
        return counts, nmb_sum, max_sum, cost.shape[1]

    def _merge(self, sums: tuple) -> None:
        counts, nmb_sum, max_sum, n = sums
        self.best_counts += counts
        self.nmb_sum += nmb_sum
        self.max_nmb_sum += max_sum
        self.n += n

    def ceac(self) -> pd.DataFrame:
        """Probability each strategy has the highest NMB at each λ ("probability most cost-effective")."""
        df = pd.DataFrame(self.best_counts / self.n, columns=self.strategies)
        df.insert(0, "wtp", self.wtp)
        expected = self.nmb_sum / self.n
        df["optimal_strategy"] = [self.strategies[i] for i in expected.argmax(axis=1)]
        df["frontier_probability"] = (self.best_counts / self.n)[np.arange(len(self.wtp)), expected.argmax(axis=1)]
        return df

    def evpi(self) -> pd.DataFrame:
        """Expected value of perfect information per child: E[max NMB] − max E[NMB]."""
        value = self.max_nmb_sum / self.n - (self.nmb_sum / self.n).max(axis=1)
        return pd.DataFrame({"wtp": self.wtp, "evpi_per_child": np.maximum(value, 0.0)})


TAIL_MIN = 50_000  # samples at least this long find their tail quantiles from the tails (see tail_quantiles)
TAIL_STRIDE = 64  # the subsample that places the tails' thresholds: every 64th value


def tail_quantiles(samples: np.ndarray, qs) -> list[float]:
    """``np.quantile(samples, qs)`` (linear interpolation) of a 1-D float sample, the same numbers to the bit, for
    quantiles in the tails: only the values beyond a threshold are partitioned, not the whole sample (≈ 6× faster at
    half a million values). The thresholds come from every :data:`TAIL_STRIDE` th value, with a margin; when a
    threshold leaves too few values (or the sample is short, or holds NaN) numpy does it all."""
    x = np.asarray(samples, dtype=float)
    n = len(x)
    qs = [float(q) for q in qs]
    if n < TAIL_MIN or not all(0.0 <= q <= 0.1 or 0.9 <= q <= 1.0 for q in qs) or np.isnan(x).any():
        return [float(v) for v in np.quantile(x, qs)]
    sub = x[::TAIL_STRIDE]
    out = []
    for q in qs:
        virtual = (n - 1) * q  # numpy's linear method: order statistics floor(v) and floor(v) + 1, weight v − floor(v)
        first = int(np.floor(virtual))
        second = min(first + 1, n - 1)
        gamma = virtual - np.floor(virtual)
        low = q <= 0.5
        need = second + 1 if low else n - first  # values that the kept tail must hold
        j = min(len(sub) - 1, int(need / TAIL_STRIDE + 4 * np.sqrt(need / TAIL_STRIDE) + 8))
        threshold = np.partition(sub, j)[j] if low else np.partition(sub, len(sub) - 1 - j)[len(sub) - 1 - j]
        tail = x[x <= threshold] if low else x[x >= threshold]
        if len(tail) < need:
            return [float(v) for v in np.quantile(x, qs)]
        offset = 0 if low else n - len(tail)  # the tail's first value is the sample's order statistic `offset`
        part = np.partition(tail, [first - offset, second - offset])
        a, b = part[first - offset], part[second - offset]
        diff = b - a
        out.append(float(b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma))  # numpy's _lerp
    return out


def summarise(samples: np.ndarray, level: float = 0.95, mean: float | None = None) -> dict[str, float]:
    """Mean and central interval of a 1-D sample (``mean``: the mean when known from more iterations than the
    sample holds, e.g. a PSA's running sums)."""
    lo, hi = tail_quantiles(samples, [(1 - level) / 2, 1 - (1 - level) / 2])
    return {"mean": float(np.mean(samples) if mean is None else mean), "lower": float(lo), "upper": float(hi)}


def quantile_se(samples: np.ndarray, q: float) -> float:
    """Monte Carlo standard error of the ``q`` quantile of a 1-D sample (distribution-free, from the order
    statistics: the quantiles at ``q ± 1.96·√(q(1 − q)/n)`` bound a 95% interval, whose half-width ÷ 1.96 is the SE)."""
    n = len(samples)
    half = 1.959963984540054 * np.sqrt(q * (1.0 - q) / n)
    lo, hi = tail_quantiles(samples, [max(q - half, 0.0), min(q + half, 1.0)])
    return float((hi - lo) / (2 * 1.959963984540054))


def summarise_many(samples: dict, level: float = 0.95, finite_only: bool = False, means: dict | None = None) -> dict:
    """:func:`summarise` of every 1-D sample in ``samples`` (key → array), threads side by side; ``means``: key →
    the mean to report instead of the sample's (known from running sums over more iterations).

    Selecting the quantiles of a million values takes ~20 ms and numpy releases the GIL while it
    does, so the many summaries of a large PSA use every worker; each result is exactly the serial one.
    ``finite_only``: summarise each sample's finite values, leaving out samples with none (filtered
    one sample at a time, so no second copy of every sample is held). A sample may be given as a
    function returning it, so that derived samples are made one at a time too.
    """
    from ..engine.threads import workers

    def one(key):
        v = samples[key]() if callable(samples[key]) else samples[key]
        if finite_only:
            v = v[np.isfinite(v)]
            if not len(v):
                return None
        return summarise(v, level, None if means is None else means.get(key))

    keys = list(samples)
    threads = min(workers(), len(keys))
    if threads <= 1 or sum(1_000_000 if callable(samples[k]) else np.size(samples[k]) for k in keys) < 200_000:
        results = [one(k) for k in keys]
    else:
        with ThreadPoolExecutor(threads) as pool:
            results = list(pool.map(one, keys))
    return {k: r for k, r in zip(keys, results) if r is not None}
