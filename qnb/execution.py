"""Where a step's circuits run: ``run_plan`` (a plan's circuits as one call, or one per job) and
``DeviceExecution`` (a PennyLane device, the circuits as ONE ``qml.execute`` call), with what the
submission was and, given a price sheet, what it cost."""
from __future__ import annotations

import time

import numpy as np
import pennylane as qml

from .batching import BatchResult, BatchStats
from .braket import is_braket
from .estimators import StepPlan
from .prices import gate_counts, price_sheet


def run_plan(plan: StepPlan, execute, shots) -> tuple[list, BatchStats]:
    """Run the plan's circuits through ``execute(circuits, shots) -> BatchResult``: as one call,
    or one call per ``circuits_per_job`` circuits (the sequential strategies). Results in order,
    and what they cost."""
    n = plan.circuits_per_job or len(plan.circuits)
    results, spent = [], BatchStats()
    for i in range(0, len(plan.circuits), n):
        out = execute(plan.circuits[i:i + n], shots)
        results.extend(out)
        spent.add(out.cost)
    return results, spent


class DeviceExecution:
    """``execute`` for a PennyLane device: the circuits as ONE ``qml.execute`` call (one batch
    for ``qml.Tracker``), with the given shots (None: exact probabilities).

    On a Braket device (amazon-braket-pennylane-plugin) the call goes through ``qnb.braket.execute``:
    the local simulator receives the step as program sets (one quantum task per 100 circuits);
    ``last_submission`` says what Braket received (kind, tasks, programs, shots), ``cost.jobs``
    counts its quantum tasks, and with ``price`` the dollars are Braket's per task and per shot, as
    the submission was made (``qnb.braket.task_usd``). Elsewhere one execution is one job.
    """

    def __init__(self, device, price=None):
        self.device = device
        self.price = None if price is None else price_sheet(price)
        self.last_submission = None

    def __call__(self, circuits, shots) -> BatchResult:
        out = self.run([t.copy(shots=shots) for t in circuits])
        return BatchResult([np.asarray(r, dtype=float) for r in out], out.cost)

    def run(self, tapes) -> BatchResult:
        """The tapes as they are (each with its own shots) in one execution; results as the device
        returns them."""
        start = time.perf_counter()
        if is_braket(self.device):
            from .braket import execute, task_usd
            results, sub = execute(self.device, tapes)
            stats = BatchStats(jobs=sub["tasks"], circuits=sub["programs"], shots=sub["shots"])
            if self.price is not None:
                stats.usd = task_usd(self.price, sub)
        else:
            results, sub = list(qml.execute(tapes, self.device)), None
            stats = BatchStats(jobs=1, circuits=len(tapes), shots=sum(t.shots.total_shots or 0 for t in tapes))
            if self.price is not None and stats.shots:
                for t in tapes:
                    g1, g2 = gate_counts(t)
                    stats.gate_shots_1q += g1 * (t.shots.total_shots or 0)
                    stats.gate_shots_2q += g2 * (t.shots.total_shots or 0)
                stats.usd = self.price.usd(stats)
        stats.wall_s = time.perf_counter() - start
        self.last_submission = sub
        out = BatchResult(results, stats)
        out.submission = sub
        return out
