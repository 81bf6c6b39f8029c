"""Time to quality: the ceilings, the race of every method to 95 % of them, the ratio targets, and
the go-beyond search that chooses qnb's preset on other seeds."""
from __future__ import annotations

import math

import numpy as np

from ..batching import BatchStats
from ..config import TrainingConfig
from ..prices import PRICES
from .parallel import run_tasks
from .peers import train_qiskit_spsa, train_spsa_optimizer
from .runs import BILL, RaceClock, run_exact, run_qnb
from .stats import bootstrap, ratio_verdict

QNB_ALL = {
    "qnb fast (k=2)": dict(gradient_method="spsa_subsampled", gradient_subsample_size=2),
    "qnb balanced (k=5)": dict(gradient_method="spsa_subsampled", gradient_subsample_size=5),
    "qnb accurate (parallel, k=10)": dict(gradient_method="spsa_parallel"),
    "qnb two_direction (k=2, 2 directions)": dict(gradient_method="spsa_subsampled", gradient_subsample_size=2,
                                                  num_directions=2),
}
QNB_METHODS = {k: v for k, v in QNB_ALL.items() if k.startswith(("qnb fast", "qnb two_direction"))}  # make bench
QISKIT = "qiskit-algorithms SPSA (defaults: calibrated a, +- pair in one job)"  # the peers extra; skipped if absent
PEERS = ("qml.SPSAOptimizer (defaults)", "qml.SPSAOptimizer (matched gains)", QISKIT)


def time_to_quality(records: list[dict], target: float) -> float:
    """Modeled seconds until test accuracy first reaches ``target`` (inf if never)."""
    return next((e["modeled_s"] for e in records if e["test_accuracy"] >= target), math.inf)


def usd(sheet, record: dict) -> float:
    """Dollars a run had spent at ``record`` under a price sheet (its ``bill``)."""
    return sheet.usd(BatchStats(**dict(zip(BILL, record["bill"]))))


def usd_to_quality(records: list[dict], target: float, sheet) -> float:
    """Dollars spent until test accuracy first reaches ``target`` (inf if never)."""
    return next((usd(sheet, e) for e in records if e["test_accuracy"] >= target), math.inf)


def per_run(records: list[dict], target: float) -> dict:
    """A run's time and dollars (every sheet) to quality, and what it had spent when it stopped
    (the bound for one that never arrives)."""
    return {"ttq_s": time_to_quality(records, target), "spent_s": records[-1]["modeled_s"],
            "usd": {k: usd_to_quality(records, target, p) for k, p in PRICES.items()},
            "spent_usd": {k: usd(p, records[-1]) for k, p in PRICES.items()}}


def ttq_summary(times: list[float]) -> dict:
    """Median and interquartile range of time to quality; a run that never reaches it counts as
    infinitely slow, so a median exists while more than half the runs reach the target."""
    t = np.array(times, dtype=float)
    q25, q75 = (np.quantile(t, q, method="inverted_cdf") for q in (0.25, 0.75))
    q50 = float(np.median(t))  # inf unless more than half of the runs arrive (with 10: the 6th does)
    return {"reached": f"{int(np.isfinite(t).sum())}/{len(t)}", "median_min": q50 / 60,
            "iqr_min": (q75 - q25) / 60 if np.isfinite(q75) else math.inf}


def accuracy_at(records: list[dict], t: float) -> float | None:
    """Test accuracy of the last record at or before modeled time t (None if there is none)."""
    before = [e["test_accuracy"] for e in records if e["modeled_s"] <= t]
    return before[-1] if before else None


def thin(records: list[dict], target: float, n: int = 150) -> list[dict]:
    """At most ~n records of a run for the report's figure: evenly spaced, plus the first at the
    target and the last (the race's numbers are computed from every record)."""
    keep = set(range(0, len(records), max(1, math.ceil(len(records) / n)))) | {len(records) - 1}
    keep |= {next((i for i, e in enumerate(records) if e["test_accuracy"] >= target), 0)}
    return [records[i] for i in sorted(keep)]


