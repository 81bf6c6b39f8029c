"""Where the money goes (issue 27): the selection over shots, subsample and directions per price
sheet, an adaptive-shots strategy, the peers at their best shot counts, and the choice per sheet.

Every configuration runs once per selection seed and data set; what it sent (jobs, circuits,
shots, gate-shots) is recorded with every read, so its dollars on EVERY sheet follow from the same
run (``race.usd``): the search costs one run per configuration, not one per sheet. Runs are read on
a common grid of modeled times (``runs.GridClock``): time and dollars to quality are those of the
state after the last step completed by the first grid time at the target, so a configuration with
many cheap, noisy steps is looked at no more often than one with few dear ones.

The choice on a sheet minimises the mean over data sets of

.. math::

    \\frac{\\operatorname{median}_\\text{seeds} \\$(\\text{candidate})}{\\operatorname{median}_\\text{seeds} \\$(\\text{today})}

subject to, on every data set, median modeled minutes to quality
:math:`\\le 2\\times` today's (``split_shots``) and at least the sheet's ``min_shots``. Runs are
stopped at that limit (a run not at the target by then counts as never arriving), which is what
makes the search cheap: the limit decides feasibility exactly (a median is at most the limit iff
more than half the runs arrive by it).
"""
from __future__ import annotations

import math

import numpy as np

from ..prices import PRICES, PriceSheet
from .adaptive import (ADAPTIVE_LIMITS, ADAPTIVE_SHEETS, ADAPTIVE_STEP_VALUES, AdaptiveShots,  # noqa: F401
                       run_candidate, shot_prices)

SHOTS = (2, 5, 20, 100, 500)
SUBSAMPLE = (1, 2, 5)
DIRECTIONS = (1, 2)
_RULE = dict(gradient_method="spsa_subsampled", optimizer="momentum", spsa_a=1.0, spsa_c=0.2)
# Other step rules on the grid: a larger perturbation c divides the shot noise of a finite
# difference, Var ~ (1 - f^2) / (s c^2), at the cost of an O(c^2) bias, so few shots need a larger c;
# a larger a takes longer steps with the quieter gradient.
STEP_RULES = {"c=0.4": dict(spsa_c=0.4), "c=0.4, a=2": dict(spsa_c=0.4, spsa_a=2.0)}
STEP_RULE_SHOTS = (5, 20, 100)  # the shot counts at which the other step rules are tried
TODAY = "k=5, 2 dir, 500 shots"  # the split_shots preset: today's time choice
MINUTES_LIMIT = 2.0  # a sheet's choice takes at most this many times today's median minutes
GRID = 200  # common grid points up to the budget


def name(k: int, d: int, s: int, rule: str = "") -> str:
    return f"k={k}, {d} dir, {s} shots" + (f", {rule}" if rule else "")


PRUNED = ((1, 1), (2, 1), (5, 1), (2, 2))  # (k, directions) of the pruned grid, plus today's (5, 2, 500)


def grid_candidates(pruned: bool = False) -> dict:
    """The coarse grid (shots x k x directions, momentum with a = 1 and c = 0.2, today's step rule),
    the ``STEP_RULES`` at ``STEP_RULE_SHOTS`` for k > 1, two other optimizers at one cheap point,
    and the adaptive strategies with each sheet family's price model (shots alone; k and shots at
    each of ``ADAPTIVE_STEP_VALUES``, the dollars a step's time is worth). ``pruned``: only the
    (k, directions) pairs of ``PRUNED`` (and today's), for a run that must fit fewer CPU seconds."""
    pairs = PRUNED if pruned else [(k, d) for k in SUBSAMPLE for d in DIRECTIONS]
    out = {name(k, d, s): dict(_RULE, gradient_subsample_size=k, num_directions=d, shots_per_circuit=s)
           for s in SHOTS for k, d in pairs}
    out.update({name(k, d, s, r): dict(_RULE, gradient_subsample_size=k, num_directions=d, shots_per_circuit=s, **kw)
                for r, kw in STEP_RULES.items() for s in STEP_RULE_SHOTS for k, d in pairs if k > 1})
    out[TODAY] = dict(_RULE, gradient_subsample_size=5, num_directions=2, shots_per_circuit=500)
    out["k=2, 1 dir, 20 shots, sgd (a=0.3)"] = dict(_RULE, optimizer="sgd", spsa_a=0.3, gradient_subsample_size=2,
                                                      shots_per_circuit=20)
    out["k=2, 1 dir, 20 shots, adam"] = dict(_RULE, optimizer="adam", spsa_a=0.3, gradient_subsample_size=2,
                                               shots_per_circuit=20)
    for sheet in ADAPTIVE_SHEETS:
        out[f"adaptive shots, k=2 ({sheet})"] = dict(_RULE, gradient_subsample_size=2, shots_per_circuit=20,
                                                     adaptive=sheet)
        for value in ADAPTIVE_STEP_VALUES:
            out[adaptive_k_name(value, sheet)] = dict(_RULE, spsa_c=0.4, gradient_subsample_size=2, shots_per_circuit=20,
                                                      adaptive=sheet, step_value=value)
    return out


