"""Matplotlib charts (returned as figures; :class:`~ifpp_econ.runs.RunFolder` saves PNG and SVG)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

LITERAL_TEXT = {"text.parse_math": False}  # text from the workbook (strategy names, labels) is never mathtext


def literal_text(chart):
    """Draw ``chart`` with mathtext off, and keep it off for every text of the figure, so a
    strategy named ``$x^$`` or ``\\notacommand`` is drawn as typed."""
    import functools

    from matplotlib.text import Text

    @functools.wraps(chart)
    def draw(*args, **kwargs):
        with plt.rc_context(LITERAL_TEXT):
            fig = chart(*args, **kwargs)
        for text in fig.findobj(Text):
            text.set_parse_math(False)
        return fig

    return draw


def _gbp_tick(v: float, _=None) -> str:
    """Compact currency ticks: £950, £25k, £1.2m (a minus sign for negatives; never '-£0')."""
    a = abs(v)
    text = (f"£{a / 1e6:,.3g}m" if a >= 1e6 else f"£{a / 1e3:,.3g}k" if a >= 1e4
            else f"£{a:,.2f}" if a < 10 and a != int(a) else f"£{a:,.0f}")
    return "-" + text if v < 0 and text not in ("£0",) else text


GBP = FuncFormatter(_gbp_tick)
PCT = FuncFormatter(lambda v, _: f"{v:.0%}")
GROUP_LABELS = {"at_home": "At home (never placed)", "in_care": "In care", "returned_home": "Returned home",
                "left_care": "Left care (other permanence)"}


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _finish(fig, ax, title: str, xlabel: str, ylabel: str, xfmt=None, yfmt=None, legend: bool = True) -> plt.Figure:
    """Shared axis labels, formats, legend, grid and layout."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if xfmt is not None:
        ax.xaxis.set_major_formatter(xfmt)
    if yfmt is not None:
        ax.yaxis.set_major_formatter(yfmt)
    ax.set_title(title, fontsize=10)
    if legend:
        ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


@literal_text
def trace_chart(trace: pd.DataFrame, conventions: str = "") -> plt.Figure:
    """State occupancy over time (months since referral), one panel per state group, a line per strategy."""
    groups = [g for g in GROUP_LABELS if g in trace.columns]
    fig, axes = plt.subplots(1, len(groups), figsize=(3.6 * len(groups), 3.4), sharex=True)
    for ax, g in zip(np.atleast_1d(axes), groups):
        for name, df in trace.groupby("strategy", sort=False):
            ax.plot(df["month"] / 12, df[g], label=name)
        ax.set_title(GROUP_LABELS[g], fontsize=10)
        ax.set_xlabel("Years since referral")
        ax.yaxis.set_major_formatter(PCT)
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[0].set_ylabel("Share of children")
    np.atleast_1d(axes)[0].legend(fontsize=8)
    fig.suptitle("Cohort trace by strategy", fontsize=11)
    if conventions:
        fig.text(0.01, -0.04, conventions, fontsize=6, wrap=True)
    fig.tight_layout()
    return fig


@literal_text
def ce_plane(placements_avoided: np.ndarray, incremental_cost: np.ndarray, wtp: float, strategy: str, comparator: str,
             max_points: int = 5000) -> plt.Figure:
    """Incremental cost against placements avoided per child, with the mean and a λ line."""
    fig, ax = plt.subplots(figsize=(6.2, 4.6))
    n = len(placements_avoided)
    idx = np.linspace(0, n - 1, min(n, max_points)).astype(int)
    ax.scatter(placements_avoided[idx], incremental_cost[idx], s=4, alpha=0.35, color="#1f77b4", label="PSA iterations")
    ax.scatter([placements_avoided.mean()], [incremental_cost.mean()], color="#d62728", s=40, zorder=3, label="Mean")
    lim = np.nanmax(np.abs(placements_avoided)) * 1.1 or 1.0
    xs = np.linspace(-lim, lim, 2)
    ax.plot(xs, wtp * xs, color="grey", ls="--", label=f"λ = £{wtp:,.0f} per placement avoided")
    ax.axhline(0, color="black", lw=0.7)
    ax.axvline(0, color="black", lw=0.7)
    return _finish(fig, ax, f"Cost-effectiveness plane: {strategy} vs {comparator}", "Placements avoided per child",
                   "Incremental cost per child", yfmt=GBP)


