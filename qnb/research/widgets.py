"""Interactive explorers for notebooks 03, 04 and 07, and the static figures shown under them.

Each explorer displays (it does not return: ``interactive`` never shows a return value in
JupyterLab) a Markdown row and a figure: the static grid over k and shots, with the chosen point
recomputed live and marked on it. The static figure is what a reader sees on a code host, where
widgets do not run. The callbacks are plain functions, tested directly (papermill swallows
exceptions raised inside widget callbacks).
"""
from __future__ import annotations

import threading

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter

from . import experiments as E
from ..latency import LatencyModel

# string values: a Dropdown whose option value is None empties itself when that option is chosen
SHOTS_CHOICES = ("exact", "100", "1000", "10000")
GRID_KS = (1, 2, 3, 5, 10)


def shots_value(choice) -> int | None:
    """'exact' -> None (exact expectation values), '100' -> 100; ints and None pass through."""
    if choice is None or choice == "exact":
        return None
    return int(choice)


def variance_row(k: int, shots, repeats: int = 60, seed: int = 0) -> dict:
    """Gradient statistics of subsampled SPSA for one (k, shots): the row of notebook 03's
    table for the same repeats and seed."""
    return E.estimator_statistics(E.subsample_specs([k]), shots=shots_value(shots), repeats=repeats, seed=seed)[0]


def shot_latency(latency: LatencyModel | None = None) -> LatencyModel:
    """The fitted latency model with a per-shot cost (``LatencyModel.with_shot_cost``)."""
    return (latency or LatencyModel.seed_calibrated()).with_shot_cost()


DEFAULT_SHEET = "azure-ionq"


def cost_row(k: int, shots, latency: LatencyModel | None = None, epochs: int = 5, price: str = DEFAULT_SHEET) -> dict:
    """Modeled cloud cost of subsampled SPSA with subsample size k: per batch, epoch and run, in
    minutes and in dollars on the price sheet ``price`` (a ``qnb.PRICES`` name). Circuits, jobs,
    shots and gate-shots are counted by running one real estimate; time uses ``latency``
    (default: the fitted model with a per-shot cost, so that shots change the cost; exact = 1000
    shots, for time and dollars alike)."""
    latency = latency or shot_latency()
    from ..backends import LocalBackend
    s = shots_value(shots)
    c = E.step_cost("spsa_parallel" if k == E.B else "spsa_subsampled", k, shots=s or 1000,
                    backend=LocalBackend(latency=latency))
    steps = E.STEPS_PER_EPOCH * epochs
    return {"k": k, "shots": s or "exact (priced as 1000)", "circuits/batch": c["circuits"], "jobs/batch": c["jobs"],
            "s/batch": c["modeled_s"], "s/epoch": c["modeled_s"] * E.STEPS_PER_EPOCH,
            f"min/{epochs} epochs": c["modeled_s"] * steps / 60, "price sheet": price,
            "USD/batch": c["usd"][price], f"USD/{epochs} epochs": c["usd"][price] * steps}


# -- the static grids --------------------------------------------------------------------------
def variance_grid(ks=GRID_KS, shots=("exact", "1000", "100"), repeats: int = 60, seed: int = 0) -> dict:
    """{shots: [variance_row(k, shots) for k in ks]}: the grid the variance explorer moves over."""
    return {s: [variance_row(k, s, repeats, seed) for k in ks] for s in shots}


def plot_variance_grid(grid: dict, mark: dict | None = None, repeats: int | None = None):
    """Variance (log axis, with its standard error) and cosine to the exact gradient against k,
    one line per shot count (each its own colour, marker and line style); ``mark`` (a
    variance_row) is drawn as a red ring. The error bars are the rows' own measured standard
    errors (``variance_se``, from the spread of the draws); a row without one falls back to the
    Gaussian approximation var * sqrt(2 / (repeats - 1))."""
    fig = Figure(figsize=(10, 3.6))  # not pyplot: JupyterLab may run widget callbacks in another thread
    ax = fig.subplots(1, 2)
    for i, (s, rows) in enumerate(grid.items()):
        ks = [int(r["estimator"].split("=")[1]) for r in rows]
        var = np.array([r["variance"] for r in rows])
        n = repeats or 60
        se = np.array([r["variance_se"] if r.get("variance_se") is not None else v * np.sqrt(2 / (n - 1))
                       for r, v in zip(rows, var)])
        style = dict(color=f"C{i}", marker=_MARKERS[i % len(_MARKERS)], ls=_LINESTYLES[i % len(_LINESTYLES)])
        ax[0].errorbar(ks, var, se, capsize=3, label=f"shots: {s}", **style)
        ax[1].plot(ks, [r["cosine"] for r in rows], label=f"shots: {s}", **style)
    if mark is not None:
        k = int(mark["estimator"].split("=")[1])
        ax[0].plot(k, mark["variance"], "o", color="red", ms=10, mfc="none", mew=2, label="chosen")
        ax[1].plot(k, mark["cosine"], "o", color="red", ms=10, mfc="none", mew=2, label="chosen")
    ax[0].set(yscale="log", xlabel="subsample size k (of B = 10)", ylabel="total variance of one estimate\n(1/rad², log scale)",
              title="Variance (bars: ± measured standard error)")
    ax[0].yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))  # plain text: no mathtext parser
    ax[0].yaxis.set_minor_formatter(FuncFormatter(lambda v, _: f"{v:g}" if f"{v:g}"[0] in "1235" else ""))
    ax[1].set(xlabel="subsample size k (of B = 10)", ylabel="mean cosine to the exact gradient\n(1 = same direction)",
              ylim=(0, 1), title="Alignment with the exact gradient")
    for a in ax:
        a.set_xticks(sorted({int(r["estimator"].split("=")[1]) for rows in grid.values() for r in rows}))
    ax[0].legend(fontsize=8)
    ax[1].legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


