"""Matplotlib charts (returned as figures; :class:`~ifpp_econ.runs.RunFolder` saves PNG and SVG).

Every chart: £ and % on money and share axes, the Unicode minus (−) for negatives in
ticks and labels, labels wrapped (never cut), the Okabe–Ito colour-blind-safe palette,
and no mathtext (workbook text such as "$5,000" is drawn as typed). SVG element ids are
derived from a fixed salt, so the same chart gives the same SVG bytes.
"""
from __future__ import annotations

import functools
import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from cycler import cycler
from matplotlib.colors import Normalize, TwoSlopeNorm
from matplotlib.ticker import FuncFormatter

from ..analyses.comparison import tail_quantiles
from . import presentation

# Okabe & Ito (2008): distinguishable with every common colour-vision deficiency.
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
BLUE, ORANGE, GREEN, PINK, SKY, VERMILION = OKABE_ITO[:6]
STYLE = {
    "svg.hashsalt": "ifpp-econ",  # deterministic clip-path and glyph ids
    "svg.fonttype": "none",  # SVG text as text: selectable, editable in a board paper, and cheap to write
    "figure.dpi": 150,  # the PNG resolution: laying out and drawing measure text once, at the size saved
    "text.parse_math": False,  # "$" in workbook text is a dollar sign, never mathtext
    "axes.unicode_minus": True,
    "axes.prop_cycle": cycler(color=OKABE_ITO),
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
}


def style():
    """The charts' style as a context (``with style(): fig.savefig(...)``): drawing and saving use it, and the
    caller's matplotlib settings (backend included) are left alone."""
    return plt.rc_context(STYLE)


def styled(func):
    """Run a chart function inside :func:`style`."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with style():
            return func(*args, **kwargs)
    return wrapper

MINUS = presentation.MINUS
LAMBDA_NOTE = "λ = willingness to pay per placement avoided"


def _gbp_tick(v: float, _=None) -> str:
    """Compact currency ticks: £950, £2.5k, £1.2m, −£3k (never "−£0")."""
    a = abs(v)
    text = (f"£{a / 1e6:,.3g}m" if a >= 1e6 else f"£{a / 1e3:,.3g}k" if a >= 1e3
            else f"£{a:,.2f}" if a < 10 and a != int(a) else f"£{a:,.0f}")
    return MINUS + text if v < 0 and text.strip("£0.km") else text


GBP = FuncFormatter(_gbp_tick)
PCT = FuncFormatter(lambda v, _: f"{v:.0%}".replace("-", MINUS))
GROUP_LABELS = {"at_home": "At home (never placed)", "in_care": "In care", "returned_home": "Returned home",
                "left_care": "Left care (other permanence)"}


def wrap(text: str, width: int) -> str:
    """Wrap a label onto lines of at most ``width`` characters (never cut)."""
    return "\n".join(textwrap.wrap(str(text), width, break_long_words=False)) or str(text)


def _finish(fig, ax, title: str, xlabel: str, ylabel: str, xfmt=None, yfmt=None, legend: bool = True) -> plt.Figure:
    """Shared axis labels, formats, legend, grid and layout."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if xfmt is not None:
        ax.xaxis.set_major_formatter(xfmt)
    if yfmt is not None:
        ax.yaxis.set_major_formatter(yfmt)
    ax.set_title(title)
    if legend:
        ax.legend(loc="best")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


