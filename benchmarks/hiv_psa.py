"""The Briggs Exercise 4.7 HIV PSA (Chancellor 1997) written for the engine's fast options.

Dirichlet rows of transition counts, lognormal RR (log-SD 0.16984), gamma state costs
(SD = mean), drug costs fixed (see /work/shared/docs/validation-cases.md). The time
variation (combination therapy for the first two years) is two distinct matrices and a
``cycle_index``; lamivudine is costed as 2,086.50 a year on the alive states for the first
two cycles (``total("alive", horizon=2)``), which is the published model's cost exactly.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ifpp_econ.analyses.sampling import Sampler
from ifpp_econ.engine import Conventions, Reward, cycle_weights, simulate

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from hiv_model import LAMIVUDINE, N_CYCLES, ZIDOVUDINE, psa_matrices, psa_parameters  # noqa: E402  (the tests' HIV model data)

CONVENTIONS = Conventions(counting="end", cycle_years=1.0)
ALIVE = np.array([1.0, 1.0, 1.0, 0.0])
CYCLE_INDEX = np.r_[0, 0, np.ones(N_CYCLES - 2, dtype=np.int64)]  # combination effect in cycles 1–2


_SAMPLER = None


def hiv_psa_inputs(n: int, seed: int, start: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(transitions ``(2, n, 2, 4, 4)``: per strategy and sample the cycle-1–2 and later matrices, held with the batch
    axes last so that the compiled loop reads them in place; state costs ``(1, n, 4)``)."""
    global _SAMPLER
    _SAMPLER = _SAMPLER or Sampler(psa_parameters())
    d = _SAMPLER.sample(n, seed, start)
    mono, combo = (np.moveaxis(m, 0, -1) for m in psa_matrices(d))  # (4, 4, n) views of the entries drawn
    q = np.empty((2, 4, 4, 2, n))  # (matrix, from, to, strategy, sample): every entry contiguous over the samples
    q[0, :, :, 0] = q[1, :, :, 0] = q[1, :, :, 1] = mono
    q[0, :, :, 1] = combo
    costs = np.stack([d[name].to_numpy() for name in ("c_A", "c_B", "c_C")] + [np.zeros(n)], -1) + ZIDOVUDINE * ALIVE
    return np.moveaxis(q, (3, 4), (0, 1)), costs[None]


def hiv_psa_run(p: np.ndarray, costs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Incremental cost and half-cycle life-years ``(n,)`` (combination − monotherapy; strategies on the first axis)."""
    rewards = {"cost": Reward(state_values=costs, discount_rate=0.06),
               "alive": Reward(state_values=ALIVE, discount_rate=0.06)}
    res = simulate(np.array([1.0, 0, 0, 0]), p, N_CYCLES, rewards, CONVENTIONS, cycle_index=CYCLE_INDEX,
                   check=False, keep_trace=False)
    cost = res.total("cost") + np.array([[0.0], [LAMIVUDINE]]) * res.total("alive", 2)
    # half-cycle life-years from the same (undiscounted) row values; einsum reads the engine's rows-first views in place
    life_years = np.einsum("...r,r->...", res.row_values["alive"], cycle_weights(N_CYCLES, "half-cycle"))
    return cost[1] - cost[0], life_years[1] - life_years[0]


if __name__ == "__main__":
    d_cost, d_ly = hiv_psa_run(*hiv_psa_inputs(100_000, seed=1))
    print(f"mean incremental cost {d_cost.mean():,.0f} (published ≈ 5,835), life-years {d_ly.mean():.3f} (≈ 0.925)")
