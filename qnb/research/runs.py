"""One timed run: the race's clock, its data, a qnb training under the race's rule, and the
exact-gradient ceiling. Shared by the race, the peers and the go-beyond search."""
from __future__ import annotations

from functools import partial

import numpy as np

from ..backends import NumpyBackend
from ..batching import BatchStats, CircuitBatchManager
from ..config import TrainingConfig
from ..fastsim import exact_gradient
from ..noise import simulate as noise_simulate
from ..gradients import make_estimator
from ..latency import LatencyModel
from ..model import QuantumModel, make_dataset
from ..circuits import accuracy
from ..trainer import QuantumTrainer

# -- time to quality: a true ceiling, then a race to 95 % of it --------------------------------
RACE_DATASETS = ("blobs", "xor", "iris", "breast_cancer")
HARD = ("xor", "iris", "breast_cancer")  # where the old bench's methods fell short of the target


class RaceClock:
    """One run of the race: its test accuracy after every step, and the race's stop rule.

    A run stops before a step that would take it past the common budget (that step's cost: the
    dearest step so far, or ``first_step_s`` before the first; a one-off calibration is not a
    step), or once it has reached the target and passed the equal-time mark (so every run has an
    accuracy there). A record past the budget is never kept."""

    def __init__(self, rule: tuple, first_step_s: float = 0.0):
        self.target, self.budget_s, self.t_eq = rule
        self.records: list[dict] = []
        self.reached, self.dearest_s = False, float(first_step_s)

    def record(self, test_accuracy: float, modeled_s: float, step_s: float | None = None,
               bill: list | None = None) -> bool:
        """Record the state after a step that cost ``step_s`` (default: the time since the last
        record), or the start, with what was sent so far (``bill``, see ``bill_of``; none: the
        start); True when the run should stop."""
        if modeled_s > self.budget_s * (1 + 1e-9):
            return True
        if callable(test_accuracy):  # a LazyAccuracy: read now
            test_accuracy = test_accuracy()
        last = self.records[-1]["modeled_s"] if self.records else 0.0
        self.dearest_s = max(self.dearest_s, modeled_s - last if step_s is None else step_s)
        self.records.append({"test_accuracy": float(test_accuracy), "modeled_s": float(modeled_s),
                             "bill": list(bill) if bill is not None else [0] * len(BILL)})
        self.reached = self.reached or test_accuracy >= self.target
        return (self.reached and modeled_s >= self.t_eq) or modeled_s + self.dearest_s > self.budget_s * (1 + 1e-9)


class GridClock:
    """A run read only on a common grid of modeled times: the rule is (target, budget_s, t_eq, n,
    grid_budget_s); the grid is grid_budget_s/n, 2 grid_budget_s/n, ... The record at a grid time
    t is the state after the last step completed by t (its test accuracy and what it had spent),
    evaluated only there, so a run with many cheap steps is looked at as often as one with few
    dear ones (no reward for noisy evaluation) and costs at most n evaluations. Stops as
    ``RaceClock`` does: before a step that would pass ``budget_s`` (here possibly a cap below
    ``grid_budget_s``), or once a grid read is at the target and at or past ``t_eq``."""

    def __init__(self, rule: tuple, first_step_s: float = 0.0):
        self.target, self.budget_s, self.t_eq, n, grid_budget = rule
        self.dt = grid_budget / n
        self.records: list[dict] = []
        self.reached, self.dearest_s, self.steps = False, float(first_step_s), 0
        self.prev = None  # (params, modeled_s, bill, accuracy reader) of the last state

    def _read_until(self, t_end: float, strict: bool) -> bool:
        """Grid reads of the previous state at every grid time before t_end; True: stop."""
        params, t0, bill, acc, steps = self.prev
        value = None
        while True:
            t = len(self.records) * self.dt  # record i sits at grid time i dt (0: the start)
            if t > self.budget_s * (1 + 1e-9) or (t >= t_end if strict else t > t_end * (1 + 1e-12)):
                return False
            value = acc.at(params) if value is None else value
            self.records.append({"test_accuracy": float(value), "modeled_s": float(t), "bill": list(bill),
                                 "step": steps})
            self.reached = self.reached or value >= self.target
            if self.reached and t >= self.t_eq:
                return True

    def record(self, accuracy, modeled_s: float, step_s: float | None = None, bill: list | None = None) -> bool:
        """After a step (or at the start): ``accuracy`` a ``LazyAccuracy`` of the model now; True: stop."""
        if modeled_s > self.budget_s * (1 + 1e-9):
            return True
        bill = list(bill) if bill is not None else [0] * len(BILL)
        if self.prev is not None:
            self.steps += 1
            self.dearest_s = max(self.dearest_s, modeled_s - self.prev[1] if step_s is None else step_s)
            if self._read_until(modeled_s, strict=True):
                return True
        self.prev = (accuracy.snapshot(), float(modeled_s), bill, accuracy, self.steps)
        if modeled_s + self.dearest_s > self.budget_s * (1 + 1e-9):  # the last state: read up to the budget
            self._read_until(self.budget_s, strict=False)
            return True
        if not self.records:  # the start
            return self._read_until(0.0, strict=False)
        return False