@styled
def trace_chart(trace: pd.DataFrame, conventions: str = "") -> plt.Figure:
    """State occupancy over time (months since referral), one panel per state group, a line per strategy."""
    groups = [g for g in GROUP_LABELS if g in trace.columns]
    note = wrap("Conventions: " + conventions, 150) if conventions else ""
    below = (note.count("\n") + 1) * 6.5 * 1.25 / 72 + 0.08 if note else 0.0  # inches under the legend for the note
    height = 3.2 + below
    fig, axes = plt.subplots(1, len(groups), figsize=(2.6 * len(groups), height), sharex=True, sharey=True)
    for ax, g in zip(np.atleast_1d(axes), groups):
        for name, df in trace.groupby("strategy", sort=False):
            ax.plot(df["month"] / 12, df[g], label=name, lw=1.8)
        ax.set_title(wrap(GROUP_LABELS[g], 22))
        ax.set_xlabel("Years since referral")
        ax.yaxis.set_major_formatter(PCT)
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[0].set_ylabel("Share of children")
    handles, names = np.atleast_1d(axes)[0].get_legend_handles_labels()
    fig.suptitle("Cohort trace by strategy", fontsize=11)
    fig.legend(handles, names, loc="lower center", ncol=len(names), bbox_to_anchor=(0.5, (below - 0.03) / height),
               frameon=False)
    fig.tight_layout(rect=(0, (below + 0.19) / height, 1, 1))
    if note:  # inside the figure, so the drawing is never cut or redrawn to fit
        fig.text(0.01, 0.02 / height, note, fontsize=6.5, va="bottom")
    return fig


def _padded(lo: float, hi: float, pad: float = 0.06) -> tuple[float, float]:
    span = (hi - lo) or max(abs(hi), 1e-9)
    return lo - pad * span, hi + pad * span


@styled
def ce_plane(placements_avoided: np.ndarray, incremental_cost: np.ndarray, wtp: float, strategy: str, comparator: str,
             max_points: int = 5000, mean: tuple[float, float] | None = None) -> plt.Figure:
    """Incremental cost per child against placements avoided per child (axes fitted to the data, origin shown).

    ``mean``: the mean of all iterations when the arrays are already a subsample (:func:`ifpp_econ.outputs.ce_plane_sample`)."""
    fig, ax = plt.subplots(figsize=(8.2, 4.6))
    n = len(placements_avoided)
    idx = np.linspace(0, n - 1, min(n, max_points)).astype(int)
    x, y = placements_avoided[idx], incremental_cost[idx]
    ax.scatter(x, y, s=4, alpha=0.35, color=BLUE, label=f"PSA iterations ({len(idx):,} shown)", rasterized=False)
    mx, my = (placements_avoided.mean(), incremental_cost.mean()) if mean is None else mean
    ax.scatter([mx], [my], color=VERMILION, s=45, zorder=3,
               edgecolor="white", label="Mean")
    xlim = _padded(min(0.0, np.nanmin(x)), max(0.0, np.nanmax(x)))
    ylim = _padded(min(0.0, np.nanmin(y)), max(0.0, np.nanmax(y)))
    xs = np.linspace(*xlim, 2)
    ax.plot(xs, wtp * xs, color="grey", ls="--",
            label=f"λ = £{wtp:,.0f} per placement avoided\n(below the line: cost-effective at λ)")
    ax.axhline(0, color="black", lw=0.7)
    ax.axvline(0, color="black", lw=0.7)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.text(0.99, 0.01, f"below 0: {strategy} saves money", transform=ax.transAxes, ha="right", va="bottom", fontsize=7,
            color="#555555")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: presentation.number(v, 2)))
    _finish(fig, ax, wrap(f"Cost-effectiveness plane: {strategy} vs {comparator}", 70),
            "Placements avoided per child", "Incremental cost per child", yfmt=GBP, legend=False)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig


@styled
def warm_up() -> plt.Figure:
    """A small chart with every kind of text the charts use (title, labels, £ and % ticks, legend, a bar label);
    drawn once by a chart worker before the run's charts, so that loading fonts is not charged to them."""
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], [0, 1], label="λ −£1k")
    ax.barh([0.5], [0.5], color=ORANGE)
    ax.text(0.5, 0.5, "0.5", fontsize=6.5)
    fig.suptitle("warm-up", fontsize=11)
    return _finish(fig, ax, "Warm-up", "x", "y", GBP, PCT)


