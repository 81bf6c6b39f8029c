"""Writes notebooks/NN_*.ipynb from the cell lists below (the source of truth for their code).
Run `python tools/build_notebooks.py`, then execute them in place (see README: make notebooks)."""
import sys
from pathlib import Path

import nbformat as nbf

NB = {}
md = lambda s: ("md", s.strip())
code = lambda s, *tags: ("code", s.strip(), list(tags))
params = lambda s: code(s, "parameters")

SETUP = """%matplotlib inline
import numpy as np, matplotlib.pyplot as plt
import qnb
from qnb import experiments as E
plt.rcParams.update({"figure.dpi": 90, "axes.grid": True, "grid.alpha": 0.3})
np.set_printoptions(precision=3, suppress=True)"""

NB["01_the_v33_bug"] = [
    md("""# 01 — The v3.3 bug: a per-sample loop where a batch loss was meant

**What this shows.** The design document says v3.3 "computes gradients per-sample, not per-batch"
and that this made it "10x slower". We run both estimators on the same 48-parameter classifier and
count circuits, jobs and modeled cloud time; we check the headline; and we measure what is *really*
wrong with the per-sample loop: is its gradient biased, or noisier? Finally we reproduce the
document's other defects (frozen gains, summed gradients, `params_minus` left behind) and show what
each does to training."""),
    params("QUICK = False\nRANDOM_SEED = 0"),
    code(SETUP + """
REPEATS = 40 if QUICK else 100
SEEDS = range(RANDOM_SEED, RANDOM_SEED + (2 if QUICK else 10))
EPOCHS = 1 if QUICK else 5"""),
    md("## The classifier\nFour features angle-embedded as RX rotations, four strongly entangling layers (48 angles), read out as ⟨Z₀⟩ = p₀ − p₁. Drawn once:"),
    code("""model = qnb.QuantumModel(seed=RANDOM_SEED)
x_train, y_train, x_test, y_test = qnb.make_dataset("blobs", seed=RANDOM_SEED)
import pennylane as qml
print(qml.drawer.tape_text(model.build_circuit(x_train[0]), decimals=1, max_length=200))
print("trainable parameters:", model.n_params)"""),
    md("## Same circuits, different jobs\nOne batch of B = 10 samples, counted by the `CircuitBatchManager` (not by the estimators' own claims), with the latency model fitted to the document's own timings (notebook 02)."),
    code("""rows = []
for label, method in [("v3.3 per-sample loop", "spsa_per_sample"), ("v3.3.1 Sequential", "spsa_sequential"),
                      ("v3.3.1 Parallel", "spsa_parallel"), ("v3.3.1 Subsampled k=5", "spsa_subsampled")]:
    c = E.step_cost(method, 5, seed=RANDOM_SEED)
    rows.append({"estimator": label, "circuits/batch": c["circuits"], "jobs/batch": c["jobs"],
                 "modeled s/batch": c["modeled_s"], "modeled s/epoch": 10 * c["modeled_s"]})
print(E.table(rows, "01_job_shapes"))"""),
    md("""v3.3 and v3.3.1 Sequential run **the same 20 circuits in the same 20 jobs**: fixing "per-sample"
into "per-batch" alone saves nothing. The speed-up comes from submitting the 20 circuits as **one
job** (Parallel) and from evaluating fewer samples (Subsampled).

## The headline: "10x slower than designed (570 s vs 57 s per epoch)"
"""),
    code("""lat = qnb.LatencyModel.seed_calibrated()
doc = E.SEED_TABLES
v33_doc_epoch = next(r for r in doc["performance_comparison"] if r["row"] == "v3.3 (buggy)")["epoch_s"]
v33_model_epoch = 10 * E.step_cost("spsa_per_sample")["modeled_s"]
two_circuit_epoch = 10 * lat.batch_time(n_circuits=2, n_jobs=1)   # "SPSA: 2 circuits per batch"
print(f"headline claims: {doc['headline_epoch_s'][0]} s vs {doc['headline_epoch_s'][1]} s per epoch (x10)")
print(f"the document's own table, v3.3 row: {v33_doc_epoch:.0f} s per epoch, not 570 s")
print(f"modeled v3.3 epoch: {v33_model_epoch:.0f} s; an epoch of 2-circuit single-job steps: {two_circuit_epoch:.0f} s "
      f"(ratio x{v33_model_epoch / two_circuit_epoch:.1f})")
print(f"and the 'designed' v3.3.1 Parallel epoch in its own table is {next(r for r in doc['performance_comparison'] if r['row'] == 'v3.3.1 Parallel')['epoch_s']:.0f} s, not 57 s")"""),
    md("## Is the per-sample average of SPSA gradients wrong?\nBoth estimators are estimates of the *same* batch-loss gradient. We draw many estimates at one point (exact expectation values, tiny c) and compare their mean to the exact gradient (parameter shift)."),
    code("""stats = E.estimator_statistics([("v3.3 per-sample mean", "spsa_per_sample", None),
                                 ("batch-loss SPSA (v3.3.1)", "spsa_parallel", None)], repeats=REPEATS, seed=RANDOM_SEED)
print(E.table(stats, "01_per_sample_vs_batch", floatfmt=".3f"))"""),
    md("""Both means land within their statistical error of the exact gradient (`rel_error_of_mean` ≈
`expected_rel_error`): **neither is biased**. And the per-sample loop is *less* noisy per estimate: it
averages 10 independent SPSA directions, the batch-loss estimator uses one. So v3.3's real defect is
its cost (2B jobs), not a wrong gradient — and the variance advantage can be kept at one job by
drawing several directions inside the same job (`n_directions`, notebook 05 and `make bench`).

## The document's other defects, reproduced on purpose
Each is an explicit option of qnb (`defects=...`), never the default. Same data, same seeds."""),
    code("""base = qnb.TrainingConfig(gradient_method="spsa_parallel", epochs=EPOCHS)
variants = {
    "fixed (qnb default)": base,
    "frozen gains (iteration never advances)": base.replace(defects=("frozen_gains",)),
    "params_minus left behind": base.replace(defects=("params_minus_leak",)),
    "v3.3 per-sample, averaged": base.replace(gradient_method="spsa_per_sample"),
    "v3.3 per-sample, summed (document)": base.replace(gradient_method="spsa_per_sample", defects=("summed_gradients",)),
}
runs = {name: E.train_many(cfg, SEEDS) for name, cfg in variants.items()}
rows = [{"variant": name, **E.summarize(h)} for name, h in runs.items()]
print(E.table(rows, "01_defects"))"""),
    code("""fig, ax = plt.subplots(figsize=(7, 4))
for name, hs in runs.items():
    loss = np.mean([[s["loss"] for s in h["steps"]] for h in hs], axis=0)
    ax.plot(np.arange(1, len(loss) + 1), loss, label=name)
ax.set(xlabel="optimisation step", ylabel="batch loss (mean over seeds)", title="Effect of the document's defects")
ax.legend(fontsize=8)
E.save_figure(fig, "01_defects")
plt.show()"""),
    md("""## What we found
* v3.3 and v3.3.1 Sequential cost the same: 20 circuits in 20 jobs per batch. One job per batch (Parallel) is where the time goes away.
* The "570 s vs 57 s" headline matches neither the document's own table nor the model (printed above).
* The per-sample average is an unbiased, lower-variance gradient; its problem is 20 round trips.
* Summing instead of averaging multiplies the step by B; leaving `params_minus` behind adds a random walk of size c_k per step; frozen gains never anneal. The table above shows each effect on loss and test accuracy, measured over the seeds."""),
]

