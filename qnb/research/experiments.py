"""The experiments behind notebooks 01-04 and `make bench`: one implementation for both.

The design document's own figures are kept here as data (``SEED_TABLES``), labelled as claims;
every other number is computed by running qnb.
"""
from __future__ import annotations

import math
import os
import time

import numpy as np

from ..backends import LocalBackend
from .document import SEED_TABLES  # noqa: F401  (notebooks read the document's tables as E.SEED_TABLES)
from ..batching import CircuitBatchManager
from ..gradients import make_estimator
from ..optimizer import Gains
from ..latency import LatencyModel
from ..model import QuantumModel, make_dataset
from ..config import TrainingConfig
from ..prices import PRICES
from ..circuits import accuracy
from ..trainer import QuantumTrainer

B, N, STEPS_PER_EPOCH, EPOCHS = 10, 48, 10, 5

# A study's floats are stored to this many significant digits. Another CPU's BLAS kernel changes
# the last digits of a float (OpenBLAS picks its kernel from the CPU at import), so full precision
# would make the committed studies, and the notebooks that print them, depend on the machine.
# Six digits are more than any notebook prints and far more than a seed-to-seed spread.
STUDY_DIGITS = 6


def rounded(value, digits: int = STUDY_DIGITS):
    """``value`` (nested lists and dicts of JSON data) with every float rounded to ``digits``
    significant digits; integers, strings, booleans and non-finite floats unchanged."""
    if isinstance(value, float):
        return float(f"{value:.{digits}g}") if math.isfinite(value) else value
    if isinstance(value, dict):
        return {k: rounded(v, digits) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v, digits) for v in value]
    return value


def same_study(a, b, digits: int = STUDY_DIGITS) -> bool:
    """Whether two study results agree to their stored precision: the same structure, equal
    integers and strings, and floats within one unit of the ``digits``-th significant digit."""
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and (
            a == b or math.isclose(a, b, rel_tol=10.0 ** (1 - digits), abs_tol=1e-300))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_study(a[k], b[k], digits) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_study(x, y, digits) for x, y in zip(a, b))
    return a == b

def figures_dir() -> str | None:
    """Where figures and tables are written: the folder named by QNB_FIGURES, or nowhere.

    ``make reproduce`` sets it to the repository's figures/; a notebook opened in JupyterLab
    shows its figures inline and leaves the committed files alone unless the reader sets it.
    """
    return os.environ.get("QNB_FIGURES") or None


def _cell(v, floatfmt: str) -> str:
    if v is None:
        return ""
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return format(float(v), floatfmt)
    return str(v)


def table(rows: list[dict], name: str | None = None, floatfmt: str = ".2f") -> str:
    """Rows as a markdown table, integers as integers, floats with ``floatfmt``; the columns are
    every key of every row, in order of first appearance (a key a row lacks is left blank).
    With ``name`` and an output folder (``figures_dir``), also written to NAME.md and NAME.csv."""
    keys = list(dict.fromkeys(k for r in rows for k in r))
    esc = lambda text: str(text).replace("|", "\\|")  # a bare | inside a cell splits it (JupyterLab, markdown-it)
    md = "\n".join(["| " + " | ".join(map(esc, keys)) + " |", "|" + "---|" * len(keys)]
                   + ["| " + " | ".join(esc(_cell(r.get(k), floatfmt)) for k in keys) + " |" for r in rows])
    out = figures_dir()
    if name and out:
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, name + ".md"), "w") as f:
            f.write(md + "\n")
        import csv
        with open(os.path.join(out, name + ".csv"), "w", newline="") as f:
            w = csv.DictWriter(f, keys)
            w.writeheader()
            w.writerows({k: _cell(r.get(k), floatfmt) for k in keys} for r in rows)
    return md


def show(rows: list[dict], name: str | None = None, floatfmt: str = ".2f", title: str | None = None,
         columns: list[str] | None = None):
    """Display ``table(rows, name, floatfmt)`` as rendered Markdown in a notebook (and as the
    Markdown text in a terminal); returns None so that nothing is echoed twice. With ``columns``,
    only those columns are shown; the files NAME.md and NAME.csv keep every column."""
    from IPython.display import Markdown, display
    md = table(rows, name, floatfmt)
    if columns is not None:
        md = table([{k: r.get(k) for k in columns} for r in rows], None, floatfmt)
    display(Markdown((f"**{title}**\n\n" if title else "") + md))