@styled
def ceac_chart(ceac: pd.DataFrame, strategies: list[str]) -> plt.Figure:
    """Probability each strategy is most cost-effective over λ, with the frontier marked."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for name in strategies:
        ax.plot(ceac["wtp"], ceac[name], label=name, lw=1.8)
    if len(strategies) > 2:
        ax.plot(ceac["wtp"], ceac["frontier_probability"], color="black", lw=2.5, alpha=0.35, label="Frontier (optimal strategy)")
    ax.set_ylim(-0.02, 1.02)  # lines at 0% and 100% stay visible inside the frame
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_xlim(ceac["wtp"].min(), ceac["wtp"].max())
    return _finish(fig, ax, "Cost-effectiveness acceptability curve",
                   "Willingness to pay per placement avoided (λ)", "Probability most cost-effective", GBP, PCT)


@styled
def evpi_chart(evpi: pd.DataFrame) -> plt.Figure:
    """EVPI per child (left axis) and for the local authority's population (right axis) over λ."""
    if not (evpi["evpi_per_child"] > 0).any():
        fig, ax = plt.subplots(figsize=(6.4, 1.8))
        ax.set_axis_off()
        ax.text(0.5, 0.5, wrap("EVPI is zero at every willingness to pay shown: the same strategy is the best "
                               "choice in every PSA iteration, so better information could not change the "
                               "decision.", 60), transform=ax.transAxes, ha="center", va="center", fontsize=10)
        ax.set_title("Expected value of perfect information")
        return fig
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    ax.plot(evpi["wtp"], evpi["evpi_per_child"], color=GREEN, label="Per child (left axis)")
    ax.set_ylim(0, None)
    if "evpi_population" in evpi.columns:
        population = ax.twinx()
        population.plot(evpi["wtp"], evpi["evpi_population"], color=GREEN, ls="--", alpha=0.7)
        population.set_ylim(0, max(evpi["evpi_population"].max(), 1) * 1.05)
        population.set_ylabel(wrap(f"EVPI for the LA ({evpi['population_basis'].iloc[0]})", 45), fontsize=7)
        population.yaxis.set_major_formatter(GBP)
        ax.plot([], [], color=GREEN, ls="--", alpha=0.7, label="LA population (right axis)")
    return _finish(fig, ax, "Expected value of perfect information", "Willingness to pay per placement avoided (λ)",
                   "EVPI per child", GBP, GBP)


@styled
def convergence_chart(savings: np.ndarray, max_points: int = 2000) -> plt.Figure:
    """Running mean and running 95% interval of per-child savings against iterations."""
    n = len(savings)
    points = np.unique(np.geomspace(10, n, min(max_points, n)).astype(int)) if n >= 10 else np.arange(1, n + 1)
    csum = np.cumsum(savings)
    mean = csum[points - 1] / points
    qp = np.unique(np.geomspace(10, n, 60).astype(int)) if n >= 10 else points  # running interval at 60 points
    lower, upper = np.array([tail_quantiles(savings[:p], [0.025, 0.975]) for p in qp]).T  # = np.quantile
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    ax.plot(points, mean, color=BLUE, label="Running mean")
    ax.fill_between(qp, lower, upper, color=BLUE, alpha=0.2, label="Running 95% interval")
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    return _finish(fig, ax, "Convergence of the PSA", "Iterations (log scale)", "Savings per child", yfmt=GBP)


def _money_label(label: str) -> tuple[str, bool]:
    """An outcome label with £ for GBP, and whether the outcome is money."""
    money = "GBP" in label or "£" in label
    return label.replace("(GBP)", "(£)").replace("GBP", "£"), money


