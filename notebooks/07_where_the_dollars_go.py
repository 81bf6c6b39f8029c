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
# # 07 (later chapter) — Where the dollars go: task fees, shots and steps
#
# **What this shows.** What a training run pays for on each price sheet of `qnb.PRICES`, and how
# to reach the same accuracy for fewer dollars:
#
# 1. one step's bill split into what a sheet charges for — a fee (per task or per job), shots, and
#    gate-shots — for today's preset and for each sheet's choice, on Braket's per-task sheet,
#    Braket's program-set form and Azure;
# 2. dollars to quality as dollars per step times steps to quality, the steps measured by
#    `make bench`'s selection: why each sheet's choice, with more steps to quality than today's,
#    still costs less to quality, and how the choices were made;
# 3. the dollars–minutes frontier per data set, on held-out seeds, with intervals, and issue 27's
#    targets (the targets of the project's dollars issue, listed in Terms);
# 4. what few shots do to the square loss — a bias of (1 − f²)/s — measured, and an estimator
#    without it; and PennyLane's shot-frugal optimizer raced where its form allows;
# 5. an explorer: choose the subsample size k, the directions, the shots and a price sheet, and
#    read the dollars and minutes to quality that `make bench` measured.
#
# **Terms.** A *step* is one optimisation step of batch SPSA on a batch of 10 samples. With
# subsample size *k* (samples whose gradient is estimated in the step) and *d* directions (random
# ± perturbations averaged), it sends ONE job of 2·k·d circuits (each sample and direction at
# θ + cΔ and at θ − cΔ), each circuit run for *s* shots. *Modeled minutes*: the cloud time the
# latency model fitted in notebook 02 gives the jobs a run sent, its per-circuit part charged per
# shot (notebook 06). *Dollars (minutes) to quality*: what a run had spent (its modeled minutes)
# when its test accuracy first reached 95 % of the data set's *ceiling* (the accuracy exact
# gradients with Adam reach when trained until it plateaus, notebook 06), read on a common grid of
# 200 modeled times from 0 to the budget, so that a configuration with many cheap, noisy steps is
# not looked at more often than one with few dear ones. The *budget* of a data set is the modeled
# time of the slowest of parameter shift's ceiling runs that reach the target: no run goes on
# longer (the selection and the race stop runs earlier, sections 2 and 3). *Today's*
# configuration is the `split_shots` preset (k = 5, 2 directions, 500 shots), qnb's choice for
# time before the dollar selection. A *median* is over seeds (independent runs); its *95 %
# interval* comes from resampling the seeds with replacement (a percentile bootstrap, notebook 06).
# The *minutes limit* of a data set is 2 × today's median minutes to quality there (on the
# selection seeds). The *peers* are PennyLane's `qml.SPSAOptimizer` with today's gains and Qiskit's
# SPSA, each at its best number of shots: of the shot counts tried, the one cheapest to quality on
# the Braket Aria per-task sheet among those within the minutes limit on every data set.
# `qml.SPSAOptimizer` with its default gains was tried too; a peer with no shot count within the
# limit is not raced (section 2 prints which). *Issue 27's targets* (the project's dollars issue),
# on the held-out seeds and the Aria per-task sheet: median dollars to quality ≤ 300 USD on blobs,
# iris and breast cancer; on xor ≤ 1/5 of `split_shots`' and ≤ every peer's at its best; elsewhere
# ≤ 1/3 of every peer's; and median minutes ≤ 2 × `split_shots`' on every data set.
#
# The bills, the shot bias and two runs of an adaptive strategy are computed here; every other
# number about training is read from `figures/bench.json` (`make bench`).

# %% tags=["parameters"]
QUICK = False
RANDOM_SEED = 0
RECOMPUTE = False  # the training study is `make bench`: this notebook reads its result file, never reruns it
BENCH = "../figures/bench.json"
BIAS_DRAWS = 1000  # s-shot draws per circuit for the bias table (QUICK: 200)

# %%
import math
import warnings

