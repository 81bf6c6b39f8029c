"""Amazon Braket through its PennyLane plugin: a step's circuits as ONE program set where the device
takes program sets, what was submitted (tasks, programs, shots), and its dollars.

What amazon-braket-pennylane-plugin (1.36) does with a batch of tapes (``qml.execute``):

* ``braket.aws.qubit`` on a device whose properties list ``braket.ir.openqasm.program_set``,
  with shots: program sets of at most the device's ``maximumExecutables`` (100), one quantum task
  each;
* otherwise, with ``parallel=True``: a task batch, ONE QUANTUM TASK PER CIRCUIT (each billed the
  per-task fee); with ``parallel=False``: one task per circuit, one after the other;
* ``braket.local.qubit``: program sets are switched off in the plugin (a TODO in its source),
  although the local simulator takes them (``maximumExecutables`` 100, ``maximumTotalShots``
  200,000): one local task per circuit.

``execute`` submits the local simulator's step as program sets of at most 100 circuits and the
simulator's total-shot limit (one set for up to 100 circuits of up to 2,000 shots), the form of a program-set device,
so that an offline rehearsal receives what such a device would; other devices run as the plugin
submits them, counted. Nothing here imports braket until a Braket device is used (``import qnb``
does not load it).
"""
from __future__ import annotations

import types
from contextlib import contextmanager

import pennylane as qml

def is_braket(device) -> bool:
    """Is ``device`` a device of amazon-braket-pennylane-plugin (without importing braket)?"""
    return type(device).__module__.startswith("braket.pennylane_plugin")


def program_set_limits(device) -> tuple[int, int | None] | None:
    """(most executables, most total shots) of a program set on the Braket device behind the
    PennyLane ``device``; None when that device takes no program sets."""
    from braket.device_schema import DeviceActionType

    action = getattr(getattr(device, "_device", None), "properties", None)
    action = getattr(action, "action", {}) or {}
    spec = action.get(DeviceActionType.OPENQASM_PROGRAM_SET)
    return None if spec is None else (int(spec.maximumExecutables), getattr(spec, "maximumTotalShots", None))