@styled
def tornado_chart(table: pd.DataFrame, base: float, outcome_label: str, top: int = 15,
                  units: dict[str, str] | None = None, money: bool | None = None) -> plt.Figure:
    """Horizontal bars from the outcome at each parameter's low to its high value, sorted by swing.

    Bars are drawn from the base case to each end (so a bar crossing zero is shown as it is);
    each bar end is labelled with the parameter value that produced it, in the parameter's
    unit (``units``: name → workbook unit); parameters beyond ``top`` are summarised in the title.
    ``money``: whether the outcome is in £ (declared by the caller; read from the label when not given).
    """
    label, money = _money_label(outcome_label) if money is None else (outcome_label, money)
    fmt_out = (lambda v: presentation.gbp(v)) if money else (lambda v: presentation.number(v, 4))
    units = units or {}
    shown = table.head(top).iloc[::-1]
    rest = table.iloc[top:]
    fig, ax = plt.subplots(figsize=(8.6, 0.46 * len(shown) + 1.9))
    rows = np.arange(len(shown))
    ax.barh(rows, shown["outcome_high"] - base, left=base, color=BLUE, label="Parameter at its high value")
    ax.barh(rows, shown["outcome_low"] - base, left=base, color=ORANGE, label="Parameter at its low value")
    for i, (_, r) in enumerate(shown.iterrows()):
        lo_out, hi_out = r["outcome_low"], r["outcome_high"]
        col = presentation.unit_column(units.get(str(r["parameter"]), ""))
        for value, out in ((r["low"], lo_out), (r["high"], hi_out)):
            ax.annotate(presentation.format_value(value, col), (out, i), xytext=(3 if out >= base else -3, 0),
                        textcoords="offset points", ha="left" if out >= base else "right", va="center", fontsize=7)
    ax.set_yticks(rows)
    ax.set_yticklabels([wrap(r["label"] if isinstance(r.get("label"), str) and r["label"] else r["parameter"], 44)
                        for _, r in shown.iterrows()], fontsize=7.5)
    ax.axvline(base, color="black", lw=1, label=f"Base case: {fmt_out(base)}")
    if money:
        ax.xaxis.set_major_formatter(GBP)
    ax.set_xlabel(label)
    title = f"One-way sensitivity analysis: {label}"
    if len(rest):
        title += f"\n{len(rest)} more parameters not shown, each with a swing of at most {fmt_out(rest['swing'].max())}"
    ax.set_title(title)
    ax.legend(loc="lower right", framealpha=0.9)
    ax.margins(x=0.16)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


@styled
def two_way_chart(grid: pd.DataFrame, x: str, y: str, outcome: str, outcome_label: str,
                  labels: dict[str, str] | None = None, money: bool | None = None) -> plt.Figure:
    """Heatmap of the outcome over two parameters, diverging at zero (purple above, orange below), break-even contour."""
    label, money = _money_label(outcome_label) if money is None else (outcome_label, money)
    labels = labels or {}
    xs, ys = np.unique(grid[x]), np.unique(grid[y])
    z = grid.set_index([x, y])[outcome].unstack().loc[xs, ys].to_numpy().T
    lo, hi = float(np.nanmin(z)), float(np.nanmax(z))
    fig, ax = plt.subplots(figsize=(6.6, 4.9))
    norm: Normalize
    if lo < 0 < hi:
        cmap, norm = "PuOr", TwoSlopeNorm(0.0, lo, hi)  # colour-blind-safe diverging: orange < 0 < purple
    else:
        cmap, norm = ("Purples", Normalize(0, hi)) if lo >= 0 else ("Oranges_r", Normalize(lo, 0))
    mesh = ax.pcolormesh(xs, ys, z, shading="nearest", cmap=cmap, norm=norm)
    cbar = fig.colorbar(mesh, ax=ax, format=GBP if money else None)
    cbar.set_label(label)
    if lo < 0 < hi:
        cs = ax.contour(xs, ys, z, levels=[0.0], colors="black", linewidths=1.5)
        ax.clabel(cs, fmt={0.0: "break-even"}, fontsize=8)
        note = "Black line: break-even (outcome = 0)."
    else:
        note = "No break-even within this grid (" + ("always positive" if lo >= 0 else "always negative") + ")."
    ax.set_xlabel(wrap(labels.get(x, x), 60))
    ax.set_ylabel(wrap(labels.get(y, y), 40))
    ax.set_title(f"Two-way sensitivity: {label}\n{note}")
    fig.tight_layout()
    return fig