def race_task(task: tuple) -> list[dict]:
    """One run of the race: (method name, qnb config keywords or None, data set, seed, rule =
    (target, budget_s, t_eq)). Module-level so that joblib and Dask workers can import it."""
    name, kw, kind, seed, rule = task
    if name.startswith("qnb"):
        if kw.get("adaptive"):  # a research strategy (qnb.research.dollars)
            from .adaptive import run_candidate
            return run_candidate(kw, kind, seed, rule)
        return run_qnb(TrainingConfig(**{**kw, "seed": seed}), kind, rule)
    # a peer's kw: the gains it is matched to (or None: its defaults), or {"shots": s, "gains": ...}
    shots = 1000
    if kw is not None and ("shots" in kw or "gains" in kw):
        shots, kw = kw.get("shots", 1000), kw.get("gains")
    if name.startswith("qml.SPSAOptimizer"):
        return train_spsa_optimizer(seed, kind, rule, gains=kw, shots=shots)["steps"]
    r = train_qiskit_spsa(seed, kind, rule, shots=shots)
    return None if r is None else r["steps"]


def exact_task(task: tuple) -> dict:
    kind, seed, epochs = task
    return run_exact(kind, seed, epochs)


CEILING_EPOCHS = {"blobs": 30, "xor": 40, "iris": 40, "breast_cancer": 15}  # at most; each seed stops at its plateau


def ceilings(kinds, seeds, client=None, workers=None, log=None, epochs=None) -> dict:
    """Per data set: the exact-gradient (Adam) runs, their plateau (mean test accuracy over the
    last 3 epochs, per seed), its mean and spread, and the change from the 3 epochs before."""
    epochs = epochs or {k: CEILING_EPOCHS[k.partition("~")[0].partition("@")[0]] for k in kinds}
    tasks = [(k, int(s), epochs[k]) for k in kinds for s in seeds]
    runs = run_tasks(exact_task, tasks, client=client, workers=workers, progress=True, desc="ceiling", log=log)
    out = {}
    for kind in kinds:
        rs = [r for (k, _, _), r in zip(tasks, runs) if k == kind]
        plateau = [np.mean([e["test_accuracy"] for e in r["epochs"][-3:]]) for r in rs]
        before = [np.mean([e["test_accuracy"] for e in r["epochs"][-6:-3]]) for r in rs]
        n_ep = [len(r["epochs"]) for r in rs]
        c = float(np.mean(plateau))
        out[kind] = {"ceiling": c, "ceiling_sd": float(np.std(plateau, ddof=1)) if len(rs) > 1 else 0.0,
                     "plateau_change": float(np.mean(plateau) - np.mean(before)), "max_epochs": epochs[kind],
                     "epochs": f"{min(n_ep)}-{max(n_ep)}", "at_plateau": f"{sum(n < epochs[kind] for n in n_ep)}/{len(rs)}",
                     "target": 0.95 * c, "runs": [r["steps"] for r in rs]}
    return out


PS_NAME = "parameter shift + Adam (exact values, 1000-shot cost)"


def race_rule(c: dict, budget_fraction: float = 1.0, max_budget_s: float = math.inf) -> tuple:
    """(target, budget_s, t_eq) for a data set from its ceiling runs: the budget is
    ``budget_fraction`` x the time of parameter shift's slowest run that reaches the target (so at
    1 no method is stopped before parameter shift's arriving runs have all arrived); the
    equal-time mark is 1/10 of parameter shift's median time to quality (the 1/10 target)."""
    t = [time_to_quality(r, c["target"]) for r in c["runs"]]
    arrived = [x for x in t if np.isfinite(x)]
    slowest = max(arrived) if arrived else max(r[-1]["modeled_s"] for r in c["runs"])
    med = ttq_summary(t)["median_min"] * 60
    budget = min(max_budget_s, budget_fraction * slowest)
    return c["target"], float(budget), float(min(budget, (med if np.isfinite(med) else slowest) / 10))