def adaptive_k_name(step_value: float, sheet: str) -> str:
    return f"adaptive k and shots, {step_value:g} $ a step, c=0.4 ({sheet})"


def min_shots_of(kw: dict) -> int:
    """The fewest shots per circuit a candidate can send (a peer's kw: {"shots": s, ...})."""
    if kw.get("adaptive"):
        return max(ADAPTIVE_LIMITS[0], PRICES[kw["adaptive"]].min_shots)
    return kw.get("shots_per_circuit") or kw.get("shots") or 1


def fits(kw: dict, sheet: PriceSheet) -> bool:
    """Within the sheet's limits: never fewer shots per circuit than it allows."""
    return min_shots_of(kw) >= sheet.min_shots


# -- the selection ------------------------------------------------------------------------------
PEER_KINDS = ("qml.SPSAOptimizer (defaults)", "qml.SPSAOptimizer (matched gains)",
              "qiskit-algorithms SPSA (defaults: calibrated a, +- pair in one job)")


def peer_name(peer: str, shots: int) -> str:
    return f"{peer} @ {shots} shots"


PEER_SHOTS_PRUNED = (5, 20, 100)


def peer_candidates(matched: dict, shots=SHOTS, installed: bool = True) -> dict:
    """Each peer on the same shot grid: name -> {"shots": s, "gains": ...} (race.race_task's form)."""
    out = {}
    for p in PEER_KINDS:
        if p.startswith("qiskit") and not installed:
            continue
        for s in shots:
            out[peer_name(p, s)] = {"shots": s, **({"gains": matched} if "matched" in p else {})}
    return out


def read(records: list[dict], target: float) -> dict:
    """Minutes and dollars (every sheet) to quality of one run (inf if it never arrives)."""
    from .race import usd
    e = next((e for e in records if e["test_accuracy"] >= target), None)
    last = e or records[-1]
    return {"min": math.inf if e is None else e["modeled_s"] / 60,
            "shots_per_circuit": last["bill"][2] / last["bill"][1] if last["bill"][1] else math.nan,
            "usd": {p: math.inf if e is None else usd(sheet, e) for p, sheet in PRICES.items()},
            "spent_usd": {p: usd(sheet, records[-1]) for p, sheet in PRICES.items()}}


def summarize(reads: list[dict]) -> dict:
    """Median minutes and dollars over seeds; runs that never arrive count as infinitely dear."""
    m = np.array([r["min"] for r in reads])
    return {"reached": f"{int(np.isfinite(m).sum())}/{len(m)}", "median_min": float(np.median(m)),
            "shots_per_circuit": float(np.nanmedian([r["shots_per_circuit"] for r in reads])),
            "usd": {p: float(np.median([r["usd"][p] for r in reads])) for p in PRICES}}


def choose_by_sheet(table: dict, kws: dict, kinds, limit_min: dict, names=None) -> dict:
    """Per sheet: the name (of ``names``, default every one) with the least mean over data sets of
    median dollars / today's, among those within the sheet's limits whose median minutes are at
    most ``limit_min`` on every data set; with its score and the scores of all (None: not
    feasible). ``table[name][kind]``: ``summarize``'s output."""
    out = {}
    for p, sheet in PRICES.items():
        base = {k: table[TODAY][k]["usd"][p] for k in kinds}
        scores = {}
        for n in (names or table):
            rows = [table[n][k] for k in kinds]
            ok = fits(kws[n], sheet) and all(r["median_min"] <= limit_min[k] * (1 + 1e-9) and math.isfinite(r["usd"][p])
                                             for k, r in zip(kinds, rows))
            scores[n] = float(np.mean([r["usd"][p] / (base[k] if 0 < base[k] < math.inf else 1.0)
                                       for k, r in zip(kinds, rows)])) if ok else None
        feasible = {n: v for n, v in scores.items() if v is not None}
        best = min(feasible, key=lambda n: (feasible[n], n)) if feasible else None
        out[p] = {"choice": best, "score": feasible.get(best), "scores": scores}
        if best is None and TODAY in table and (names is None or TODAY in names):  # nothing feasible: today's stays
            out[p]["choice"] = TODAY
    return out


def select(kinds, ceil: dict, seeds, matched: dict, client=None, workers=None, log=None, candidates=None,
           peers: dict | None = None, max_budget_s: float = math.inf, budget_fraction: float = 1.0) -> dict:
    """The selection on ``seeds`` (selection split): today's configuration first, under the race's
    budget, which sets each data set's minutes limit (``MINUTES_LIMIT`` x its median); then every
    other candidate and every peer at every shot count, stopped at that limit; all read on the
    common grid. Returns per name and data set the ``summarize`` rows, the limits, and the choice
    per sheet for qnb (``choose_by_sheet``) and for each peer (its best shot count)."""
    from .parallel import run_tasks
    from .race import race_rule, race_task
    cands = candidates or grid_candidates()
    peers = peer_candidates(matched) if peers is None else peers
    rules = {k: race_rule(ceil[k], budget_fraction, max_budget_s) for k in kinds}
    full = {k: (r[0], r[1], 0.0, GRID, r[1]) for k, r in rules.items()}
    first = [(f"qnb {TODAY}", cands[TODAY], k, int(s), full[k]) for k in kinds for s in seeds]
    runs = dict(zip([(TODAY, t[2], t[3]) for t in first],
                    run_tasks(race_task, first, client=client, workers=workers, progress=True, desc="today", log=log)))
    limit = {k: MINUTES_LIMIT * float(np.median([read(runs[(TODAY, k, int(s))], rules[k][0])["min"] for s in seeds]))
             for k in kinds}
    capped = {k: (r[0], min(r[1], limit[k] * 60 * (1 + 1e-9)), 0.0, GRID, r[1]) for k, r in rules.items()}
    others = {**{n: kw for n, kw in cands.items() if n != TODAY}, **peers}
    tasks = [(n if n in peers else f"qnb {n}", kw, k, int(s), capped[k]) for n, kw in others.items()
             for k in kinds for s in seeds]
    out = run_tasks(race_task, tasks, client=client, workers=workers, progress=True, desc="selection", log=log)
    for (n, _, k, s, _), r in zip(tasks, out):
        runs[(n.removeprefix("qnb "), k, s)] = r
    names = [TODAY, *others]
    table = {n: {k: summarize([read(runs[(n, k, int(s))], rules[k][0]) for s in seeds]) for k in kinds} for n in names}
    kws = {**cands, **peers}
    chosen = choose_by_sheet(table, kws, kinds, limit, names=list(cands))
    # each peer's best shot count per sheet, under the same stop (and so the same minutes limit)
    best_peer = {p: {sheet: c["choice"] for sheet, c in choose_by_sheet(
        table, kws, kinds, limit, names=[n for n in peers if n.startswith(p + " @")]).items()}
        for p in PEER_KINDS if any(n.startswith(p + " @") for n in peers)}
    rows = []
    for n in names:
        row = {"candidate": n}
        for k in kinds:
            row[f"{k} reached"] = table[n][k]["reached"]
            row[f"{k} median_min"] = table[n][k]["median_min"]
            row[f"{k} median USD aria"] = table[n][k]["usd"]["braket-ionq-aria"]
            if "adaptive" in n:
                row[f"{k} shots per circuit"] = table[n][k]["shots_per_circuit"]
        for p, c in chosen.items():
            row[f"score {p}"] = c["scores"].get(n, math.nan) if n in cands else math.nan
        rows.append(row)
    return {"rows": rows, "table": table, "limit_min": limit, "choice": chosen, "best_peer": best_peer,
            "kws": kws}


# -- the race's reading: targets, the frontier -------------------------------------------------
ARIA = "braket-ionq-aria"


def median_interval(values, seed: int = 0) -> tuple[float, float, float]:
    """(median, lo, hi): the median over seeds with its 95 % percentile-bootstrap interval."""
    from .stats import bootstrap
    return bootstrap(lambda v: float(np.median(v)), values, seed=seed)


def dollar_targets(race_out: dict, cheap: str, today: str, peers: list[str], sheet: str = ARIA,
                   absolute: float = 300.0) -> list[dict]:
    """Issue 27's targets on ``sheet`` per data set, each with its 95 % bootstrap interval and
    verdict: median dollars to quality <= ``absolute`` (every data set but xor); on xor <= 1/5 of
    today's and <= every peer at its best; elsewhere <= 1/3 of every peer at its best; on every
    data set median minutes <= 2 x today's. A peer's run that never arrives counts as what it had
    spent when stopped (the ratio is then a bound: met or undecided, never missed)."""
    from .stats import ratio_verdict, verdict
    rows = []
    for kind, r in race_out.items():
        runs = r["per_run"]
        mine = [x["usd"][sheet] for x in runs[cheap]]
        base = kind.partition("@")[0].partition("~")[0]
        if base != "xor":
            m, lo, hi = median_interval(mine)
            rows.append({"dataset": kind, "target": f"median $ <= {absolute:g}", "against": None, "value": m,
                         "lo": lo, "hi": hi, "limit": absolute, "bound": False, "verdict": verdict(lo, hi, absolute)})
        against = ([(today, 0.2)] if base == "xor" else []) + [(p, 1.0 if base == "xor" else 1 / 3) for p in peers]
        for other, limit in against:
            if other not in runs:
                continue
            theirs = runs[other]
            v = ratio_verdict(mine, [x["usd"][sheet] for x in theirs], limit,
                              censor_at=[x["spent_usd"][sheet] for x in theirs])
            rows.append({"dataset": kind, "target": f"$ / {other.split(' (')[0].split(' @')[0]}{_shots(other)} <= {limit:.3g}",
                         "against": other, "value": v["ratio"], **{k: v[k] for k in ("lo", "hi", "limit", "bound", "verdict")}})
        v = ratio_verdict([x["ttq_s"] for x in runs[cheap]], [x["ttq_s"] for x in runs[today]], MINUTES_LIMIT)
        rows.append({"dataset": kind, "target": f"minutes / today's <= {MINUTES_LIMIT:g}", "against": today, "value": v["ratio"],
                     **{k: v[k] for k in ("lo", "hi", "limit", "bound", "verdict")}})
    return rows


def undecided_entrants(rows: list[dict], cheap: str) -> dict:
    """Per data set with an undecided ``dollar_targets`` row: the entrants those rows compare (the
    sheet's choice and each one it is compared with), the runs that more seeds would decide."""
    out: dict = {}
    for r in rows:
        if r["verdict"] == "undecided":
            out.setdefault(r["dataset"], {cheap: None})[r["against"] or cheap] = None
    return {k: list(v) for k, v in out.items()}


def _shots(name: str) -> str:
    return f" @ {name.rpartition('@ ')[2]}" if "@ " in name else ""


def frontier(race_out: dict) -> dict:
    """Per data set, per entrant: median minutes and median dollars (every sheet) to quality, each
    with its 95 % bootstrap interval over seeds, and how many runs arrived: the points of the
    dollars-minutes frontier."""
    out = {}
    for kind, r in race_out.items():
        pts = []
        for name_, runs in r["per_run"].items():
            m = median_interval([x["ttq_s"] / 60 for x in runs])
            pt = {"method": name_, "reached": f"{sum(math.isfinite(x['ttq_s']) for x in runs)}/{len(runs)}",
                  "min": m[0], "min_lo": m[1], "min_hi": m[2]}
            for p in PRICES:
                d = median_interval([x["usd"][p] for x in runs])
                pt.update({f"usd {p}": d[0], f"usd_lo {p}": d[1], f"usd_hi {p}": d[2]})
            pts.append(pt)
        out[kind] = pts
    return out


def frontier_figure(points: dict, sheet: str = ARIA, short=None):
    """One panel per data set: each entrant a point (median minutes, median dollars on ``sheet``)
    with its 95 % intervals, log-log; a point whose median is infinite is left out (named in the
    panel)."""
    import matplotlib.pyplot as plt
    short = short or (lambda n: n.removeprefix("qnb ").split(" (")[0] + _shots(n))
    kinds = list(points)
    fig, axes = plt.subplots(1, len(kinds), figsize=(4.2 * len(kinds), 4.0), squeeze=False)
    for ax, kind in zip(axes[0], kinds):
        missing = []
        for i, p in enumerate(points[kind]):
            x, y = p["min"], p[f"usd {sheet}"]
            if not (math.isfinite(x) and math.isfinite(y)):
                missing.append(short(p["method"]))
                continue
            xe = [[x - p["min_lo"]], [max(p["min_hi"] - x, 0) if math.isfinite(p["min_hi"]) else x]]
            ye = [[y - p[f"usd_lo {sheet}"]], [max(p[f"usd_hi {sheet}"] - y, 0) if math.isfinite(p[f"usd_hi {sheet}"])
                                              else y]]
            ax.errorbar([x], [y], xerr=xe, yerr=ye, fmt="o" if p["method"].startswith("qnb") else "s",
                        capsize=2, lw=0.8, ms=5, label=short(p["method"]))
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))  # plain minutes, no 2x10^0
        ax.xaxis.set_minor_formatter(plt.NullFormatter())
        ax.set_title(kind + (f"\n(no median: {', '.join(missing)})" if missing else ""), fontsize=10)
        ax.set_xlabel("modeled minutes to quality")
    axes[0][0].set_ylabel(f"USD to quality ({sheet})")
    handles = {}  # every panel's entrants, once each (the last panel may lack one)
    for ax in axes[0]:
        for h, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, h)
    fig.legend(list(handles.values()), list(handles), fontsize=9, loc="lower center", ncol=min(4, len(handles)),
               bbox_to_anchor=(0.5, -0.02))
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig


def load_frontier(path: str = "../figures/bench.json", sheet: str = ARIA) -> list[dict]:
    """The frontier as flat rows (data set, method, minutes and dollars on ``sheet`` with their
    intervals) from a ``make bench`` result file: one line in a notebook, a table or a widget."""
    import json
    with open(path) as f:
        pts = json.load(f)["frontier"]
    return [{"dataset": k, "method": p["method"], "reached": p["reached"], "minutes": p["min"],
             "minutes 95 %": f"[{p['min_lo']:.3g}, {p['min_hi']:.3g}]", "dollars": p[f"usd {sheet}"],
             "dollars 95 %": f"[{p[f'usd_lo {sheet}']:.4g}, {p[f'usd_hi {sheet}']:.4g}]"}
            for k, v in pts.items() for p in v]


def round_floats(obj, digits: int = 6):
    """Every float in a JSON-like object rounded to ``digits`` significant digits (so another CPU's
    last-digit differences do not change the committed file); inf and nan kept."""
    if isinstance(obj, float):
        return obj if not math.isfinite(obj) or obj == 0 else float(f"{obj:.{digits}g}")
    if isinstance(obj, dict):
        return {k: round_floats(v, digits) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [round_floats(v, digits) for v in obj]
    if isinstance(obj, np.floating):
        return round_floats(float(obj), digits)
    return obj


def read_bench(path: str = "../figures/bench.json") -> dict:
    """A ``make bench`` result file."""
    import json
    with open(path) as f:
        return json.load(f)