import matplotlib.pyplot as plt
from IPython.display import display

import qnb
from qnb.research import dollars as D
from qnb.research import experiments as E
from qnb.research import spend as S
from qnb.research import widgets as W
from qnb.research.bias import bias_table

plt.rcParams.update({"figure.dpi": 90, "axes.grid": True, "grid.alpha": 0.3})
draws = 200 if QUICK else BIAS_DRAWS
bench = D.read_bench(BENCH)
missing = S.missing_keys(bench)
ready = not missing
if not ready:
    print(f"The bench result file lacks issue 27's results ({', '.join(missing)}): it was written by an "
          "older `make bench`. Sections 2, 3 and 5 need them and say so below; run `make bench`, then "
          "`make notebooks`.")

# %% [markdown]
# ## 1. One step's bill
#
# A sheet prices one job from what it holds (`qnb/prices.py`): with s shots per circuit and
# $N_{1q}, N_{2q}$ the one- and two-qubit gates of all its circuits after compilation to IonQ's
# gates,
#
# $$\text{USD} = p_\text{job} + n_\text{circuits}\,(p_\text{circuit} + s\,p_\text{shot})
#   + s\,(p_{1q} N_{1q} + p_{2q} N_{2q}).$$
#
# The *fee* is the first term and the per-circuit one: Braket bills every circuit as its own task
# (a per-task fee), Azure bills a charge per program (Azure's page calls it "the minimum price per
# program execution"; a sheet takes one submitted job as one program), and a Braket *program set*
# packs up to 100 circuits into one task, so one task fee a step. *Shots* are Braket's per-shot
# price; *gate-shots* (gates × shots) are Azure's. The sheets, as `qnb.PRICES` holds them (each
# with its source and the date it was checked; `min_shots`: the fewest shots per circuit its terms
# allow, error mitigation needing hundreds):

# %%
E.show([{"sheet": p, "per job": s.per_job, "per circuit (task)": s.per_circuit, "per shot": s.per_shot,
         "per 1q gate-shot": s.per_1q_gate_shot, "per 2q gate-shot": s.per_2q_gate_shot, "min_shots": s.min_shots,
         "circuits per job at most": s.max_circuits_per_job, "checked": s.checked}
        for p, s in qnb.PRICES.items()], floatfmt=".6g", title="USD per item")

# %% [markdown]
# One step of today's configuration and of each sheet's choice (read from the bench result file,
# section 2), planned by `QuantumTrainer.estimate` (nothing is sent) and priced on three sheets. A
# choice may use another step rule (`c=0.4`: a larger perturbation, section 2); that changes the
# angles, not what a step sends. The parts add up to `PriceSheet.usd` of the step's counts;
# `job_usd agrees`: the sheet's one-job formula `PriceSheet.job_usd(circuits, shots, gates)` gives
# the same total.

# %%
configs = S.configs_of(bench if ready else None)
chosen_by = {}  # configuration -> the sheets that chose it
for p, c in (bench["selection_choice"].items() if ready else ()):
    chosen_by.setdefault(c["choice"], []).append(p)
for c in configs:
    n = S.config_name(*c)
    print(f"{n}: " + ("today's (split_shots)" if n == D.TODAY else
                      "the choice of " + ", ".join(chosen_by.get(n, ["a sheet at the last bench"]))))
steps = S.breakdown(configs)
E.show(steps, floatfmt=",.2f")
fig = S.plot_breakdown(steps)
E.save_figure(fig, "07_step_bill")
display(fig)

# %% [markdown]
# **What to see:** on Braket's per-task sheet the shots are nearly all of a step at 500 shots a
# circuit, and at 20 shots the task fees are a large share; on the program-set sheet the fee is one
# task a step, a small share at every step here; on Azure the per-program charge is a floor under
# every step: most of a step at 20 shots, a small share at 500.

