# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python (qnb)
#     language: python
#     name: qnb
# ---

# %% [markdown]
# # 04 (later chapter) — The document's tables, reproduced: its figure, our model, what an emulated service received
#
# Each cell of the document's Performance Comparison, Expected Performance, Recommendations,
# Bottleneck Analysis and Real-World Targets, as the document's figure and qnb's *modeled* one, with
# the jobs and circuits an *emulated* service received; then quality, and the methods at equal cloud time.
#
# * **modeled**: circuits and jobs counted by running the method, priced by the latency model fitted
#   to the document's timings (notebook 02): agreement within 15 % is the document's *self-consistency*
#   (notebook 01's glossary; the 15 % is a convention, not a measured interval), not IonQ's speed.
# * **emulated**: run through the real pennylane-ionq client against `qnb.emulator`, a loopback
#   stand-in for IonQ's API, which counts the jobs and circuits it receives. It checks that a service
#   receives what qnb counts. An "emulated time" would be the same latency model applied to those
#   counts, so it could only repeat the modeled time when the counts agree: the tables show the counts.
# * **5-epoch exact-gradient reference**: the test accuracy of exact gradients (parameter shift on exact
#   outputs) after the same 5 epochs; quality is a share of it. It is *not* notebook 06's **ceiling**
#   (exact gradients with Adam, each seed trained until its accuracy plateaus), the one definition of
#   "ceiling" in these notebooks. The document's table compares its settings after 5 epochs, so its
#   quality claim is judged here against exact gradients given the same 5 epochs.
# * **equal cloud time**: every method gets the same modeled budget and stops before a step would pass it.
#
# Breast cancer is split here into 100 stratified training rows (the document's 100 samples: 10 batches
# of 10) and the other 469 for testing, unlike notebooks 03 and 06 (398 training / 171 test rows, the
# default 70 % / 30 %). Verdicts carry 95 % intervals (bootstrap over seeds, notebook 01's glossary);
# studies are read from `figures/studies/` (`RECOMPUTE = True` reruns them).

# %% tags=["parameters"]
QUICK = False
RANDOM_SEED = 0
RECOMPUTE = False  # True: rerun the multi-seed studies here (minutes) instead of reading figures/studies/

# %%
# %matplotlib inline
import textwrap
import numpy as np, matplotlib.pyplot as plt
import qnb
from qnb.research import defects as D, experiments as E, stats as S, widgets as W
plt.rcParams.update({"figure.dpi": 90, "axes.grid": True, "grid.alpha": 0.3})
np.set_printoptions(precision=3, suppress=True)
SEEDS = range(RANDOM_SEED, RANDOM_SEED + (2 if QUICK else 10))            # blobs
FEW_SEEDS = range(RANDOM_SEED, RANDOM_SEED + (2 if QUICK else 5))         # xor and breast cancer
HELD_OUT = range(RANDOM_SEED + 10, RANDOM_SEED + (12 if QUICK else 20))   # equal-time: seeds no preset was chosen on
EPOCHS = 1 if QUICK else 5
DATASETS = ["blobs"] if QUICK else ["blobs", "xor", "breast_cancer"]
N_TRAIN = 100  # the document's 100 samples = 10 batches of 10 on every data set (breast cancer: 100 stratified training rows, the other 469 for testing)
LATENCY_SCALE = 0.01 if QUICK else 0.05
MEASURE_STEPS = 1 if QUICK else 2
lat = qnb.LatencyModel.seed_calibrated()
PERF = E.SEED_TABLES["performance_comparison"]
print(f"latency model fitted to the document (notebook 02): {lat.job_overhead_s:.2f} s per job + {lat.per_circuit_s:.3f} s per circuit")
for ds in DATASETS:
    n_tr, n_te = qnb.data.dataset_sizes(ds, N_TRAIN)
    print(f"{ds}: {n_tr} training / {n_te} test rows")

# %% [markdown]
# ## Emulated: every row through pennylane-ionq and the loopback emulator
# The emulator counts the jobs and circuits it receives (table: `figures/04_emulated.md`). Only those
# counts are kept: the wall clock of a run (the model's queue time scaled by LATENCY_SCALE, plus qnb's
# own overhead) changes on every run, so it stays out of this committed notebook. The counts are the
# measurement; their modeled time is shown once, and no "emulated" time column appears in the tables
# below: priced by the same model, it would equal the modeled time wherever the counts agree.

# %%
DETERMINISTIC = ("jobs", "circuits", "qnb_jobs", "qnb_circuits", "modeled_s", "emulated_s")
emulated = E.study("04_emulated", lambda: {s["row"]: {f: v for f, v in E.measure_on_emulator(
    s["method"], s["k"] or 5, latency_scale=LATENCY_SCALE, steps=MEASURE_STEPS).items() if f in DETERMINISTIC} for s in PERF},
                   params={"latency_scale": LATENCY_SCALE, "steps": MEASURE_STEPS, "kept": DETERMINISTIC}, recompute=RECOMPUTE, quick=QUICK)
