"""Where a user's QNode runs: its own PennyLane device, every step's circuits as ONE ``qml.execute``.

``DeviceBackend`` puts a PennyLane device behind qnb's backend interface, so that the trainer, the
``CircuitBatchManager`` (deadline, journal, counts) and the classifier run a job as one device
execution (``qml.Tracker`` counts one batch per job). ``resolve`` decides where a classifier's
circuits run — the QNode's device, or qnb's numpy simulator where that is exactly the same
computation — and refuses a ``backend=`` that contradicts the QNode's device.
"""
from __future__ import annotations

import numpy as np
import pennylane as qml

from .backends import Backend, LocalBackend
from .jobs import check_shots
from .latency import LatencyModel
from .optimizer import DeviceExecution

# devices whose circuits qnb's numpy simulator computes exactly (state vectors, the same
# probabilities; with shots, a multinomial draw of those probabilities, as these devices draw)
STATE_VECTOR_DEVICES = ("default.qubit", "lightning.qubit")
# the backend strings QuantumClassifier(backend=...) and TrainingConfig(backend=...) take
BACKEND_NAMES = {"local": STATE_VECTOR_DEVICES, "ionq": ("ionq.simulator", "ionq.qpu")}


def device_name(device) -> str:
    """A PennyLane device's name (``default.mixed``, ``ionq.simulator``, ``braket.local.qubit`` ...)."""
    return str(getattr(device, "short_name", None) or getattr(device, "name", None) or type(device).__name__)


def has_channels(ops) -> bool:
    """Does a gate sequence hold noise channels (a mixed-state computation)?"""
    return any(isinstance(op, qml.operation.Channel) for op in ops)


class DeviceBackend(Backend):
    """A PennyLane device as a qnb backend: each job is ONE ``qml.execute`` call of its circuits
    on the device (``DeviceExecution``, as ``BatchSPSAOptimizer`` runs a QNode's step), with the
    job's shots (None: exact, where the device allows it). The results are the device's own:
    shot noise is drawn by the device, not by qnb. The latency model only prices the job in
    modeled seconds; the device's own wall time is what it takes.

    Args:
        device: any PennyLane device (default.mixed with noise channels, lightning.qubit,
            ionq.simulator through pennylane-ionq, braket.local.qubit, ...).
        latency, seed: as for every ``Backend`` (modeled time; the seed is unused by the device).
    """

    name = "device"

    def __init__(self, device, latency: LatencyModel | None = None, seed=None):
        if not isinstance(device, qml.devices.Device):
            raise TypeError(f"device: expected a PennyLane device, got {type(device).__name__}")
        super().__init__(latency, seed)
        self.device = device
        self._execute = DeviceExecution(device)

    def __repr__(self):
        return f"DeviceBackend({device_name(self.device)!r}, wires={len(self.device.wires or ())})"

    def submit(self, circuits, shots, name: str | None = None, deadline: float | None = None):
        check_shots(shots)
        out = self._execute(circuits, shots)  # ONE device execution
        return self._job(f"{self.name}-{self._n_jobs + 1}", circuits, shots, [np.asarray(r, dtype=float) for r in out])

    def results(self, job) -> list[np.ndarray]:
        return list(job.payload)  # the device's results as they came: its shots, its noise


def local_copy(device):
    """An exact (shots=None) copy of a simulator device on the same wires, for predictions that
    cost no job; None for a device that is not a local simulator."""
    name = device_name(device)
    if not name.startswith(("default.", "lightning.")):
        return None
    return qml.device(name, wires=len(device.wires))


def agrees(backend, device) -> bool:
    """Would ``backend`` run the circuits where ``device`` says? A name in ``BACKEND_NAMES`` or a
    backend object (LocalBackend: the state-vector simulators; IonQBackend: ionq.*;
    DeviceBackend: that device, or one of the same name)."""
    name = device_name(device)
    if isinstance(backend, str):
        return name in BACKEND_NAMES.get(backend, ())
    if isinstance(backend, DeviceBackend):
        return backend.device is device or device_name(backend.device) == name
    if isinstance(backend, LocalBackend):
        return name in STATE_VECTOR_DEVICES
    return type(backend).__name__ == "IonQBackend" and name.startswith("ionq.")


def describe_backend(backend) -> str:
    if isinstance(backend, str):
        return f"backend={backend!r} ({' / '.join(BACKEND_NAMES.get(backend, ()))})"
    return f"backend={backend!r}"
