# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python (qnb)
#     language: python
#     name: qnb
# ---

# %% [markdown]
# # 05 — The document's tables, reproduced: its figure, our model, our measurement
#
# **What this shows.** Every table the document prints — Performance Comparison, Expected Performance
# and Real-World Targets — with three figures per cell: the document's, qnb's modeled one (the latency
# model of notebook 02 applied to circuits and jobs counted by running the method), and qnb's
# measured one (the method run through the real pennylane-ionq client against the loopback emulator,
# which queues jobs with the same latency model scaled down; wall time divided by the scale). Quality
# is measured: test accuracy over several seeds, against an exact-gradient training as the ceiling,
# both at the document's budgets and at equal modeled cloud time.

# %% tags=["parameters"]
QUICK = False
RANDOM_SEED = 0

# %%
# %matplotlib inline
import numpy as np, matplotlib.pyplot as plt
import qnb
from qnb import experiments as E
plt.rcParams.update({"figure.dpi": 90, "axes.grid": True, "grid.alpha": 0.3})
np.set_printoptions(precision=3, suppress=True)
SEEDS = range(RANDOM_SEED, RANDOM_SEED + (2 if QUICK else 10))
EPOCHS = 1 if QUICK else 5
LATENCY_SCALE = 0.01 if QUICK else 0.05
MEASURE_STEPS = 1 if QUICK else 2

# %% [markdown]
# ## Measured on the emulator

# %% tags=["nbval-ignore-output"]
measured = {}
for s in E.SEED_TABLES["performance_comparison"]:
    measured[s["row"]] = E.measure_on_emulator(s["method"], s["k"] or 5, latency_scale=LATENCY_SCALE, steps=MEASURE_STEPS)
print(E.table([{"row": k, "jobs seen by the service": v["jobs"], "circuits seen": v["circuits"],
                "measured s/batch": v["batch_s"], "modeled s/batch": v["modeled_s"],
                "overhead": f"{100 * (v['batch_s'] / v['modeled_s'] - 1):+.0f}%"} for k, v in measured.items()]))

# %% [markdown]
# ## Quality, measured
# Every row trained for the document's 5 epochs over the seeds; the ceiling is parameter shift with exact expectation values.

# %%
configs = {s["row"]: qnb.TrainingConfig(gradient_method=s["method"], gradient_subsample_size=s["k"] or 5, epochs=EPOCHS)
           for s in E.SEED_TABLES["performance_comparison"]}
configs["exact-gradient ceiling"] = qnb.TrainingConfig(gradient_method="parameter_shift", shots_per_circuit=None, epochs=EPOCHS)
runs = {name: E.train_many(cfg, SEEDS) for name, cfg in configs.items()}
quality = {name: E.summarize(h) for name, h in runs.items()}
ceiling = quality["exact-gradient ceiling"]["test_acc_mean"]
print(E.table([{"run": k, **v} for k, v in quality.items()], "05_quality"))

# %% [markdown]
# ## Table 1 — Performance Comparison

# %% [markdown]
# The measured column (wall clock, printed in the emulator table above) goes into `figures/performance_comparison.md` with the rest; printed here is everything that is deterministic for the seed.

# %%
qual_str = {k: f"{v['test_acc_mean']:.2f} ± {v['test_acc_std']:.2f} ({v['test_acc_mean'] / ceiling:.0%} of ceiling)" for k, v in quality.items()}
perf = E.performance_comparison(measured={k: {"batch_s": round(v["batch_s"], 1)} for k, v in measured.items()}, quality=qual_str)
E.table(perf, "performance_comparison")
print(E.table([{k: v for k, v in r.items() if k != "s/batch (measured)"} for r in perf]))

# %% [markdown]
# ## Table 2 — Expected Performance (the presets)

# %%
rows = []
for s in E.SEED_TABLES["expected_performance"]:
    cfg = qnb.PRESETS[s["preset"]]
    c = E.step_cost(cfg.gradient_method, cfg.gradient_subsample_size)
    batch = c["modeled_s"]
    rows.append({"row": s["row"], "circuits (doc)": s["circuits"], "circuits (qnb)": c["circuits"],
                 "s/batch (doc)": s["batch_s"], "s/batch (model)": batch, "5 epochs min (doc)": s["five_epochs_s"] / 60,
                 "5 epochs min (model)": batch * 50 / 60, f"preset's {cfg.epochs} epochs min (model)": batch * 10 * cfg.epochs / 60,
                 "verdict": E.verdict(s["batch_s"], batch)})
print(E.table(rows, "expected_performance"))

# %% [markdown]
# ## Table 3 — Real-World Performance Targets

# %%
model_batches = [r["s/batch (model)"] for r in perf if "Parallel" in r["row"] or "Subsampled" in r["row"]]
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
print(E.table(targets, "real_world_targets"))

# %% [markdown]
# ## Loss against modeled cloud time, every method

# %%
fig, ax = plt.subplots(figsize=(8, 4.5))
for name, hs in runs.items():
    t = np.cumsum([s["modeled_s"] for s in hs[0]["steps"]]) / 60
    loss = np.mean([[s["loss"] for s in h["steps"]] for h in hs], axis=0)
    ax.plot(t, loss, label=name)
ax.set(xscale="log", xlabel="modeled cloud time (min, log)", ylabel="batch loss (mean over seeds)",
       title=f"{EPOCHS} epochs of each method on the seed-calibrated latency model")
ax.legend(fontsize=8)
E.save_figure(fig, "05_loss_vs_time")
plt.show()

# %%
fig, ax = plt.subplots(1, 2, figsize=(10, 3.5))
names = [r["row"].replace("v3.3.1 ", "") for r in perf]
ax[0].barh(names, [r["circuits (qnb)"] for r in perf]); ax[0].set(xscale="log", xlabel="circuits per batch (log)")
ax[1].barh(names, [r["jobs (qnb)"] for r in perf], color="C1"); ax[1].set(xlabel="jobs per batch")
ax[1].set_yticklabels([])
fig.suptitle("What one batch of 10 samples costs")
E.save_figure(fig, "05_circuits_and_jobs")
plt.show()

# %% [markdown]
# ## At equal modeled cloud time
# Every method gets the Balanced preset's 5-epoch budget.

# %%
budget = 50 * E.step_cost("spsa_subsampled", 5)["modeled_s"]
eq_configs = {k: v for k, v in configs.items() if k != "exact-gradient ceiling"}
eq_configs["qnb preset two_direction (k=2, 2 directions, 1 job)"] = qnb.PRESETS["two_direction"]
eq = {name: E.summarize(E.train_many(cfg, SEEDS, budget_s=budget)) for name, cfg in eq_configs.items()}
print(f"budget {budget / 60:.1f} modeled min")
print(E.table([{"run": k, **v} for k, v in eq.items()], "05_equal_time"))

# %% [markdown]
# ## Explore
# Subsample size and shots: the modeled cost row is recomputed (live kernel only).

# %% tags=["nbval-ignore-output"]
from qnb.widgets import cost_explorer
cost_explorer()

# %% [markdown]
# ## What we found
# * Circuits per batch hold for every SPSA row; parameter shift needs 970, not 960.
# * Times per batch: the tables above give each verdict. No single latency model reproduces all of the document's rows (notebook 02).
# * The measured figures (real plugin, emulated queue) match the model within qnb's per-job overhead, printed in the first table.
# * "Quality: High/Medium" is now a number: see the quality table and the ceiling.
# * At equal modeled cloud time, one-job methods beat 20-job methods by the margin in the last table; `make bench` measures time to quality against PennyLane's and Qiskit's SPSA.