# %%
bill = {(r["sheet"], r["configuration"]): r["USD per step"] for r in steps}
row = {(r["sheet"], r["configuration"]): r for r in steps}
today = D.TODAY
choice = {p: (bench["selection_choice"][p]["choice"] if ready else S.config_name(*configs[1])) for p in S.SHEETS}
for p in S.SHEETS:
    c, sheet = choice[p], qnb.PRICES[p]
    how = (f" = {row[(p, c)]['circuits']} tasks x {sheet.per_circuit:.2f} + {row[(p, c)]['shots']} shots x "
           f"{sheet.per_shot:.2f}" if sheet.per_circuit else "")
    print(f"{p}: today's step {bill[(p, today)]:,.2f} USD; its choice, {c}, {bill[(p, c)]:,.2f} USD{how}: "
          f"1/{bill[(p, today)] / bill[(p, c)]:.3g} of today's a step")

# %% [markdown]
# ## 2. Dollars to quality = dollars per step × steps to quality
#
# A cheaper step is cheaper to quality only if it does not need proportionally more steps. A
# configuration's price per step is the same at every step (for these, whose subsample fits every
# batch), so its median steps to quality is its median dollars to quality divided by its price per
# step. The dollars come from `make bench`'s selection, trained on the *selection* seeds and data
# split (`@1`: another draw of xor, another train/test split of iris and breast cancer than the
# race's), each run stopped at the minutes limit. Its grid: every (k, directions) pair printed
# below at every shot count, at today's step rule (momentum, a = 1, c = 0.2); then, for k > 1 and
# at the shot counts printed, two other step rules: a larger perturbation, c = 0.4 (the variance a
# finite difference gets from shot noise falls as 1/c², so few shots want a larger c), and c = 0.4
# with a = 2; and a few other strategies (other optimizers, and the adaptive ones at the end of
# this section). The table: today's
# configuration and each sheet's choice, priced on the Aria per-task sheet (the steps to quality
# are the same on every sheet):

# %%
if ready:
    grid = [S.parse(n) for n in bench["selection_table"]]
    grid = [g for g in grid if g is not None]
    plain = sorted({g[:3] for g in grid if not g[3]} - {S.parse(today)[:3]})
    print(f"today's step rule: (k, directions) in {', '.join(map(str, sorted({g[:2] for g in plain})))} at shots "
          f"{sorted({g[2] for g in plain})}, plus today's {S.parse(today)[:3]}: {len(plain) + 1} configurations")
    for rule in dict.fromkeys(g[3] for g in grid if g[3]):
        mine = [g for g in grid if g[3] == rule]
        print(f"{rule}: (k, directions) in {', '.join(map(str, sorted({g[:2] for g in mine})))} at shots "
              f"{sorted({g[2] for g in mine})}: {len(mine)} configurations")
    print(f"other strategies: {sum(S.parse(n) is None and ' @ ' not in n for n in bench['selection_table'])}")
    E.show(S.implied_steps(bench, configs=configs), floatfmt=",.4g",
           title=f"Selection seeds {bench['selection_seeds']}; {S.SHEETS[0]}")
    for p in S.SHEETS:
        mine = {(r["dataset"], r["configuration"]): r for r in S.implied_steps(bench, configs=[today, choice[p]], sheet=p)}
        print(f"{p}, its choice {choice[p]}:")
        for kind in dict.fromkeys(k for k, _ in mine):
            a, b = mine[(kind, today)], mine[(kind, choice[p])]
            if math.isfinite(a["median USD to quality"]) and math.isfinite(b["median USD to quality"]):
                print(f"  {kind}: {b['median steps to quality']:,.0f} median steps to quality against today's "
                      f"{a['median steps to quality']:,.0f} ({b['median steps to quality'] / a['median steps to quality']:.1f} "
                      f"times), at 1/{a['USD per step'] / b['USD per step']:.3g} of the price a step: "
                      f"{b['median USD to quality']:,.0f} against {a['median USD to quality']:,.0f} USD to quality")
            else:
                print(f"  {kind}: reached in {b['reached']} of the selection runs, today's in {a['reached']} "
                      "(a median exists only when more than half arrive)")