@literal_text
def ceac_chart(ceac: pd.DataFrame, strategies: list[str]) -> plt.Figure:
    """Probability each strategy is most cost-effective over λ, with the frontier marked."""
    fig, ax = plt.subplots(figsize=(6.2, 4.2))
    for name in strategies:
        ax.plot(ceac["wtp"], ceac[name], label=name)
    if len(strategies) > 2:
        ax.plot(ceac["wtp"], ceac["frontier_probability"], color="black", lw=2.5, alpha=0.35, label="Frontier (optimal strategy)")
    ax.set_ylim(-0.02, 1.02)
    return _finish(fig, ax, "Cost-effectiveness acceptability curve", "Willingness to pay per placement avoided",
                   "Probability most cost-effective", GBP, PCT)


@literal_text
def evpi_chart(evpi: pd.DataFrame) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(6.2, 4.0))
    ax.plot(evpi["wtp"], evpi["evpi_per_child"], color="#2ca02c", label="Per child (left axis)")
    if not (evpi["evpi_per_child"] > 0).any():
        ax.set_ylim(0, 1)
        ax.text(0.5, 0.5, "EVPI is zero: the same strategy is best in every iteration", transform=ax.transAxes,
                ha="center", fontsize=9)
    if "evpi_population" in evpi.columns:
        population = ax.twinx()
        population.plot(evpi["wtp"], evpi["evpi_population"], color="#2ca02c", ls="--", alpha=0.6)
        population.set_ylim(0, max(evpi["evpi_population"].max(), 1) * 1.05)
        population.set_ylabel(f"EVPI for the LA's population ({evpi['population_basis'].iloc[0]})", fontsize=7)
        population.yaxis.set_major_formatter(GBP)
        ax.plot([], [], color="#2ca02c", ls="--", alpha=0.6, label="LA population (right axis)")
    return _finish(fig, ax, "Expected value of perfect information", "Willingness to pay per placement avoided",
                   "EVPI per child", GBP, GBP)


@literal_text
def convergence_chart(savings: np.ndarray, max_points: int = 2000) -> plt.Figure:
    """Running mean and running 95% interval of per-child savings against iterations."""
    n = len(savings)
    points = np.unique(np.geomspace(10, n, min(max_points, n)).astype(int)) if n >= 10 else np.arange(1, n + 1)
    csum = np.cumsum(savings)
    mean = csum[points - 1] / points
    qp = np.unique(np.geomspace(10, n, 60).astype(int)) if n >= 10 else points  # running interval at 60 points
    lower, upper = np.array([np.quantile(savings[:p], [0.025, 0.975]) for p in qp]).T
    fig, ax = plt.subplots(figsize=(6.2, 4.0))
    ax.plot(points, mean, label="Running mean")
    ax.fill_between(qp, lower, upper, alpha=0.2, label="Running 95% interval")
    ax.set_xscale("log")
    return _finish(fig, ax, "Convergence of the PSA", "Iterations", "Per-child savings", yfmt=GBP)


@literal_text
def tornado_chart(table: pd.DataFrame, base: float, outcome_label: str, top: int = 15) -> plt.Figure:
    """Horizontal bars from the outcome at each parameter's low to its high value, sorted by swing.

    Bars are drawn between the two outcomes (so a bar crossing zero is shown as it is);
    the base case is a vertical line; the low/high parameter values label each bar end;
    parameters beyond ``top`` are summarised in one line.
    """
    shown = table.head(top).iloc[::-1]
    rest = table.iloc[top:]
    fig, ax = plt.subplots(figsize=(8.5, 0.42 * len(shown) + 1.8))
    for i, (_, r) in enumerate(shown.iterrows()):
        lo_out, hi_out = r["outcome_low"], r["outcome_high"]
        ax.barh(i, hi_out - base, left=base, color="#1f77b4", alpha=0.85, label="High value" if i == 0 else None)
        ax.barh(i, lo_out - base, left=base, color="#ff7f0e", alpha=0.85, label="Low value" if i == 0 else None)
        for value, out in ((r["low"], lo_out), (r["high"], hi_out)):
            ax.annotate(f"{value:,.4g}", (out, i), xytext=(3 if out >= base else -3, 0), textcoords="offset points",
                        ha="left" if out >= base else "right", va="center", fontsize=7)
    ax.set_yticks(range(len(shown)))
    ax.set_yticklabels([_short(str(r["label"]), 62) for _, r in shown.iterrows()], fontsize=8)
    ax.axvline(base, color="black", lw=1, label=f"Base case {base:,.0f}")
    ax.axvline(0, color="grey", lw=0.6, ls=":")
    if "GBP" in outcome_label:
        ax.xaxis.set_major_formatter(GBP)
    ax.set_xlabel(outcome_label)
    title = "One-way sensitivity analysis (tornado)"
    if len(rest):
        title += f"\n{len(rest)} more parameters, each with a swing ≤ {rest['swing'].max():,.4g}"
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    ax.margins(x=0.15)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