class LazyAccuracy:
    """A model's exact test accuracy, computed only when read: ``()`` now, ``at(params)`` of a
    snapshot (``snapshot()``) of its parameters."""

    def __init__(self, model, dataset, noise: str | None = None):
        self.model, self.dataset, self.noise = model, dataset, noise

    def __call__(self) -> float:
        return test_accuracy(self.model, self.dataset, self.noise)

    def snapshot(self):
        return self.model.parameters.copy()

    def at(self, params) -> float:
        keep = self.model.parameters
        self.model.parameters = params
        try:
            return test_accuracy(self.model, self.dataset, self.noise)
        finally:
            self.model.parameters = keep


def make_clock(rule: tuple, first_step_s: float = 0.0):
    """``RaceClock`` for a rule (target, budget_s, t_eq), ``GridClock`` for (..., n, grid_budget_s)."""
    return (GridClock if len(rule) == 5 else RaceClock)(rule, first_step_s)


# The race's clock: the seed-calibrated model with its per-circuit cost made per shot (equal at the
# 1000 shots every entrant uses by default), so that a candidate with fewer shots per circuit is
# charged for the shots it takes (shot allocation), not for its circuits alone.
LATENCY = LatencyModel.seed_calibrated().with_shot_cost(1000)


def _seeds(seed: int):
    """The trainer's generators for a seed: model, order, estimator, backend."""
    return np.random.SeedSequence(seed).spawn(4)


def noise_of(kind: str) -> str | None:
    """The noise model of a study's data set name ``name[@split][~model]`` (None: noiseless)."""
    return kind.partition("~")[2] or None


def bench_data(kind: str):
    """A data set of the study: ``kind`` is a name, or ``name@split`` for another seeded draw
    (synthetic) or train/test split (real) of it, optionally ``~model`` for a run under that noise
    model (``qnb.NOISE_MODELS``). The race uses split 0; the go-beyond search chooses on split 1,
    so the choice never sees the race's test set."""
    name, _, split = kind.partition("~")[0].partition("@")
    return make_dataset(name, seed=int(split or 0))


def make_trainer(config: TrainingConfig, kind: str) -> QuantumTrainer:
    """A trainer through the user-data path (arrays passed in), on the numpy simulator with the
    backend seed the trainer itself would use: histories equal default.qubit's."""
    noise = noise_of(kind)
    return QuantumTrainer(config, dataset=bench_data(kind),
                          backend=NumpyBackend(latency=LATENCY, seed=_seeds(config.seed)[3], noise=noise),
                          evaluator=NumpyBackend(latency=LatencyModel.zero(), noise=noise))


_EVALUATORS: dict = {}  # exact outputs: no generator is drawn from


def test_accuracy(model, dataset, noise: str | None = None) -> float:
    """Exact test accuracy (the compiled circuit on the numpy simulator, under ``noise`` if given)."""
    if noise not in _EVALUATORS:
        _EVALUATORS[noise] = NumpyBackend(latency=LatencyModel.zero(), noise=noise)
    return accuracy(model, dataset[2], dataset[3], _EVALUATORS[noise])[0]


BILL = ("jobs", "circuits", "shots", "gate_shots_1q", "gate_shots_2q")  # what a price sheet prices (prices.py)


def bill_of(stats) -> list:
    """The counts of a ``BatchStats`` that a price sheet prices, in ``BILL``'s order."""
    return [getattr(stats, k) for k in BILL]