def under_rule(records: list[dict], rule: tuple) -> list[dict]:
    """A finished run's records up to where the race's rule would have stopped it."""
    clock = RaceClock(rule[:3])
    for e in records:
        if clock.record(e["test_accuracy"], e["modeled_s"], bill=e["bill"]):
            break
    return clock.records


def race(kinds, seeds, ceil: dict, entrants: dict, client=None, workers=None, log=None, peers=PEERS,
         max_budget_s: float = math.inf, budget_fraction: float = 1.0, matched: dict | None = None,
         grid: int | None = None, caps: dict | None = None, prior: dict | None = None,
         only: dict | None = None) -> dict:
    """Every entrant (name: qnb config keywords) and peer on every data set and seed until it has
    reached the target (and passed the equal-time mark) or the common budget (``race_rule``).
    Accuracy is measured after every step. ``matched``: the gains (a, c, A, alpha, gamma) that
    ``qml.SPSAOptimizer (matched gains)`` gets: those of the configuration it is compared with.
    ``grid``: read every entrant only on that many common times (``runs.GridClock``), not after
    every step (parameter shift's ceiling runs keep their every-step records). ``caps``: per data
    set, modeled seconds at which an entrant's run stops even below the budget (with ``grid``; the
    grid and the budget stay the race's). ``prior``: an earlier race of the same data sets under
    the same rule, whose runs (its ``raw``) are kept, ``seeds`` adding new ones; ``only``: per data
    set, the names to run (default: every entrant and peer on every data set)."""
    names = list(entrants) + list(peers)
    kws = {**entrants, "qml.SPSAOptimizer (matched gains)": matched or {}}
    tasks, rules = [], {}
    for kind in kinds:
        rules[kind] = race_rule(ceil[kind], budget_fraction, max_budget_s)
        rule = rules[kind]
        if grid:
            cap = min(rule[1], (caps or {}).get(kind, math.inf))
            rule = (rule[0], cap, min(rule[2], cap), grid, rule[1])
        tasks += [(n, kws.get(n), kind, int(s), rule) for n in names if only is None or n in only.get(kind, ())
                  for s in seeds]
    runs = run_tasks(race_task, tasks, client=client, workers=workers, progress=True, desc="race", log=log)
    raw = {kind: {n: list((prior or {}).get(kind, {}).get("raw", {}).get(n, [])) for n in names} for kind in kinds}
    for (m, _, k, _, _), r in zip(tasks, runs):
        raw[k][m].append(r)
    raw = {kind: {n: rs for n, rs in v.items() if rs} for kind, v in raw.items()}  # names with no run here: none
    return {kind: summarize_race(kind, ceil[kind], rules[kind], raw[kind], budget_fraction) for kind in kinds}


def summarize_race(kind: str, c: dict, rule: tuple, raw: dict, budget_fraction: float = 1.0) -> dict:
    """A data set's race from its runs (``raw``: name -> one record list per seed) and its ceiling
    ``c``: parameter shift's ceiling runs held to the same ``rule``, then every entrant."""
    target, budget, t_eq = rule[:3]
    rows, histories, runs_of = [], {}, {}
    ps_runs = [under_rule(r, rule) for r in c["runs"]]  # the ceiling's runs, held to the same rule
    for name, rs in [(PS_NAME, ps_runs), *raw.items()]:
        if any(r is None for r in rs):
            print(f"{name}: not installed, skipped (pip install -e '.[peers]')")
            continue
        at = [accuracy_at(r, t_eq) for r in rs]
        rows.append({"method": name, "runs": len(rs), **ttq_summary([time_to_quality(r, target) for r in rs]),
                     "acc_at_equal_time": float(np.mean([a for a in at if a is not None])) if any(
                         a is not None for a in at) else None,
                     "steps_median": float(np.median([r[-1].get("step", len(r) - 1) for r in rs]))})
        histories[name] = [thin(r, target) for r in rs]
        runs_of[name] = [per_run(r, target) for r in rs]
    dollars = [{"method": n, **{k: float(np.median([x["usd"][k] for x in v])) for k in PRICES}}
               for n, v in runs_of.items()]
    return {"dataset": kind, "ceiling": c["ceiling"], "ceiling_sd": c["ceiling_sd"],
            "plateau_change": c["plateau_change"], "target": target, "budget_min": budget / 60,
            "budget_fraction_of_parameter_shift": budget_fraction,
            "equal_time_min": t_eq / 60, "rows": rows, "dollars": dollars, "per_run": runs_of,
            "histories": histories, "raw": raw}