def study(name: str, compute, *, params: dict, recompute: bool = False, quick: bool = False,
          folder: str = "../figures/studies"):
    """A heavy multi-seed study, run once by ``make reproduce`` and read back everywhere else.

    ``compute()`` returns JSON-able data; its floats are stored and returned rounded to
    ``STUDY_DIGITS`` significant digits (``rounded``), so that a run that computes and a run that
    reads print the same, on any CPU. In QUICK mode it is run at the
    caller's small scale and nothing is read or written. Otherwise the result is read from
    FOLDER/NAME.json when that file was made with the same ``params`` (seeds, epochs, ...), and
    computed and written there when ``recompute`` is set or the file is missing or different:
    changing a notebook's RANDOM_SEED recomputes, it never shows another seed's numbers.
    """
    import json
    if quick:
        return compute()
    path = os.path.join(folder, name + ".json")
    # parameters to the stored precision too: a budget computed from the latency model must not
    # recompute a study on another CPU because its last digits differ
    params = rounded(json.loads(json.dumps(params, default=_jsonable)))
    result = None
    if not recompute and os.path.isfile(path):
        with open(path) as f:
            saved = json.load(f)
        if rounded(saved.get("params")) == params:
            result = saved["result"]
        else:
            print(f"{path} was made with other parameters: computing (minutes)")
    if result is None:
        result = rounded(json.loads(json.dumps(compute(), default=_jsonable)))
        os.makedirs(folder, exist_ok=True)
        with open(path, "w") as f:
            json.dump({"name": name, "params": params, "result": result}, f, separators=(",", ":"))
            f.write("\n")
    # nothing printed whether read or just computed: a notebook run with RECOMPUTE = True shows
    # exactly what a run that reads the file shows
    return result


def read_study(name: str, folder: str = "../figures/studies"):
    """The result of a study another notebook computed (``study``), read as it was last written."""
    import json
    with open(os.path.join(folder, name + ".json")) as f:
        return json.load(f)["result"]


MULTI_JOB_ROWS = ("v3.2 Parameter Shift", "v3.3 (buggy)", "v3.3.1 Sequential")  # the rest send one job per step


def one_job_vs_v33(runs: dict) -> dict:
    """At equal modeled cloud time (``runs``: one data set of the equal-time study, row name ->
    run summary with the final test accuracies ``acc`` over seeds): the lowest and highest mean
    accuracy of the one-job methods, v3.3's mean, and Parallel minus v3.3 with its bootstrap
    95 % interval (``stats.difference``)."""
    from .stats import difference
    mean = {n: float(np.mean(r["acc"])) for n, r in runs.items()}
    one_job = [n for n in runs if n not in MULTI_JOB_ROWS]
    return {"lo": min(mean[n] for n in one_job), "hi": max(mean[n] for n in one_job), "v33": mean["v3.3 (buggy)"],
            "parallel_minus_v33": difference(runs["v3.3.1 Parallel"]["acc"], runs["v3.3 (buggy)"]["acc"])}


def _jsonable(v):
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    if isinstance(v, (np.ndarray, range, tuple)):
        return list(v)
    raise TypeError(f"not JSON-able: {type(v).__name__}")


def save_figure(fig, name: str) -> None:
    """NAME.png in the output folder (``figures_dir``), at a size that reads well in the README."""
    out = figures_dir()
    if out:
        os.makedirs(out, exist_ok=True)
        # no Software entry: the PNG's bytes must not depend on the matplotlib version
        fig.savefig(os.path.join(out, name + ".png"), dpi=110, bbox_inches="tight", metadata={"Software": None})


def step_cost(method: str, subsample_size: int = 5, *, shots: int = 1000, max_batch_size: int = 100,
              backend=None, n_directions: int = 1, seed: int = 0) -> dict:
    """Run ONE gradient estimate on a batch of 10 and report what the batch manager counted."""
    x, y, _, _ = make_dataset(n_train=B, n_test=1, seed=seed)
    manager = CircuitBatchManager(backend or LocalBackend(seed=seed), max_batch_size=max_batch_size)
    est = make_estimator(method, manager, subsample_size=subsample_size, seed=seed, num_directions=n_directions)
    est.estimate_batch_gradient(QuantumModel(seed=seed), x, y, shots=shots)
    return {"circuits": manager.stats.circuits, "jobs": manager.stats.jobs,
            "modeled_s": manager.stats.modeled_s, "wall_s": manager.stats.wall_s,
            "usd": {name: sheet.usd(manager.stats) for name, sheet in PRICES.items()}}