else:
    print("not in this bench result file: the selection table (rerun `make bench`)")

# %% [markdown]
# **Each sheet's choice.** On each sheet the selection chooses the configuration with the least
# mean over the three data sets of median dollars as a share of today's median dollars, among those
# within the minutes limit on every data set and that send at least the sheet's `min_shots`; each
# peer's best shot count is chosen the same way among its own runs. Braket (per task and per shot) and Azure (per program and per
# gate-shot) need not agree: a per-program charge makes every step cost at least that charge, so
# there the number of steps weighs more than the shots.

# %%
if ready:
    E.show([{"sheet": p, "choice": c["choice"], "mean USD / today's USD": c["score"],
             "min_shots": qnb.PRICES[p].min_shots} for p, c in bench["selection_choice"].items()], floatfmt=".3g",
           title="minutes limit per data set: " + ", ".join(f"{k} {v:.3g} min" for k, v in
                                                            bench["selection_limit_min"].items()))
    for peer, best in bench["peer_best_shots"].items():
        print(f"{peer}: " + (f"best at {best[D.ARIA].rpartition(' @ ')[2]} on {D.ARIA}" if best[D.ARIA] else
                             f"no shot count within the minutes limit on {D.ARIA}: not raced"))
else:
    print("not in this bench result file: each sheet's choice (rerun `make bench`)")

# %% [markdown]
# **Adaptive: shots and k set every step.** A fixed configuration pays the same for every step,
# although a step may need less precision while the gradient is large than near the optimum. Two
# strategies (`qnb.research.adaptive.AdaptiveShots`, one direction a step) measure from each
# step's own circuits the shot noise of a sample's directional derivative per shot, σ₁², the
# spread of the samples' derivatives beyond it, σ_d², and the squared directional derivative of
# the batch loss, |g|² (each direction's mean over the k samples squared, less that mean's
# variance), averaged over steps. On the sheet a circuit costs C₀ + C₁·s: C₀ its task fee and its
# share of the job fee, C₁ the per-shot fees. The first sets the shots to the price optimum
# s* = √(C₀ σ₁² / (C₁ σ_d²)), the fewest dollars per unit of precision (after Rosalin and iCANS),
# at k = 2. The second also sets k. A step costs its job fee p_job, one step of time, worth λ
# dollars, and 2k(p_task + C₁·s) for its circuits; at a given |g|² it makes progress in
# proportion to 1/(|g|² + V/k), with V = σ_d² + σ₁²/s; so the cost of a unit of progress is least
# at k* = √((λ + p_job) V / (2 (p_task + C₁·s) |g|²)), clipped to [2, 10]: few samples while the
# gradient stands out of the noise, more as it shrinks. λ, the dollars one step's time is worth,
# is the price of the minutes limit; the selection tries λ = 3 and 30 dollars a step, with
# c = 0.4. How each fared on the selection seeds, beside the Aria sheet's choice (dollars on the
# Aria per-task sheet; `inf`: the median run did not arrive within the minutes limit):

# %%
if ready:
    aria_choice = bench["selection_choice"][D.ARIA]["choice"]
    score = {r["candidate"]: r[f"score {D.ARIA}"] for r in bench["go_beyond"]}
    E.show([{"candidate": n, **{f"{k} {what}": v for k, r in bench["selection_table"][n].items()
                                for what, v in (("reached", r["reached"]), ("min", r["median_min"]),
                                                ("USD", r["usd"][D.ARIA]))},
             "score (mean $ / today's $)": score.get(n)}
            for n in [aria_choice, *(n for n in bench["selection_table"] if n.startswith("adaptive"))]],
           floatfmt=",.3g")
else:
    print("not in this bench result file: the selection table (rerun `make bench`)")

# %% [markdown]
# One run of the k-and-shots strategy at λ = 30 and at λ = 3 (blobs, seed `RANDOM_SEED`, an
# unreachable target so that it runs for 10 modeled minutes): the k and the shots it chose at each
# step, and its test accuracy.