_MARKERS = ("o", "s", "^", "D", "v")
_LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1, 1, 1)))


def cost_grid(ks=tuple(range(1, E.B + 1)), shots=("100", "1000", "10000"), latency=None,
              prices=None) -> dict:
    """{sheet: {shots: [cost_row(k, shots, price=sheet) for k in ks]}} for every sheet of
    ``prices`` (default all of ``qnb.PRICES``): the grid the cost explorer moves over."""
    from ..prices import PRICES
    return {p: {s: [cost_row(k, s, latency, price=p) for k in ks] for s in shots} for p in (prices or PRICES)}


def plot_cost_grid(grid: dict, mark: dict | None = None, price: str | None = None):
    """Against k: modeled minutes for 5 epochs (left, one line per shot count) and US dollars
    (right): on ``price``'s sheet one line per shot count, or without one, every sheet at 1000
    shots (the static figure: the sheet decides the price of each k). Each line has its own
    colour, marker and line style; ``mark`` in red."""
    fig = Figure(figsize=(11, 3.6))
    ax = fig.subplots(1, 2)
    first = next(iter(grid.values()))
    key = next(k for k in next(iter(first.values()))[0] if k.startswith("min/"))
    usd = key.replace("min/", "USD/")
    style = lambda i: dict(color=f"C{i}", marker=_MARKERS[i % len(_MARKERS)], ls=_LINESTYLES[i % len(_LINESTYLES)])
    for i, (s, rows) in enumerate(first.items()):
        ax[0].plot([r["k"] for r in rows], [r[key] for r in rows], label=f"shots: {s}", **style(i))
    lines = {f"shots: {s}": rows for s, rows in grid[price].items()} if price else {
        p: by_shots["1000"] for p, by_shots in grid.items()}
    for i, (label, rows) in enumerate(lines.items()):
        ax[1].plot([r["k"] for r in rows], [r[usd] for r in rows], label=label, **style(i))
    if mark is not None:
        ax[0].plot(mark["k"], mark[key], "o", color="red", ms=10, mfc="none", mew=2, label="chosen")
        ax[1].plot(mark["k"], mark[usd], "o", color="red", ms=10, mfc="none", mew=2, label="chosen")
    ax[0].set(xlabel="subsample size k (of B = 10)", ylabel=f"modeled {key.replace('min/', 'minutes for ')}",
              title="modeled cloud time (1 job per step)", ylim=(0, None))
    ax[1].set(xlabel="subsample size k (of B = 10)", ylabel=f"USD for {usd.split('/', 1)[1]}", ylim=(0, None),
              title=f"US dollars on {price}" if price else "US dollars per price sheet, 1000 shots")
    ax[1].yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    for a in ax:
        a.legend(fontsize=8)
    fig.tight_layout()
    return fig


# -- the explorers -----------------------------------------------------------------------------
def _controls(prices: bool = False):
    import ipywidgets as w
    from ..prices import PRICES
    style = {"description_width": "initial"}
    return (w.IntSlider(value=5, min=1, max=E.B, description="subsample size k", style=style),
            w.Dropdown(options=SHOTS_CHOICES, value="1000", description="shots per circuit", style=style),
            *([w.Dropdown(options=list(PRICES), value=DEFAULT_SHEET, description="price sheet", style=style)]
              if prices else []))


_DRAWING = threading.Lock()