def verdict(claimed: float, modeled: float, tol: float = 0.15) -> str:
    """How a figure of the document compares with the latency model fitted to the document's own
    timings, as ``claimed / modeled - 1``: 'self-consistent (doc +8 %)' within ``tol``, else
    'document 24 % slower (or faster) than its own fit'. The model was fitted to these rows, so
    agreement is in-sample self-consistency, not a prediction and not IonQ's speed
    (``latency_leave_one_out`` is the out-of-sample test)."""
    if not claimed or not modeled:
        return "no figure to compare"
    rel = claimed / modeled - 1
    if abs(rel) <= tol:
        return f"self-consistent (doc {round(100 * rel) + 0:+d} %)"  # + 0: a tiny negative prints +0, not -0
    return f"document {abs(100 * rel):.0f} % {'slower' if rel > 0 else 'faster'} than its own fit"


def latency_leave_one_out(rows=None) -> list[dict]:
    """The latency model tested out of sample: for each of the document's timing rows, fit
    ``t = jobs * overhead + circuits * per_circuit`` (``qnb.latency.fit_latency``) to the other rows
    and predict this one.

    Rows with the same (circuits, jobs) shape are left out together (the document's v3.3 and
    Sequential rows are the same 20 circuits in 20 jobs: leaving one in would predict the other
    from itself). ``rel`` is ``claimed / predicted - 1``, the sign convention of ``verdict``
    (positive: the document is slower than the prediction); ``in_sample`` is the same for the fit
    to every row.
    """
    from ..latency import SEED_TIMING_ROWS, fit_latency
    rows = list(SEED_TIMING_ROWS if rows is None else rows)
    full = fit_latency(rows)
    out = []
    for i, (name, circuits, jobs, claimed) in enumerate(rows):
        rest = [r for r in rows if (r[1], r[2]) != (circuits, jobs)]
        overhead, per_circuit = fit_latency(rest)["params"]
        predicted = jobs * overhead + circuits * per_circuit
        out.append({"row": name, "circuits": circuits, "jobs": jobs, "claimed s": claimed,
                    "fit without it: s/job": overhead, "s/circuit": per_circuit, "predicted s": predicted,
                    "rel": float(claimed / predicted - 1), "in_sample": float(claimed / full["modeled_s"][i] - 1)})
    return out


def performance_comparison(latency: LatencyModel | None = None, measured: dict | None = None,
                           quality: dict | None = None) -> list[dict]:
    """The document's Performance Comparison: its figure, qnb's modeled figure, qnb's measured one.

    ``measured`` maps a row name to {"batch_s": ...} measured on the emulator (see
    ``measure_on_emulator``); ``quality`` maps a row name to a measured-quality string.
    """
    latency = latency or LatencyModel.seed_calibrated()
    rows = []
    for s in SEED_TABLES["performance_comparison"]:
        c = step_cost(s["method"], s["k"] or 5, backend=LocalBackend(latency=latency))
        batch = c["modeled_s"]
        row = {"row": s["row"], "circuits (doc)": s["circuits"], "circuits (qnb)": c["circuits"],
               "jobs (qnb)": c["jobs"], "s/batch (doc)": s["batch_s"], "s/batch (model)": batch}
        if measured is not None:
            row["s/batch (measured)"] = measured[s["row"]]["batch_s"]
        row.update({"5 epochs min (doc)": s["five_epochs_s"] / 60,
                    "5 epochs min (model)": batch * STEPS_PER_EPOCH * EPOCHS / 60,
                    "verdict": verdict(s["batch_s"], batch)})
        if quality is not None:
            row.update({"quality (doc)": s["quality"], "quality (measured)": quality.get(s["row"], "")})
        rows.append(row)
    return rows