# %%
import numpy as np

from qnb.research.adaptive import adaptive_run
from qnb.research.race import usd

fig, axes = plt.subplots(1, 3, figsize=(13, 3.2))
for value in D.ADAPTIVE_STEP_VALUES[::-1]:
    records, strategy = adaptive_run(D.grid_candidates()[D.adaptive_k_name(value, D.ARIA)], "blobs", RANDOM_SEED,
                                     (2.0, (120.0 if QUICK else 600.0), 0.0))
    label = f"λ = {value:g} $ a step"
    axes[0].plot(strategy.chosen_k, lw=0.9, label=label)
    axes[1].plot(strategy.chosen, lw=0.9, label=label)
    axes[2].plot([e["test_accuracy"] for e in records], lw=0.9, label=label)
    quarter = len(strategy.chosen_k) // 4
    print(f"{label}: {len(strategy.chosen_k)} steps, median k {np.median(strategy.chosen_k):.0f} (first quarter of the "
          f"steps {np.median(strategy.chosen_k[:quarter]):.0f}, last {np.median(strategy.chosen_k[-quarter:]):.0f}), "
          f"median shots {np.median(strategy.chosen):.0f}, {usd(qnb.PRICES[D.ARIA], records[-1]):,.0f} USD on {D.ARIA}")
for ax, what in zip(axes, ("k chosen", "shots per circuit chosen", "test accuracy")):
    ax.set_xlabel("step")
    ax.set_ylabel(what)
axes[0].legend(fontsize=8)
fig.tight_layout()
E.save_figure(fig, "07_adaptive_k")
plt.show()

# %% [markdown]
# **What to see:** at λ = 30 the rule asks for the whole batch (k = 10) almost from the start: the
# time a step is worth outweighs the samples' dollars. At λ = 3, k follows the measured |g|², an
# estimate from a few samples that moves a lot from step to step, rather than rising steadily as
# training proceeds; and its cheaper, noisier steps can undo progress for a while (the accuracy
# panel). On the selection seeds (the table above) the two priced on the Aria sheet stay within
# the minutes limit on every data set, but their scores are higher than the fixed choice's: on
# average over the data sets they cost more to quality.

# %% [markdown]
# ## 3. The dollars–minutes frontier
#
# The race (notebook 06's: held-out data split 0 and seeds), each run stopped at the budget or at
# the cap printed below, whichever comes first. Its methods, all drawn (printed below): parameter
# shift with Adam (the ceiling's method), today's configuration, every sheet's choice (Braket's
# sheets share one; Azure's two sheets each have their own) and each raced peer at its best shot
# count (chosen on the selection seeds). Each point is a method's median minutes and median dollars
# to quality on the Aria per-task sheet, its bars the 95 % intervals; a method whose median run
# never arrives has no point and is named in its panel's title.

# %%
if ready:
    cap = bench["race_cap"]
    times = cap["times today's selection median"]
    print(f"cap: {times:g} x today's median minutes on the selection seeds: "
          + ", ".join(f"{k} {v:.3g} min" for k, v in cap["cap_min"].items()))
    print("drawn:\n" + "\n".join(f"  {m.removeprefix('qnb ')}" for m in
                                 dict.fromkeys(p["method"] for pts in bench["frontier"].values() for p in pts)))
    with warnings.catch_warnings():  # a last panel with no point to label has an empty legend: not an error
        warnings.filterwarnings("ignore", "No artists with labels")
        fig = D.frontier_figure(bench["frontier"])
    E.save_figure(fig, "07_frontier")
    plt.show()
else:
    print("not in this bench result file: the frontier (rerun `make bench`)")

# %% [markdown]
# **What to see:** lower is cheaper and further left is faster; a method that is both lower and
# further left than another, with intervals apart, beats it on both counts. The table gives every
# point with its intervals and how many runs arrived.