same_count = {k: (v["jobs"], v["circuits"]) == (v["qnb_jobs"], v["qnb_circuits"]) for k, v in emulated.items()}
_ = E.table([{"row": k, "jobs seen by the service": int(v["jobs"]), "circuits seen": int(v["circuits"]),
              "same as qnb's count": same_count[k], "s/batch (model, qnb's count)": v["modeled_s"]} for k, v in emulated.items()],
            "04_emulated")   # to figures/04_emulated.md|csv; the match is also a column of Table 1

# %% [markdown]
# ## Quality, measured on three data sets
# Every row trained the document's 5 epochs (notebook 06 trains to the plateau). The 1000-shot
# parameter-shift row (970 circuits a step) runs on blobs only, with 5 seeds; the SPSA rows and the
# 5-epoch reference (parameter shift on exact outputs) get 10 seeds on blobs, 5 elsewhere. Sequential shares Parallel's bit-for-bit gradient and quality.

# %%
configs = {s["row"]: qnb.TrainingConfig(gradient_method=s["method"], gradient_subsample_size=s["k"] or 5, epochs=EPOCHS)
           for s in PERF if s["method"] != "spsa_sequential"}
REF = "5-epoch exact-gradient reference"
configs[REF] = qnb.TrainingConfig(gradient_method="parameter_shift", shots_per_circuit=None, epochs=EPOCHS)
def quality_runs():  # every (data set, row, seed) run as one batch of tasks
    # blobs: 10 seeds for the SPSA rows AND the reference (a ratio with 5 reference seeds under-covers); others 5
    seeds = lambda ds, cfg: SEEDS if ds == "blobs" and (cfg.gradient_method != "parameter_shift"
                                                         or cfg.shots_per_circuit is None) else FEW_SEEDS
    runs = E.train_all({(ds, name): (cfg.replace(dataset=ds, n_train=N_TRAIN), seeds(ds, cfg)) for ds in DATASETS
                        for name, cfg in configs.items() if ds == "blobs" or name != "v3.2 Parameter Shift"},
                       exact_train_loss=True)
    return {ds: {name: E.run_summary(h) for (d, name), h in runs.items() if d == ds} for ds in DATASETS}
quality = E.study("04_quality", quality_runs,
                  params={"seeds": list(SEEDS), "few_seeds": list(FEW_SEEDS), "epochs": EPOCHS, "datasets": DATASETS, "n_train": N_TRAIN,
                          "configs": {k: v.to_dict() for k, v in configs.items()}}, recompute=RECOMPUTE, quick=QUICK)
for q in quality.values():
    q["v3.3.1 Sequential"] = q["v3.3.1 Parallel"]
reference = {ds: np.mean(q[REF]["acc"]) for ds, q in quality.items()}
rows = [{"data": ds, "run": name, **E.accuracy_summary(r["acc"]), "of the 5-epoch reference": f"{np.mean(r['acc']) / reference[ds]:.0%}"}
        for ds, q in quality.items() for name, r in q.items()]
E.table(rows, "04_quality")   # every row, with sd and se, to figures/04_quality.md|csv
E.show([{"run": name, **{ds: f"{np.mean(quality[ds][name]['acc']):.2f}" if name in quality[ds] else "" for ds in DATASETS}}
        for name in quality[DATASETS[0]]], title="Mean final test accuracy after 5 epochs (sd, se, share of the 5-epoch reference: figures/04_quality.md)")

# %%
def quality_cell(ds, row):
    r = quality[ds].get(row)
    if r is None:
        return "not run"
    a = E.accuracy_summary(r["acc"])
    return f"{a['test_acc_mean']:.2f} ± {a['test_acc_sd']:.2f} ({a['test_acc_mean'] / reference[ds]:.0%})"

def epoch_cols(doc_batch_s, model_batch_s):
    return {"Time/Epoch s (doc)": 10 * doc_batch_s if doc_batch_s else None, "Time/Epoch s (model)": 10 * model_batch_s}

# %% [markdown]
# ## Table 1 — Performance Comparison
# Quality: the table above; per-epoch times in `figures/performance_comparison.md`. "emulator count" says
# whether the emulator received the jobs and circuits qnb counted (then every modeled time is also what
# the same model charges for what a service received).

# %%
perf = []
for s, base in zip(PERF, E.performance_comparison(lat)):
    perf.append({"row": s["row"], "circuits (doc)": s["circuits"], "circuits (qnb)": base["circuits (qnb)"],
                 "jobs (qnb)": base["jobs (qnb)"], "emulator count": "same" if same_count[s["row"]] else "differs",
                 "s/batch (doc)": s["batch_s"], "s/batch (model)": base["s/batch (model)"],
                 **epoch_cols(s["epoch_s"] / 10, base["s/batch (model)"]),
                 "5 epochs min (doc)": s["five_epochs_s"] / 60, "5 epochs min (model)": base["5 epochs min (model)"],
                 "verdict (time)": base["verdict"], "quality (doc)": s["quality"],
                 **{f"quality {ds}": quality_cell(ds, s["row"]) for ds in DATASETS}})
E.show(perf, "performance_comparison", columns=["row", "circuits (doc)", "circuits (qnb)", "jobs (qnb)", "emulator count",
       "s/batch (doc)", "s/batch (model)", "verdict (time)", "quality (doc)"])