def measure_on_emulator(method: str, subsample_size: int = 5, *, latency_scale: float = 0.02, steps: int = 2,
                        shots: int = 1000, max_batch_size: int = 100) -> dict:
    """Time gradient steps through the real pennylane-ionq client against the loopback emulator.

    Returns the jobs and circuits per batch the emulator itself counted (and ``qnb_jobs``,
    ``qnb_circuits``: qnb's own count), ``emulated_s`` (those
    counts priced by the backend's latency model: deterministic, the model's time for what a
    service received), ``modeled_s`` (qnb's own count, priced the same way) and ``batch_s``
    (wall clock / latency_scale, median over ``steps``: the model's time plus qnb's real overhead,
    different on every run).
    """
    from ..emulator import Emulator

    with Emulator(latency_scale=latency_scale) as emu:
        backend = emu.backend(seed=0)
        x, y, _, _ = make_dataset(n_train=B, n_test=1)
        manager = CircuitBatchManager(backend, max_batch_size=max_batch_size, timeout_s=600)
        est = make_estimator(method, manager, subsample_size=subsample_size, seed=0)
        model, walls = QuantumModel(seed=0), []
        for _ in range(steps):
            t = time.perf_counter()
            est.estimate_batch_gradient(model, x, y, shots=shots)
            walls.append(time.perf_counter() - t)
        jobs, circuits = emu.stats["jobs_created"] / steps, emu.stats["circuits"] / steps
        return {"batch_s": float(np.median(walls)) / latency_scale, "jobs": jobs, "circuits": circuits,
                "emulated_s": backend.latency.batch_time(circuits, jobs, shots), "modeled_s": manager.stats.modeled_s / steps,
                "qnb_jobs": manager.stats.jobs / steps, "qnb_circuits": manager.stats.circuits / steps}


def _train_one(args):
    config, budget_s, epochs, *track = args
    data = make_dataset(config.dataset, config.n_train, config.n_test, seed=0)
    trainer = config.trainer(dataset=data) if hasattr(config, "defects") else QuantumTrainer(config, dataset=data)
    callback = None
    if track and track[0]:  # the loss at theta (not at theta +- c delta) on the whole training set, exactly
        def callback(t, rec):
            rec["train_loss_exact"] = accuracy(t.model, *t.dataset[:2], t.evaluator, t.loss)[1]
    return trainer.fit(epochs=epochs if budget_s is None else 10_000, progress=False, budget_s=budget_s,
                       callback=callback)


def deterministic(histories: list[dict]) -> list[dict]:
    """Histories without their wall-clock times: what a study keeps, identical on every re-run."""
    return [{**h, "steps": [{k: v for k, v in s.items() if k != "wall_s"} for s in h["steps"]]} for h in histories]


def train_many(config: TrainingConfig, seeds, budget_s: float | None = None, epochs: int | None = None,
               workers: int | None = None, exact_train_loss: bool = False) -> list[dict]:
    """Train ``config`` once per seed, on the same data (data set seed 0); returns the histories.

    The seed drives model initialisation, data order, SPSA directions and shot noise. Runs are
    independent, so they are spread over ``workers`` processes (default: every core) by joblib
    (``qnb.research.parallel.run_tasks``); the results do not depend on how many. ``exact_train_loss``
    adds each step's exact loss at theta on the whole training set (``train_loss_exact``).
    """
    from .parallel import run_tasks
    return run_tasks(_train_one, [(config.replace(seed=int(s)), budget_s, epochs, exact_train_loss) for s in seeds],
                     workers=workers)


def train_all(runs: dict, budget_s: float | None = None, workers: int | None = None,
              exact_train_loss: bool = False) -> dict:
    """``{name: train_many(config, seeds, ...)}`` for ``runs = {name: (config, seeds)}``, as ONE
    batch of tasks: the workers stay busy across configurations (a study of short SPSA runs and
    long parameter-shift runs packs far better than one ``train_many`` per configuration).
    The histories are the same as ``train_many``'s, run by run."""
    from .parallel import run_tasks
    tasks = [(name, (cfg.replace(seed=int(s)), budget_s, None, exact_train_loss))
             for name, (cfg, seeds) in runs.items() for s in seeds]
    # longest first (parameter shift), so that no worker is left with a long run at the end
    order = sorted(range(len(tasks)), key=lambda i: tasks[i][1][0].gradient_method != "parameter_shift")
    done = run_tasks(_train_one, [tasks[i][1] for i in order], workers=workers)
    out = {name: [] for name in runs}
    for i, h in sorted(zip(order, done), key=lambda p: p[0]):
        out[tasks[i][0]].append(h)
    return out


def summarize(histories: list[dict]) -> dict:
    """``accuracy_summary`` of the runs' final test accuracies, with their mean final test loss and
    mean modeled cloud minutes."""
    loss = np.array([h["epochs"][-1]["test_loss"] for h in histories])
    t = np.array([sum(s["modeled_s"] for s in h["steps"]) for h in histories])
    return {**accuracy_summary([h["epochs"][-1]["test_accuracy"] for h in histories]),
            "test_loss_mean": loss.mean(), "modeled_min": t.mean() / 60}


def majority_rate(y) -> float:
    """The accuracy of always answering the commoner label of ``y``: the chance line."""
    y = np.asarray(y)
    return float(max(np.mean(y == 1), np.mean(y == -1)))