def run_qnb(config: TrainingConfig, kind: str, rule: tuple, setup=None) -> list[dict]:
    """A qnb training through the user-data path under the race's rule; the test accuracy and
    modeled time at the start and after every step (or on the rule's grid, ``make_clock``).
    ``setup(trainer)``: a research strategy's hook, called once before training; it returns a
    callable run after every step (before the clock reads the state), e.g. to set the next shots."""
    trainer, noise = make_trainer(config, kind), noise_of(kind)
    after = setup(trainer) if setup is not None else None
    clock = make_clock(rule)
    acc = LazyAccuracy(trainer.model, trainer.dataset, noise)
    clock.record(acc, 0.0)

    def check(t, rec):
        if after is not None:
            after(t, rec)
        if clock.record(acc, t.modeled_s, rec["modeled_s"], bill_of(t.manager.stats)):
            raise _Stop
    try:  # the trainer's own budget rule also prices the first step before it is paid
        trainer.fit(epochs=10**9, progress=False, callback=check, budget_s=rule[1])
    except _Stop:
        pass
    return clock.records


class _Stop(Exception):
    """Raised from a training callback when the race's rule says the run is over."""


_PS_COST: dict = {}


def parameter_shift_step(config: TrainingConfig, kind: str, batch: int) -> BatchStats:
    """What one parameter-shift step on ``batch`` samples at the config's shots sends (jobs,
    circuits, shots, gate-shots, modeled seconds), counted by running it once through qnb's
    estimator and a batch manager that sends all its circuits as ONE job (the cheapest packing,
    as the peers get; cached)."""
    key = (config.shots_per_circuit, kind.partition("~")[0], batch)
    if key not in _PS_COST:
        x, y, _, _ = bench_data(kind)
        manager = CircuitBatchManager(NumpyBackend(latency=LATENCY, seed=0), max_batch_size=10_000)  # ONE job: its cheapest packing
        est = make_estimator("parameter_shift", manager, seed=0)
        est.estimate_batch_gradient(QuantumModel(n_features=x.shape[1], seed=0), x[:batch], y[:batch],
                                    shots=config.shots_per_circuit)
        _PS_COST[key] = manager.stats
    return _PS_COST[key]


CEILING = TrainingConfig(gradient_method="parameter_shift", optimizer="adam", spsa_a=0.3)


def run_exact(kind: str, seed: int, epochs: int, config: TrainingConfig = CEILING) -> dict:
    """Exact gradients (the parameter-shift gradient at shots=None, ``fastsim.exact_gradient``)
    with the config's optimiser (Adam), the trainer's model, data order and batches. Each step is
    charged what a parameter-shift step at 1000 shots costs on the cloud: this is the ceiling and,
    because shot noise can only slow it, a lower bound on parameter shift's time to quality.
    Trains until the test accuracy plateaus (the mean of the last 3 epochs within ``PLATEAU_TOL``
    of the 3 before, from epoch 6 on) or ``epochs``. Returns the test accuracy and modeled time at
    the start and after every step (``steps``) and at every epoch's end (``epochs``)."""
    trainer, noise = make_trainer(config.replace(seed=seed), kind), noise_of(kind)
    simulator = None if noise is None else partial(noise_simulate, model=noise)
    x_tr, y_tr = trainer.dataset[:2]
    rule, gains, spent, k = trainer.optimizer.rule, trainer.config.gains, BatchStats(), 0
    steps = [{"test_accuracy": test_accuracy(trainer.model, trainer.dataset, noise), "modeled_s": 0.0,
              "bill": bill_of(spent)}]
    b = trainer.config.batch_size
    for epoch in range(epochs):
        order = trainer.order_rng.permutation(len(x_tr))
        for i in range(trainer.steps_per_epoch):
            idx = order[i * b:(i + 1) * b]
            g, _ = exact_gradient(trainer.model, x_tr[idx], y_tr[idx], simulator=simulator)
            trainer.model.update_parameters(rule.step(trainer.model.parameters, g, gains.at(k)[1]))
            spent.add(parameter_shift_step(trainer.config.replace(shots_per_circuit=1000), kind, len(idx)))
            steps.append({"test_accuracy": test_accuracy(trainer.model, trainer.dataset, noise),
                          "modeled_s": spent.modeled_s, "bill": bill_of(spent)})
            k += 1
        acc = [e["test_accuracy"] for e in steps[trainer.steps_per_epoch::trainer.steps_per_epoch]]
        if len(acc) >= 6 and abs(np.mean(acc[-3:]) - np.mean(acc[-6:-3])) <= PLATEAU_TOL:
            break
    spe = trainer.steps_per_epoch
    return {"steps": steps, "epochs": steps[spe::spe]}


PLATEAU_TOL = 0.005  # half a test sample in 100, on a mean of 3 epochs