ps_row = perf[0]
ps_one_job = lat.batch_time(ps_row["circuits (qnb)"], 1)
print(f"parameter shift, the document's v3.2 code (jobs of at most 100 circuits): {ps_row['circuits (qnb)']} circuits in "
      f"{ps_row['jobs (qnb)']} jobs = {ps_row['s/batch (model)']:.1f} s a batch, of which {ps_row['jobs (qnb)'] * lat.job_overhead_s:.1f} s "
      f"queue; as ONE job a step, as notebook 06 charges it: {ps_one_job:.1f} s ({100 * (ps_one_job / ps_row['s/batch (model)'] - 1):+.0f} %)")

# %% [markdown]
# Parameter shift is charged here as the document's v3.2 code sends it, 10 jobs a batch; notebook 06
# races it at its best, one job a step (printed above: a few per cent less time, since its 970 circuits'
# execution dominates either way). Compare the two notebooks' parameter-shift times with that in mind.
#
# The v3.3 row is the loop **with averaging** (`spsa_per_sample`); the document's code sums instead
# (`summed_gradients`, reproduced on purpose in "The document's code defects" below): the same circuits and
# jobs, a B-times larger step; its effect on accuracy, with its interval, is in that section's table.
#
# ## Table 2 — Expected Performance (the presets)

# %%
by_method = {(s["method"], s["k"]): s["row"] for s in PERF}
expected = []
for s in E.SEED_TABLES["expected_performance"]:
    cfg = qnb.PRESETS[s["preset"]]
    k = cfg.gradient_subsample_size if cfg.gradient_method == "spsa_subsampled" else None
    row = by_method[(cfg.gradient_method, k)]
    c = E.step_cost(cfg.gradient_method, cfg.gradient_subsample_size)
    expected.append({"preset": s["row"], "circuits (doc)": s["circuits"], "circuits (qnb)": c["circuits"],
                     "emulator count": "same" if same_count[row] else "differs",
                     "s/batch (doc)": s["batch_s"], "s/batch (model)": c["modeled_s"],
                     **epoch_cols(s["epoch_s"] / 10, c["modeled_s"]),
                     "5 epochs min (doc)": s["five_epochs_s"] / 60, "5 epochs min (model)": 50 * c["modeled_s"] / 60,
                     "preset epochs": cfg.epochs, "preset run min (model)": 10 * cfg.epochs * c["modeled_s"] / 60,
                     "verdict (time)": E.verdict(s["batch_s"], c["modeled_s"])})
E.show(expected, "expected_performance", columns=["preset", "circuits (doc)", "circuits (qnb)", "s/batch (doc)", "s/batch (model)",
       "5 epochs min (doc)", "5 epochs min (model)", "verdict (time)"])

# %% [markdown]
# ## The Recommendations and the presets' stated times
# The minutes the document states in prose (its usage examples' comments and its Recommendations
# section; kept with their source in `qnb.research.document.SEED_TABLES["stated_minutes"]`). The
# Accurate preset is "~8 minutes for 5 epochs" there but 8.5 min in the Expected Performance table
# (Table 2 above): the document disagrees with itself by half a minute, and each row quotes its own section.
# One recommendation runs at 100 shots, so here the per-circuit time is proportional to shots
# (`LatencyModel.with_shot_cost`: the fitted per-circuit time, notebook 02, read as execution at the
# document's 1000 shots and scaled by shots; at 1000 shots it is the fitted model).

# %%
shot_lat = lat.with_shot_cost()
stated = E.SEED_TABLES["stated_minutes"]   # the document's minutes, with the section each is quoted from
rec_rows = []
for s in stated:
    name, cfg, doc_min = s["row"], qnb.PRESETS[s["preset"]], s["minutes"]
    c = E.step_cost(cfg.gradient_method, cfg.gradient_subsample_size, shots=cfg.shots_per_circuit,
                    backend=qnb.LocalBackend(latency=shot_lat))
    run_min = 10 * cfg.epochs * c["modeled_s"] / 60
    rec_rows.append({"configuration": name, "k": cfg.gradient_subsample_size if cfg.gradient_method == "spsa_subsampled" else 10,
                     "epochs": cfg.epochs, "shots": cfg.shots_per_circuit, "min (doc)": doc_min, "min (model)": run_min,
                     "of which job overheads": 10 * cfg.epochs * c["jobs"] * shot_lat.job_overhead_s / 60,
                     "verdict (time)": E.verdict(doc_min, run_min), "where the document says it": s["source"]})
E.show(rec_rows, "recommendations")
dev = rec_rows[3]
sub_rows = [r for r in qnb.SEED_TIMING_ROWS if "Subsampled" in r[0]]      # the document's two one-job subsampled rows
sub_lat = qnb.LatencyModel.seed_calibrated(sub_rows).with_shot_cost()
dcfg = qnb.PRESETS["development"]
c_sub = E.step_cost(dcfg.gradient_method, dcfg.gradient_subsample_size, shots=dcfg.shots_per_circuit, backend=qnb.LocalBackend(latency=sub_lat))
dev_sub_min = 10 * dcfg.epochs * c_sub["modeled_s"] / 60
print(f"Development fitted to the document's two subsampled rows only ({sub_lat.job_overhead_s:.2f} s/job + "
      f"{sub_lat.per_shot_s * 1000:.2f} s/circuit at 1000 shots): {dev_sub_min:.1f} min, {E.verdict(dev['min (doc)'], dev_sub_min)}; "
      f"fitted to all rows (table): {dev['verdict (time)']}")

