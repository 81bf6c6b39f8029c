"""A training run's identity and its paid jobs: what lives in the checkpoint, not in the process.

A run is named by its ``run_id`` (12 hexadecimal digits) and its jobs by the step they belong to,
``qnb-<run_id>-s<step>-j<k>`` (``-cal-`` for the gain calibration). The checkpoint holds, beside the
trainer's, optimizer's and backend's states:

* ``budget_usd``, ``budget_s``: the run's budgets (a resume honours them unless new ones are given);
* ``started_at``: unix seconds when the run began (how far back its job names are looked up);
* ``last_jobs``: the previous step's jobs ``{name, id, journaled_at}``: a copy of the checkpoint that finds one of
  these names twice in the service's listing knows another copy is training;
* ``pending``: the journal of a step in flight, each job named before its POST and given its id
  before it is waited on, so that a resume adopts what was paid instead of paying again.

Every number read from a checkpoint is bounded where it is read (``MAX_VALUE``): a value that would
overflow a sum, a price or a JSON write later is refused at load, before any job is paid.
"""
from __future__ import annotations

import math
import re

import numpy as np

from . import checkpoint as ckpt

MAX_VALUE = 1e15  # the largest magnitude of a float a checkpoint may hold in a parameter or a record
MAX_BUDGET = 1e12  # dollars or seconds: more is no budget


def bounded_floats(value, where: str, limit: float = MAX_VALUE, depth: int = 0, ints: bool = False) -> str | None:
    """Where in ``value`` (a JSON value) a finite float (and, with ``ints``, an integer) is beyond
    ``limit`` in magnitude, or None. A generator's state (a dict naming its ``bit_generator``, whose
    integers are 128-bit) is left to its own check, as are non-finite floats."""
    if depth > 32:
        return f"{where}: nested too deeply"
    if isinstance(value, float) or (ints and isinstance(value, int) and not isinstance(value, bool)):
        big = abs(value) > limit if isinstance(value, int) else math.isfinite(value) and abs(value) > limit
        shown = f"{value:.3g}" if isinstance(value, float) else "an integer over 1e15"
        return f"{where}: {shown} is beyond {limit:g}" if big else None
    if isinstance(value, dict) and "bit_generator" not in value:
        return next((w for k, v in value.items()
                     if (w := bounded_floats(v, f"{where}.{k}", limit, depth + 1, ints))), None)
    if isinstance(value, list):
        return next((w for i, v in enumerate(value)
                     if (w := bounded_floats(v, f"{where}[{i}]", limit, depth + 1, ints))), None)
    return None


def check_budget(name: str, value, bad) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= MAX_BUDGET:
        raise bad(name, f"expected null or a number in 0..{MAX_BUDGET:g}")
    return float(value)


def check_identity(state: dict, bad) -> dict:
    """The run's own fields of a checkpoint, checked: budgets, start time, the last step's jobs."""
    out = {"budget_usd": check_budget("budget_usd", state.get("budget_usd"), bad),
           "budget_s": check_budget("budget_s", state.get("budget_s"), bad)}
    at = state.get("started_at")
    if at is not None and (isinstance(at, bool) or not isinstance(at, (int, float)) or not 0 <= at < 1e11):
        raise bad("started_at", "expected null or unix seconds")
    out["started_at"] = None if at is None else float(at)
    last = state.get("last_jobs", [])
    if not (isinstance(last, list) and len(last) <= 10 ** 5 and all(
            isinstance(j, dict) and isinstance(j.get("name"), str) and len(j["name"]) <= 200
            and (j.get("id") is None or (isinstance(j["id"], str) and re.fullmatch(r"[A-Za-z0-9_.-]{1,128}", j["id"])))
            for j in last)):
        raise bad("last_jobs", "expected a list of {name, id}")
    out["last_jobs"] = last_jobs([{**j, "journaled_at": j.get("journaled_at") if isinstance(j.get("journaled_at"), float)
                                   and 0 <= j["journaled_at"] < 1e11 else None} for j in last])
    for field_ in ("parameters", "optimizer", "history"):  # (the history's integers: ckpt.bad_history)
        why = bounded_floats(state.get(field_), field_, ints=field_ != "history")
        if why:
            raise bad(field_, f"{why.split(': ', 1)[-1]} (at {why.split(': ', 1)[0]}): every number a run keeps "
                              f"stays within {MAX_VALUE:g}")
    return out