NB["02_sequential_batch_spsa"] = [
    md("""# 02 — Strategy 1: sequential batch SPSA, and the latency model

**What this shows.** The batch-loss SPSA gradient, evaluated one circuit at a time (2B jobs), and
the cloud cost model every modeled time in qnb uses: one overhead per job plus a cost per circuit,
fitted by least squares (relative error) to the document's own timing table — with the residuals,
because no single model explains all of its rows."""),
    params("QUICK = False\nRANDOM_SEED = 0"),
    code(SETUP + "\nEPOCHS = 1 if QUICK else 3"),
    code("""fit = qnb.fit_latency()
lat = qnb.LatencyModel.seed_calibrated()
print(f"fitted: {lat.job_overhead_s:.2f} s per job + {lat.per_circuit_s:.3f} s per circuit")
rows = [{"row": name, "circuits": c, "jobs": j, "claimed s": t, "modeled s": m, "residual": f"{100 * r:+.0f}%"}
        for (name, c, j, t), m, r in zip(qnb.SEED_TIMING_ROWS, fit["modeled_s"], fit["relative_residual"])]
print(E.table(rows, "02_latency_fit"))"""),
    code("""fig, ax = plt.subplots(figsize=(7, 3.2))
res = 100 * np.array(fit["relative_residual"])
ax.barh(fit["rows"], res, color=["C3" if abs(r) > 15 else "C0" for r in res])
ax.axvline(0, color="k", lw=0.8)
ax.invert_yaxis()
ax.set(xlabel="model minus document, % of the document's time per batch",
       title=f"One model, {lat.job_overhead_s:.2f} s/job + {lat.per_circuit_s:.3f} s/circuit, vs the document's rows")
E.save_figure(fig, "02_latency_fit")
plt.show()"""),
    md("""The per-circuit cost implied by the parameter-shift row alone is 240/960 = 0.25 s; the one-job rows
imply ≈ 0.4–0.5 s per circuit plus ≈ 1.5–2 s per job. The fit above is the best compromise; the
largest residuals (Parallel and the parameter-shift row) are the document being inconsistent with itself.

## Strategy 1 in qnb"""),
    code("""est = qnb.make_estimator("spsa_sequential", qnb.CircuitBatchManager(qnb.LocalBackend(seed=RANDOM_SEED)), seed=RANDOM_SEED)
model = qnb.QuantumModel(seed=RANDOM_SEED)
x, y, _, _ = qnb.make_dataset(n_train=10, seed=RANDOM_SEED)
r = est.estimate_batch_gradient(model, x, y, shots=1000)
print(f"{r.n_circuit_executions} circuits in {r.metadata['n_jobs']} jobs; modeled {r.metadata['modeled_time_s']:.1f} s; "
      f"batch loss {r.function_value:.3f}; |gradient| {np.linalg.norm(r.gradients):.2f}")"""),
    code("""cfg = qnb.TrainingConfig(gradient_method="spsa_sequential", epochs=EPOCHS, seed=RANDOM_SEED)
h = qnb.QuantumTrainer(cfg).fit(progress=False)
for e in h["epochs"]:
    print(f"epoch {e['epoch'] + 1}: test accuracy {e['test_accuracy']:.2f}, modeled cloud time {e['modeled_s'] / 60:.1f} min")"""),
    md("""## What we found
* The document's timings fit `t ≈ 2.3 s × jobs + 0.27 s × circuits` only to within −24 % … +16 %; its rows imply different per-circuit costs.
* Sequential batch SPSA costs 20 jobs per batch — ≈ 51 s modeled — exactly like v3.3 (notebook 01)."""),
]