# %% [markdown]
# ## The Bottleneck Analysis: 2 s queue and 0.5 s execution per circuit, 0.5 s API latency per request
# Taken literally (every circuit pays the queue), the document's bottleneck model misprices its own rows
# (the range is printed below the table); the fitted model charges the queue once per job.

# %%
bottleneck = []
for (name, circuits, jobs, claimed), fitted in zip(qnb.SEED_TIMING_ROWS, qnb.fit_latency()["modeled_s"]):
    literal = circuits * (2.0 + 0.5) + jobs * 0.5
    bottleneck.append({"row": name, "circuits": circuits, "jobs": jobs, "s/batch (doc table)": claimed,
                       "s/batch (doc bottleneck model)": literal, "s/batch (fitted model)": fitted,
                       "bottleneck model vs table": f"{100 * (literal / claimed - 1):+.0f} %"})
E.show(bottleneck, "bottleneck_analysis")
over_by = [100 * (r["s/batch (doc bottleneck model)"] / r["s/batch (doc table)"] - 1) for r in bottleneck]
print(f"the bottleneck model, taken literally, is {min(over_by):+.0f} % to {max(over_by):+.0f} % above the document's own table")
print(f"fitted: {lat.job_overhead_s:.2f} s per job (document: 2.5 s, but per circuit), {lat.per_circuit_s:.3f} s per circuit (document: 0.5 s)")

# %% [markdown]
# ## Table 3 — Real-World Performance Targets
# The document marks every target "Achievable: Yes". Times come from the one-job rows (Parallel,
# Subsampled k = 2 and 5): in sample the model is only *self-consistent* with the document;
# leave-one-out predicts each row from the others. "inside target" means the whole range lies inside
# the document's own target range, with no tolerance added. The leave-one-out values are point
# predictions with no interval: how far such a prediction can miss is its leave-one-out error on the
# document's rows (notebook 02), printed below for these rows.
#
# Quality: the recommended Balanced setting (k = 5) as a share of the 5-epoch exact-gradient reference,
# "Good" at ≥ 95 %: **met** when the whole 95 % interval is at or above, **missed** when all of it is
# below, otherwise **undecided**. The reference is exact gradients after the same 5 epochs because the
# document's claim is about its 5-epoch settings. It is not a ceiling: on xor it is far below what exact
# gradients reach when trained to the plateau (notebook 06's ceiling table), so "Good" on xor here asks
# for 95 % of an accuracy not far above chance, and means little: the table prints the bar "Good" sets
# beside chance (always predicting the commoner test label).

# %%
one_job = [r for r in perf if "Parallel" in r["row"] or "Subsampled" in r["row"]]
loo_one_job = [o for o in E.latency_leave_one_out() if o["row"] in {r["row"] for r in one_job}]
def span(key, scale=1.0, fmt=".1f"):
    vals = [r[key] * scale for r in one_job]
    return min(vals), max(vals), f"{min(vals):{fmt}}-{max(vals):{fmt}}"
def inside(lo, hi, vals):
    """'yes' when the whole range vals lies inside the target [lo, hi] itself (no tolerance)."""
    return "yes" if lo <= vals[0] and vals[1] <= hi else "no"
targets = []
for metric, lo, hi, key, scale, fmt in [("Time per batch (s)", 3, 10, "s/batch (model)", 1, ".1f"),
                                        ("Circuits per batch", 4, 20, "circuits (qnb)", 1, "d"),
                                        ("Training time, 5 epochs (min)", 2.5, 8, "5 epochs min (model)", 1, ".1f")]:
    m_lo, m_hi, m_txt = span(key, scale, fmt)
    row = {"metric": metric, "target (doc)": f"{lo}-{hi}", "Achievable (doc)": "Yes", "qnb model": m_txt}
    if "Circuits" not in metric:
        per = 1 if "batch" in metric else 50 / 60    # s per batch, or 50 batches in minutes
        loo_vals = [o["predicted s"] * per for o in loo_one_job]
        row.update({"model inside target": inside(lo, hi, (m_lo, m_hi)),
                    "leave-one-out prediction (points)": f"{min(loo_vals):{fmt}}-{max(loo_vals):{fmt}}",
                    "prediction inside target": inside(lo, hi, (min(loo_vals), max(loo_vals)))})
    else:
        row.update({"model inside target": "counted: " + inside(lo, hi, (m_lo, m_hi))})
    targets.append(row)
RECOMMENDED = "v3.3.1 Subsampled (k=5)"     # the Balanced preset, the document's "For Production"
shares = {}
for ds in DATASETS:
    acc = quality[ds][RECOMMENDED]["acc"]
    share = shares[ds] = S.ratio_of_means(acc, quality[ds][REF]["acc"])
    chance = E.majority_rate(qnb.make_dataset(ds, n_train=N_TRAIN, seed=0)[3])  # always the commoner test label
    targets.append({"metric": f"Model quality: {ds}", "target (doc)": "Good (≥ 95 % of the 5-epoch reference)", "Achievable (doc)": "Yes",
                    "qnb model": f"Balanced: {np.mean(acc):.2f} = {S.fmt(*share, '.1%')} of the 5-epoch reference {reference[ds]:.2f} "
                                 f"(Good: ≥ {0.95 * reference[ds]:.2f}; chance {chance:.2f}; {len(acc)} seeds)",
                    "quality verdict": S.verdict(share[1], share[2], 0.95, at_least=True)})