def ratio_targets(race_out: dict, ours_name: str, ours_by_sheet: dict | None = None,
                  peer: str | None = "qml.SPSAOptimizer (matched gains)") -> list[dict]:
    """The targets per data set, each a ratio of medians over seeds with its 95 % bootstrap interval
    and verdict (``stats.ratio_verdict``): qnb's choice (held-out seeds) <= 1/10 of parameter
    shift's and <= 1/2 of qml.SPSAOptimizer's (matched gains) time to quality, and <= 1/10 of
    parameter shift's dollars to quality on every price sheet (``ours_by_sheet``: the entrant chosen
    for that sheet, default ``ours_name``). Their runs that never arrive count
    as arriving when they were stopped (what they had spent then): the ratio is then an upper
    bound, which can meet a target but never miss it."""
    rows = []
    for kind, r in race_out.items():
        runs = r["per_run"]
        ours = runs[ours_name]
        pairs = [(PS_NAME, 0.1)] + ([(peer, 0.5)] if peer in runs else [])
        for against, limit in pairs:
            theirs = runs[against]
            a, b = [x["ttq_s"] / 60 for x in ours], [x["ttq_s"] / 60 for x in theirs]
            v = ratio_verdict(a, b, limit, censor_at=[x["spent_s"] / 60 for x in theirs])
            rows.append({"dataset": kind, "measure": "minutes", "against": against, "entrant": ours_name,
                         "ours": float(np.median(a)),
                         "theirs": float(np.median(b)), **v})
        for sheet in PRICES:
            theirs, mine = runs[PS_NAME], runs[(ours_by_sheet or {}).get(sheet, ours_name)]
            a, b = [x["usd"][sheet] for x in mine], [x["usd"][sheet] for x in theirs]
            v = ratio_verdict(a, b, 0.1, censor_at=[x["spent_usd"][sheet] for x in theirs])
            rows.append({"dataset": kind, "measure": f"USD {sheet}", "against": PS_NAME,
                         "entrant": (ours_by_sheet or {}).get(sheet, ours_name), "ours": float(np.median(a)),
                         "theirs": float(np.median(b)), **v})
    return rows


# -- go beyond: what makes batch SPSA reach the ceiling fastest ---------------------------------
_K2 = dict(gradient_method="spsa_subsampled", gradient_subsample_size=2)
_K5M = dict(gradient_method="spsa_subsampled", gradient_subsample_size=5, optimizer="momentum", spsa_a=1.0)
GO_BEYOND = {  # each an estimator or trainer option; adopted only if it wins on the selection seeds
    "two_direction (sgd)": dict(_K2, num_directions=2),
    "two_direction, a from the first job": dict(_K2, num_directions=2, calibrate=True),
    "two_direction + Adam": dict(_K2, num_directions=2, optimizer="adam"),
    "two_direction + momentum (a=1.0)": dict(_K2, num_directions=2, optimizer="momentum", spsa_a=1.0),
    "k=5 + momentum (a=1.0)": dict(_K5M),
    "parallel (k=10) + momentum (a=1.0)": dict(_K5M, gradient_method="spsa_parallel"),
    # blocking: the previous step checked in this step's job (2k more circuits), undone if the loss rose
    "k=5 + momentum (a=1.0) + blocking": dict(_K5M, blocking=True),
    # QN-SPSA: the metric from 4 overlap circuits in the same job. beta and a from a pilot on xor@1, seeds
    # 100-101 (beta = 1e-3 with a = 0.1, 0.3, 1; beta = 0.1 with a = 0.1, 0.3, 1, 2, 4): beta = 0.1, a = 1
    # had the lowest mean time to quality, 79 modeled min (k=5 + momentum without the metric: 22)
    "k=5 + momentum + QN-SPSA metric (beta=0.1, a=1.0)": dict(_K5M, regularization=0.1),
    # shot allocation: the same 10,000 shots per job spread over more samples or directions
    "k=10 + momentum (a=1.0), 500 shots": dict(_K5M, gradient_method="spsa_parallel", shots_per_circuit=500),
    "k=5 + momentum (a=1.0), 2 directions x 500 shots": dict(_K5M, num_directions=2, shots_per_circuit=500),
}
SELECTION_SEEDS = range(100, 105)  # the preset is chosen on these (and data split 1); the race runs on 0, 1, ..., split 0


