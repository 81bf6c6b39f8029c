"""Where a run's dollars go (notebook 07): one step's bill split by what each sheet charges for,
and the adapter between a ``make bench`` result file and the notebook.

A step's bill is planned by ``QuantumTrainer.estimate`` (nothing is sent): jobs, circuits, shots
and gate-shots. A sheet (``qnb.PriceSheet``) charges

* a **fee**: per job (Azure's per-program charge, a Braket program set's one task fee) and per
  circuit (Braket's per-task fee, one task per circuit);
* **shots**: per shot of each circuit (Braket);
* **gate-shots**: per gate and shot (Azure's AQT formula);

and the three parts add up to ``PriceSheet.usd`` of the same counts. Dollars to quality are then
(dollars per step) x (steps to quality): the second factor is measured by ``make bench``, whose
selection table holds median dollars to quality per grid configuration and sheet.
"""
from __future__ import annotations

import math
from functools import lru_cache

from ..batching import BatchStats
from ..prices import PRICES, price_sheet

# (k, directions, shots per circuit[, step rule]): today's split_shots preset, then the sheets'
# choices of the last bench (a notebook reads the choices from its bench file: ``configs_of``)
CONFIGS = ((5, 2, 500), (2, 2, 20, "c=0.4"), (5, 1, 20, "c=0.4"), (5, 1, 500))
SHEETS = ("braket-ionq-aria", "braket-ionq-aria-program-set", "azure-ionq")
PARTS = ("fee", "shots", "gate-shots")
# what notebook 07 reads from a bench.json (issue 27's keys)
NEEDED = ("selection_table", "selection_choice", "selection_limit_min", "frontier", "dollar_targets")


def config_name(k: int, directions: int, shots: int, rule: str = "") -> str:
    """The grid's name of a configuration (``research.dollars.name``); ``rule``: one of
    ``research.dollars.STEP_RULES`` ("" for today's step rule)."""
    from .dollars import name
    return name(k, directions, shots, rule)


def parse(config) -> tuple:
    """(k, directions, shots, rule) of a configuration given as its grid name (e.g.
    "k=2, 2 dir, 20 shots, c=0.4") or as a tuple (k, directions, shots[, rule]); None for a name
    that is no grid configuration (a peer, adaptive shots, another optimizer)."""
    import re
    from .dollars import STEP_RULES
    if not isinstance(config, str):
        k, d, s, *rule = config
        return int(k), int(d), int(s), (rule[0] if rule else "")
    m = re.fullmatch(r"k=(\d+), (\d+) dir, (\d+) shots(?:, (.+))?", config)
    if m is None or (m[4] and m[4] not in STEP_RULES):
        return None
    return int(m[1]), int(m[2]), int(m[3]), m[4] or ""


def configs_of(bench: dict | None) -> list[tuple]:
    """Today's configuration and each sheet's choice in ``bench`` (each once, in the order of the
    sheets), as (k, directions, shots, rule); ``CONFIGS`` without a bench file's choices."""
    from .dollars import TODAY
    if not bench or "selection_choice" not in bench:
        return [parse(c) for c in CONFIGS]
    names = dict.fromkeys([TODAY, *(c["choice"] for c in bench["selection_choice"].values())])
    return [c for c in map(parse, names) if c is not None]


@lru_cache(maxsize=64)
def step_bill(k: int, directions: int, shots: int, dataset: str = "blobs") -> dict:
    """What one full-batch step of subsampled SPSA (momentum, a = 1) sends, planned by
    ``QuantumTrainer.estimate`` without sending anything: jobs, circuits, shots, gate-shots."""
    from ..config import TrainingConfig
    from ..trainer import QuantumTrainer
    cfg = TrainingConfig(gradient_method="spsa_subsampled", optimizer="momentum", spsa_a=1.0, dataset=dataset,
                         gradient_subsample_size=k, num_directions=directions, shots_per_circuit=shots)
    step = QuantumTrainer(cfg).estimate(price=SHEETS[0])["per_step"]
    return {key: step[key] for key in ("jobs", "circuits", "shots", "gate_shots_1q", "gate_shots_2q")}


def parts(bill: dict, sheet) -> dict:
    """A bill's dollars on ``sheet`` split into fee, shots and gate-shots; ``total`` is
    ``sheet.usd`` of the same counts (the parts add up to it)."""
    s = price_sheet(sheet)
    fee = s.per_job * s._jobs(bill["jobs"], bill["circuits"]) + s.per_circuit * bill["circuits"]
    out = {"fee": fee, "shots": s.per_shot * bill["shots"],
           "gate-shots": s.per_1q_gate_shot * bill["gate_shots_1q"] + s.per_2q_gate_shot * bill["gate_shots_2q"]}
    out["total"] = s.usd(BatchStats(jobs=bill["jobs"], circuits=bill["circuits"], shots=bill["shots"],
                                    gate_shots_1q=bill["gate_shots_1q"], gate_shots_2q=bill["gate_shots_2q"]))
    return out


