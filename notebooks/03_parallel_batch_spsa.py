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
# # 03 — Strategy 2: all 2B circuits in one job
#
# The `CircuitBatchManager` submits a batch's 20 circuits as ONE job, returns the results in input
# order and counts what it sent. The gradient is bit for bit Sequential's; only the round trips change.

# %% tags=["parameters"]
QUICK = False
RANDOM_SEED = 0
RECOMPUTE = False  # nothing here is slow enough to be cached; kept so every notebook takes the same parameters

# %%
# %matplotlib inline
import numpy as np, matplotlib.pyplot as plt
import qnb
from qnb.research import experiments as E
plt.rcParams.update({"figure.dpi": 90, "axes.grid": True, "grid.alpha": 0.3})
np.set_printoptions(precision=3, suppress=True)

# %%
x, y, _, _ = qnb.make_dataset(n_train=10, seed=RANDOM_SEED)
model = qnb.QuantumModel(seed=RANDOM_SEED)
grads = {}
for method in ("spsa_sequential", "spsa_parallel"):
    manager = qnb.CircuitBatchManager(qnb.LocalBackend(seed=RANDOM_SEED))
    r = qnb.make_estimator(method, manager, seed=RANDOM_SEED).estimate_batch_gradient(model, x, y, shots=1000)
    grads[method] = r.gradients
    print(f"{method:16s} circuits {manager.stats.circuits:3d}  jobs {manager.stats.jobs:3d}  modeled {manager.stats.modeled_s:6.1f} s")
print("same gradient, bit for bit:", np.array_equal(grads["spsa_sequential"], grads["spsa_parallel"]))

# %% [markdown]
# ## Job size limits
# `max_batch_size` caps circuits per job, so parameter shift (2·48·10 shifted circuits plus the 10
# unshifted ones the chain rule needs) is split into several jobs (table: `figures/03_max_batch_size.md`):

# %%
sizes = [25, 50, 100, 200, 500, 1000]
rows = []
for m in sizes:
    c = E.step_cost("parameter_shift", max_batch_size=m)
    rows.append({"max_batch_size": m, "circuits": c["circuits"], "jobs": c["jobs"], "modeled s/batch": c["modeled_s"]})
E.table(rows, "03_max_batch_size")   # the plotted numbers, written to figures/03_max_batch_size.md
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(sizes, [r["modeled s/batch"] for r in rows], "o-")
ax.set(xscale="log", xlabel="max circuits per job (log scale)", ylabel="modeled s per batch", ylim=(0, None),
       title=f"Parameter shift: {rows[0]['circuits']} circuits per batch")
ax.set_xticks(sizes)
ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))
ax.xaxis.set_minor_formatter(plt.NullFormatter())
E.save_figure(fig, "03_max_batch_size")
plt.show()

# %% [markdown]
# **What to see:** the same circuits cost less in fewer, larger jobs (each job pays the queue once),
# flattening as execution time takes over.
#
# ## Non-blocking submission
# `wait_for_results=False` returns a handle; `.result(timeout)` collects in input order.

# %%
manager = qnb.CircuitBatchManager(qnb.LocalBackend(seed=RANDOM_SEED))
circuits = [model.build_circuit(xi) for xi in x]
handle = manager.execute_batch(circuits, shots=None, wait_for_results=False)
results = handle.result(timeout=60)
print([round(qnb.QuantumModel.process_result(r), 3) for r in results])
print(manager.stats.jobs, "job,", manager.stats.circuits, "circuits")

# %% [markdown]
# ## What we found

# %%
seq, par = (E.step_cost(m, seed=RANDOM_SEED) for m in ("spsa_sequential", "spsa_parallel"))
doc = {r[0]: r for r in qnb.SEED_TIMING_ROWS}
print(f"* Identical gradients; Parallel needs {par['jobs']} job instead of {seq['jobs']} "
      f"({par['modeled_s']:.1f} s vs {seq['modeled_s']:.1f} s modeled per batch).")
print(f"* The document's {doc['v3.3.1 Parallel'][3]:.0f} s per batch for Parallel: {E.verdict(doc['v3.3.1 Parallel'][3], par['modeled_s'])} (notebook 02).")
print(f"* Parameter shift needs {rows[0]['circuits']} circuits per batch, not 960: the chain rule needs the 10 unshifted outputs too. "
      f"Per batch: {rows[0]['modeled s/batch']:.0f} s at {sizes[0]} per job, {rows[2]['modeled s/batch']:.0f} s at qnb's {sizes[2]} "
      f"(the default everywhere), {rows[-1]['modeled s/batch']:.0f} s at {sizes[-1]}: "
      f"{100 * (rows[0]['modeled s/batch'] / rows[2]['modeled s/batch'] - 1):+.0f} % and {100 * (rows[-1]['modeled s/batch'] / rows[2]['modeled s/batch'] - 1):+.0f} %.")

# %%
print(qnb.watermark())