def _display_data(obj) -> dict:
    """``obj`` as one display_data output, formatted as Output.append_display_data formats it."""
    from IPython.core.interactiveshell import InteractiveShell
    data, metadata = InteractiveShell.instance().display_formatter.format(obj)
    return {"output_type": "display_data", "data": data, "metadata": metadata}


def _explorer(compute, draw, prices: bool = False, controls=None, floatfmt: str = ".3g"):
    """Controls (default ``_controls(prices)``) and an output area; on every change: compute the
    row (or rows), display it and its figure. ``ui.result`` holds the last row (for tests and for
    the reader's next cell). JupyterLab 4 may run the callback in a kernel subshell thread: the
    figure is a plain ``Figure`` (no pyplot state) and one update runs at a time."""
    import ipywidgets as w
    from IPython.display import Markdown
    controls = controls or _controls(prices)
    out = w.Output()
    ui = w.VBox([w.HBox(list(controls)), out])

    def update(*_):
        with _DRAWING:
            row = compute(*(c.value for c in controls))
            ui.result = row
            fig = draw(row)
            # set the Output's contents directly instead of capturing with `with out:`, which hooks
            # the kernel's display publisher and, with a headless client (papermill), could leave
            # the cell's execution never reported as finished; in ONE assignment, so the front end
            # swaps the old row and figure for the new ones without showing an empty area between
            rows = row if isinstance(row, list) else [row]
            out.outputs = tuple(_display_data(o) for o in (Markdown(E.table(rows, floatfmt=floatfmt)), fig))

    for c in controls:
        c.observe(update, "value")
    ui.update = update
    update()
    return ui


def variance_explorer(repeats: int = 60, grid: dict | None = None, seed: int = 0):
    """Slider for k, menu for shots: recomputes one (k, shots) row of notebook 03's statistics
    and marks it on the grid (computed here unless given)."""
    grid = grid if grid is not None else variance_grid(repeats=repeats, seed=seed)
    return _explorer(lambda k, s: variance_row(k, s, repeats, seed),
                     lambda row: plot_variance_grid(grid, mark=row, repeats=repeats))


def cost_explorer(latency: LatencyModel | None = None):
    """Slider for k, menus for shots and the price sheet: recomputes the cost row (minutes and
    dollars) and marks it on the grid."""
    grid = cost_grid(latency=latency)
    return _explorer(lambda k, s, p: cost_row(k, s, latency, price=p),
                     lambda row: plot_cost_grid(grid, mark=row, price=row["price sheet"]), prices=True)


# -- notebook 07: dollars to quality from a bench result ---------------------------------------
def grid_points(bench: dict) -> list[tuple[int, int, int]]:
    """The (k, directions, shots) of every grid configuration in a bench result's selection table
    (a pruned or quick run holds fewer than the full grid)."""
    from .spend import parse
    found = (parse(n) for n in bench["selection_table"])
    return sorted({p[:3] for p in found if p and not p[3]})  # today's step rule only


def dollars_rows(bench: dict, k: int, directions: int, shots, sheet: str) -> list[dict]:
    """The dollars explorer's table: per selection data set, the configuration (k, directions,
    shots) and today's ``split_shots``, each with its median minutes and dollars to quality on
    ``sheet``, one step's dollars on that sheet and their quotient, the median steps to quality
    (``spend.implied_steps``). A configuration the bench did not run, or one below the sheet's
    ``min_shots``, is a row that says so."""
    from ..prices import PRICES
    from . import spend
    from .dollars import TODAY
    s, table = int(shots), bench["selection_table"]
    if spend.config_name(k, directions, s) not in table:
        return [{"k": k, "directions": directions, "shots": s, "price sheet": sheet,
                 "note": "not run by this bench (pruned grid)"}]
    kinds = list(table[TODAY])
    rows = sorted(spend.implied_steps(bench, configs=[(k, directions, s), TODAY], sheet=sheet),
                  key=lambda r: kinds.index(r["dataset"]))  # per data set: this configuration, then today's
    out, least = [], PRICES[sheet].min_shots
    for r in rows:  # each column a control sets is named as in the control's label
        kk, dd, ss, _ = spend.parse(r["configuration"])
        out.append({"dataset": r["dataset"], "k": kk, "directions": dd, "shots": ss, "price sheet": sheet,
                    "reached": r["reached"], "median minutes": r["median minutes"],
                    "median USD": r["median USD to quality"], "USD per step": r["USD per step"],
                    "median steps": r["median steps to quality"],
                    "note": "" if ss >= least else f"below the sheet's {least} shots"})
    return out


_K_MARKERS = {1: "o", 2: "s", 5: "^"}