E.show(targets, "real_world_targets")
print("leave-one-out errors of the one-job rows (notebook 02; claimed / predicted - 1): "
      + ", ".join(f"{o['row']} {100 * o['rel']:+.0f} %" for o in loo_one_job))

# %% [markdown]
# ## Loss against modeled cloud time, every method
# The exact loss at the current θ on the whole training set after every step (not the noisy loss SPSA
# sees), so every method is judged alike; bands ± one sd over seeds.

# %%
STYLE = {  # one colour, line style and marker per method in every panel
    "v3.2 Parameter Shift": dict(color="C0", ls="--", marker="o", lw=1.8, zorder=6),
    "v3.3 (buggy)": dict(color="C1", ls="-.", marker="s", lw=1.6),
    "v3.3.1 Parallel": dict(color="C2", ls="-", marker="^", lw=1.6),
    "v3.3.1 Subsampled (k=2)": dict(color="C3", ls=(0, (1, 1)), marker="v", lw=1.8),
    "v3.3.1 Subsampled (k=5)": dict(color="C4", ls=(0, (5, 1, 1, 1)), marker="D", lw=1.6),
    REF: dict(color="C5", ls="-", marker=None, lw=4, alpha=0.55, zorder=5),
}
LABEL = {"v3.2 Parameter Shift": "v3.2 Parameter Shift, 1000 shots (blobs only; dashed, lies on the reference)",
         REF: "5-epoch exact-gradient reference (parameter shift, exact values)"}
fig, axes = plt.subplots(1, len(DATASETS), figsize=(5 * len(DATASETS), 4.2), squeeze=False)
for ax, ds in zip(axes[0], DATASETS):
    for n, (name, r) in enumerate(quality[ds].items()):
        if name == "v3.3.1 Sequential" or "t_s" not in r:
            continue  # same gradient as Parallel; its time axis is in Table 1
        t = np.array(r["t_s"][0]) / 60
        loss = np.array(r["loss"])
        ax.plot(t, loss.mean(0), label=LABEL.get(name, name), markevery=(n * len(t) // 30, max(1, len(t) // 5)), ms=5, **STYLE[name])
        ax.fill_between(t, loss.mean(0) - loss.std(0), loss.mean(0) + loss.std(0), color=STYLE[name]["color"], alpha=0.12, lw=0)
    ax.set(xscale="log", xlabel="modeled cloud time (minutes, log scale)", ylabel="exact training loss at θ (whole training set)", title=ds)
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))
handles, labels = axes[0][0].get_legend_handles_labels()
handles.append(plt.Rectangle((0, 0), 1, 1, fc="0.5", alpha=0.3))
n_seeds = sorted({len(r["loss"]) for q in quality.values() for r in q.values() if "loss" in r})
labels.append(f"shaded: ± 1 sd over seeds ({' or '.join(map(str, n_seeds))} per curve)")
fig.legend(handles, labels, fontsize=8, loc="lower center", ncol=4, bbox_to_anchor=(0.5, -0.01))
fig.suptitle("The one-job methods (Parallel, Subsampled) reach each loss several times sooner than v3.3 and parameter shift", y=0.99)
fig.tight_layout(rect=(0, 0.11, 1, 0.97))
E.save_figure(fig, "04_loss_vs_time")
plt.show()

# %% [markdown]
# **What to see:** over the time the curves share, the one-job methods reach each loss first. v3.3 is late by its round trips (20 jobs a batch against one). Parameter shift (blobs only, dashed on the thick brown 5-epoch reference) makes fewer round trips than v3.3 (10 jobs of at most 100 circuits a batch, the document's v3.2 code; notebook 06 charges it one job a step, which would move its curve left by only the few per cent printed under Table 1) yet is later still: most of its time is spent executing its 970 circuits a batch, not queueing, and its curve ends where its 5 epochs end (log axis).

# %%
fig, ax = plt.subplots(1, 2, figsize=(10, 3.2), sharey=True)
names = [r["row"].replace("v3.3.1 ", "") for r in perf]
ax[0].plot([r["circuits (qnb)"] for r in perf], names, "o", ms=8)
ax[0].set(xscale="log", xlabel="circuits per batch (log scale)")
ax[0].xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))
ax[1].plot([r["jobs (qnb)"] for r in perf], names, "o", color="C1", ms=8)
ax[1].set(xlabel="jobs (round trips) per batch", xlim=(0, None))
ax[0].invert_yaxis()
fig.suptitle("What one batch of 10 samples costs")
fig.tight_layout()
E.save_figure(fig, "04_circuits_and_jobs")
plt.show()

# %% [markdown]
# **What to see:** Parallel sends as many circuits as v3.3 and Sequential in one job instead of 20:
# round trips, not circuits, make Table 1's difference.
#
# ## At equal modeled cloud time, on held-out seeds
# Every method gets the Balanced preset's 5-epoch budget, on seeds 10 and up (none used by
# `make bench` to choose its configuration; `two_direction` is one of the presets it compared). Means and sd: `figures/04_equal_time.md`.

# %%
budget = 50 * E.step_cost("spsa_subsampled", 5)["modeled_s"]
eq_configs = {s["row"]: qnb.TrainingConfig(gradient_method=s["method"], gradient_subsample_size=s["k"] or 5) for s in PERF}
eq_configs["qnb two_direction (k=2, 2 directions, 1 job)"] = qnb.PRESETS["two_direction"]
eq_seeds = {ds: list(HELD_OUT) if ds == "blobs" else list(HELD_OUT)[:len(FEW_SEEDS)] for ds in DATASETS}
def equal_time_runs():
    runs = E.train_all({(ds, name): (cfg.replace(dataset=ds, n_train=N_TRAIN), eq_seeds[ds]) for ds in DATASETS
                        for name, cfg in eq_configs.items()}, budget_s=budget)
    return {ds: {name: E.run_summary(h) for (d, name), h in runs.items() if d == ds} for ds in DATASETS}
equal = E.study("04_equal_time", equal_time_runs,
                params={"seeds": eq_seeds, "budget_s": budget, "n_train": N_TRAIN, "configs": {k: v.to_dict() for k, v in eq_configs.items()}},
                recompute=RECOMPUTE, quick=QUICK)
print(f"budget {budget / 60:.1f} modeled min per run")
eq_rows = [{"data": ds, "run": name, **E.accuracy_summary(r["acc"]), "modeled min (max over seeds)": max(r["modeled_s"]) / 60}
           for ds, runs in equal.items() for name, r in runs.items()]
E.table(eq_rows, "04_equal_time")   # every row, with sd and se, to figures/04_equal_time.md|csv; the means are the figure's bars
over = [r["run"] for r in eq_rows  # the study stores times to STUDY_DIGITS significant digits
        if r["modeled min (max over seeds)"] > budget / 60 * (1 + 10.0 ** (1 - E.STUDY_DIGITS))]
print("runs past the budget:", over or "none", "| could not afford one step:",
      sorted({f"{r['run']} ({r['data']})" for r in eq_rows if r["modeled min (max over seeds)"] == 0}) or "none")
print(f"one parameter-shift step: {ps_row['s/batch (model)'] / 60:.2f} min in the document's {ps_row['jobs (qnb)']} jobs, "
      f"{ps_one_job / 60:.2f} min as one job (notebook 06's charge); the budget is {budget / 60:.2f} min")
def step_s(cfg):   # one step's modeled seconds: the jobs and circuits the estimator sends for one batch
    m = cfg.num_directions if isinstance(cfg.num_directions, int) else 1
    return E.step_cost(cfg.gradient_method, cfg.gradient_subsample_size, n_directions=m)["modeled_s"]
steps = {name: int(budget // step_s(cfg)) for name, cfg in eq_configs.items()}
print("steps within the budget: " + ", ".join(f"{name.replace('v3.3.1 ', '')} {n}" for name, n in steps.items()))
MULTI = [n for n in eq_configs if n in E.MULTI_JOB_ROWS and steps[n] > 0]   # the 20-job methods
for ds, runs in equal.items():
    for multi in MULTI:
        diffs = [(n, S.difference(runs[n]["acc"], runs[multi]["acc"])) for n in runs if n not in E.MULTI_JOB_ROWS]
        print(f"{ds}, one-job method minus {multi} (mean {np.mean(runs[multi]['acc']):.2f}), 95 % bootstrap interval over seeds: "
              + "; ".join(f"{n.replace('v3.3.1 ', '').replace(' (k=2, 2 directions, 1 job)', '')} "
                          f"{S.fmt(d['diff'], d['lo'], d['hi'], '+.2f')} {d['verdict']}" for n, d in diffs))

# %%
fig, axes = plt.subplots(1, len(equal), figsize=(5 * len(equal), 4), sharey=True, squeeze=False)
for ax, (ds, runs) in zip(axes[0], equal.items()):
    names = list(runs)
    for i, name in enumerate(names):
        accs = runs[name]["acc"]
        ax.plot(np.full(len(accs), i) + np.linspace(-0.15, 0.15, len(accs)), accs, "o", color="C0", alpha=0.5, ms=4)
        ax.plot([i - 0.25, i + 0.25], [np.mean(accs)] * 2, color="k", lw=2)
    ax.set(xticks=range(len(names)), title=ds, ylim=(None, 1.02))
    ax.set_xticklabels([n.replace("v3.3.1 ", "").replace(" (k=2, 2 directions, 1 job)", "") for n in names], rotation=40, ha="right", fontsize=8)
axes[0][0].set_ylabel("test accuracy (dots: seeds, bar: mean)")
fig.suptitle(f"Equal modeled cloud time: {budget / 60:.1f} min per run, held-out seeds")
fig.tight_layout()
E.save_figure(fig, "04_equal_time")
plt.show()

# %% [markdown]
# **What to see:** with the same cloud time the one-job methods take 32 to 73 steps and the 20-job methods 4
# (1/8 to 1/18 as many; printed above). The 20-job methods still learn, and end **lower** than every one-job
# method on blobs and breast cancer: each difference's 95 % bootstrap interval over seeds, printed above, is
# above 0 (blobs: Parallel − v3.3 +0.34 [+0.22, +0.46]). On xor every method stays low at this budget and
# the one-job methods are only higher in mean than v3.3 (every interval against v3.3 contains 0); parameter
# shift cannot afford a single step (not even charged as one job, as printed above).
#
# ## Explore
# Subsample size, shots and price sheet: the cost row in modeled minutes and dollars is recomputed and
# marked on the grid (live kernel only; the static grid below shows dollars on every sheet at 1000
# shots). "exact" is charged as 1000 shots.

# %% tags=["nbval-ignore-output"]
W.cost_explorer()

# %%
fig = W.plot_cost_grid(W.cost_grid())
E.save_figure(fig, "04_cost_grid")
fig

# %% [markdown]
# **What to see:** modeled time grows with k, steeply only at 10000 shots, while US dollars grow linearly with k on every sheet; braket-ionq-forte and braket-ionq-forte-program-set cost the most and are tied (their lines overlap, at about 80,000 $ at k = 10).

# %% [markdown]
# ## The document's code defects, reproduced on purpose
#
# Three more bugs, each an explicit qnb option (`DocumentConfig`, `qnb/research/defects.py`), never the default:
#
# * **frozen gains**: `self.iteration` never advances, so $c_k = c_0$, $a_k = a_0$ (dotted in notebook 01's gains figure);
# * **summed gradients**: the v3.3 loop adds the B per-sample gradients: a step B times too large;
# * **`params_minus` left behind**: every step starts from θ − c_kΔ, a random kick.
#
# Blobs, the same seeds, `spsa_parallel` unless the variant says otherwise; runs read from
# `figures/studies/` (`RECOMPUTE = True` reruns them).

# %%
SIZE = {"n_train": 30, "n_test": 40} if QUICK else {}   # QUICK trains on fewer samples
WORKERS = 1 if QUICK else None      # QUICK runs are too small to be worth starting worker processes
base = qnb.TrainingConfig(gradient_method="spsa_parallel", epochs=EPOCHS, **SIZE)
variants = {
    "fixed (qnb default)": base,
    "frozen gains (iteration never advances)": D.DocumentConfig(base, ("frozen_gains",)),
    "params_minus left behind": D.DocumentConfig(base, ("params_minus_leak",)),
    "v3.3 per-sample, averaged": base.replace(gradient_method="spsa_per_sample"),
    "v3.3 per-sample, summed (document)": D.DocumentConfig(base.replace(gradient_method="spsa_per_sample"), ("summed_gradients",)),
}
# exact_train_loss: after every step, the loss at the current parameters on the whole training set,
# evaluated exactly (not the shot-noisy loss at theta +- c Delta that SPSA itself sees)
def_runs = E.study("04_defects", lambda: {name: E.deterministic(h) for name, h in E.train_all(
                   {n: (c, SEEDS) for n, c in variants.items()}, workers=WORKERS, exact_train_loss=True).items()},
               params={"seeds": list(SEEDS), "epochs": EPOCHS, "exact_train_loss": True,
                       "variants": {n: c.to_dict() for n, c in variants.items()}},
               recompute=RECOMPUTE, quick=QUICK)
rows_def = [{"variant": name, **E.summarize(h)} for name, h in def_runs.items()]
final = {name: [h["epochs"][-1]["test_accuracy"] for h in hs] for name, hs in def_runs.items()}
first = {name: [h["epochs"][0]["test_accuracy"] for h in hs] for name, hs in def_runs.items()}
def_names = list(def_runs)
for r in rows_def:
    for label, acc in (("after epoch 1", first), (f"after epoch {EPOCHS}", final)):
        d = S.difference(acc[r["variant"]], acc[def_names[0]])
        r[f"vs fixed, {label} [95 %]"] = "" if r["variant"] == def_names[0] else f"{S.fmt(d['diff'], d['lo'], d['hi'], '+.2f')} {d['verdict']}"
E.show(rows_def, "04_defects", columns=["variant", "runs", "test_acc_mean", "test_acc_sd", "modeled_min",
                                         "vs fixed, after epoch 1 [95 %]", f"vs fixed, after epoch {EPOCHS} [95 %]"])

# %%
fig, axes = plt.subplots(2, len(def_names), figsize=(3.1 * len(def_names), 6.4), sharex="row", sharey="row")
exact_loss = lambda hs: np.array([[s["train_loss_exact"] for s in h["steps"]] for h in hs])
ref = exact_loss(def_runs[def_names[0]])
for col, name in enumerate(def_names):
    loss = exact_loss(def_runs[name])
    acc = np.array([[e["test_accuracy"] for e in h["epochs"]] for h in def_runs[name]])
    step = np.arange(1, loss.shape[1] + 1)
    ax = axes[0, col]
    if col:
        ax.plot(step, ref.mean(0), c="0.4", ls="--", lw=1)
    ax.fill_between(step, loss.min(0), loss.max(0), color=f"C{col}", alpha=0.15, lw=0)
    ax.fill_between(step, loss.mean(0) - loss.std(0), loss.mean(0) + loss.std(0), color=f"C{col}", alpha=0.35, lw=0)
    ax.plot(step, loss.mean(0), c=f"C{col}")
    ax.set_title("\n".join(textwrap.wrap(name, 22)), fontsize=10)
    ax.set_xlabel("optimisation step")
    bx = axes[1, col]
    epoch = np.arange(1, acc.shape[1] + 1)
    jitter = np.random.default_rng(0).uniform(-0.12, 0.12, size=acc.shape)
    bx.plot(epoch + jitter, acc, ".", c=f"C{col}", alpha=0.6, ms=6)
    bx.plot(epoch, acc.mean(0), "-", c=f"C{col}", lw=2)
    bx.set_xlabel("epoch"); bx.set_xticks(epoch); bx.set_xlim(0.5, acc.shape[1] + 0.5)
axes[0, 0].set_ylabel("exact training loss at θ\n(whole training set)")
axes[1, 0].set_ylabel("test accuracy")
axes[1, 0].set_ylim(None, 1.02)
handles = [plt.Line2D([], [], c="k", label=f"mean over {len(ref)} seeds"),
           plt.Rectangle((0, 0), 1, 1, fc="k", alpha=0.35, label="± 1 sd across seeds"),
           plt.Rectangle((0, 0), 1, 1, fc="k", alpha=0.15, label="min–max across seeds"),
           plt.Line2D([], [], c="0.4", ls="--", label="fixed (qnb default), mean"),
           plt.Line2D([], [], c="k", ls="", marker=".", label="test accuracy of one seed after each epoch")]
fig.legend(handles=handles, loc="lower center", ncol=5, bbox_to_anchor=(0.5, -0.04), fontsize=9)
fig.suptitle("The document's defects: training on blobs, each variant against the fixed estimator", y=1.0)
fig.tight_layout(rect=(0, 0.04, 1, 1))
E.save_figure(fig, "04_defects")
plt.show()

# %% [markdown]
# **What to see:** only `params_minus` left behind separates from the dashed fixed-estimator loss
# for good; the summed gradients fall behind early and catch up on these easy data.

# %% [markdown]
# ## What we found

# %%
central = E.one_job_vs_v33(equal["blobs"])
d = central["parallel_minus_v33"]
print(f"* At equal cloud time ({budget / 60:.1f} modeled min) on blobs the one-job methods reach "
      f"{central['lo']:.2f}-{central['hi']:.2f}, where v3.3 reaches {central['v33']:.2f} "
      f"(difference Parallel - v3.3: {S.fmt(d['diff'], d['lo'], d['hi'], '+.2f')}).")
print(f"* Circuits per batch: the document's figure holds for every SPSA row; parameter shift needs "
      f"{perf[0]['circuits (qnb)']}, not {perf[0]['circuits (doc)']} (the chain rule needs the unshifted outputs).")
print(f"* Times: {sum('self-consistent' in r['verdict (time)'] for r in perf)} of {len(perf)} rows of Table 1 self-consistent "
      f"within 15 %, {sum(abs(o['rel']) <= 0.15 for o in E.latency_leave_one_out())} of {len(qnb.SEED_TIMING_ROWS)} predicted "
      f"leave-one-out (notebook 02). The time targets hold for the model's point predictions (inside the targets, no tolerance, "
      f"no interval): a statement about the document's rows, not IonQ.")
same = sum((v["jobs"], v["circuits"]) == (v["qnb_jobs"], v["qnb_circuits"]) for v in emulated.values())
print(f"* Through the real client, the emulator received the jobs and circuits qnb counted for {same} of {len(emulated)} rows.")
print(f"* Development: the document says {dev['min (doc)']} min; {dev['min (model)']:.1f} min fitted to all rows, {dev_sub_min:.1f} min "
      f"fitted to its subsampled rows: the verdict depends on which of the document's rows are fitted.")
by = {r["variant"]: r for r in rows_def}
fixed = by["fixed (qnb default)"]
decided = lambda col: "; ".join(f"{n} {r[col]}" for n, r in by.items() if r is not fixed and "undecided" not in r[col]) or "none"
print(f"* Code defects (test accuracy minus the fixed estimator's {fixed['test_acc_mean']:.2f}, {fixed['runs']} seeds), decided after "
      f"{EPOCHS} epochs: {decided(f'vs fixed, after epoch {EPOCHS} [95 %]')}; after epoch 1: {decided('vs fixed, after epoch 1 [95 %]')}. "
      "Every other difference is undecided: easy data saturate every variant given time.")
print("* Model quality of Balanced, share of the 5-epoch exact-gradient reference: " + "; ".join(
    f"{ds} {S.fmt(*shares[ds], '.1%')} {t['quality verdict']}" for ds, t in zip(DATASETS, targets[3:])) + ".")
for ds, runs in equal.items():
    ranked = sorted(runs, key=lambda n: -np.mean(runs[n]["acc"]))
    d = S.difference(runs[ranked[0]]["acc"], runs[ranked[1]]["acc"])
    print(f"* Equal time, {ds}: best '{ranked[0]}' minus the next, '{ranked[1]}': {S.fmt(d['diff'], d['lo'], d['hi'], '+.3f')} "
          f"({'told apart' if d['verdict'] == 'higher' else 'undecided'}).")

# %%
print(qnb.watermark())