@literal_text
def two_way_chart(grid: pd.DataFrame, x: str, y: str, outcome: str, outcome_label: str) -> plt.Figure:
    """Heatmap of the outcome over two parameters with the zero (break-even) contour."""
    xs, ys = np.unique(grid[x]), np.unique(grid[y])
    z = grid.set_index([x, y])[outcome].unstack().loc[xs, ys].to_numpy().T
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    mesh = ax.pcolormesh(xs, ys, z, shading="nearest", cmap="RdYlGn")
    cbar = fig.colorbar(mesh, ax=ax)
    cbar.set_label(outcome_label)
    if np.nanmin(z) < 0 < np.nanmax(z):
        cs = ax.contour(xs, ys, z, levels=[0.0], colors="black", linewidths=1.5)
        ax.clabel(cs, fmt={0.0: "break-even"}, fontsize=8)
        note = "black line: break-even"
    else:
        note = "no break-even within this grid (" + ("always positive" if np.nanmin(z) >= 0 else "always negative") + ")"
    ax.text(0.01, -0.16, note, transform=ax.transAxes, fontsize=8)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(f"Two-way sensitivity: {outcome_label}", fontsize=10)
    fig.tight_layout()
    return fig


@literal_text
def evppi_chart(table: pd.DataFrame, wtp: float, top: int = 20) -> plt.Figure:
    """Ranked EVPPI per child (parameters and groups) at one willingness to pay."""
    shown = table.head(top).iloc[::-1]
    fig, ax = plt.subplots(figsize=(7.5, 0.35 * len(shown) + 1.6))
    colours = ["#9467bd" if str(p).startswith("group:") else "#1f77b4" for p in shown["parameter"]]
    ax.barh(range(len(shown)), shown["evppi_per_child"], color=colours)
    ax.set_yticks(range(len(shown)))
    ax.set_yticklabels([str(p)[:45] for p in shown["parameter"]], fontsize=8)
    if len(table):
        ax.axvline(table["evpi_per_child"].iloc[0], color="black", ls="--", lw=1, label="EVPI (all parameters)")
        ax.legend(fontsize=8, loc="lower right")
    ax.xaxis.set_major_formatter(GBP)
    ax.set_xlabel(f"EVPPI per child at £{wtp:,.0f} per placement avoided")
    ax.set_title("Expected value of partial perfect information", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


@literal_text
def budget_chart(table: pd.DataFrame, strategy: str, comparator: str) -> plt.Figure:
    """Stacked bars by year: programme spend (negative) and costs avoided by category, net line."""
    fig, ax = plt.subplots(figsize=(7.0, 4.4))
    years = table["year"].to_numpy()
    pos = np.zeros(len(years))
    neg = np.zeros(len(years))
    for col in [c for c in table.columns if c.endswith(f": {strategy}")]:
        label = col.split(":")[0]
        diff = table[f"{label}: {comparator}"].to_numpy() - table[col].to_numpy()  # saving (+) or spend (-)
        if np.allclose(diff, 0):
            continue
        base = np.where(diff >= 0, pos, neg)
        ax.bar(years, diff, bottom=base, label=label if label != "IFPP programme spend" else f"{strategy} programme spend")
        pos += np.where(diff >= 0, diff, 0)
        neg += np.where(diff < 0, diff, 0)
    ax.plot(years, table["net_saving"], color="black", marker="o", label="Net saving")
    ax.plot(years, table["cumulative_net_saving"], color="black", ls="--", marker="s", label="Cumulative net saving")
    ax.axhline(0, color="grey", lw=0.7)
    ax.set_xticks(years)
    ax.set_xticklabels([f"Year {y}" for y in years])
    ax.yaxis.set_major_formatter(GBP)
    ax.set_ylabel("Undiscounted cash (saving +, spend −)")
    ax.set_title(f"Budget impact: {strategy} vs {comparator}", fontsize=10)
    ax.legend(fontsize=7, loc="best")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig
