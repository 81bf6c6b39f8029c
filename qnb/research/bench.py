"""`make bench`: time to quality against a true ceiling, qnb against its peers, one run.

    python -m qnb.research.bench [--quick | --full] [--workers N] [--scheduler tcp://host:8786]

Per data set (blobs, xor, iris, breast_cancer): the exact-gradient ceiling (Adam, until the test
accuracy plateaus), a go-beyond search for faster batch SPSA on selection seeds, and a race of
every method to 95 % of the ceiling on other seeds (through the user-data path); throughput and
jobs per step. The runs go through ``qnb.research.parallel.run_tasks``: joblib processes by default, a
Dask cluster with ``--scheduler``. Writes bench.json and bench.md into $QNB_FIGURES
(make bench: figures/).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import time
from dataclasses import asdict

from ..config import PRESETS, TrainingConfig
from ..prices import PRICES
from . import experiments as E
from .parallel import worker_summary
from . import dollars as D
from .bias import bias_table
from .peers import shot_adaptive_step
from .vqe_race import SETTINGS as VQE_SETTINGS
from .vqe_race import vqe_race
from .race import QNB_ALL, ceilings, race, ratio_targets
from .runs import HARD, PLATEAU_TOL, RACE_DATASETS
from .stats import ratio_verdict
from .throughput import emulator_overhead, job_counts, throughput


SEEDS = 20  # race seeds per method: a ratio's bootstrap interval narrows about as 1/sqrt(seeds)
NOISE = "aria-1"
NOISY_DATASETS = ("blobs", "iris")  # the noisy race: a synthetic and a real data set
SELECTION_SEEDS = range(100, 103)  # the sheet's choice is made on these (and data split 1)


def _qiskit() -> bool:
    try:
        import qiskit_algorithms  # noqa: F401
    except ImportError:
        return False
    return True


def _finite(x) -> float:
    return math.inf if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def cheap_name(entrant: str, ours: str) -> str:
    """The selection's name of a race entrant (``bench``'s label)."""
    return D.TODAY if entrant == ours else entrant.removeprefix("qnb ").removesuffix(" (a sheet's choice)")


def chooser_verdicts(races: dict, ours: str, by_sheet: dict) -> list[dict]:
    """Is the price-aware choice for a sheet cheaper to quality on the held-out seeds than the
    time choice? Per data set, median dollars (that sheet) of the sheet's choice over the time
    choice's, with its 95 % interval: adopted where the whole interval is below 1."""
    rows = []
    for sheet, name in by_sheet.items():
        if name == ours:
            rows.append({"sheet": sheet, "dataset": "every one", "chosen": "the time choice", "verdict": "same"})
            continue
        for kind, r in races.items():
            mine, base = ([x["usd"][sheet] for x in r["per_run"][n]] for n in (name, ours))
            v = ratio_verdict(mine, base, 1.0)
            rows.append({"sheet": sheet, "dataset": kind, "chosen": name.split(" (")[0], "ratio": v["ratio"],
                         "95 % interval": f"[{v['lo']:.3g}, {v['hi']:.3g}]",
                         "verdict": {"met": "adopted: cheaper", "missed": "not adopted: dearer"}.get(
                             v["verdict"], "not adopted: undecided")})
    return rows


def targets_table(rows: list[dict]) -> list[dict]:
    """The ratio targets as the report prints them (short method names, the interval as text)."""
    short = lambda m: m.split(" (")[0] if m.startswith(("parameter shift", "qml")) else m
    return [{"dataset": r["dataset"], "measure": r["measure"], "entrant": r["entrant"].split(" (")[0],
             "against": short(r["against"]), "ours": r["ours"],
             "theirs": r["theirs"], "ratio": r["ratio"], "95 % interval": f"[{r['lo']:.3g}, {r['hi']:.3g}]",
             "limit": r["limit"], "verdict": r["verdict"] + (" (bound)" if r["bound"] else "")} for r in rows]


def _more_seeds_note(more: dict | None) -> str:
    """Which entrants a second look ran on more seeds (``--more-seeds``)."""
    if not more or not more["seeds"]:
        return ""
    runs = "; ".join(f"{k}: " + ", ".join(n.split(" (")[0] for n in names) for k, names in more["entrants"].items())
    return (f" Where a target was undecided after the first seeds, the entrants it compares ran on {more['seeds']} "
            f"more seeds and every target here was read again from all their runs ({runs}). Looking twice at a "
            "comparison raises the chance of a wrong verdict above the 2.5 % a side of one look (at most doubling "
            "it); the time targets above that read these runs were looked at twice as well.")


def _vqe_section(v: dict | None) -> list[str]:
    """bench.md's lines for the VQE race (``research.vqe_race``), none for an older result file."""
    if not v:
        return []
    t = E.table
    return ["Where its form allows it races: a VQE energy (`qnb.research.vqe_race`: 2 qubits, 3 parameters, H in 3 "
            "measurement bases), from a random start per seed to 95 % of the way to the energy exact gradients reach "
            "from there; each optimizer at its cheapest setting on the selection seeds (shots per circuit, or "
            "ShotAdaptive's `min_shots`: its first step's shots, after which its own rule sets them), billed by "
            "qml.Tracker's batches (jobs), executions (circuits) and shots; ShotAdaptive runs as iCANS, its default "
            "(no term sampling). "
            "qnb's and qml's SPSA share the gains a = 0.6, c = 0.2, A = 5.", "",
            t(v["rows"], floatfmt=",.4g"), "",
            t([{"sheet": r["sheet"], "qnb BatchSPSAOptimizer over": r["against"], "ratio of medians": r["ratio"],
                "95 % interval": f"[{r['lo']:.3g}, {r['hi']:.3g}]", "verdict (<= 1)": r["verdict"]
                + (" (bound)" if r["bound"] else "")} for r in v["ratios"]], floatfmt=".3g"), ""]


def md_report(out: dict) -> str:
    """bench.md from the study's results."""
    t = E.table
    n_seeds = next(iter(out["races"].values()))["rows"][0]["runs"]
    md = ["# qnb benchmark (one run on this machine)", "",
          f"{n_seeds} race seeds per method" + (f" (a reduced run: `make bench` runs {SEEDS})" if n_seeds < SEEDS else "")
          + (f", {out['more_seeds']['seeds']} more for the entrants of an undecided dollar target (issue 27's targets, "
             "below)" if out.get("more_seeds", {}).get("seeds") else "")
          + f"; selection seeds {out['selection_seeds']}.", "",
          "Time to quality: modeled cloud minutes (seed-calibrated latency model, priced per shot) until the test accuracy first "
          "reaches 95 % of the data set's exact-gradient ceiling, read on a common grid of 200 modeled times up to the "
          "budget (the state after the last step completed by each grid time; parameter shift's ceiling runs are read "
          "after every step, which can only flatter it); median and "
          "IQR over seeds; runs that never reach it count as infinitely slow, so a median exists only when more "
          "than half the runs arrive. Every method gets the same budget on a data set, "
          f"{out['budget_fraction']:g} x the time of parameter shift's slowest run that arrives, and stops before "
          "a step that would pass it (its cost: the dearest step so far; a one-off calibration is not a step) or once "
          "it has reached the target and passed the equal-time mark (1/10 of parameter shift's median, where "
          "`acc_at_equal_time` is read). Parameter shift's entry is the ceiling's runs, each step charged as ONE job "
          "of its circuits at 1000 shots, held to the same rule. `qml.SPSAOptimizer (matched gains)` gets the "
          "chosen configuration's a, c, A, alpha, gamma. A ratio against a method whose median run never arrives "
          "is a bound (ours / budget).", "",
          "Dollars to quality: what a run had spent at that grid time, priced by each sheet of `qnb.PRICES` from the "
          "jobs, circuits, shots and gate-shots it sent (the runs are the race's, stopped by its modeled-time rule). "
          "The peers race at their best shot count on the Aria sheet, chosen on the selection seeds "
          "(`@ s shots`); `qml.SPSAOptimizer (matched gains)` gets split_shots' a, c, A, alpha, gamma.", "",
          "## Targets (ratios of medians over seeds, qnb's preset on held-out seeds, 95 % bootstrap intervals)",
          "Met only when the whole interval is at or below the limit, missed only when all of it is above, "
          "otherwise undecided. `bound`: some of their runs never arrived and count as arriving when stopped, "
          "so the ratio is an upper bound.", "",
          t(targets_table(out["ratio_targets"]), floatfmt=".3g"), "",
          "## Other targets", t(out["targets"]), "",
          f"## Ceilings (exact gradients, Adam, until the plateau: last 3 epochs within {PLATEAU_TOL} of the 3 before)",
          t([{"dataset": k, "epochs": c["epochs"], "seeds at plateau": c["at_plateau"], "ceiling": c["ceiling"],
              "sd": c["ceiling_sd"], "plateau change (last 3 vs 3 before)": c["plateau_change"], "target": c["target"]}
             for k, c in out["ceilings"].items()], floatfmt=".3f")]
    for kind, r in {**out["races"], **out.get("noisy_races", {})}.items():
        md += ["", f"## Race, {kind}: target {r['target']:.3f}, budget {r['budget_min']:.0f} min, equal-time mark "
                   f"{r['equal_time_min']:.1f} min", t(r["rows"]), "", "Median dollars to quality per price sheet:",
               t(r["dollars"], floatfmt=",.0f")]
    if "noisy_races" in out:
        md += ["", f"## Under the `{NOISE}` noise model ({', '.join(out['noisy_races'])})",
               "Ceilings recomputed under noise (exact gradients of the noisy loss, Adam):",
               t([{"dataset": k, "epochs": c["epochs"], "ceiling": c["ceiling"], "sd": c["ceiling_sd"],
                   "target": c["target"]} for k, c in out["noisy_ceilings"].items()], floatfmt=".3f"), "",
               "Targets under noise:", t(targets_table(out["noisy_ratio_targets"]), floatfmt=".3g")]
    sel = out["selection_choice"]
    md += ["", f"## Where the money goes: the selection (seeds {out['selection_seeds']}: its own ceilings, targets and "
               "budgets)",
           "Every configuration runs once per selection seed and data set, read on the common grid (200 modeled times "
           "up to the budget: time and dollars to quality are those of the state after the last step completed by the "
           "first grid time at the target); its dollars on every sheet follow from what it sent. Today's `split_shots` "
           "runs first under the full budget; every other candidate and peer is stopped at the minutes limit "
           f"({D.MINUTES_LIMIT:g} x today's median minutes per data set: "
           + ", ".join(f"{k} {v:.3g} min" for k, v in out["selection_limit_min"].items()) + "), and a run not at the "
           "target by then counts as never arriving. A sheet's choice minimises the mean over data sets of median "
           "dollars / today's median dollars, among candidates within the sheet's limits (its `min_shots`) whose "
           "median minutes are within the limit on every data set. Each peer's best shot count is chosen the same way "
           "among its own shot counts. Scores: `inf`/empty = not feasible.", "",
           t([{"sheet": p, "choice": c["choice"], "score (mean $ / today's $)": c["score"],
               "min shots": PRICES[p].min_shots, **{f"{k.split(' (')[0]} best": v.get(p) and v[p].rpartition("@ ")[2]
                                                     for k, v in out["peer_best_shots"].items()}}
              for p, c in sel.items()], floatfmt=".3g"), "",
           t(out["go_beyond"], floatfmt=".3g"), "",
           f"## Issue 27's targets on the `{D.ARIA}` sheet: `{out['chosen_by_sheet'][D.ARIA]}` on the held-out seeds",
           "Medians over seeds with 95 % bootstrap intervals; read on the common grid. Peers at their best shot count "
           "(selection seeds). `bound`: some of the peer's runs never arrived and count as what they had spent."
           + _more_seeds_note(out.get("more_seeds")), "",
           t([{"dataset": r["dataset"], "target": r["target"], "value": r["value"],
               "95 % interval": f"[{r['lo']:.3g}, {r['hi']:.3g}]", "limit": r["limit"],
               "verdict": r["verdict"] + (" (bound)" if r["bound"] else "")} for r in out["dollar_targets"]],
             floatfmt=".3g"), "",
           "## The dollars-minutes frontier (held-out seeds; figure `bench_frontier.png`, the Aria sheet)",
           t([{"dataset": k, **{kk: v for kk, v in p.items() if kk in ("method", "reached", "min", "min_lo", "min_hi")},
               "usd": p[f"usd {D.ARIA}"], "usd_lo": p[f"usd_lo {D.ARIA}"], "usd_hi": p[f"usd_hi {D.ARIA}"]}
              for k, pts in out["frontier"].items() for p in pts], floatfmt=".4g"), "",
           f"## The cheap choice under `{NOISE}` (95 % of the noisy ceiling)", t(out["noisy_cheap"], floatfmt=".4g"), "",
           "## Few shots, measured correctly: the square loss's shot bias (1 - f^2)/s and the two-halves estimator",
           t(out["bias"], floatfmt=".4f"), "",
           "A 95 % interval misses the true value one time in twenty: at 2 shots notebook 07 sums over every pair "
           "of outcomes exactly and finds the two-halves estimator's bias below 1e-12, so an interval of it here "
           "that leaves out 0 is sampling, not bias.", "",
           "## `qml.ShotAdaptiveOptimizer` where its form allows",
           "It takes one QNode objective with parameter-shift gradients: the batch loss (a mean of squares of "
           "expectation values) is not one, so it cannot train what the race trains. On the per-sample linear loss "
           "-y f (one QNode per sample) one step costs, counted by qml.Tracker:", "",
           t([{"objective": out["shot_adaptive"]["objective"], "min_shots": out["shot_adaptive"]["min_shots"],
               **out["shot_adaptive"]["per_step"], **{f"$ {p}": v for p, v in out["shot_adaptive"]["usd_per_step"].items()}}],
             floatfmt=".4g"), "",
           *_vqe_section(out.get("vqe_race")),
           "## The price-aware choice against the time choice on the held-out seeds", t(out["chooser"], floatfmt=".3g"), "",
           "## How time to quality is read",
           "qnb's configurations and the peers are recorded only at the 200 common grid times (the state after "
           "the last step completed by each), so their first record at the target is already the common-grid "
           "reading; parameter shift's ceiling runs are read after every step, which can only flatter it.", "",
           "## Local throughput (48-parameter model)", t(out["throughput"], floatfmt=",.0f"), "",
           "## Jobs and circuits per optimisation step (batch of 10)", t(out["job_counts"], floatfmt=".0f"), "",
           "## How the study divided across workers", t(out["workers"], floatfmt=".0f"), "",
           f"Benchmark wall time: {out['seconds']:.0f} s on {out['n_workers']} workers; CPU: {out['cpu_workers_s']:.0f} s "
           f"in the runs + {out['cpu_main_s']:.0f} s in the main process, so about "
           f"{out['cpu_main_s'] + out['cpu_workers_s'] / 2:.0f} s on 2 cores that nothing else uses"]
    return "\n".join(md) + "\n"


def _frontier_png(out: dict, path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    D.frontier_figure(out["frontier"]).savefig(path, dpi=110)


def main(argv=None, client=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="a smoke run in seconds")
    ap.add_argument("--workers", type=int, default=None, help="joblib processes (default: every core)")
    ap.add_argument("--full", action="store_true", help="every qnb preset in the race too")
    ap.add_argument("--seeds", type=int, default=SEEDS, help=f"race seeds per method (default {SEEDS}; the "
                    "verdicts' intervals narrow as 1/sqrt(seeds))")
    ap.add_argument("--budget-fraction", type=float, default=1.0, help="the common budget as a share of the time "
                    "of parameter shift's slowest run that reaches the target (default 1)")
    ap.add_argument("--scheduler", default=None, help="a Dask scheduler address: run the study on that cluster")
    ap.add_argument("--selection-seeds", type=int, default=len(SELECTION_SEEDS), help="selection seeds (from 100)")
    ap.add_argument("--pruned", action="store_true", help="the pruned grid (research.dollars.PRUNED) and peer shots "
                    f"{D.PEER_SHOTS_PRUNED}: a run that must fit fewer CPU seconds")
    ap.add_argument("--race-cap", type=float, default=None, help="stop race runs at this many times today's median "
                    "minutes on the selection split of the same data set (default: the race's budget only)")
    ap.add_argument("--more-seeds", type=int, default=0, help="race the entrants of every undecided Aria dollar "
                    "target on this many more seeds, then read the targets again (default 0)")
    ap.add_argument("--report", default=None, help="only rewrite bench.md and the frontier figure from this bench.json")
    args = ap.parse_args(argv)
    if args.report:
        with open(args.report) as f:
            out = json.load(f)
        folder = os.path.dirname(os.path.abspath(args.report))
        with open(os.path.join(folder, os.path.basename(args.report).replace(".json", ".md")), "w") as f:
            f.write(md_report(out))
        _frontier_png(out, os.path.join(folder, os.path.basename(args.report).replace(".json", "_frontier.png")))
        return 0
    if args.scheduler and client is None:
        from distributed import Client
        client = Client(args.scheduler)
    t0, c0 = time.perf_counter(), time.process_time()
    quick = args.quick
    seeds = range(2 if quick else args.seeds)
    kinds = ("blobs", "xor") if quick else RACE_DATASETS
    hard = ("xor",) if quick else HARD
    log: list = []
    par = dict(client=client, workers=args.workers, log=log)
    cap = dict(max_budget_s=120.0 if quick else math.inf)  # quick: a smoke run, not a measurement
    ceil = ceilings(kinds, seeds, epochs={k: 2 for k in kinds} if quick else None, **par)
    sel_seeds = range(100, 101) if quick else range(100, 100 + args.selection_seeds)
    sel = [f"{k}@1" for k in hard]  # the choice is made on another split and other seeds than the race's
    sel_ceil = ceilings(sel, sel_seeds, epochs={k: 2 for k in sel} if quick else None, **par)
    cap = dict(cap, budget_fraction=args.budget_fraction)
    cands = D.grid_candidates(pruned=args.pruned)
    if quick:  # a smoke run: a few candidates, one peer
        cands = {n: cands[n] for n in (D.TODAY, D.name(2, 1, 20), D.name(1, 1, 5), "adaptive shots, k=2 (braket-ionq-aria)")}
    matched = asdict(TrainingConfig(**cands[D.TODAY]).gains)  # a, c, A, alpha, gamma of today's choice
    peer_grid = D.peer_candidates(matched, shots=(5, 20) if quick else D.PEER_SHOTS_PRUNED if args.pruned else D.SHOTS,
                                  installed=_qiskit())
    if quick:
        peer_grid = {n: kw for n, kw in peer_grid.items() if "matched" in n}
    S = D.select(sel, sel_ceil, sel_seeds, matched, candidates=cands, peers=peer_grid, **par, **cap)
    ours = f"qnb {D.TODAY} = split_shots (today's time choice)"
    out = {"selection_seeds": f"{sel_seeds[0]}-{sel_seeds[-1]}, split 1", "budget_fraction": args.budget_fraction,
           "selection_ceilings": {k: {kk: v for kk, v in c.items() if kk != "runs"} for k, c in sel_ceil.items()},
           "selection_limit_min": S["limit_min"], "selection_choice": {
               p: {"choice": c["choice"], "score": c["score"]} for p, c in S["choice"].items()},
           "peer_best_shots": S["best_peer"], "selection_table": S["table"], "chosen": ours, "chosen_config": cands[D.TODAY], "preset": "split_shots"}
    # go_beyond (notebook 06's table): the selection's rows; "score" = the Aria sheet's (inf: not feasible)
    out["go_beyond"] = [{**r, "score": _finite(r[f"score {D.ARIA}"]), "score lo": _finite(r[f"score {D.ARIA}"]),
                         "score hi": _finite(r[f"score {D.ARIA}"])} for r in S["rows"]]
    names = {}
    for p, c in S["choice"].items():
        names.setdefault(c["choice"], []).append(p)
    label = lambda n: ours if n == D.TODAY else f"qnb {n} (a sheet's choice)"
    out["chosen_by_sheet"] = {p: label(c["choice"]) for p, c in S["choice"].items()}
    cheap = out["chosen_by_sheet"][D.ARIA]
    peers_best = {D.peer_name(p, 0).rpartition(" @")[0]: v[D.ARIA] for p, v in S["best_peer"].items() if v[D.ARIA]}
    entrants = {ours: cands[D.TODAY], **{label(n): S["kws"][n] for n in names if n != D.TODAY},
                **{n: S["kws"][n] for n in peers_best.values()}}
    if args.full and not quick:
        entrants.update(QNB_ALL)
    caps = {k: args.race_cap * S["limit_min"][f"{k}@1"] / D.MINUTES_LIMIT * 60 for k in kinds
            if args.race_cap and f"{k}@1" in S["limit_min"]}
    out["race_cap"] = {"times today's selection median": args.race_cap, "cap_min": {k: v / 60 for k, v in caps.items()}}
    out["races"] = race(kinds, seeds, ceil, entrants, peers=(), grid=D.GRID, caps=caps, **par, **cap)
    out["ceilings"] = {k: {kk: v for kk, v in c.items() if kk != "runs"} for k, c in ceil.items()}
    matched_best = peers_best.get("qml.SPSAOptimizer (matched gains)")
    out["dollar_targets"] = D.dollar_targets(out["races"], cheap, ours, list(peers_best.values()))
    more = D.undecided_entrants(out["dollar_targets"], cheap) if args.more_seeds and not quick else {}
    if more:  # a second look where the first left a verdict open: only those entrants, on new seeds
        out["races"].update(race(list(more), range(args.seeds, args.seeds + args.more_seeds), ceil, entrants,
                                 peers=(), grid=D.GRID, caps=caps, prior=out["races"], only=more, **par, **cap))
        out["dollar_targets"] = D.dollar_targets(out["races"], cheap, ours, list(peers_best.values()))
    out["ratio_targets"] = ratio_targets(out["races"], ours, out["chosen_by_sheet"], peer=matched_best)
    out["chooser"] = chooser_verdicts(out["races"], ours, out["chosen_by_sheet"])
    out["more_seeds"] = {"seeds": args.more_seeds if more else 0, "entrants": more}
    out["frontier"] = D.frontier(out["races"])
    # the same race under a noise model: its own ceilings; today's choice and the Aria sheet's cheap one
    noisy = tuple(f"{k}~{NOISE}" for k in (NOISY_DATASETS[:1] if quick else NOISY_DATASETS))
    nceil = ceilings(noisy, seeds, epochs={k: 2 for k in noisy} if quick else None, **par)
    out["noisy_races"] = race(noisy, seeds, nceil, {ours: cands[D.TODAY], cheap: S["kws"][cheap_name(cheap, ours)]},
                              peers=(), grid=D.GRID, caps={k: caps[k.partition("~")[0]] for k in noisy
                                                           if k.partition("~")[0] in caps}, **par, **cap)
    out["noisy_ceilings"] = {k: {kk: v for kk, v in c.items() if kk != "runs"} for k, c in nceil.items()}
    out["noisy_ratio_targets"] = ratio_targets(out["noisy_races"], ours, {p: cheap for p in PRICES}, peer=None)
    out["noisy_cheap"] = [{"dataset": k, "method": cheap, "reached": x["reached"], "median USD aria": x[f"usd {D.ARIA}"],
                           "95 % interval": f"[{x[f'usd_lo {D.ARIA}']:.4g}, {x[f'usd_hi {D.ARIA}']:.4g}]",
                           "median_min": x["min"]}
                          for k, pts in D.frontier(out["noisy_races"]).items() for x in pts if x["method"] == cheap]
    out["bias"] = bias_table()
    out["shot_adaptive"] = shot_adaptive_step()
    out["vqe_race"] = vqe_race(seeds=range(1 if quick else args.seeds), selection_seeds=range(100, 101 if quick else 105),
                               settings={n: s[:1] for n, s in VQE_SETTINGS.items()} if quick else None, **par)
    out["throughput"] = throughput(n=48 if quick else 960, per_circuit_n=5 if quick else 60)
    out["job_counts"] = job_counts()
    ov = emulator_overhead(0.05, 1 if quick else 5)
    tp = {r["path"]: r["circuits_per_s"] for r in out["throughput"]}
    batched = tp["qnb LocalBackend (numpy simulator, the default), one call per job"]
    yardstick = tp["plain numpy batched state vector (yardstick)"]
    per = tp["one QNode call per circuit (default.qubit)"]
    jc = {r["method"]: r["jobs"] for r in out["job_counts"]}
    targets = [("LocalBackend >= 5,000 circuits/s batched", batched >= 5000, f"{batched:,.0f}/s"),
               ("LocalBackend >= 50 % of the plain-numpy yardstick (same run)", batched >= 0.5 * yardstick,
                f"{batched / yardstick:.0%} of {yardstick:,.0f}/s"),
               ("batched >= 10x one QNode call per circuit", batched >= 10 * per, f"x{batched / per:.1f}"),
               (f"qnb overhead on the emulator (balanced, S={ov['latency_scale']}) within 10 % of the model",
                ov["ratio"] <= 1.10, f"wall / (S x modeled) = {ov['ratio']:.3f} over {ov['steps']} steps"),
               ("one job per step for spsa_parallel and spsa_subsampled",
                jc["qnb spsa_parallel"] == 1 and jc["qnb spsa_subsampled k=5"] == 1,
                f"{jc['qnb spsa_parallel']:.0f} and {jc['qnb spsa_subsampled k=5']:.0f}; qml.SPSAOptimizer "
                f"{jc['qml.SPSAOptimizer.step']:.0f}")]
    out["emulator_overhead"] = ov
    out["seconds"] = time.perf_counter() - t0
    out["cpu_main_s"] = time.process_time() - c0
    out["targets"] = [{"target": t, "met": bool(m), "measured": v} for t, m, v in targets]
    for r in (*out["races"].values(), *out["noisy_races"].values()):
        r.pop("raw")  # every run's records: the study's working state, not its result
    out["workers"] = worker_summary(log)
    out["n_workers"] = len(out["workers"])
    out["cpu_workers_s"] = sum(w["cpu_s"] for w in out["workers"])
    text = md_report(out)
    folder = E.figures_dir()
    if folder:
        os.makedirs(folder, exist_ok=True)
        _frontier_png(out, os.path.join(folder, "bench_quick_frontier.png" if quick else "bench_frontier.png"))
    name, folder = "bench_quick" if quick else "bench", E.figures_dir()
    if folder:  # written only where asked (make bench sets QNB_FIGURES)
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, name + ".md"), "w") as f:
            f.write(text)
        with open(os.path.join(folder, name + ".json"), "w") as f:
            json.dump(D.round_floats(out), f, indent=1, default=float)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