def breakdown(configs=CONFIGS, sheets=SHEETS) -> list[dict]:
    """One row per (sheet, configuration): what one step sends and its dollars by part; ``job_usd``
    is the sheet's one-job formula on the same step (circuits, shots per circuit, gates). A
    configuration: a grid name or (k, directions, shots[, rule]); the step rule (c, a) changes
    the angles, not what a step sends."""
    rows = []
    for p in sheets:
        sheet = PRICES[p]
        for k, d, s, rule in map(parse, configs):
            b = step_bill(k, d, s)
            usd = parts(b, sheet)
            one_job = sheet.job_usd(b["circuits"], s, b["gate_shots_1q"] // s, b["gate_shots_2q"] // s)
            rows.append({"sheet": p, "configuration": config_name(k, d, s, rule), "jobs": b["jobs"],
                         "circuits": b["circuits"], "shots": b["shots"],
                         **{f"USD {part}": usd[part] for part in PARTS}, "USD per step": usd["total"],
                         "job_usd agrees": math.isclose(one_job, usd["total"], rel_tol=1e-12)})
    return rows


def plot_breakdown(rows: list[dict]):
    """One panel per sheet: each configuration's step as a bar split into fee, shots and
    gate-shots (shares of the step's dollars), its total in USD written above it."""
    from matplotlib.figure import Figure
    sheets = list(dict.fromkeys(r["sheet"] for r in rows))
    fig = Figure(figsize=(4.0 * len(sheets), 3.9))
    axes = fig.subplots(1, len(sheets), sharey=True, squeeze=False)[0]
    colors = {"fee": "tab:orange", "shots": "tab:blue", "gate-shots": "tab:green"}
    hatches = {"fee": "//", "shots": "", "gate-shots": ".."}
    for ax, p in zip(axes, sheets):
        mine = [r for r in rows if r["sheet"] == p]
        names = [r["configuration"].replace(", ", "\n") for r in mine]
        bottom = [0.0] * len(mine)
        for part in PARTS:
            share = [r[f"USD {part}"] / r["USD per step"] if r["USD per step"] else 0.0 for r in mine]
            ax.bar(names, share, bottom=bottom, color=colors[part], hatch=hatches[part], edgecolor="white",
                   label=part if ax is axes[0] else None)
            bottom = [b + v for b, v in zip(bottom, share)]
        for i, r in enumerate(mine):
            ax.text(i, 1.02, f"{r['USD per step']:,.2f}", ha="center", va="bottom", fontsize=8)
        ax.set_title(f"{p}\n(USD per step above each bar)", fontsize=9)
        ax.set_ylim(0, 1.15)
        ax.tick_params(axis="x", labelsize=7)
    axes[0].set_ylabel("share of one step's dollars")
    axes[0].legend(fontsize=8, loc="upper left", bbox_to_anchor=(0.0, -0.28), ncol=3)
    fig.tight_layout()
    return fig


# -- the bench result file ----------------------------------------------------------------------
def missing_keys(bench: dict | None) -> list[str]:
    """The keys notebook 07 needs that ``bench`` (a bench.json's content) lacks."""
    return list(NEEDED) if bench is None else [k for k in NEEDED if k not in bench]


def usd_label(text: str) -> str:
    """'$' spelled 'USD' (Markdown renderers read $...$ as mathematics)."""
    return str(text).replace("$", "USD")


def implied_steps(bench: dict, configs=CONFIGS, sheet: str = SHEETS[0]) -> list[dict]:
    """Per selection data set and configuration: median dollars to quality on ``sheet`` (the
    selection table), one step's dollars on that sheet, and their quotient, the median number of
    steps to quality (a constant price per step scales the median exactly). A configuration: a
    grid name or (k, directions, shots[, rule]); its row is the one of that step rule (the steps
    to quality depend on c and a, one step's bill does not)."""
    table, rows = bench["selection_table"], []
    for k, d, s, rule in map(parse, configs):
        n = config_name(k, d, s, rule)
        per_step = parts(step_bill(k, d, s), sheet)["total"]
        for kind, r in table.get(n, {}).items():
            usd = r["usd"][sheet]
            rows.append({"dataset": kind, "configuration": n, "reached": r["reached"], "USD per step": per_step,
                         "median steps to quality": usd / per_step if math.isfinite(usd) else math.inf,
                         "median USD to quality": usd, "median minutes": r["median_min"]})
    return rows


def targets_rows(bench: dict) -> list[dict]:
    """Issue 27's dollar targets (``bench["dollar_targets"]``) as printed: value, interval, verdict."""
    return [{"dataset": r["dataset"], "target": usd_label(r["target"]), "value": r["value"],
             "95 % interval": f"[{r['lo']:.3g}, {r['hi']:.3g}]", "limit": r["limit"],
             "verdict": r["verdict"] + (" (bound)" if r.get("bound") else "")} for r in bench["dollar_targets"]]


# -- few shots: the square loss's shot bias (research.bias.bias_table) ----------------------------
def interval(text: str) -> tuple[float, float]:
    """'[lo, hi]' (``bias_table``'s interval text) as two floats."""
    lo, hi = text.strip("[]").split(",")
    return float(lo), float(hi)


def bias_verdicts(rows: list[dict]) -> list[dict]:
    """``bias_table``'s rows with what their intervals say: whether the prediction (1 - f^2)/s
    lies inside the measured bias's 95 % interval, and whether 0 lies inside the two-halves
    estimator's (None below 2 shots)."""
    out = []
    for r in rows:
        lo, hi = interval(r["95 % interval"])
        halves = interval(r["halves 95 % interval"]) if r["halves estimator bias"] is not None else None
        out.append({**r, "prediction inside": lo <= r["predicted (1 - f^2)/s"] <= hi,
                    "halves: 0 inside": None if halves is None else halves[0] <= 0 <= halves[1]})
    return out


def plot_bias(rows: list[dict]):
    """Left: the square loss's measured shot bias (with its 95 % interval) against shots, beside
    (1 - f^2)/s, log-log. Right: the two-halves estimator's bias with its interval, around 0."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter
    plain = FuncFormatter(lambda v, _: f"{v:g}")  # plain text, no mathtext
    fig = Figure(figsize=(10, 3.5))
    ax = fig.subplots(1, 2)
    s = [r["shots"] for r in rows]
    iv = [interval(r["95 % interval"]) for r in rows]
    b = [r["square loss bias"] for r in rows]
    ax[0].plot(s, [r["predicted (1 - f^2)/s"] for r in rows], "k--", lw=1.2, label="predicted: mean of (1 - f²)/s")
    ax[0].errorbar(s, b, [[v - lo for v, (lo, _) in zip(b, iv)], [hi - v for v, (_, hi) in zip(b, iv)]], fmt="o",
                   color="tab:red", capsize=3, label="measured (95 % interval)")
    ax[0].set(xscale="log", yscale="log", xlabel="shots per circuit s", ylabel="bias of the square loss",
              title="The square loss of an s-shot output")
    h = [r for r in rows if r["halves estimator bias"] is not None]
    hv = [r["halves estimator bias"] for r in h]
    hiv = [interval(r["halves 95 % interval"]) for r in h]
    ax[1].axhline(0, color="k", lw=1)
    ax[1].errorbar([r["shots"] for r in h], hv, [[v - lo for v, (lo, _) in zip(hv, hiv)],
                                                  [hi - v for v, (_, hi) in zip(hv, hiv)]],
                   fmt="s", color="tab:blue", capsize=3, label="two halves (95 % interval)")
    ax[1].set(xscale="log", xlabel="shots per circuit s (split into two halves)", ylabel="bias",
              title="(f̂₁ − y)(f̂₂ − y): no shot bias")
    for a in ax:
        a.xaxis.set_major_formatter(plain)
        a.legend(fontsize=8)
    ax[0].yaxis.set_major_formatter(plain)
    fig.tight_layout()
    return fig



def exact_bias_at_two_shots(kind: str = "blobs") -> dict:
    """The shot bias at s = 2 computed exactly, by summing over every pair of one-shot outcomes
    (no sampling), for the untrained model on the data set's test samples (``bias_table``'s
    setting): the largest difference, over samples, between the square loss's bias and
    (1 - f^2)/2, and the largest bias of the two-halves estimator (one shot each)."""
    import numpy as np
    from ..backends import NumpyBackend
    from ..latency import LatencyModel
    from ..losses import square_loss
    from ..model import QuantumModel
    from .runs import bench_data
    _, _, x, y = bench_data(kind)
    model = QuantumModel(n_features=x.shape[1], seed=0)
    circuits = model.build_circuits(x, np.tile(model.parameters, (len(x), 1)))
    p = np.asarray(NumpyBackend(latency=LatencyModel.zero()).execute(circuits), dtype=float)
    f, one = model.outputs_from(p), model.outputs_from(np.eye(p.shape[1]))  # one: each outcome's one-shot output
    exact = square_loss(f, y)
    pair = (one[:, None] + one[None, :]) / 2  # the 2-shot output of each ordered pair of outcomes
    weight = p[:, :, None] * p[:, None, :]
    square = (weight * (pair[None] - y[:, None, None]) ** 2).sum(axis=(1, 2))
    halves = (weight * (one[None, :, None] - y[:, None, None]) * (one[None, None, :] - y[:, None, None])).sum(axis=(1, 2))
    return {"square loss: largest |bias - (1 - f^2)/2|": float(np.max(np.abs(square - exact - (1 - f ** 2) / 2))),
            "two halves: largest |bias|": float(np.max(np.abs(halves - exact))), "samples": len(y)}