def estimator_statistics(specs, shots=None, repeats: int = 200, seed: int = 0, c: float = 0.05) -> list[dict]:
    """How good one gradient estimate is, against the exact gradient of the batch loss.

    ``specs``: (label, method, subsample_size) triples. For each, ``repeats`` estimates at the same
    point with a small constant c (so that SPSA's O(c^2) bias is negligible) give: the relative
    error of their mean (unbiased estimators shrink it like 1/sqrt(repeats): compare with
    ``expected_rel_error``), the total variance of one estimate with its standard error (the
    variance is the mean of the squared distances ``|g_r - mean|^2``; their sd / sqrt(repeats),
    which needs no assumption on the estimates' distribution), and the mean cosine to the truth.
    """
    x, y, _, _ = make_dataset(n_train=B, n_test=1, seed=seed)
    model = QuantumModel(seed=seed)
    exact = make_estimator("parameter_shift", CircuitBatchManager(LocalBackend())).estimate_batch_gradient(
        model, x, y, shots=None).gradients
    rows = []
    for label, method, k in specs:
        manager = CircuitBatchManager(LocalBackend(seed=seed), max_batch_size=10_000)
        est = make_estimator(method, manager, subsample_size=k or 5, seed=seed, gains=Gains(c=c, gamma=1e-9))
        g = np.array([est.estimate_batch_gradient(model, x, y, shots=shots).gradients for _ in range(repeats)])
        cos = g @ exact / (np.linalg.norm(g, axis=1) * np.linalg.norm(exact) + 1e-300)
        var = float(np.sum(g.var(axis=0)))
        sq = np.sum((g - g.mean(0)) ** 2, axis=1)  # the variance is their mean: its standard error, from the draws
        rows.append({"estimator": label, "shots": "exact" if shots is None else shots,
                     "circuits": manager.stats.circuits // repeats, "variance": var,
                     "variance_se": float(sq.std(ddof=1) / math.sqrt(repeats)), "cosine": float(cos.mean()),
                     "rel_error_of_mean": float(np.linalg.norm(g.mean(0) - exact) / np.linalg.norm(exact)),
                     "expected_rel_error": float(math.sqrt(var / repeats) / np.linalg.norm(exact))})
    return rows


def subsample_specs(ks=(1, 2, 5, 10)):
    return [(f"k={k}", "spsa_parallel" if k == B else "spsa_subsampled", k) for k in ks]


def per_sample_gradients(model, x, y, seed: int = 0) -> np.ndarray:
    """Exact gradient of each sample's loss (parameter shift, exact expectation values), (B, N)."""
    est = make_estimator("parameter_shift", CircuitBatchManager(LocalBackend(seed=seed), max_batch_size=10_000))
    return np.array([est.estimate_batch_gradient(model, x[i:i + 1], y[i:i + 1], shots=None).gradients
                     for i in range(len(x))])


def unbiasedness(ks=(1, 2, 5, 10), repeats: int = 200, seed: int = 0, c: float = 0.05,
                 scale: float = 1.0) -> list[dict]:
    """A sharp test that subsampled SPSA is unbiased, and the smallest bias it can see.

    The naive test compares the mean of ``repeats`` estimates with the exact gradient g; its noise,
    dominated by the random direction (variance ~ (N-1)|g|^2), hides any bias below
    ``naive_detectable``. The sharp test removes that noise with control variates built from
    what each estimate used: its direction Delta and subsample S are recorded, and the exact
    per-sample gradients g_i are known, so

        g_hat - g = [g_hat - Delta Delta^T g_S] + [Delta Delta^T g_S - g_S] + [g_S - g],

    where the middle term has mean exactly 0 for Rademacher Delta (E[Delta Delta^T] = I) and is
    dropped; the first (the finite difference's error) and the last (the subsampling's) have
    small variance. ``sharp_detectable`` = 2 standard errors of that estimate, in % of |g|.
    ``scale`` multiplies every estimate (1.1: a 10 % biased estimator, which the test must flag).
    """
    x, y, _, _ = make_dataset(n_train=B, n_test=1, seed=seed)
    model = QuantumModel(seed=seed)
    gi = per_sample_gradients(model, x, y, seed)
    g = gi.mean(0)
    norm = np.linalg.norm(g)
    rows = []
    for k in ks:
        method = "spsa_parallel" if k == B else "spsa_subsampled"
        est = make_estimator(method, CircuitBatchManager(LocalBackend(seed=seed), max_batch_size=10_000),
                             subsample_size=k, seed=seed, gains=Gains(c=c, gamma=1e-9))
        naive, fd, sub = [], [], []
        for _ in range(repeats):
            r = est.estimate_batch_gradient(model, x, y, shots=None)
            gh = scale * r.gradients
            d = r.metadata["directions"][0]
            g_s = gi[r.metadata.get("indices", list(range(B)))].mean(0)
            naive.append(gh - g)
            fd.append(gh - d * (d @ g_s))   # the finite difference's error along d
            sub.append(g_s - g)             # the subsample's deviation from the batch
        naive, fd, sub = np.array(naive), np.array(fd), np.array(sub)
        se = lambda e: float(np.sqrt(np.sum(e.var(axis=0, ddof=1)) / repeats))
        bias = lambda e: float(np.linalg.norm(e.mean(0)))
        sharp = fd + sub
        rows.append({"k": k, "c": c, "repeats": repeats,
                     "naive: detectable bias %": 200 * se(naive) / norm,
                     "sharp: detectable bias %": 200 * se(sharp) / norm,
                     "finite-difference bias %": 100 * bias(fd) / norm,
                     "subsampling bias %": 100 * bias(sub) / norm,
                     "bias seen": bool(bias(sharp) > 2 * se(sharp))})
    return rows