def plot_dollars(bench: dict, sheet: str, mark: tuple | None = None):
    """Per selection data set: every grid configuration at today's step rule (momentum, a = 1,
    c = 0.2) at (median minutes, median dollars on ``sheet``) to quality, log-log, coloured by
    shots, today's ``split_shots`` a black star, the sheet's choice (whatever its step rule) a
    green diamond, ``mark`` (k, directions, shots) a red ring, the minutes limit a dotted line. A configuration that never arrives (infinite median) is counted in the title."""
    import math
    from matplotlib.figure import Figure
    from . import spend
    from .dollars import MINUTES_LIMIT, TODAY
    table, pts = bench["selection_table"], grid_points(bench)
    kinds = list(next(iter(table.values())))
    shots = sorted({p[2] for p in pts})
    choice = bench.get("selection_choice", {}).get(sheet, {}).get("choice")
    fig = Figure(figsize=(4.0 * len(kinds), 3.7))
    axes = fig.subplots(1, len(kinds), squeeze=False)[0]
    plotted = set()  # the shot counts drawn in any panel: each gets a legend entry
    for ax, kind in zip(axes, kinds):
        never = 0
        for k, d, s in pts:
            r = table[spend.config_name(k, d, s)][kind]
            x, y = r["median_min"], r["usd"][sheet]
            if not (math.isfinite(x) and math.isfinite(y)):
                never += 1
                continue
            ax.plot(x, y, _K_MARKERS.get(k, "v"), color=f"C{shots.index(s)}", ms=4 + 2 * d, alpha=0.8)
            plotted.add(s)
        for name, style, label in ((TODAY, dict(marker="*", color="black", ms=14, mfc="none"),
                                    "today (split_shots)"),
                                   (choice, dict(marker="D", color="tab:green", ms=12, mfc="none", mew=2),
                                    "the sheet's choice"),
                                   (mark and spend.config_name(*mark), dict(marker="o", color="red", ms=16, mfc="none",
                                                                            mew=2), "chosen here")):
            r = table.get(name, {}).get(kind) if name else None
            if r and math.isfinite(r["median_min"]) and math.isfinite(r["usd"][sheet]):
                ax.plot(r["median_min"], r["usd"][sheet], ls="none", label=label, **style)
        limit = bench.get("selection_limit_min", {}).get(kind)
        if limit:
            ax.axvline(limit, color="grey", ls=":", lw=1.2, label=f"minutes limit ({MINUTES_LIMIT:g} x today's)")
        ax.set(xscale="log", yscale="log", xlabel="median modeled minutes to quality",
               title=f"{kind}" + (f" ({never} of {len(pts)} never arrive)" if never else ""))
        for axis in (ax.xaxis, ax.yaxis):  # plain text (no mathtext); minor labels at 2 and 5 only
            axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 10 else f"{v:g}"))
            axis.set_minor_formatter(FuncFormatter(lambda v, _: (f"{v:,.0f}" if v >= 10 else f"{v:g}")
                                                   if f"{v:g}"[0] in "25" else ""))
    axes[0].set_ylabel(f"median USD to quality\n({sheet})")
    for s in sorted(plotted):
        axes[-1].plot([], [], "s", color=f"C{shots.index(s)}", alpha=0.8, label=f"{s} shots")
    for k in sorted({p[0] for p in pts}):  # the marker of each k (its size: the directions, 1 or 2)
        axes[-1].plot([], [], _K_MARKERS.get(k, "v"), color="grey", label=f"k = {k} (larger: 2 directions)")
    axes[-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.tight_layout()
    return fig


def dollars_explorer(bench: dict, sheet: str = "braket-ionq-aria"):
    """Slider for the subsample size k, menus for directions, shots and the price sheet: reads
    median minutes and dollars to quality of that grid configuration from a bench result's
    selection table (``research.dollars.read_bench``) and marks it on the selection's map."""
    import ipywidgets as w
    from ..prices import PRICES
    pts = grid_points(bench)
    pick = (2, 1, 20) if (2, 1, 20) in pts else pts[0]
    style = {"description_width": "initial"}
    controls = (w.SelectionSlider(options=sorted({p[0] for p in pts}), value=pick[0], description="subsample size k",
                                  style=style),
                w.Dropdown(options=sorted({p[1] for p in pts}), value=pick[1], description="directions", style=style),
                w.Dropdown(options=[str(s) for s in sorted({p[2] for p in pts})], value=str(pick[2]),
                           description="shots per circuit", style=style),
                w.Dropdown(options=list(PRICES), value=sheet, description="price sheet", style=style))
    return _explorer(lambda k, d, s, p: dollars_rows(bench, k, d, s, p),
                     lambda rows: plot_dollars(bench, controls[3].value,
                                               mark=(controls[0].value, controls[1].value, int(controls[2].value))),
                     controls=controls, floatfmt=",.4g")