@styled
def evppi_chart(table: pd.DataFrame, wtp: float, top: int = 20, labels: dict[str, str] | None = None) -> plt.Figure:
    """Ranked EVPPI per child (single parameters and groups) at one willingness to pay."""
    labels = labels or {}
    title = f"Expected value of partial perfect information at λ = £{wtp:,.0f}"
    if not len(table) or not (table["evppi_per_child"] > 0).any():
        fig, ax = plt.subplots(figsize=(6.4, 1.8))
        ax.set_axis_off()
        ax.text(0.5, 0.5, wrap(f"EVPPI is zero for every parameter and group at λ = £{wtp:,.0f}: the same strategy "
                               "is the best choice in every PSA iteration (EVPI is zero), so no parameter's "
                               "uncertainty is worth resolving for this decision.", 70),
                transform=ax.transAxes, ha="center", va="center", fontsize=9.5)
        ax.set_title(title)
        return fig
    shown = table.head(top).iloc[::-1]
    fig, ax = plt.subplots(figsize=(7.6, 0.36 * len(shown) + 1.9))
    is_group = [str(p).startswith("group:") for p in shown["parameter"]]
    ax.barh(range(len(shown)), shown["evppi_per_child"], color=[PINK if g else BLUE for g in is_group])

    def name(p: str, n: int) -> str:
        if p.startswith("group:"):
            return f"Group: {p.split(':', 1)[1].strip()} ({n} parameters)"
        return labels.get(p, p)

    ax.set_yticks(range(len(shown)))
    ax.set_yticklabels([wrap(name(str(p), int(n)), 48) for p, n in zip(shown["parameter"], shown["n_parameters"])],
                       fontsize=7.5)
    from matplotlib.patches import Patch

    handles = [Patch(color=BLUE, label="Single parameter"), Patch(color=PINK, label="Group of parameters")]
    line = ax.axvline(table["evpi_per_child"].iloc[0], color="black", ls="--", lw=1, label="EVPI (all parameters)")
    ax.legend(handles=handles + [line], loc="lower right")
    ax.xaxis.set_major_formatter(GBP)
    ax.set_xlim(0, None)
    ax.set_xlabel("EVPPI per child")
    if len(table) > top:
        title += f"\ntop {top} of {len(table)} parameters and groups shown (all in the EVPPI table)"
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


@styled
def budget_chart(table: pd.DataFrame, strategy: str, comparator: str) -> plt.Figure:
    """Stacked bars by year: extra programme spend (below 0) and costs avoided by category (above 0), net lines."""
    fig, ax = plt.subplots(figsize=(7.2, 4.4))
    years = table["year"].to_numpy()
    pos = np.zeros(len(years))
    neg = np.zeros(len(years))
    saving_colours = iter([BLUE, SKY, GREEN, PINK, "#F0E442", "#999999"])
    for col in [c for c in table.columns if c.endswith(f": {strategy}")]:
        label = col.split(":")[0]
        diff = table[f"{label}: {comparator}"].to_numpy() - table[col].to_numpy()  # saving (+) or spend (−)
        if np.allclose(diff, 0):
            continue
        spend = label == "IFPP programme spend"
        base = np.where(diff >= 0, pos, neg)
        ax.bar(years, diff, bottom=base, color=VERMILION if spend else next(saving_colours),
               label=f"{strategy} programme spend" if spend else f"{label} avoided")
        pos += np.where(diff >= 0, diff, 0)
        neg += np.where(diff < 0, diff, 0)
    ax.plot(years, table["net_saving"], color="black", marker="o", label="Net saving in the year")
    ax.plot(years, table["cumulative_net_saving"], color="black", ls="--", marker="s", label="Cumulative net saving")
    ax.axhline(0, color="grey", lw=0.7)
    ax.set_xticks(years)
    ax.set_xticklabels([f"Year {y}" for y in years])
    ax.yaxis.set_major_formatter(GBP)
    ax.set_ylabel("Undiscounted cash, analysis-year prices\n(saving above 0, spend below)")
    ax.set_title(wrap(f"Budget impact: {strategy} vs {comparator}", 70))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


