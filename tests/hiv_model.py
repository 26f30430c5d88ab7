"""The published HIV model (Chancellor 1997; Briggs et al. 2006 Ex. 2.5): data and a runner shared by the engine,
kernel and PSA tests (a support module, not a test file)."""
import numpy as np
import pandas as pd

from ifpp_econ.engine import Conventions, Reward, simulate

COUNTS = np.array([
    [1251, 350, 116, 17],
    [0, 731, 512, 15],
    [0, 0, 1312, 437],
    [0, 0, 0, 1],
], dtype=float)
STATE_COSTS = np.array([2756.0, 3052.0, 9007.0, 0.0])
ZIDOVUDINE, LAMIVUDINE = 2278.0, 2086.50
N_CYCLES = 20
# Values for year t use the state distribution after t transitions; year t discounted by 1.06^-t.
HIV_CONVENTIONS = Conventions(counting="end", cycle_years=1.0)


def mono_matrix() -> np.ndarray:
    return COUNTS / COUNTS.sum(axis=1, keepdims=True)


def combination_matrix(mono: np.ndarray, rr: float) -> np.ndarray:
    combo = mono * rr
    np.fill_diagonal(combo, 0.0)
    combo[np.arange(4), np.arange(4)] = 1.0 - combo.sum(axis=1)
    return combo


def hiv_inputs(rr=0.509, mono=None):
    """(transitions (2, T, 4, 4), cost values (2, T+1, 4)) for monotherapy and combination."""
    mono = mono_matrix() if mono is None else mono
    combo = combination_matrix(mono, rr)
    p = np.empty((2, N_CYCLES, 4, 4))
    p[0] = mono
    p[1] = mono
    p[1, :2] = combo
    alive = np.array([1.0, 1.0, 1.0, 0.0])
    costs = np.broadcast_to(STATE_COSTS + ZIDOVUDINE * alive, (2, N_CYCLES + 1, 4)).copy()
    costs[1, 1:3] += LAMIVUDINE * alive  # years 1 and 2 = trace rows 1 and 2
    return p, costs


def run_hiv(**kw):
    p, costs = hiv_inputs(**kw)
    rewards = {
        "cost": Reward(state_values=costs, discount_rate=0.06, varies_by_cycle=True),
        "life_years": Reward(state_values=np.array([1.0, 1.0, 1.0, 0.0]), discount_rate=0.0),
    }
    return simulate(np.array([1.0, 0, 0, 0]), p, N_CYCLES, rewards, HIV_CONVENTIONS, time_varying=True)


def psa_parameters() -> pd.DataFrame:
    """The PSA's parameter table (Briggs Exercise 4.7): Dirichlet rows of the transition counts, lognormal RR
    (log-SD from the 95% CI 0.365–0.710), gamma state costs with SD = mean; drug costs fixed."""
    rows = []
    for i, frm in enumerate("ABC"):
        for j, to in enumerate("ABCD"):
            if COUNTS[i, j] > 0:
                rows.append({"name": f"p_{frm}{to}", "value": COUNTS[i, j] / COUNTS[i].sum(), "distribution": "dirichlet",
                             "param_a": COUNTS[i].sum(), "param_b": np.nan, "group": frm})
    rows.append({"name": "rr", "value": 0.509, "distribution": "lognormal_log", "param_a": np.log(0.509),
                 "param_b": (np.log(0.710) - np.log(0.365)) / 3.92, "group": ""})
    for s, cost in zip("ABC", STATE_COSTS[:3]):
        rows.append({"name": f"c_{s}", "value": cost, "distribution": "gamma_mean_se", "param_a": cost,
                     "param_b": np.nan, "group": ""})
    return pd.DataFrame(rows).set_index("name")


def psa_matrices(draws: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per PSA draw, the monotherapy and combination transition matrices ``(n, 4, 4)`` (the combination's moves
    are monotherapy's × the drawn RR, its diagonal what is left: 1 − the row's moves, added in column order)."""
    n = len(draws)
    column = dict(zip(draws.columns, draws.to_numpy().T))  # the draws' columns as arrays (views), without pandas per look-up
    rr = column["rr"]
    zero, one = np.zeros(n), np.ones(n)
    mono, combo = [], []  # the 16 entries, row by row, each (n,)
    for i, frm in enumerate("ABCD"):
        row = [column.get(f"p_{frm}{to}", zero) for to in "ABCD"]
        if frm == "D":
            row[3] = one
        moves = [zero if j == i else p * rr for j, p in enumerate(row)]
        moved = moves[0] + moves[1] + moves[2] + moves[3]
        moves[i] = 1.0 - moved
        mono += row
        combo += moves
    # built entry-major (16, n), returned as (n, 4, 4) views: the caller's copy into its own layout transposes once
    # (writing columns into an (n, 4, 4) array costs ~4 ns an entry)
    return np.array(mono).T.reshape(n, 4, 4), np.array(combo).T.reshape(n, 4, 4)