NB["03_parallel_batch_spsa"] = [
    md("""# 03 — Strategy 2: all 2B circuits in one job

**What this shows.** The `CircuitBatchManager` submits the 20 circuits of a batch as ONE job, gets
the results back in input order, and counts what it sent. The gradient is *the same numbers* as
Sequential's for the same seed — only the number of round trips changes."""),
    params("QUICK = False\nRANDOM_SEED = 0"),
    code(SETUP),
    code("""x, y, _, _ = qnb.make_dataset(n_train=10, seed=RANDOM_SEED)
model = qnb.QuantumModel(seed=RANDOM_SEED)
grads = {}
for method in ("spsa_sequential", "spsa_parallel"):
    manager = qnb.CircuitBatchManager(qnb.LocalBackend(seed=RANDOM_SEED))
    r = qnb.make_estimator(method, manager, seed=RANDOM_SEED).estimate_batch_gradient(model, x, y, shots=1000)
    grads[method] = r.gradients
    print(f"{method:16s} circuits {manager.stats.circuits:3d}  jobs {manager.stats.jobs:3d}  modeled {manager.stats.modeled_s:6.1f} s")
print("same gradient, bit for bit:", np.array_equal(grads["spsa_sequential"], grads["spsa_parallel"]))"""),
    md("## Job size limits\n`max_batch_size` caps circuits per job; parameter shift (2·48·10 shifted circuits plus the 10 unshifted ones the chain rule needs) is split into several jobs:"),
    code("""sizes = [25, 50, 100, 200, 500, 1000]
rows = []
for m in sizes:
    c = E.step_cost("parameter_shift", max_batch_size=m)
    rows.append({"max_batch_size": m, "circuits": c["circuits"], "jobs": c["jobs"], "modeled s/batch": c["modeled_s"]})
print(E.table(rows, "03_max_batch_size"))
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(sizes, [r["modeled s/batch"] for r in rows], "o-")
ax.set(xscale="log", xlabel="max circuits per job", ylabel="modeled s per batch", title="Parameter shift: 970 circuits per batch")
E.save_figure(fig, "03_max_batch_size")
plt.show()"""),
    md("## Non-blocking submission\n`wait_for_results=False` returns a handle; `.result(timeout)` collects in input order."),
    code("""manager = qnb.CircuitBatchManager(qnb.LocalBackend(seed=RANDOM_SEED))
circuits = [model.build_circuit(xi) for xi in x]
handle = manager.execute_batch(circuits, shots=None, wait_for_results=False)
results = handle.result(timeout=60)
print([round(qnb.QuantumModel.process_result(r), 3) for r in results])
print(manager.stats.jobs, "job,", manager.stats.circuits, "circuits")"""),
    md("""## What we found
* Parallel and Sequential compute the identical gradient; Parallel needs 1 job instead of 20 (≈ 7.6 s vs ≈ 51 s modeled per batch).
* The document's 10 s per batch for Parallel is 32 % above what its other rows imply (notebook 02).
* Parameter shift needs 970 circuits per batch, not 960: the chain rule needs the 10 unshifted outputs too."""),
]