def go_beyond(kinds, ceil: dict, seeds=SELECTION_SEEDS, client=None, workers=None, log=None,
              max_budget_s: float = math.inf, budget_fraction: float = 1.0) -> list[dict]:
    """Candidate options on the hard data sets, on selection seeds only, under the race's rule;
    per data set the runs at the target and the median time to quality, and the scores ``choose``
    ranks them by: ``score`` in modeled time, and ``USD score <sheet>`` in dollars on each sheet of
    ``qnb.PRICES`` (the price-aware choice: the same runs, priced by each sheet)."""
    tasks, rules = [], {}
    for kind in kinds:
        rules[kind] = race_rule(ceil[kind], budget_fraction, max_budget_s)
        tasks += [(f"qnb {n}", kw, kind, int(s), rules[kind]) for n, kw in GO_BEYOND.items() for s in seeds]
    runs = run_tasks(race_task, tasks, client=client, workers=workers, progress=True, desc="go beyond", log=log)
    rows = {n: {"candidate": n, "score": 0.0, **{f"USD score {p}": 0.0 for p in PRICES}} for n in GO_BEYOND}
    shares = {n: [] for n in GO_BEYOND}  # per data set, each seed's share of the budget: the score's uncertainty
    for kind in kinds:
        of = {n: [r for (m, _, k, _, _), r in zip(tasks, runs) if m == f"qnb {n}" and k == kind] for n in GO_BEYOND}
        # dollars are censored at the most any candidate's run spent here: a run that never
        # arrives counts as that, so that, as in time, every run counts, the ones that miss too
        most = {p: max(usd(sheet, r[-1]) for rs in of.values() for r in rs) for p, sheet in PRICES.items()}
        for n, rs in of.items():
            row = rows[n]
            t = [time_to_quality(r, rules[kind][0]) for r in rs]
            s = ttq_summary(t)
            row[f"{kind} reached"] = s["reached"]
            row[f"{kind} median_min"] = s["median_min"]
            # mean time to quality as a share of the budget, a run that never arrives counted as
            # the whole budget (censored there): every run counts, the ones that miss too
            shares[n].append(np.minimum(np.array(t) / rules[kind][1], 1.0))
            row["score"] += float(np.mean(shares[n][-1]))
            for p, sheet in PRICES.items():
                d = [usd_to_quality(r, rules[kind][0], sheet) for r in rs]
                row[f"USD score {p}"] += float(np.mean(np.minimum(np.array(d) / max(most[p], 1e-12), 1.0)))
    for n, row in rows.items():  # each data set's seeds resampled on their own, the means summed again
        _, row["score lo"], row["score hi"] = bootstrap(lambda *g: sum(float(np.mean(x)) for x in g), *shares[n])
    return list(rows.values())


def choose(rows: list[dict], key: str = "score") -> str:
    """The candidate with the smallest score: per hard data set, its mean time (``score``) or
    dollars on a sheet (``USD score <sheet>``) to quality as a share of the budget (runs that never
    arrive count as the whole budget), summed."""
    return min(rows, key=lambda r: (r[key], r["candidate"]))["candidate"]