def planned(device, n: int, shots: int | None) -> dict:
    """What ``execute`` would submit for n circuits of ``shots`` shots on ``device``, without
    running anything: ``{"kind", "tasks", "programs", "shots"}`` (for ``estimate`` before a step)."""
    sets = None
    if shots:
        if type(device).__name__ == "BraketLocalQubitDevice":
            sets = program_set_limits(device)
        elif getattr(device, "_max_program_set_executables", None):  # the plugin's own program sets
            sets = (device._max_program_set_executables, None)
    if sets is not None:
        most, total = sets
        per_set = max(1, min(most, total // shots if total else most))
        return {"kind": "program_set", "tasks": -(-n // per_set), "programs": n, "shots": n * shots}
    kind = "task_batch" if getattr(device, "parallel", False) else "tasks"
    return {"kind": kind, "tasks": n, "programs": n, "shots": n * (shots or 0)}


def task_usd(sheet, submission: dict) -> float:
    r"""Dollars of a Braket submission on a Braket price sheet, as it was made: Braket bills a fee
    per quantum task and a fee per shot,

    .. math::

        \$ = p_\text{task}\, n_\text{tasks} + p_\text{shot}\, S_\text{total},

    where a task is one circuit of a task batch (or of one-by-one tasks) and one program set of up
    to 100 circuits. The task fee is the sheet's ``per_circuit`` (Braket's sheets bill a task per
    circuit), else its ``per_job``; exact simulation (no shots) is free."""
    if not submission.get("shots"):
        return 0.0
    fee = sheet.per_circuit or sheet.per_job
    return fee * submission["tasks"] + sheet.per_shot * submission["shots"]


def _run_task_batch(self, braket_circuits, pl_circuits, batch_shots: int, inputs):
    """The local device's ``_run_task_batch`` as program sets (the plugin's AWS path, on the
    LocalSimulator): at most ``self._qnb_per_set`` circuits per program set, one task each."""
    from braket.program_sets import ProgramSet
    from braket.tasks import ProgramSetQuantumTaskResult

    whole = (ProgramSet.zip(braket_circuits, input_sets=inputs, shots_per_executable=batch_shots) if inputs
             else ProgramSet(braket_circuits, shots_per_executable=batch_shots))
    sets, index_map = whole.split(self._qnb_per_set)
    results = []
    for part in sets:  # each one quantum task (counted by ``_counted``'s run)
        results.append(self._device.run(part, shots=part.total_shots).result())
    merged = ProgramSetQuantumTaskResult.merge(results, whole, index_map)
    if self.tracker.active:  # as the plugin's own program-set path records it: one batch
        self.tracker.update(batches=1, batch_len=len(pl_circuits), executions=len(pl_circuits),
                            shots=len(pl_circuits) * batch_shots)
        self.tracker.record()
    return self._braket_program_set_to_pl_result(merged, pl_circuits)


@contextmanager
def _counted(device, log: list, program_sets: tuple[int, int | None] | None, shots: int):
    """Count what ``device`` submits to Braket (``run``: one task, of a circuit or a program set;
    ``run_batch``: a task per item); with ``program_sets`` (local device), submit batches as
    program sets. The device is restored afterwards."""
    inner = device._device
    own = {k: inner.__dict__[k] for k in ("run", "run_batch") if k in inner.__dict__}

    def run(spec, *a, **k):
        if type(spec).__name__ == "ProgramSet":
            log.append({"kind": "program_set", "programs": len(spec), "shots": int(spec.total_shots)})
        else:
            log.append({"kind": "task", "programs": 1, "shots": int(k.get("shots", a[0] if a else 0) or 0)})
        return type(inner).run(inner, spec, *a, **k)

    def run_batch(specs, *a, **k):
        specs = list(specs)
        each = int(k.get("shots", a[0] if a else 0) or 0)
        log.extend({"kind": "program_set", "programs": len(s), "shots": int(s.total_shots)}
                   if type(s).__name__ == "ProgramSet" else {"kind": "task", "programs": 1, "shots": each} for s in specs)
        return type(inner).run_batch(inner, specs, *a, **k)

    inner.run, inner.run_batch = run, run_batch
    saved = None
    if program_sets is not None:
        most, total = program_sets
        saved = device.__dict__.get("_run_task_batch"), device._max_program_set_executables
        device._qnb_per_set = max(1, min(most, total // shots if total else most))
        device._max_program_set_executables = most
        device._run_task_batch = types.MethodType(_run_task_batch, device)
    try:
        yield
    finally:
        for k in ("run", "run_batch"):
            if k in own:
                setattr(inner, k, own[k])
            else:
                inner.__dict__.pop(k, None)
        if saved is not None:
            if saved[0] is None:
                del device._run_task_batch
            else:
                device._run_task_batch = saved[0]
            device._max_program_set_executables = saved[1]
            del device._qnb_per_set


def execute(device, tapes) -> tuple[list, dict]:
    """Run ``tapes`` on the Braket PennyLane ``device`` as ONE ``qml.execute`` call; returns the
    results and what Braket received: ``{"kind", "tasks", "programs", "shots", "submissions"}``
    with ``kind`` ``"program_set"``, ``"task_batch"`` or ``"tasks"`` (one by one)."""
    shots = {t.shots.total_shots for t in tapes}
    one = shots.pop() if len(shots) == 1 else None
    local = type(device).__name__ == "BraketLocalQubitDevice"
    sets = program_set_limits(device) if local and one else None
    log: list = []
    with _counted(device, log, sets, one or 0):
        results = qml.execute(tapes, device)
    kinds = {e["kind"] for e in log}
    kind = ("program_set" if kinds == {"program_set"} else
            "task_batch" if kinds == {"task"} and getattr(device, "parallel", False) else "tasks")
    return list(results), {"kind": kind, "tasks": len(log), "programs": sum(e["programs"] for e in log),
                           "shots": sum(e["shots"] for e in log), "submissions": log}

