"""Price sheets as data: what a job costs in dollars, from what it contains.

A sheet prices ONE job from its circuits, shots per circuit and gate counts after compilation to
the gate set pennylane-ionq sends (IonQ's QIS gates):

.. math::

    \\$ = p_\\text{job} + n_\\text{circuits}\\,(p_\\text{circuit} + S\\,p_\\text{shot})
        + S\\,(p_{1q} N_{1q} + p_{2q} N_{2q}),

with S shots per circuit and :math:`N_{1q}, N_{2q}` the one- and two-qubit gates of all the job's
circuits (a gate on k >= 3 qubits counts as 6 (k - 2) two-qubit gates, Azure's rule). Where a fee
is per circuit (Braket bills every circuit as a task), one job of 2k circuits costs what 2k jobs
cost; where it is per job (Azure's per-program charge, taken here as one submitted job), the
one-job strategies save it 2k - 1 times.

Each sheet carries its source and the date it was checked; prices change: check before you spend,
and add your own (``PRICES["mine"] = PriceSheet(...)``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

# The gates pennylane-ionq sends (its SimulatorDevice.operations; a test checks they agree);
# anything else is decomposed into these before it is counted, as the plugin does before sending.
IONQ_GATES = frozenset({
    "CNOT", "Evolution", "Hadamard", "IsingXX", "IsingYY", "IsingZZ", "PauliX", "PauliY", "PauliZ", "RX", "RY", "RZ",
    "S", "S.inv", "SWAP", "SX", "SX.inv", "T", "T.inv", "XX", "YY", "ZZ",
})


MAX_FEE = 1e6  # dollars: no fee of a sheet is more (a shot at 1e306 $ made every total infinite)


@dataclass(frozen=True)
class PriceSheet:
    """Dollars for one job (see the module's formula).

    Args:
        name (str): how the sheet is called in ``PRICES`` and in a config (``price=``).
        per_job (float): a fee per submitted job (Azure: the per-program charge).
        per_circuit (float): a fee per circuit (Braket: per task, one task per circuit).
        per_shot (float): per shot of each circuit.
        per_1q_gate_shot, per_2q_gate_shot (float): per gate and shot (Azure's gate-shots).
        source (str): where the numbers come from; checked (str): the date they were checked.
        min_shots (int): the fewest shots per circuit the sheet's terms allow (error mitigation
            needs hundreds); a search over shots stays at or above it.
        max_circuits_per_job (int or None): the most circuits one priced job holds (a Braket
            program set: 100); a larger job is priced as :math:`\\lceil n/\\text{max}\\rceil` jobs.
        choice (tuple of (field, value) pairs): the ``TrainingConfig`` settings that make training
            cheapest on this sheet (``shots_per_circuit``, ``gradient_subsample_size``,
            ``num_directions``, ``optimizer``, ``spsa_a``), taken by a config or classifier that names the sheet and leaves them
            unset; ``make bench``'s selection chooses them (figures/bench.md).
    """

    name: str
    per_job: float = 0.0
    per_circuit: float = 0.0
    per_shot: float = 0.0
    per_1q_gate_shot: float = 0.0
    per_2q_gate_shot: float = 0.0
    source: str = ""
    checked: str = ""
    min_shots: int = 1
    max_circuits_per_job: int | None = None
    choice: tuple = ()

    def __post_init__(self):
        for f in ("per_job", "per_circuit", "per_shot", "per_1q_gate_shot", "per_2q_gate_shot"):
            v = getattr(self, f)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not 0 <= v <= MAX_FEE:
                raise ValueError(f"{f}: must be a finite number of dollars in 0..{MAX_FEE:g}, got {v!r}")

    def job_usd(self, n_circuits: int, shots: int | None, gates_1q: int = 0, gates_2q: int = 0) -> float:
        """Dollars of one job of ``n_circuits`` circuits at ``shots`` shots each holding
        ``gates_1q`` and ``gates_2q`` gates in all (exact simulation, ``shots=None``, is free)."""
        if shots is None:
            return 0.0
        return (self.per_job * self._jobs(1, n_circuits) + n_circuits * (self.per_circuit + shots * self.per_shot)
                + shots * (self.per_1q_gate_shot * gates_1q + self.per_2q_gate_shot * gates_2q))

    def usd(self, stats) -> float:
        """Dollars of everything a ``BatchStats`` counts (jobs, circuits, shots, gate-shots), every
        job of it run with shots: the formula is linear in these counts. With
        ``max_circuits_per_job`` the jobs are at least :math:`\\lceil\\text{circuits}/\\text{max}\\rceil`
        (exact when no job held more than the maximum)."""
        return (self.per_job * self._jobs(stats.jobs, stats.circuits) + self.per_circuit * stats.circuits
                + self.per_shot * stats.shots
                + self.per_1q_gate_shot * stats.gate_shots_1q + self.per_2q_gate_shot * stats.gate_shots_2q)

    def _jobs(self, jobs: int, circuits: int) -> int:
        m = self.max_circuits_per_job
        return jobs if m is None else max(jobs, -(-int(circuits) // int(m)))


_BRAKET = "https://aws.amazon.com/braket/pricing/ (per task 0.30 USD; per shot: IonQ Aria 0.03, IonQ Forte 0.08)"
_AZURE = ("https://learn.microsoft.com/azure/quantum/pricing (IonQ: AQT = m + 0.000220 N1q C + 0.000975 N2q C, "
          "m = 12.4166 USD without error mitigation, 97.50 with; a program taken as one submitted job)")
_PROGRAM_SET = ("https://docs.aws.amazon.com/braket/latest/developerguide/braket-batching-tasks.html (\"Running multiple "
                "programs\": a program set packages up to 100 programs into ONE quantum task, supported on all gate-based "
                "QPUs; an earlier copy of the guide names only IQM and Rigetti) and https://aws.amazon.com/braket/pricing/ (0.30 USD per task; per shot IonQ Aria 0.03, Forte 0.08). "
                "Assumed here: one task fee per program set and the per-shot fee on every shot of every program; the "
                "pricing page does not itemise program sets (not verified). Braket's device list names IonQ Forte-1 and "
                "Forte-Enterprise-1 (Aria no longer listed): whether a given IonQ device's action map has "
                "OPENQASM_PROGRAM_SET was not checked against a live device")
_DEBIAS = "; IonQ debiases only jobs of 500 or more shots: https://docs.ionq.com/guides/error-mitigation-debiasing"
# Each sheet's choice is what make bench's selection chose for it (figures/bench.md, "the choice per
# sheet"): the least dollars to quality with modeled minutes at most twice split_shots'. A test checks
# that these agree with figures/bench.json, so a new bench run that chooses otherwise fails until
# they are updated here.
def _choice(shots: int, k: int, directions: int, c: float = 0.2) -> tuple:
    return (("shots_per_circuit", shots), ("gradient_subsample_size", k), ("num_directions", directions),
            ("optimizer", "momentum"), ("spsa_a", 1.0), ("spsa_c", c))


_BRAKET_CHOICE = _choice(20, 2, 2, c=0.4)  # per task or per program set, Aria or Forte: the same choice
PRICES = {
    "braket-ionq-aria": PriceSheet("braket-ionq-aria", per_circuit=0.30, per_shot=0.03, source=_BRAKET,
                                   checked="2026-11-29", choice=_BRAKET_CHOICE),
    "braket-ionq-forte": PriceSheet("braket-ionq-forte", per_circuit=0.30, per_shot=0.08, source=_BRAKET,
                                    checked="2026-11-29", choice=_BRAKET_CHOICE),
    "azure-ionq": PriceSheet("azure-ionq", per_job=12.4166, per_1q_gate_shot=0.000220, per_2q_gate_shot=0.000975,
                             source=_AZURE, checked="2026-11-29", choice=_choice(20, 5, 1, c=0.4)),
    "azure-ionq-error-mitigation": PriceSheet("azure-ionq-error-mitigation", per_job=97.50, per_1q_gate_shot=0.000220,
                                              per_2q_gate_shot=0.000975, source=_AZURE + _DEBIAS, checked="2026-11-29",
                                              min_shots=500, choice=_choice(500, 5, 1)),
    # one Braket task fee per step (a program set of <= 100 circuits), shots priced as on Braket
    "braket-ionq-aria-program-set": PriceSheet("braket-ionq-aria-program-set", per_job=0.30, per_shot=0.03,
                                               max_circuits_per_job=100, source=_PROGRAM_SET, checked="2026-12-06",
                                               choice=_BRAKET_CHOICE),
    "braket-ionq-forte-program-set": PriceSheet("braket-ionq-forte-program-set", per_job=0.30, per_shot=0.08,
                                                max_circuits_per_job=100, source=_PROGRAM_SET, checked="2026-12-06",
                                                choice=_BRAKET_CHOICE),
}


def price_sheet(price) -> PriceSheet:
    """A ``PriceSheet`` from itself or its name in ``PRICES``; ValueError naming the choices."""
    if not isinstance(price, PriceSheet):
        if not isinstance(price, str) or price not in PRICES:
            raise ValueError(f"price: unknown price sheet {str(price)[:60]!r}; allowed: {', '.join(PRICES)} (or add "
                             "yours to qnb.PRICES)")
        name, price = price, PRICES[price]
        if not isinstance(price, PriceSheet):  # registered as something else (a dict): refused before any job
            raise ValueError(f"price: qnb.PRICES[{name!r}] holds a {type(price).__name__}, not a PriceSheet; "
                             "register qnb.PriceSheet(name, per_shot=...)")
    PriceSheet.__post_init__(price)  # (a frozen sheet changed with object.__setattr__ is checked again)
    return price


def _native(op) -> list:
    if op.name in IONQ_GATES or not op.has_decomposition:
        return [op]
    return [g for sub in op.decomposition() for g in _native(sub)]


def gate_counts(circuit) -> tuple[int, int]:
    """(one-qubit, two-qubit) gates of a circuit after compilation to IonQ's gates; a gate on k >= 3
    qubits counts as 6 (k - 2) two-qubit gates."""
    one = two = 0
    for op in circuit.operations:
        for g in _native(op):
            k = len(g.wires)
            one += k == 1
            two += 1 if k == 2 else 6 * (k - 2) if k > 2 else 0
    return one, two


def circuits_gate_counts(circuits) -> tuple[int, int]:
    """Gates of all circuits of a job; circuits of one compiled gate sequence are counted once."""
    compiled = getattr(circuits, "compiled", None)
    if compiled is not None:  # a CircuitBatch: one gate sequence, n sets of angles, counted once per sequence
        if "_gate_counts" not in vars(compiled):
            object.__setattr__(compiled, "_gate_counts", gate_counts(circuits[0]))
        one, two = compiled._gate_counts
        return one * len(circuits), two * len(circuits)
    counts = [gate_counts(c) for c in circuits]
    return sum(c[0] for c in counts), sum(c[1] for c in counts)