@styled
def rollup_chart(names: list[str], mean: np.ndarray, lower: np.ndarray, upper: np.ndarray, years: int,
                 strategy: str, comparator: str, max_labels: int = 60) -> plt.Figure:
    """Authorities ranked by mean net saving (largest at the top), each with its 95% interval: a horizontal dot and
    whisker per authority. ``mean``/``lower``/``upper`` ``(A,)`` in £ over ``years`` years, in ranked order. With more
    than ``max_labels`` authorities the names are left off (every authority is still drawn; the ranking is in the
    tables)."""
    n = len(names)
    y = np.arange(n)[::-1]
    labelled = n <= max_labels
    fig, ax = plt.subplots(figsize=(7.2, min(max(2.2 + 0.22 * n, 3.0), 16.0) if labelled else 6.0))
    colours = [GREEN if lo > 0 else VERMILION if hi < 0 else BLUE for lo, hi in zip(lower, upper)]
    ax.hlines(y, lower, upper, colors=colours, lw=1.4 if labelled else 0.6)
    ax.scatter(mean, y, c=colours, s=18 if labelled else 5, zorder=3)
    ax.axvline(0, color="grey", lw=0.8)
    if labelled:
        ax.set_yticks(y)
        ax.set_yticklabels([wrap(str(name), 28) for name in names])
    else:
        ax.set_yticks([])
        ax.set_ylabel(f"{n} authorities, ranked (names in the tables)")
    ax.set_ylim(-0.8, n - 0.2)
    ax.xaxis.set_major_formatter(GBP)
    ax.set_xlabel(f"Net saving over {years} years of referrals (undiscounted; mean and 95% interval)")
    ax.set_title(wrap(f"{strategy} vs {comparator}: authorities ranked by net saving", 70))
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=c, marker="o", lw=1.4, label=t) for c, t in
               ((GREEN, "saves money (interval above £0)"), (BLUE, "uncertain (interval spans £0)"),
                (VERMILION, "costs money (interval below £0)")) if c in colours]
    fig.legend(handles=handles, loc="lower center", ncol=3, frameon=False)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout(rect=(0, 0.3 / fig.get_figheight(), 1, 1))  # 0.3 inch below the axes for the legend
    return fig


@styled
def model_diagram():
    """The state-transition diagram of the family-states model (a matplotlib figure)."""
    fig, ax = plt.subplots(figsize=(8.4, 3.9))
    box = dict(boxstyle="round,pad=0.55", fc="#eaf2fb", ec=BLUE, lw=1.2)
    nodes = {"home": (0.11, 0.5, "At home\n(never placed)"), "care": (0.47, 0.5, "In care\n(tunnels 0–23 months, 24+)"),
             "returned": (0.86, 0.84, "Returned home\n(tunnels 0–11 months, 12+)"),
             "left": (0.86, 0.16, "Left care\n(adoption, SGO, other)")}
    for x, y, label in nodes.values():
        ax.text(x, y, label, ha="center", va="center", fontsize=9, bbox=box)

    def arrow(a, b, rad=0.0):
        ax.annotate("", xy=b, xytext=a, arrowprops=dict(arrowstyle="-|>", lw=1.3, color="#333333",
                                                           connectionstyle=f"arc3,rad={rad}", shrinkA=2, shrinkB=2))

    arrow((0.21, 0.5), (0.35, 0.5))
    ax.text(0.28, 0.57, "first entry\n(calibrated hazard;\n× RR for IFPP)", ha="center", va="bottom", fontsize=7.5)
    arrow((0.56, 0.62), (0.73, 0.80), rad=-0.2)
    ax.text(0.57, 0.80, "reunification", ha="center", fontsize=7.5)
    arrow((0.78, 0.72), (0.60, 0.58), rad=-0.2)
    ax.text(0.75, 0.58, "re-entry", ha="center", fontsize=7.5)
    arrow((0.56, 0.38), (0.74, 0.19), rad=0.15)
    ax.text(0.58, 0.20, "other permanence", ha="center", fontsize=7.5)
    ax.text(0.5, 0.0, "Monthly cycles; each age band is a sub-cohort followed to age 18; left care is absorbing.",
            ha="center", fontsize=7.5, color="#444444")
    ax.set_axis_off()
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.02, 1)
    fig.tight_layout()
    return fig