NB["04_subsampled_spsa"] = [
    md("""# 04 — Strategy 3: subsampled SPSA (k of the B samples, 2k circuits, one job)

**What this shows.** Is the subsampled estimate unbiased? How does its variance grow as k and the
shots shrink? And the document's claim "optimal: subsample 30–50 % of the batch", tested at equal
modeled cloud time over several seeds."""),
    params("QUICK = False\nRANDOM_SEED = 0"),
    code(SETUP + """
REPEATS = 40 if QUICK else 150
SEEDS = range(RANDOM_SEED, RANDOM_SEED + (2 if QUICK else 10))
KS = [1, 2, 3, 5, 10]"""),
    code("""stats = E.estimator_statistics(E.subsample_specs(KS), shots=None, repeats=REPEATS, seed=RANDOM_SEED)
print(E.table(stats, "04_unbiasedness", floatfmt=".3f"))"""),
    md("For every k the mean of the estimates misses the exact gradient by about what its own noise predicts (`rel_error_of_mean` ≈ `expected_rel_error`): unbiased. The price of small k is variance:"),
    code("""shot_stats = {s: E.estimator_statistics(E.subsample_specs(KS), shots=s, repeats=REPEATS, seed=RANDOM_SEED)
              for s in (100, 1000)}
fig, ax = plt.subplots(1, 2, figsize=(10, 3.8))
for label, rows in [("exact", stats), ("1000 shots", shot_stats[1000]), ("100 shots", shot_stats[100])]:
    ax[0].plot(KS, [r["variance"] for r in rows], "o-", label=label)
    ax[1].plot(KS, [r["cosine"] for r in rows], "o-", label=label)
ax[0].set(xlabel="subsample size k (of B = 10)", ylabel="total variance of one estimate", title="Variance")
ax[1].set(xlabel="subsample size k (of B = 10)", ylabel="mean cosine to exact gradient", title="Alignment")
ax[0].legend()
E.save_figure(fig, "04_variance_vs_k")
plt.show()"""),
    md("## The 30–50 % claim at equal cloud time\nEvery k gets the same modeled cloud budget (the Balanced preset's 5 epochs); smaller k buys more steps."),
    code("""budget = 50 * E.step_cost("spsa_subsampled", 5)["modeled_s"]
rows = []
for k in KS:
    cfg = qnb.PRESETS["balanced"].replace(gradient_method="spsa_parallel" if k == 10 else "spsa_subsampled",
                                          gradient_subsample_size=k)
    s = E.summarize(E.train_many(cfg, SEEDS, budget_s=budget))
    rows.append({"k": k, "% of batch": 10 * k, **s})
print(f"budget: {budget / 60:.1f} modeled minutes per run")
print(E.table(rows, "04_equal_time"))
best = max(rows, key=lambda r: r["test_acc_mean"])
band = max((r for r in rows if 30 <= r["% of batch"] <= 50), key=lambda r: r["test_acc_mean"])
se = np.hypot(best["test_acc_std"], band["test_acc_std"]) / np.sqrt(len(SEEDS))
print(f"best k = {best['k']} ({best['% of batch']} % of the batch): accuracy {best['test_acc_mean']:.3f}; "
      f"best inside 30-50 %: k = {band['k']} with {band['test_acc_mean']:.3f}; "
      f"difference {best['test_acc_mean'] - band['test_acc_mean']:.3f} ± {se:.3f} (standard error)")
fig, ax = plt.subplots(figsize=(6, 3.8))
ax.errorbar([r["k"] for r in rows], [r["test_acc_mean"] for r in rows], [r["test_acc_std"] for r in rows], fmt="o-", capsize=3)
ax.axvspan(3, 5, color="C2", alpha=0.15, label="document's 'optimal' 30-50 %")
ax.set(xlabel="subsample size k", ylabel="test accuracy (mean ± sd over seeds)", title="Equal modeled cloud time")
ax.legend()
E.save_figure(fig, "04_equal_time")
plt.show()"""),
    md("## Explore\nMove k and shots: the statistics of one estimate are recomputed (live kernel only)."),
    code("""from qnb.widgets import variance_explorer
variance_explorer(repeats=30 if QUICK else 60)""", "nbval-ignore-output"),
    md("""## What we found
* Subsampled SPSA is unbiased for every k (table 1), as the document's theory section says.
* Its variance grows as k shrinks and as shots shrink (figure); single-direction SPSA in 48 dimensions is noisy at any k.
* At equal modeled cloud time the last line above compares the best k with the best k inside the document's 30–50 % band: where the difference is within about two standard errors, the data cannot single out an optimal fraction, and the claim "optimal: 30–50 %" is not supported as stated — smaller k simply buys more steps for the same time."""),
]

NB["05_performance_tables"] = [
    md("""# 05 — The document's tables, reproduced: its figure, our model, our measurement

**What this shows.** Every table the document prints — Performance Comparison, Expected Performance
and Real-World Targets — with three figures per cell: the document's, qnb's modeled one (the latency
model of notebook 02 applied to circuits and jobs counted by running the method), and qnb's
measured one (the method run through the real pennylane-ionq client against the loopback emulator,
which queues jobs with the same latency model scaled down; wall time divided by the scale). Quality
is measured: test accuracy over several seeds, against an exact-gradient training as the ceiling,
both at the document's budgets and at equal modeled cloud time."""),
    params("QUICK = False\nRANDOM_SEED = 0"),
    code(SETUP + """
SEEDS = range(RANDOM_SEED, RANDOM_SEED + (2 if QUICK else 10))
EPOCHS = 1 if QUICK else 5
LATENCY_SCALE = 0.01 if QUICK else 0.05
MEASURE_STEPS = 1 if QUICK else 2"""),
    md("## Measured on the emulator"),
    code("""measured = {}
for s in E.SEED_TABLES["performance_comparison"]:
    measured[s["row"]] = E.measure_on_emulator(s["method"], s["k"] or 5, latency_scale=LATENCY_SCALE, steps=MEASURE_STEPS)
print(E.table([{"row": k, "jobs seen by the service": v["jobs"], "circuits seen": v["circuits"],
                "measured s/batch": v["batch_s"], "modeled s/batch": v["modeled_s"],
                "overhead": f"{100 * (v['batch_s'] / v['modeled_s'] - 1):+.0f}%"} for k, v in measured.items()]))""", "nbval-ignore-output"),
    md("## Quality, measured\nEvery row trained for the document's 5 epochs over the seeds; the ceiling is parameter shift with exact expectation values."),
    code("""configs = {s["row"]: qnb.TrainingConfig(gradient_method=s["method"], gradient_subsample_size=s["k"] or 5, epochs=EPOCHS)
           for s in E.SEED_TABLES["performance_comparison"]}
configs["exact-gradient ceiling"] = qnb.TrainingConfig(gradient_method="parameter_shift", shots_per_circuit=None, epochs=EPOCHS)
runs = {name: E.train_many(cfg, SEEDS) for name, cfg in configs.items()}
quality = {name: E.summarize(h) for name, h in runs.items()}
ceiling = quality["exact-gradient ceiling"]["test_acc_mean"]
print(E.table([{"run": k, **v} for k, v in quality.items()], "05_quality"))"""),
    md("## Table 1 — Performance Comparison"),
    md("The measured column (wall clock, printed in the emulator table above) goes into `figures/performance_comparison.md` with the rest; printed here is everything that is deterministic for the seed."),
    code("""qual_str = {k: f"{v['test_acc_mean']:.2f} ± {v['test_acc_std']:.2f} ({v['test_acc_mean'] / ceiling:.0%} of ceiling)" for k, v in quality.items()}
perf = E.performance_comparison(measured={k: {"batch_s": round(v["batch_s"], 1)} for k, v in measured.items()}, quality=qual_str)
E.table(perf, "performance_comparison")
print(E.table([{k: v for k, v in r.items() if k != "s/batch (measured)"} for r in perf]))"""),
    md("## Table 2 — Expected Performance (the presets)"),
    code("""rows = []
for s in E.SEED_TABLES["expected_performance"]:
    cfg = qnb.PRESETS[s["preset"]]
    c = E.step_cost(cfg.gradient_method, cfg.gradient_subsample_size)
    batch = c["modeled_s"]
    rows.append({"row": s["row"], "circuits (doc)": s["circuits"], "circuits (qnb)": c["circuits"],
                 "s/batch (doc)": s["batch_s"], "s/batch (model)": batch, "5 epochs min (doc)": s["five_epochs_s"] / 60,
                 "5 epochs min (model)": batch * 50 / 60, f"preset's {cfg.epochs} epochs min (model)": batch * 10 * cfg.epochs / 60,
                 "verdict": E.verdict(s["batch_s"], batch)})
print(E.table(rows, "expected_performance"))"""),
    md("## Table 3 — Real-World Performance Targets"),
    code("""model_batches = [r["s/batch (model)"] for r in perf if "Parallel" in r["row"] or "Subsampled" in r["row"]]
model_circuits = [r["circuits (qnb)"] for r in perf if "Parallel" in r["row"] or "Subsampled" in r["row"]]
best = max((k for k in quality if "Parallel" in k or "Subsampled" in k), key=lambda k: quality[k]["test_acc_mean"])
def within(lo, hi, vals): return "holds" if lo * 0.85 <= min(vals) and max(vals) <= hi * 1.15 else "does not hold"
targets = [
    {"metric": "Time per batch", "doc": "3-10 s", "qnb (model)": f"{min(model_batches):.1f}-{max(model_batches):.1f} s", "verdict": within(3, 10, model_batches)},
    {"metric": "Circuits per batch", "doc": "4-20", "qnb (model)": f"{min(model_circuits)}-{max(model_circuits)}", "verdict": within(4, 20, model_circuits)},
    {"metric": "Training time (5 epochs)", "doc": "2.5-8 min", "qnb (model)": f"{min(model_batches) * 50 / 60:.1f}-{max(model_batches) * 50 / 60:.1f} min", "verdict": within(150, 480, [b * 50 for b in model_batches])},
    {"metric": "Model quality", "doc": "Good", "qnb (model)": f"best v3.3.1 row: {quality[best]['test_acc_mean']:.2f} vs ceiling {ceiling:.2f}",
     "verdict": "holds" if quality[best]["test_acc_mean"] >= 0.95 * ceiling else "does not hold"},
]
print(E.table(targets, "real_world_targets"))"""),
    md("## Loss against modeled cloud time, every method"),
    code("""fig, ax = plt.subplots(figsize=(8, 4.5))
for name, hs in runs.items():
    t = np.cumsum([s["modeled_s"] for s in hs[0]["steps"]]) / 60
    loss = np.mean([[s["loss"] for s in h["steps"]] for h in hs], axis=0)
    ax.plot(t, loss, label=name)
ax.set(xscale="log", xlabel="modeled cloud time (min, log)", ylabel="batch loss (mean over seeds)",
       title=f"{EPOCHS} epochs of each method on the seed-calibrated latency model")
ax.legend(fontsize=8)
E.save_figure(fig, "05_loss_vs_time")
plt.show()"""),
    code("""fig, ax = plt.subplots(1, 2, figsize=(10, 3.5))
names = [r["row"].replace("v3.3.1 ", "") for r in perf]
ax[0].barh(names, [r["circuits (qnb)"] for r in perf]); ax[0].set(xscale="log", xlabel="circuits per batch (log)")
ax[1].barh(names, [r["jobs (qnb)"] for r in perf], color="C1"); ax[1].set(xlabel="jobs per batch")
ax[1].set_yticklabels([])
fig.suptitle("What one batch of 10 samples costs")
E.save_figure(fig, "05_circuits_and_jobs")
plt.show()"""),
    md("## At equal modeled cloud time\nEvery method gets the Balanced preset's 5-epoch budget."),
    code("""budget = 50 * E.step_cost("spsa_subsampled", 5)["modeled_s"]
eq_configs = {k: v for k, v in configs.items() if k != "exact-gradient ceiling"}
eq_configs["qnb preset two_direction (k=2, 2 directions, 1 job)"] = qnb.PRESETS["two_direction"]
eq = {name: E.summarize(E.train_many(cfg, SEEDS, budget_s=budget)) for name, cfg in eq_configs.items()}
print(f"budget {budget / 60:.1f} modeled min")
print(E.table([{"run": k, **v} for k, v in eq.items()], "05_equal_time"))"""),
    md("## Explore\nSubsample size and shots: the modeled cost row is recomputed (live kernel only)."),
    code("""from qnb.widgets import cost_explorer
cost_explorer()""", "nbval-ignore-output"),
    md("""## What we found
* Circuits per batch hold for every SPSA row; parameter shift needs 970, not 960.
* Times per batch: the tables above give each verdict. No single latency model reproduces all of the document's rows (notebook 02).
* The measured figures (real plugin, emulated queue) match the model within qnb's per-job overhead, printed in the first table.
* "Quality: High/Medium" is now a number: see the quality table and the ceiling.
* At equal modeled cloud time, one-job methods beat 20-job methods by the margin in the last table; `make bench` measures time to quality against PennyLane's and Qiskit's SPSA."""),
]

NB["06_running_on_ionq"] = [
    md("""# 06 — Running on IonQ through pennylane-ionq

**What this shows.** The same training, but every job goes through the real pennylane-ionq plugin:
by default to `qnb.emulator`, a loopback stand-in for IonQ's v0.4 job API started by this notebook;
to the real service when an API key is in the environment (`PENNYLANE_IONQ_API_KEY` or
`IONQ_API_KEY`) and `USE_REAL_SERVICE` is set. The key is never printed."""),
    params("QUICK = False\nRANDOM_SEED = 0\nUSE_REAL_SERVICE = False\nLATENCY_SCALE = 0.01"),
    code(SETUP + """
import os
from qnb.emulator import Emulator
EPOCHS = 1 if QUICK else 3
has_key = any(os.environ.get(v) for v in ("PENNYLANE_IONQ_API_KEY", "IONQ_API_KEY"))
real = USE_REAL_SERVICE and has_key
print("target:", "IonQ cloud simulator" if real else "loopback emulator (127.0.0.1)")"""),
    code("""cfg = qnb.PRESETS["balanced"].replace(backend="ionq", device="ionq.simulator", epochs=EPOCHS, seed=RANDOM_SEED)
if real:
    trainer = qnb.QuantumTrainer(cfg)
    history = trainer.fit(progress=False)
    service_jobs = None
else:
    with Emulator(latency_scale=LATENCY_SCALE) as emu:   # its own throwaway key, never printed
        # the backend seed the trainer would derive itself, so the local run below is comparable
        backend = emu.backend(seed=np.random.SeedSequence(RANDOM_SEED).spawn(4)[3])
        trainer = qnb.QuantumTrainer(cfg, backend=backend)
        history = trainer.fit(progress=False)
        service_jobs, service_circuits = emu.stats["jobs_created"], emu.stats["circuits"]
steps = history["steps"]
print(f"{len(steps)} steps, {sum(s['jobs'] for s in steps)} jobs and {sum(s['circuits'] for s in steps)} circuits sent by qnb")
if service_jobs is not None:
    print(f"the service saw {service_jobs} jobs and {service_circuits} circuits")
print(f"modeled cloud time {sum(s['modeled_s'] for s in steps) / 60:.1f} min; final test accuracy {history['epochs'][-1]['test_accuracy']:.2f}")"""),
    md("Same configuration and seed on the local simulator: the plugin path gives the same training, step for step (exact probabilities, the same seeded shot sampling)."),
    code("""local = qnb.QuantumTrainer(cfg.replace(backend="local", device="default.qubit")).fit(progress=False)
a = np.array([s["loss"] for s in steps]); b = np.array([s["loss"] for s in local["steps"]])
print(f"largest difference in batch loss over {len(a)} steps: {np.max(np.abs(a - b)):.1e}")
print(f"test accuracy: IonQ path {history['epochs'][-1]['test_accuracy']:.2f}, local {local['epochs'][-1]['test_accuracy']:.2f}")"""),
    md("""## What we found
* One job per step reaches the service (counted by the service itself, not by qnb).
* The plugin path and the local simulator agree step for step, so local runs are faithful rehearsals.
* Faults (HTTP 429/5xx, dropped connections, failed, canceled and never-finishing jobs) are handled by `CircuitBatchManager` and tested in `tests/integration/`; a failed run resumes from its checkpoint with `QuantumTrainer.resume`."""),
]


def build(names):
    out = Path(__file__).resolve().parent.parent / "notebooks"
    for name, cells in NB.items():
        if names and name[:2] not in names:
            continue
        nb = nbf.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "qnb", "display_name": "Python (qnb)", "language": "python"}
        for c in cells:
            if c[0] == "md":
                nb.cells.append(nbf.v4.new_markdown_cell(c[1]))
            else:
                cell = nbf.v4.new_code_cell(c[1])
                if c[2]:
                    cell.metadata["tags"] = c[2]
                nb.cells.append(cell)
        nbf.write(nb, out / f"{name}.ipynb")
        print("wrote", name)


if __name__ == "__main__":
    build(sys.argv[1:])