# %%
if ready:
    E.show([{**r, "method": r["method"].removeprefix("qnb ")} for r in D.load_frontier(BENCH)], floatfmt=",.4g")
    usd = f"usd {D.ARIA}"
    for kind, pts in bench["frontier"].items():
        pts = [p for p in pts if math.isfinite(p["min"]) and math.isfinite(p[usd])]
        if not pts:
            print(f"{kind}: no method's median run arrived")
            continue
        c, f = min(pts, key=lambda p: p[usd]), min(pts, key=lambda p: p["min"])
        print(f"{kind}: cheapest {c['method'].removeprefix('qnb ')}, {c[usd]:,.4g} USD [{c[f'usd_lo {D.ARIA}']:,.4g}, "
              f"{c[f'usd_hi {D.ARIA}']:,.4g}]; fastest {f['method'].removeprefix('qnb ')}, {f['min']:.3g} min "
              f"[{f['min_lo']:.3g}, {f['min_hi']:.3g}] (medians)")
    E.show(S.targets_rows(bench), floatfmt=".3g", title=f"Issue 27's targets on {D.ARIA}: "
           f"{bench['chosen_by_sheet'][D.ARIA].removeprefix('qnb ')} on the held-out seeds")
    more = bench.get("more_seeds", {})
    if more.get("seeds"):
        print(f"A second look: where a target was undecided after the first seeds, the methods it compares ran on "
              f"{more['seeds']} more seeds, and every target was read again from all their runs:")
        for kind, names in more["entrants"].items():
            print(f"  {kind}: " + ", ".join(n.removeprefix("qnb ").split(" (")[0] for n in names))
else:
    print("not in this bench result file: the frontier's table and the dollar targets (rerun `make bench`)")

# %% [markdown]
# A target is **met** when its whole 95 % interval is at or below the limit, **missed** when all of
# it is above, otherwise **undecided**. `bound`: some of the other method's runs never arrived and
# count as what they had spent when stopped, so the ratio is an upper bound (met or undecided, never
# missed). A verdict read twice, after the first seeds and again after the second look's, has a
# chance of being wrong above the 2.5 % a side of one reading (at most twice that).
#
# ## 4. Few shots, measured correctly
#
# A circuit's output f (the expectation of a ±1 read-out) estimated from s shots, $\hat f$, has
# mean f and variance (1 − f²)/s. The square loss of the estimate is therefore biased:
# $E(\hat f - y)^2 = (f - y)^2 + (1 - f^2)/s$. At 2 shots the loss is inflated by up to 1/2, more
# where the output is near 0, which pulls training toward outputs near ±1 whatever the label.
# Splitting a circuit's shots into two independent halves gives $(\hat f_1 - y)(\hat f_2 - y)$,
# whose mean is exactly $(f - y)^2$ (`qnb.losses.square_loss_unbiased`). Measured on blobs' test
# samples with the untrained model, from `draws` s-shot histograms per circuit (95 % intervals
# from the draws' standard error):

# %%
bias = S.bias_verdicts(bias_table(draws=draws, seed=RANDOM_SEED))
E.show(bias, floatfmt=".4f", title=f"{draws} draws per circuit, seed {RANDOM_SEED}")
fig = S.plot_bias(bias)
E.save_figure(fig, "07_shot_bias")
display(fig)

# %% [markdown]
# **What to see:** the measured bias of the square loss falls on the dashed line (1 − f²)/s, halving
# with every doubling of the shots; the two-halves estimator's bias sits around 0 at every shot
# count, within its interval's width of it.
#
# Sampling can only show that a bias is small. At 2 shots (one shot a half) the expectations can be
# summed exactly over every pair of outcomes, with no sampling:

# %%
exact = S.exact_bias_at_two_shots()
print(f"over {exact['samples']} test samples at 2 shots, exactly: the square loss's bias differs from (1 - f^2)/2 by "
      f"at most 1e-12: {exact['square loss: largest |bias - (1 - f^2)/2|'] < 1e-12}; the two-halves estimator's "
      f"bias is below 1e-12: {exact['two halves: largest |bias|'] < 1e-12}")

# %% [markdown]
# **PennyLane's shot-frugal optimizer.** `qml.ShotAdaptiveOptimizer` (iCANS; Rosalin when it
# samples the Hamiltonian's terms) sets each gradient component's shots from that component's
# measured variance. It
# takes one QNode returning an expectation value and differentiates it by the parameter-shift rule;
# the batch loss, a mean of squares of expectation values, is not one, so it cannot train the
# classifier. Where its form allows, a VQE energy, `make bench` races it against qnb's
# `BatchSPSAOptimizer` and `qml.SPSAOptimizer`, both in PennyLane's optimizer form
# (`qnb.research.vqe_race`): a 2-qubit ansatz with 3 parameters and a Hamiltonian whose 4 terms
# need 3 measurement bases; from a random start per seed to 95 % of the way to the energy exact
# gradients reach from there; each optimizer at its cheapest setting on five selection seeds
# (shots per circuit, or ShotAdaptive's `min_shots`: the shots of its first step, after which its
# own rule sets them); billed by what `qml.Tracker` counted: device batches (jobs), executions
# (circuits) and shots. `qml.ShotAdaptiveOptimizer` runs as iCANS, its default (no term sampling).
# The ratio is qnb's median dollars over the other's, with its 95 % interval (a `bound` where some
# of the other's runs never arrived and count as what they had spent: met or undecided, never
# missed):

# %%
vqe = bench.get("vqe_race")
if vqe:
    E.show([{k: v for k, v in r.items()} for r in vqe["rows"]], floatfmt=",.4g",
           title=f"Held-out seeds; settings chosen on the selection seeds: {vqe['best']}")
    E.show([{"sheet": r["sheet"], "qnb over": r["against"], "ratio": r["ratio"], "95 %": f"[{r['lo']:.3g}, {r['hi']:.3g}]",
             "verdict (<= 1)": r["verdict"] + (" (bound)" if r["bound"] else "")} for r in vqe["ratios"]], floatfmt=".3g")
else:
    print("not in this bench result file: the VQE race (rerun `make bench`)")

# %% [markdown]
# **What to see:** what a step sends decides the order. `qml.ShotAdaptiveOptimizer`'s
# parameter-shift gradient sends 21 circuits a step with few shots each (the table's shots a step
# over its circuits a step), where each SPSA step sends 6. On the per-task sheet every circuit pays
# a task fee, and its median is the dearest of the three; as a program set, one task fee a batch,
# its few shots make its median the cheapest. At 20 seeds no ratio is decided either way (all four
# are bounds).

# %% [markdown]
# ## 5. Explore: k, directions, shots and the price sheet
#
# The explorer reads the selection's results: for the chosen configuration and today's, per data
# set, the median minutes and dollars to quality on the chosen sheet, one step's dollars there, and
# the median steps (their quotient). The figure places every configuration of the grid at today's
# step rule (momentum, a = 1, c = 0.2) at its median minutes and dollars (colour: shots; marker:
# k; larger: 2 directions), today's as a black star, the sheet's choice (whatever its step rule) as
# a green diamond, the explorer's as a red ring, and the minutes limit as
# a dotted line. A configuration whose median run never arrives has no point (its panel counts them).
# Nothing is trained here: change the controls freely.

# %% tags=["nbval-ignore-output"]
if ready:
    display(W.dollars_explorer(bench))
else:
    print("not in this bench result file: the selection table the explorer reads (rerun `make bench`)")

# %% [markdown]
# For readers on a code host, where widgets do not run: the same map on the Aria per-task sheet,
# with the sheet's choice and today's marked.

# %%
if ready:
    fig = W.plot_dollars(bench, D.ARIA)
    E.save_figure(fig, "07_dollars_explorer")
    display(fig)
else:
    print("not in this bench result file: the selection's map (rerun `make bench`)")

# %% [markdown]
# **What to see:** how far each configuration sits below today's star (cheaper to quality) and
# whether it is left of the dotted line (within the minutes limit); the sheet's choice (green) is,
# among the configurations of every step rule (only today's rule's are drawn as dots) left of the
# line on every data set, the one whose dollars as a share of today's are lowest on average over the
# data sets.
#
# ## What we found
#
# Printed from the computations above and the bench result file, so it always says what the last
# `make bench` measured.

# %%
p0 = S.SHEETS[0]
print(f"- One step (section 1): today's {bill[(p0, today)]:,.2f} USD on {p0}, of which shots "
      f"{row[(p0, today)]['USD shots']:,.2f}; its choice, {choice[p0]}, {bill[(p0, choice[p0])]:,.2f} USD "
      f"({bill[(S.SHEETS[1], choice[S.SHEETS[1]])]:,.2f} USD as a program set, the choice of {S.SHEETS[1]}); on "
      f"azure-ionq every step costs at least the per-program {qnb.PRICES['azure-ionq'].per_job:,.2f} USD.")
if ready:
    mine = {(r["dataset"], r["configuration"]): r for r in S.implied_steps(bench, configs=[today, choice[p0]], sheet=p0)}
    kinds = list(dict.fromkeys(k for k, _ in mine))
    print(f"- Steps to quality (section 2, selection seeds): {choice[p0]} takes " + ", ".join(
        f"{mine[(k, choice[p0])]['median steps to quality']:,.0f}" for k in kinds) + " median steps on " + ", ".join(kinds)
        + " against today's " + ", ".join(f"{mine[(k, today)]['median steps to quality']:,.0f}" for k in kinds)
        + f", at 1/{bill[(p0, today)] / bill[(p0, choice[p0])]:.3g} of the price a step on {p0}.")
s2 = next(r for r in bias if r["shots"] == 2)
print(f"- Shot bias at 2 shots (section 4): square loss {s2['square loss bias']:.4f} {s2['95 % interval']} against "
      f"(1 - f^2)/s = {s2['predicted (1 - f^2)/s']:.4f} (prediction inside the interval: {s2['prediction inside']}); two "
      f"halves {s2['halves estimator bias']:.4f} {s2['halves 95 % interval']} (0 inside: {s2['halves: 0 inside']}); "
      f"exactly unbiased by enumeration: {exact['two halves: largest |bias|'] < 1e-12}.")
if ready:
    print("- Each sheet's choice (selection seeds): " + "; ".join(
        f"{p}: {c['choice']}" for p, c in bench["selection_choice"].items()) + ".")
    rows = S.targets_rows(bench)
    count = {v: sum(r["verdict"].startswith(v) for r in rows) for v in ("met", "missed", "undecided")}
    print(f"- Issue 27's targets on {D.ARIA} (held-out seeds, section 3): "
          + ", ".join(f"{n} {v}" for v, n in count.items()) + ":")
    for r in rows:
        print(f"  - {r['dataset']}: {r['target']}: {r['value']:,.3g} {r['95 % interval']}, {r['verdict']}")
    for r in bench.get("noisy_cheap", []):
        print(f"- Under the aria-1 noise model, {r['dataset']}: {r['method'].removeprefix('qnb ')} reaches 95 % of the "
              f"noisy ceiling in {r['reached']} runs, median {r['median USD aria']:,.4g} USD {r['95 % interval']} on "
              f"{D.ARIA}.")
else:
    print(f"- Dollars to quality, the frontier and the targets: not in this bench result file ({', '.join(missing)}).")
if vqe:
    print(f"- On a VQE energy (section 4), median dollars to quality on {D.ARIA}: " + "; ".join(
        f"{r['optimizer']} ({r['setting']}) {r[f'median USD {D.ARIA}']:,.4g} {r[f'95 % {D.ARIA}']}, {r['reached']} arrived"
        for r in vqe["rows"]) + "; qnb over each: " + "; ".join(
        f"{r['against']} {r['ratio']:.3g} [{r['lo']:.3g}, {r['hi']:.3g}] ({r['sheet']}), {r['verdict']}"
        for r in vqe["ratios"]) + ".")

# %%
print(qnb.watermark())