def evsi_chart(result) -> plt.Figure:
    """EVSI, trial cost and ENBS for the population against families per arm (log scale, £ axis), with the optimal n
    marked and the EVPPI of the informed parameters as EVSI's ceiling; without a population, EVSI per child. Bands:
    ±1.96 bootstrap standard errors. In the house style (Okabe–Ito palette, £ ticks, Unicode minus)."""
    from matplotlib.ticker import LogLocator, NullLocator

    from ..analyses import voi
    from ..analyses.evsi import optimal_sample_size

    with style():
        n = result.sample_sizes
        fig, ax = plt.subplots(figsize=(7.2, 5.4))
        table = result.enbs_table()
        p = result.population
        if table is None or p is None:
            value, se = result.evsi_per_child, result.evsi_se
            ceiling = result.evppi_informed_per_child
            ylabel, title = "GBP per child", "Expected value of sample information per child"
        else:
            value, se = table["population_evsi"].to_numpy(), table["population_evsi_se"].to_numpy()
            ceiling = float(voi.population_evpi(np.array(result.evppi_informed_per_child), p["children_per_year"], p["years"],
                                                p["discount_rate"]))
            ylabel = wrap(f"GBP for the population ({float(p['children_per_year']):,.1f} children a year for "
                                 f"{int(p['years'])} years, discounted)", 50)
            title = "Value of a trial of IFPP: EVSI and expected net benefit of sampling (ENBS)"
        label = "EVSI" if table is None else "EVSI (population)"
        ax.plot(n, value, color=GREEN, marker="o", label=f"{label}, ±1.96 SE")
        ax.fill_between(n, value - 1.96 * se, value + 1.96 * se, color=GREEN, alpha=0.2, lw=0)
        ax.axhline(ceiling, color="grey", ls=":", label="EVPPI of the parameters the trial informs (EVSI's limit)")
        if table is not None:
            ax.plot(n, table["trial_cost"], color=VERMILION, ls="--", label="Trial cost")
            ax.plot(n, table["enbs"], color=BLUE, marker="o", lw=2, label="ENBS = EVSI − trial cost, ±1.96 SE")
            ax.fill_between(n, table["enbs"] - 1.96 * se, table["enbs"] + 1.96 * se, color=BLUE, alpha=0.15, lw=0)
            ax.axhline(0, color="black", lw=0.7)
            best, gain = optimal_sample_size(table)
            ax.axvline(best, color=BLUE, ls=":", lw=1)
            ax.scatter([best], [gain], s=80, color=BLUE, edgecolor="white", zorder=4,
                       label=f"Optimal n = {best:,} per arm (ENBS {_gbp_tick(gain)}"
                             + ("" if gain > 0 else ": no trial on this grid is worth its cost") + ")")
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        ax.set_xlim(n.min() / 1.25, n.max() * 1.25)
        _finish(fig, ax, wrap(title, 60), "Families per arm (log scale)", ylabel, yfmt=GBP, legend=False)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=1, frameon=False)
        fig.tight_layout()
        return fig


# What a chart spec's ``kind`` names: the drawing function (see :mod:`.render`).
DRAWERS = {
    "trace": trace_chart, "ce_plane": ce_plane, "ceac": ceac_chart, "evpi": evpi_chart, "convergence": convergence_chart,
    "tornado": tornado_chart, "two_way": two_way_chart, "evppi": evppi_chart, "budget": budget_chart,
    "model_diagram": model_diagram, "evsi": evsi_chart, "warm_up": warm_up, "rollup": rollup_chart,
}