def last_jobs(records) -> list[dict]:
    """A step's jobs as the checkpoint keeps them: name, id and (if known) when each was journaled."""
    return [{"name": r["name"], "id": r.get("id")} | ({"journaled_at": r["journaled_at"]} if isinstance(
        r.get("journaled_at"), float) else {}) for r in records]


def check_pending(p, n_steps: int, run_id: str, bad) -> None:
    """The journal of an interrupted step: jobs of this run's next step, named as this run names them."""
    if p is not None and not (isinstance(p, dict) and isinstance(p.get("step"), int) and isinstance(p.get("jobs"), list)
                              and all(isinstance(j, dict) and isinstance(j.get("name"), str)
                                      and isinstance(j.get("id"), (str, type(None))) for j in p["jobs"])):
        raise bad("pending", "expected {step, jobs: [{name, id}]}")
    if p is not None:
        step = n_steps if p["step"] >= 0 else -1
        label = "cal" if step < 0 else f"s{step}"
        if p["step"] != step or any(not j["name"].startswith(f"qnb-{run_id}-{label}-j") or (
                j["id"] is not None and not re.fullmatch(r"[A-Za-z0-9_.-]{1,128}", j["id"])) for j in p["jobs"]):
            raise bad("pending", f"expected jobs of this run's next step ({label}), named qnb-{run_id}-{label}-j<k>, "
                                 "with valid job ids")


def journal_jobs(trainer, checkpoint, step: int | None = None) -> None:
    """Before a step: name its jobs, reuse those an interrupted run left for it, and (with a
    checkpoint) look each new name up in the listing first (a copy of the run may have made it) and
    record every job's name before its POST and its id before it is waited on, next to the state
    from before the step, so that a resume never pays for a job twice. The budget's dollars left
    bound every new job of the step (a resubmission included)."""
    step = len(trainer.history["steps"]) if step is None else step
    pending = trainer._pending if trainer._pending and trainer._pending["step"] == step else None
    label = "cal" if step < 0 else f"s{step}"  # step -1: the gain calibration's job
    manager = trainer.manager
    manager.begin_step(f"qnb-{trainer.run_id}-{label}", pending["jobs"] if pending else (),
                       run=(trainer.run_id, step) if checkpoint is not None else None, recent=trainer.last_jobs,
                       since=trainer.started_at)
    manager.usd_left = None if trainer.budget_usd is None else trainer.budget_usd - trainer.usd_spent
    if checkpoint is None:
        manager.journal = None
        return
    before = trainer.state()
    manager.journal = lambda jobs: ckpt.write(checkpoint, {**before, "pending": {"step": step, "jobs": jobs}})


def paid_jobs(jobs) -> str:
    """The jobs of a step as "name (id), ..." for an error message."""
    return ", ".join(f"{j['name']} ({j.get('id')})" for j in jobs) or "none"


def checked_step(step: int, loss, new, jobs) -> None:
    """ValueError naming the step's paid jobs, before the parameters move or a checkpoint is written,
    unless the loss is finite and the new parameters are finite and within ``MAX_VALUE`` (the jobs
    stay journaled: a resume adopts them and pays nothing twice)."""
    new = np.asarray(new, dtype=float)
    paid = paid_jobs(jobs)
    if not np.isfinite(loss):
        raise ValueError(f"step {step}: the loss is {loss} (not finite) from the paid jobs {paid}; the parameters were "
                         "not moved and the checkpoint keeps the step pending. Check the loss function and the data")
    if not np.all(np.isfinite(new)) or np.max(np.abs(new), initial=0.0) > MAX_VALUE:
        raise ValueError(f"step {step}: the step would move the parameters to non-finite or huge values (max "
                         f"|{np.max(np.abs(new), initial=0.0):.3g}|) from the paid jobs {paid}; not moved. Lower the "
                         "gains (spsa_a) or raise spsa_c")