def final_accuracies(histories: list[dict]) -> list[float]:
    """The final test accuracy of each run (what the equal-time studies keep)."""
    return [h["epochs"][-1]["test_accuracy"] for h in histories]


def accuracy_summary(accs) -> dict:
    """Mean, sample sd and standard error of final accuracies over seeds."""
    a = np.asarray(accs, dtype=float)
    sd = float(a.std(ddof=1)) if len(a) > 1 else 0.0
    return {"runs": len(a), "test_acc_mean": float(a.mean()), "test_acc_sd": sd, "se": sd / math.sqrt(len(a))}


def best_versus_band(results: dict, band=(3, 5)) -> list[str]:
    """For {dataset: {k: accuracies}}: is the best k inside the band [lo, hi], and can the data
    tell it from the best k on the other side? The difference of mean accuracies with its
    percentile-bootstrap 95 % interval over seeds (``stats.difference``): told apart only when the
    whole interval is above 0. One sentence each."""
    from .stats import difference, fmt
    out = []
    for ds, by_k in results.items():
        by_k = {int(k): a for k, a in by_k.items()}
        s = {k: accuracy_summary(a) for k, a in by_k.items()}
        best = max(s, key=lambda k: s[k]["test_acc_mean"])
        inside = [k for k in s if band[0] <= k <= band[1]]
        rival = max((k for k in s if (k in inside) != (best in inside)), key=lambda k: s[k]["test_acc_mean"], default=None)
        if rival is None:
            out.append(f"{ds}: only one side of the band was run")
            continue
        d = difference(by_k[best], by_k[rival])
        told = d["verdict"] == "higher"
        where = "inside" if best in inside else "outside"
        claim = ("supports" if best in inside and told else "contradicts" if best not in inside and told
                 else "neither supports nor contradicts")
        out.append(f"{ds}: best k = {best} ({s[best]['test_acc_mean']:.3f}, {where} the {10 * band[0]}-{10 * band[1]} % band) "
                   f"minus the best on the other side, k = {rival}: {fmt(d['diff'], d['lo'], d['hi'], '+.3f')} "
                   f"({'told apart' if told else 'undecided'}): this {claim} the document's 'optimal 30-50 %'")
    return out


def run_summary(histories: list[dict]) -> dict:
    """What a quality study keeps of its runs, per seed: final test accuracy and loss, test accuracy
    by epoch, modeled cloud time, and (when tracked) the exact training loss at theta by step with
    the modeled time at which each step ended."""
    out = {"acc": final_accuracies(histories),
           "test_loss": [h["epochs"][-1]["test_loss"] for h in histories],
           "acc_by_epoch": [[e["test_accuracy"] for e in h["epochs"]] for h in histories],
           "modeled_s": [float(sum(s["modeled_s"] for s in h["steps"])) for h in histories]}
    if any(s.get("train_loss_exact") is not None for h in histories for s in h["steps"][:1]):
        out["t_s"] = [np.cumsum([s["modeled_s"] for s in h["steps"]]).tolist() for h in histories]
        out["loss"] = [[s["train_loss_exact"] for s in h["steps"]] for h in histories]
    return out
