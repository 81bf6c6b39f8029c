"""``QuantumTrainer``: epochs of batches, each one optimizer step; checkpoints, budgets, a job journal.

The trainer owns the run: the data and their order, the epoch and batch, the history, and the
names of its paid jobs. It composes a ``BatchSPSAOptimizer`` (which owns the gradient's state)
and a backend (which owns its shot noise); each saves and restores its own state, and the
checkpoint file holds the three side by side.
"""
from __future__ import annotations

import math
import os
import re
import time
import uuid
from contextlib import nullcontext
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from . import checkpoint as ckpt
from . import runs
from .backends import LocalBackend
from .batching import CircuitBatchManager
from . import validation as check
from .config import USER_DATA, TrainingConfig, make_backend
from .data import check_data, make_dataset, user_data
from .latency import LatencyModel
from .losses import check_loss, square_loss
from .circuits import accuracy
from .model import QuantumModel
from .estimators import plus_minus_circuits
from .optimizer import BatchSPSAOptimizer, NonFiniteError
from .noise import NOISE_MODELS
from .prices import PRICES, price_sheet


class QuantumTrainer:
    """Trains a model with the configured gradient method, one ``BatchSPSAOptimizer`` step per
    batch; ``fit`` returns a history.

    Args:
        config (TrainingConfig): the design document's settings and qnb's (``qnb.PRESETS``).
        model: the seed's ``QuantumModel`` with one qubit per feature (default), or any
            ``CircuitModel``.
        dataset: the user's own ``(x_train, y_train, x_test, y_test)`` arrays, of any size; then
            ``trainer.config`` says ``dataset="user"`` with their sizes. Default: the config's.
        backend: where the circuits run (default from the config: the local simulator or IonQ).
        loss (callable): a vectorised ``loss(outputs, y)``, for the gradient and every reported loss.
        evaluator: the backend of the exact accuracies (default: a local simulator with no cost).
        optimizer_class: a ``BatchSPSAOptimizer`` subclass built from the config (the document's
            defects are one).

    Every training sample is seen once per epoch: the data are shuffled, cut into
    ``ceil(n_train / batch_size)`` batches, and the last batch holds the remainder (a subsample
    larger than that short batch uses all of it).

    The history has ``steps`` (loss, gradient_norm, circuits, jobs, shots, modeled_s, wall_s per
    optimisation step) and ``epochs`` (train/test accuracy and loss, measured exactly on a local
    simulator so they reflect the parameters, not shot noise, and cost no cloud job).

    **Example**

    .. code-block:: python

        trainer = qnb.QuantumTrainer(qnb.PRESETS["balanced"])
        history = trainer.fit(checkpoint="run.ckpt.json")   # resumable; progress bar
        history["epochs"][-1]["test_accuracy"], trainer.modeled_s
    """

    def __init__(self, config: TrainingConfig, model=None, dataset=None, backend=None, loss=square_loss, *,
                 evaluator=None, optimizer_class=BatchSPSAOptimizer):
        if not isinstance(config, TrainingConfig):
            raise TypeError(f"config: expected a TrainingConfig, got {type(config).__name__}")
        s_model, s_order, s_est, s_backend = np.random.SeedSequence(config.seed).spawn(4)
        if dataset is None:
            if config.dataset == USER_DATA:
                raise ValueError("dataset: the config says dataset='user'; pass the arrays as dataset=")
            dataset = make_dataset(config.dataset, config.n_train, config.n_test, seed=config.seed)
        else:  # the arrays decide; nothing in the config may contradict them
            config = config.replace(dataset=USER_DATA, n_train=None, n_test=None)
        self.dataset = user_data(dataset, None if model is None else model.n_features)
        x_tr, _, x_te, _ = self.dataset
        if model is None:
            n = x_tr.shape[1]
            if n > 12:
                raise ValueError(f"x_train: {n} features would need {n} qubits; reduce the features or pass a model")
            model = QuantumModel(n_qubits=max(2, n), n_features=n, seed=s_model)
        check_loss(loss, 2)
        if hasattr(model, "verify"):  # the compiled circuit checked on the very rows it will see
            model.verify(np.vstack([x_tr, x_te]))
        self.config = config.replace(n_train=len(x_tr), n_test=len(x_te)) if config.dataset == USER_DATA else config
        if len(x_tr) < self.config.batch_size:
            raise ValueError(f"batch_size: {self.config.batch_size} exceeds the {len(x_tr)} training samples")
        self.model, self.loss = model, loss
        self.backend = backend if backend is not None else make_backend(self.config, seed=s_backend)
        self.manager = CircuitBatchManager(self.backend, max_batch_size=config.max_parallel_circuits,
                                           timeout_s=config.batch_submission_timeout, price=config.price)
        self.optimizer = config.optimizer_for(seed=s_est, cls=optimizer_class)
        self.order_rng = np.random.default_rng(s_order)
        # accuracy as the machine would score it: under the run's noise model where qnb has it locally
        noise = config.noise_model if config.noise_model in NOISE_MODELS else None
        self.evaluator = evaluator if evaluator is not None else LocalBackend(latency=LatencyModel.zero(), noise=noise)
        self.history = {"steps": [], "epochs": [], "calibration": None}
        self.epoch, self.batch, self.order = 0, 0, None
        self.run_id = uuid.uuid4().hex[:12]  # names this run's cloud jobs: qnb-<run_id>-s<step>-j<k>
        self._pending = None  # jobs of a step that a checkpoint recorded but did not finish
        # the run's identity beyond its id (qnb.runs): budgets, start, the last step's jobs
        self.budget_usd = self.budget_s = None
        self.started_at, self.last_jobs = time.time(), []

    def __repr__(self):
        return f"QuantumTrainer({self.config.gradient_method!r}, epoch={self.epoch}, step={len(self.history['steps'])})"

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(len(self.dataset[0]) / self.config.batch_size)

    # -- one step ---------------------------------------------------------------------------
    def train_batch(self, batch_x, batch_y) -> dict:
        """One optimisation step on one batch: estimate the batch gradient, step against it."""
        t0 = time.perf_counter()
        check_data(batch_x, batch_y, n_features=self.model.n_features)
        try:
            new, g = self.optimizer.update(self.model, self.model.parameters.copy(), np.asarray(batch_x, dtype=float),
                                           np.asarray(batch_y), self.loss, self.config.shots_per_circuit,
                                           self.manager.execute_batch)
        except NonFiniteError as e:  # the optimizer's own check; the trainer names the step's paid jobs
            raise ValueError(f"{e}; paid jobs: {runs.paid_jobs(self.manager._records)}; the checkpoint keeps the step "
                             "pending") from e
        runs.checked_step(len(self.history["steps"]), g.function_value, new, self.manager._records)
        self.model.update_parameters(new)
        return {
            **({"blocked": bool(g.metadata["blocked"])} if self.config.blocking else {}),
            "loss": g.function_value,
            "gradient_norm": float(np.linalg.norm(g.gradients)),
            "n_circuits": g.n_circuit_executions,
            "n_jobs": g.metadata["n_jobs"],
            "shots": g.metadata["shots"],
            "circuit_time_ms": (time.perf_counter() - t0) * 1000,
            "modeled_time_s": g.metadata["modeled_time_s"],
            **({"usd": g.metadata["usd"]} if self.config.price is not None else {}),
            **({"billed_s": g.metadata["billed_s"]} if g.metadata.get("billed_s") else {}),  # as the service reports
        }

    def evaluate(self) -> dict:
        x_tr, y_tr, x_te, y_te = self.dataset
        (tr_acc, tr_loss), (te_acc, te_loss) = (accuracy(self.model, x_tr, y_tr, self.evaluator, self.loss),
                                               accuracy(self.model, x_te, y_te, self.evaluator, self.loss))
        return {"train_accuracy": tr_acc, "train_loss": tr_loss, "test_accuracy": te_acc, "test_loss": te_loss}

    # -- whole runs -------------------------------------------------------------------------
    def fit(self, epochs: int | None = None, checkpoint: str | os.PathLike | None = None,
            progress: bool = True, callback=None, budget_s: float | None = None,
            budget_usd: float | None = None) -> dict:
        """Train up to ``epochs`` (default: the config's); returns the history.

        ``budget_s`` (for comparisons at equal cost) stops training before a step that would take
        the modeled cloud time past it (its cost: the dearest step so far, or predicted from the
        first step's circuits and jobs), so a run never overshoots its budget and ends less than
        one step under it; a method whose single step exceeds the budget takes none. The state at
        the stop is evaluated and recorded as a ``partial`` epoch.

        With ``checkpoint``, the state is written after every step; if the file already holds
        a run of the same configuration, training continues from it (a different configuration
        is refused). ``callback(trainer, step_record)`` is called after every step.

        ``budget_usd`` (needs ``config.price``) stops before a step whose dollars, priced from its
        planned circuits before it is sent, would take the run's spending past it; the first step
        included. The progress bar shows the dollars spent. Both budgets are the run's: the
        checkpoint keeps them, and a resume without one honours the checkpoint's (a new one replaces it).
        """
        epochs = self.config.epochs if epochs is None else epochs
        check.integer("epochs", epochs)
        if budget_s is not None:
            check.number("budget_s", budget_s, lo=0, hi=runs.MAX_BUDGET)
        if budget_usd is not None:
            check.number("budget_usd", budget_usd, lo=0, hi=runs.MAX_BUDGET)
            if self.config.price is None:
                raise ValueError("budget_usd: the config names no price sheet; set price= (one of qnb.PRICES)")
        if callback is not None and not callable(callback):
            raise TypeError(f"callback: expected a callable callback(trainer, step_record), got {type(callback).__name__}")
        # one fit per trainer, one writer per checkpoint (and per run): a second is refused before any job
        lock = ckpt.Lock(checkpoint, self.run_id) if checkpoint is not None else nullcontext()
        with ckpt.one_at_a_time(self, "fit"), lock:
            return self._fit(epochs, checkpoint, progress, callback, budget_s, budget_usd)

    def _fit(self, epochs, checkpoint, progress, callback, budget_s, budget_usd) -> dict:
        if not self._open(checkpoint, budget_s, budget_usd):
            return self.history
        budget_s, budget_usd = self.budget_s, self.budget_usd
        x_tr, y_tr = self.dataset[:2]
        spe = self.steps_per_epoch
        total = epochs * spe
        with tqdm(total=total, initial=min(self.epoch * spe + self.batch, total), disable=not progress,
                  desc=self.config.gradient_method, unit="step") as bar:
            while self.epoch < epochs:
                if self.order is None:
                    self.order = self.order_rng.permutation(len(x_tr))
                idx = self.order[self.batch * self.config.batch_size:(self.batch + 1) * self.config.batch_size]
                if (budget_s is not None and self._over_budget(budget_s, x_tr[idx], y_tr[idx])) or (
                        budget_usd is not None and self.usd_spent + self._next_usd(x_tr[idx], y_tr[idx]) >
                        budget_usd * (1 + 1e-12)):
                    if self.batch or not self.history["epochs"]:  # else the last epoch's record is this state
                        self.history["epochs"].append({"epoch": self.epoch, **self.evaluate(),
                                                       "modeled_s": self.modeled_s, "partial": True})
                    return self.history
                rec = self._step(idx, checkpoint)
                bar.update(1)
                bar.set_postfix(loss=f"{rec['loss']:.3f}", **({"usd": f"{self.usd_spent:,.2f}"}
                                                               if self.config.price is not None else {}))
                if callback is not None:
                    callback(self, rec)
        return self.history

    def _open(self, checkpoint, budget_s=None, budget_usd=None) -> bool:
        """Before the first step: continue from ``checkpoint`` if it holds a run, else write it
        (a path that cannot take it fails now, not after a paid step); calibrate if asked, unless
        its job would pass a budget (then False: the run takes no job)."""
        given = {k: v for k, v in (("budget_s", budget_s), ("budget_usd", budget_usd)) if v is not None}
        vars(self).update(given)  # the run's budgets: in the checkpoint from its first write on
        if checkpoint is not None:
            # the file is the truth: after an interruption, fit(checkpoint=p) continues from the
            # last saved step exactly as resume(p) does, under the budgets it recorded unless new ones are given
            if Path(checkpoint).is_file():
                self._load_state(checkpoint)
                vars(self).update(given)
            else:
                self.save(checkpoint)
        budget_s, budget_usd = self.budget_s, self.budget_usd
        if budget_usd is not None and self.config.price is None:
            raise ValueError("budget_usd: the config names no price sheet; set price= (one of qnb.PRICES)")
        if self.config.calibrate and self.history["calibration"] is None:
            cost = self.manager.quote(self._calibration_circuits(), None, self.config.shots_per_circuit)
            if (budget_s is not None and cost.modeled_s > budget_s) or (budget_usd is not None and cost.usd > budget_usd):
                self.history["epochs"].append({"epoch": self.epoch, **self.evaluate(), "modeled_s": 0.0, "partial": True})
                return False
            runs.journal_jobs(self, checkpoint, step=-1)  # a paid job too: journaled like a step's
            self._calibrate()
            self._pending = None
            self.last_jobs = runs.last_jobs(self.manager._records)
            if checkpoint is not None:
                self.save(checkpoint)
        return True

    def _calibration_circuits(self):
        """The calibration job's circuits (their number and gates: what it costs), at the current point."""
        x_tr = self.dataset[0]
        params = self.model.parameters
        return plus_minus_circuits(self.model, params, np.ones((self.config.calibration_directions, params.size)),
                                   self.optimizer.gains.c, x_tr[:self.config.batch_size])[1]

    def _step(self, idx, checkpoint) -> dict:
        """One journaled step on the training rows ``idx``: its record in the history, the epoch
        closed (and evaluated) after its last batch, the checkpoint written."""
        x_tr, y_tr = self.dataset[:2]
        wall = time.perf_counter()
        runs.journal_jobs(self, checkpoint)
        r = self.train_batch(x_tr[idx], y_tr[idx])
        self._pending = None
        self.last_jobs = runs.last_jobs(self.manager._records)
        rec = {"step": len(self.history["steps"]), "epoch": self.epoch, "batch": self.batch,
               "loss": r["loss"], "gradient_norm": r["gradient_norm"], "circuits": r["n_circuits"],
               "jobs": r["n_jobs"], "shots": r["shots"], "modeled_s": r["modeled_time_s"],
               "wall_s": time.perf_counter() - wall} | {k: r[k] for k in ("blocked", "usd", "billed_s") if k in r}
        self.history["steps"].append(rec)
        self.batch += 1
        if self.batch == self.steps_per_epoch:
            self.history["epochs"].append({"epoch": self.epoch, **self.evaluate(), "modeled_s": self.modeled_s})
            self.epoch, self.batch, self.order = self.epoch + 1, 0, None
        if checkpoint is not None:
            self.save(checkpoint)
        return rec

    def _over_budget(self, budget_s: float, batch_x, batch_y) -> bool:
        """Would the next step take the modeled time past ``budget_s``? Its cost is the dearest
        step so far, or, before the first, predicted from its circuits and jobs (nothing runs)."""
        if self.history["steps"] and not self.config.blocking:
            cost = self._tally()[1]
        else:  # blocking's first check makes the second step dearer than the first: price the next one too
            n, per_job = self.optimizer.next_step_size(self.model, self.model.parameters.copy(), batch_x, batch_y,
                                                       self.loss)
            cost = max(self._tally()[1], self.manager.price_s(n, per_job, self.config.shots_per_circuit))
        return self.modeled_s + cost > budget_s * (1 + 1e-9)

    @property
    def modeled_s(self) -> float:
        """Modeled cloud seconds of every step so far, calibration included."""
        cal = (self.history.get("calibration") or {}).get("modeled_s", 0.0)
        return float(cal + self._tally()[0])

    def _tally(self) -> tuple[float, float, float]:
        """(sum, max) of the steps' modeled seconds and the sum of their dollars, added up from where
        it left off: a long run asks after every step, and summing its whole history would be quadratic."""
        steps = self.history["steps"]
        seen, total, dearest, usd, ref = getattr(self, "_tallied", (0, 0, 0.0, 0.0, None))
        if ref is not steps or seen > len(steps):  # a new or reloaded history: start again
            seen, total, dearest, usd = 0, 0, 0.0, 0.0
        for s in steps[seen:]:
            total, dearest, usd = total + s["modeled_s"], max(dearest, s["modeled_s"]), usd + s.get("usd", 0.0)
        self._tallied = (len(steps), total, dearest, usd, steps)
        return total, dearest, usd

    @property
    def usd_spent(self) -> float:
        """Dollars of every job so far under ``config.price`` (calibration included; 0 without a sheet)."""
        return float((self.history.get("calibration") or {}).get("usd", 0.0) + self._tally()[2])

    def _next_usd(self, batch_x, batch_y) -> float:
        """Dollars of the next step, priced from its planned circuits (nothing is sent)."""
        plan = self.optimizer.next_step_plan(self.model, self.model.parameters.copy(), batch_x, batch_y, self.loss)
        return self.manager.quote(plan.circuits, plan.circuits_per_job, self.config.shots_per_circuit).usd

    def estimate(self, price=None, epochs: int | None = None) -> dict:
        """What the run would spend, planned without sending anything: jobs, circuits, shots,
        one- and two-qubit gate-shots, modeled minutes and dollars, per step (a full batch, with
        blocking's check) and for ``epochs`` epochs (default the config's) from the start.

        ``price``: a sheet or its name in ``qnb.PRICES`` (default ``config.price``); the answer names
        the sheet with its source and the date its prices were checked. Exact for the
        one-job strategies and parameter shift; with blocking an upper bound (the step after a
        blocked one carries no check). The calibration's job, if any, is included in the run."""
        if price is None and self.config.price is None:
            raise ValueError(f"price: name a price sheet (one of {', '.join(PRICES)}) or set config.price")
        sheet = price_sheet(price if price is not None else self.config.price)
        if epochs is not None:
            check.integer("epochs", epochs)
        quoter = CircuitBatchManager(self.backend, max_batch_size=self.config.max_parallel_circuits, price=sheet)
        x_tr, y_tr = self.dataset[:2]
        B, n, shots = self.config.batch_size, len(x_tr), self.config.shots_per_circuit
        params = self.model.parameters.copy()

        def step(size: int, checked: bool) -> dict:
            check = params if (checked and self.config.blocking) else None
            plan = self.optimizer.next_step_plan(self.model, params, x_tr[:size], y_tr[:size], self.loss, check=check)
            q = quoter.quote(plan.circuits, plan.circuits_per_job, shots)
            return {"jobs": q.jobs, "circuits": q.circuits, "shots": q.shots, "gate_shots_1q": q.gate_shots_1q,
                    "gate_shots_2q": q.gate_shots_2q, "modeled_min": q.modeled_s / 60, "usd": q.usd}

        sizes = [B] * (n // B) + ([n % B] if n % B else [])
        steps = [step(size, checked=i > 0) for i, size in enumerate(sizes * (self.config.epochs if epochs is None else epochs))]
        run = {k: sum(s[k] for s in steps) for k in steps[0]}
        if self.config.calibrate:
            cal = quoter.quote(self._calibration_circuits(), None, shots)
            run = {**run, "jobs": run["jobs"] + cal.jobs, "circuits": run["circuits"] + cal.circuits,
                   "shots": run["shots"] + cal.shots, "gate_shots_1q": run["gate_shots_1q"] + cal.gate_shots_1q,
                   "gate_shots_2q": run["gate_shots_2q"] + cal.gate_shots_2q,
                   "modeled_min": run["modeled_min"] + cal.modeled_s / 60, "usd": run["usd"] + cal.usd}
        return {"price": sheet.name, "price_source": sheet.source, "price_checked": sheet.checked, "steps": len(steps),
                "per_step": step(B, checked=True), "per_run": run}

    def _calibrate(self) -> None:
        """Calibrate ``a`` on one batch drawn from the estimator's generator; its cost is recorded."""
        x_tr, y_tr = self.dataset[:2]
        idx = self.optimizer.rng.choice(len(x_tr), size=self.config.batch_size, replace=False)
        info = self.optimizer.calibrate(
            self.model, x_tr[idx], y_tr[idx], self.loss, self.config.shots_per_circuit, self.manager.execute_batch,
            num_directions=self.config.calibration_directions, target=self.config.calibration_target)
        if self.config.price is None:
            info.pop("usd")
        self.history["calibration"] = info

    # -- checkpoints ------------------------------------------------------------------------
    def state(self) -> dict:
        """The whole run, JSON-safe: the trainer's own fields, the optimizer's and the backend's states."""
        return {
            "config": self.config.to_dict(),
            "parameters": self.model.parameters.tolist(),
            "epoch": self.epoch, "batch": self.batch,
            "order": None if self.order is None else self.order.tolist(),
            "order_rng": self.order_rng.bit_generator.state,
            "history": self.history,
            "dataset": [a.tolist() for a in self.dataset],
            "model": self.model.fingerprint(), "n_params": self.model.n_params,
            "loss": getattr(self.loss, "__name__", repr(self.loss)),
            "run_id": self.run_id,
            "budget_usd": self.budget_usd, "budget_s": self.budget_s, "started_at": self.started_at,
            "last_jobs": self.last_jobs,
            "optimizer": self.optimizer.state(),
            "backend": self.backend.state(),
        }

    def save(self, path) -> None:
        """Write the full training state as JSON (atomically: a crash never leaves half a file)."""
        ckpt.write(path, self.state())

    def load_state(self, state: dict, name: str = "state") -> None:
        """Restore ``state()`` exactly; every field is checked before anything changes (ValueError
        naming the field, prefixed with ``name``)."""
        bad = lambda field_, why: ValueError(f"checkpoint {name}: {field_}: {why}")
        self._check_run(state, name, bad)
        order, params, h, run_id = state.get("order"), np.asarray(state["parameters"], dtype=float), state["history"], \
            state["run_id"]
        order_rng = np.random.default_rng()
        try:
            order_rng.bit_generator.state = state.get("order_rng")
        except (TypeError, ValueError, KeyError, OverflowError) as e:
            raise bad("order_rng", f"not a generator state ({type(e).__name__})") from None
        p = state.get("pending")
        runs.check_pending(p, len(h["steps"]), run_id, bad)
        optimizer = self.config.optimizer_for(cls=type(self.optimizer))
        for key, load in (("optimizer", lambda v: optimizer.load_state(v, self.model.n_params)),
                          ("backend", self.backend.load_state)):  # each checks its own state; the backend's last
            if key == "backend":  # the run's bounds: after the optimizer's own words, before the backend is set
                identity = runs.check_identity(state, bad)
            try:
                load(state[key])
            except (TypeError, ValueError, KeyError) as e:
                raise bad(key, f"not a valid {key} state ({type(e).__name__}: {str(e)[:100]})") from None
        self.optimizer = optimizer
        self.model.update_parameters(params)
        self.epoch, self.batch = state["epoch"], state["batch"]
        self.order = None if order is None else np.array(order)
        self.order_rng = order_rng
        self.history = h
        self.run_id = run_id
        self._pending = p
        vars(self).update(identity)

    def _check_run(self, state: dict, name: str, bad) -> None:
        """The trainer's own fields of a state: the same configuration, model, loss and data; an
        epoch, batch, order, parameters, history and run id this run can continue from."""
        for key, kind in (("config", dict), ("parameters", list), ("epoch", int), ("batch", int),
                          ("history", dict), ("dataset", list), ("optimizer", dict), ("backend", dict)):
            if not isinstance(state.get(key), kind) or (kind is int and isinstance(state[key], bool)):
                raise bad(key, f"missing or not a JSON {kind.__name__}")
        try:
            theirs = TrainingConfig.from_dict(state["config"]).to_dict()
        except (TypeError, ValueError) as e:
            raise bad("config", f"not a valid configuration ({str(e)[:120]})") from None
        mine = self.config.to_dict()
        diff = sorted(k for k in mine if mine[k] != theirs.get(k))
        if diff:
            raise ValueError(f"checkpoint {name}: written by another configuration (differs in "
                             f"{', '.join(f'{k}={theirs.get(k)!r}, expected {mine[k]!r}' for k in diff)})")
        for field_, mine_ in (("model", self.model.fingerprint()), ("loss", getattr(self.loss, "__name__", repr(self.loss)))):
            if state.get(field_, mine_) != mine_:
                raise bad(field_, f"written for {state[field_]}, this trainer has {mine_}")
        n = self.steps_per_epoch
        if state["epoch"] < 0:
            raise bad("epoch", f"must be >= 0, got {state['epoch']}")
        if not 0 <= state["batch"] < n:
            raise bad("batch", f"must be in 0..{n - 1} ({n} steps per epoch), got {state['batch']}")
        order = state.get("order")
        if order is not None and (not isinstance(order, list) or any(isinstance(i, bool) or not isinstance(i, int)
                                                                     for i in order)
                                  or sorted(order) != list(range(len(self.dataset[0])))):
            raise bad("order", f"must be a permutation of the {len(self.dataset[0])} training samples")
        params = np.asarray(state["parameters"], dtype=float) if all(  # an int beyond a float: refused, no OverflowError
            isinstance(v, float) or (type(v) is int and abs(v) < 2 ** 1023) for v in state["parameters"]) else None
        if params is None or params.shape != (self.model.n_params,) or not np.all(np.isfinite(params)):
            hint = ("; the run used another model: pass it as model=" if isinstance(state.get("n_params"), int)
                    and state["n_params"] != self.model.n_params else "")
            raise bad("parameters", f"expected {self.model.n_params} finite numbers{hint}")
        if len(state["dataset"]) != 4 or any(
                np.asarray(a).shape != b.shape or not np.array_equal(np.asarray(a), b)
                for a, b in zip(state["dataset"], self.dataset)):
            raise bad("dataset", "written for another data set (or holds only part of it)")
        h = state["history"]
        if not (isinstance(h.get("steps"), list) and isinstance(h.get("epochs"), list)):
            raise bad("history", "expected lists of steps and epochs")
        why = ckpt.bad_history(h, self.config.price is not None, self.config.calibrate)
        if why:
            raise bad("history", why)
        done = len(h["steps"])  # every step is one batch: the epoch and batch are where the history ends
        if state["epoch"] * n + state["batch"] != done:
            raise bad("epoch", f"expected {done // n} with batch {done % n} (the history's {done} steps at {n} per epoch), "
                               f"got {state['epoch'] if state['epoch'] < 10 ** 30 else 'over 1e30'} with batch {state['batch']}")
        run_id = state.get("run_id")
        if not (isinstance(run_id, str) and re.fullmatch(r"[0-9a-f]{12}", run_id)):
            raise bad("run_id", "expected 12 hexadecimal digits (it names this run's paid jobs)")

    def _load_state(self, path) -> None:
        self.load_state(ckpt.read(path), Path(path).name)

    @classmethod
    def load(cls, path, backend=None, model=None, loss=square_loss) -> "QuantumTrainer":
        """A trainer in the exact state a checkpoint recorded (pass the same ``model`` and ``loss``
        if the run used its own; they are checked against the checkpoint)."""
        state = ckpt.read(path)
        try:
            config = TrainingConfig.from_dict(state["config"])
            data = tuple(np.array(a) for a in state["dataset"])
        except (AttributeError, KeyError, TypeError, ValueError) as e:
            raise ValueError(f"checkpoint {Path(path).name}: not a readable checkpoint ({type(e).__name__}: "
                             f"{str(e)[:80]})") from None
        trainer = cls(config, model=model, dataset=data if config.dataset == USER_DATA else None, backend=backend,
                      loss=loss)
        trainer.load_state(state, Path(path).name)
        return trainer

    @classmethod
    def resume(cls, path, backend=None, progress: bool = True, model=None, loss=square_loss,
               budget_usd: float | None = None, budget_s: float | None = None) -> "QuantumTrainer":
        """Continue an interrupted run from its checkpoint to the end, under the budgets it recorded
        (or new ones, if given); returns the trainer."""
        trainer = cls.load(path, backend=backend, model=model, loss=loss)
        trainer.fit(checkpoint=path, progress=progress, budget_usd=budget_usd, budget_s=budget_s)
        return trainer
