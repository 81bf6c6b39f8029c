import json

import numpy as np
import pytest

import qnb
from conftest import strip_wall

SMALL = dict(n_train=20, n_test=10, epochs=2, batch_size=5, gradient_subsample_size=2, shots_per_circuit=100)


def test_presets_are_the_documents():
    p = qnb.PRESETS
    assert (p["fast"].gradient_method, p["fast"].gradient_subsample_size, p["fast"].epochs) == ("spsa_subsampled", 2, 10)
    assert (p["balanced"].gradient_method, p["balanced"].gradient_subsample_size, p["balanced"].epochs) == ("spsa_subsampled", 5, 5)
    assert (p["accurate"].gradient_method, p["accurate"].epochs) == ("spsa_parallel", 5)
    assert (p["development"].gradient_subsample_size, p["development"].epochs, p["development"].shots_per_circuit) == (2, 10, 100)
    assert all(c.batch_size == 10 and c.enable_circuit_batching for c in p.values())


def test_the_two_direction_preset_is_one_job_of_eight_circuits():
    tr = qnb.QuantumTrainer(qnb.PRESETS["two_direction"].replace(epochs=1))
    h = tr.fit(progress=False)
    assert all((s["circuits"], s["jobs"]) == (8, 1) for s in h["steps"])


def test_the_split_shots_preset_is_one_job_of_twenty_circuits_at_500_shots():
    """The same shots per job as balanced_momentum (20 x 500 = 10 x 1000): the same price on a clock
    that charges shots, 1.5x on one that charges circuits (what its comment says)."""
    tr = qnb.QuantumTrainer(qnb.PRESETS["split_shots"].replace(epochs=1))
    h = tr.fit(progress=False)
    assert all((s["circuits"], s["jobs"], s["shots"]) == (20, 1, 10_000) for s in h["steps"])
    seed = qnb.LatencyModel.seed_calibrated()
    per_shot = seed.with_shot_cost(1000)
    assert per_shot.job_time(20, 500) == pytest.approx(per_shot.job_time(10, 1000))
    assert seed.job_time(20, 500) / seed.job_time(10, 1000) == pytest.approx(1.5, abs=0.05)


def test_fit_records_steps_and_epochs():
    cfg = qnb.TrainingConfig(**SMALL)
    tr = qnb.QuantumTrainer(cfg)
    h = tr.fit(progress=False)
    assert len(h["steps"]) == 2 * 4 and len(h["epochs"]) == 2
    s = h["steps"][0]
    assert (s["circuits"], s["jobs"], s["shots"]) == (4, 1, 400)
    assert s["modeled_s"] > 0 and s["wall_s"] > 0 and np.isfinite(s["loss"])
    # the last epoch's record is the final model's, recomputed here on default.qubit
    x_tr, y_tr, x_te, y_te = tr.dataset
    for x, y, part in ((x_tr, y_tr, "train"), (x_te, y_te, "test")):
        out = tr.model.outputs(x, qnb.LocalBackend(fast=False))
        assert h["epochs"][-1][f"{part}_accuracy"] == np.mean(np.where(out >= 0, 1, -1) == y)
        assert h["epochs"][-1][f"{part}_loss"] == pytest.approx(np.mean((out - y) ** 2), abs=1e-12)
    assert h["epochs"][-1]["modeled_s"] == pytest.approx(sum(s["modeled_s"] for s in h["steps"]))


def test_training_learns_the_easy_data_with_exact_gradients():
    cfg = qnb.TrainingConfig(gradient_method="parameter_shift", n_train=40, n_test=40, batch_size=10, epochs=3,
                             shots_per_circuit=None, spsa_a=1.0, seed=1)
    tr = qnb.QuantumTrainer(cfg)
    first = tr.evaluate()["train_loss"]
    h = tr.fit(progress=False)
    assert h["epochs"][-1]["train_loss"] < 0.8 * first
    assert h["epochs"][-1]["test_accuracy"] >= 0.8


def test_same_seed_same_history_and_another_seed_differs():
    run = lambda seed: strip_wall(qnb.QuantumTrainer(qnb.TrainingConfig(seed=seed, **SMALL)).fit(progress=False))
    assert run(3) == run(3)
    assert run(3) != run(4)


class Interrupt(Exception):
    pass


def interrupt_then_resume(cfg, path, after_step):
    """Train with a checkpoint, stop by an exception after ``after_step``, resume to the end."""
    def stop(trainer, rec):
        if rec["step"] == after_step:
            raise Interrupt

    with pytest.raises(Interrupt):
        qnb.QuantumTrainer(cfg).fit(checkpoint=path, progress=False, callback=stop)
    assert len(json.loads(path.read_text())["history"]["steps"]) == after_step + 1
    return qnb.QuantumTrainer.resume(path, progress=False)


@pytest.mark.parametrize("method", ["spsa_subsampled", "spsa_per_sample"])
def test_resume_equals_an_uninterrupted_run(tmp_path, method):
    cfg = qnb.TrainingConfig(gradient_method=method, **SMALL)
    full = qnb.QuantumTrainer(cfg)
    full.fit(progress=False)
    resumed = interrupt_then_resume(cfg, tmp_path / "run.ckpt.json", after_step=5)
    assert np.array_equal(resumed.model.parameters, full.model.parameters)
    assert strip_wall(resumed.history) == strip_wall(full.history)


def test_checkpoint_from_another_configuration_is_refused(tmp_path):
    path = tmp_path / "run.ckpt.json"
    qnb.QuantumTrainer(qnb.TrainingConfig(**SMALL)).fit(epochs=1, checkpoint=path, progress=False)
    other = qnb.QuantumTrainer(qnb.TrainingConfig(**{**SMALL, "shots_per_circuit": 200}))
    with pytest.raises(ValueError, match=r"shots_per_circuit=100, expected 200"):
        other.fit(checkpoint=path, progress=False)


def test_the_seeds_latency_model_is_fitted_with_residuals():
    lat = qnb.LatencyModel.seed_calibrated()
    fit = qnb.fit_latency()
    assert (lat.job_overhead_s, lat.per_circuit_s) == fit["params"]
    assert 1.5 < lat.job_overhead_s < 3.0 and 0.15 < lat.per_circuit_s < 0.4
    assert max(abs(fit["relative_residual"])) > 0.1  # no single model explains every row of the table
    assert lat.job_time(20) == pytest.approx(lat.job_overhead_s + 20 * lat.per_circuit_s)
    assert qnb.LatencyModel(1, 0.1, 0.001).job_time(10, 100) == pytest.approx(1 + 10 * 0.2)


def test_local_backend_batched_equals_per_circuit_and_lightning():
    model = qnb.QuantumModel(seed=1)
    x, _, _, _ = qnb.make_dataset(n_train=6, n_test=1)
    circuits = [model.build_circuit(xi) for xi in x]
    dq = qnb.LocalBackend("default.qubit").execute(circuits)
    one = [qnb.LocalBackend("default.qubit").execute([c])[0] for c in circuits]
    lq = qnb.LocalBackend("lightning.qubit").execute(circuits)
    np.testing.assert_allclose(dq, one, atol=1e-12)
    np.testing.assert_allclose(dq, lq, atol=1e-10)


def test_shots_sample_around_the_exact_value():
    model = qnb.QuantumModel(seed=2)
    x, _, _, _ = qnb.make_dataset(n_train=1, n_test=1)
    c = model.build_circuit(x[0])
    exact = qnb.LocalBackend().execute([c])[0]
    samples = np.array(qnb.LocalBackend(seed=0).execute([c] * 400, shots=100))
    assert np.allclose(samples * 100, np.round(samples * 100))  # frequencies of whole shots
    assert abs(samples[:, 0].mean() - exact[0]) < 0.01
    assert samples[:, 0].std() == pytest.approx(np.sqrt(exact[0] * exact[1] / 100), rel=0.15)


def test_calibrated_training_records_its_cost_and_resumes_identically(tmp_path):
    cfg = qnb.TrainingConfig(calibrate=True, calibration_directions=2, calibration_target=0.1, **SMALL)
    full = qnb.QuantumTrainer(cfg)
    full.fit(progress=False)
    cal = full.history["calibration"]
    assert cal["jobs"] == 1 and cal["circuits"] == 2 * 2 * 5 and full.optimizer.gains.a == cal["a"]
    assert full.modeled_s == pytest.approx(cal["modeled_s"] + sum(s["modeled_s"] for s in full.history["steps"]))
    resumed = interrupt_then_resume(cfg, tmp_path / "cal.ckpt.json", after_step=2)
    assert strip_wall(resumed.history) == strip_wall(full.history)


# -- blocking and QN-SPSA: options that add circuits to a step's single job ----------------------
ONE_JOB_OPTIONS = dict(SMALL, dataset="xor", optimizer="momentum", blocking=True, regularization=0.1, spsa_a=0.3)


def test_blocking_undoes_the_last_step_parameters_and_optimiser_state():
    """A blocked step returns to the parameters AND the momentum from before the step it undoes;
    every step is still ONE job (gradient 2k + metric 4 + check 2k circuits)."""
    cfg = qnb.TrainingConfig(**dict(ONE_JOB_OPTIONS, epochs=3, spsa_a=3.0))  # large steps: some overshoot
    seen = []
    trainer = qnb.QuantumTrainer(cfg)
    trainer.fit(progress=False, callback=lambda t, rec: seen.append(
        (rec, t.model.parameters.copy(), None if t.optimizer.rule.m is None else t.optimizer.rule.m.copy())))
    blocked = [i for i, (rec, _, _) in enumerate(seen) if rec["blocked"]]
    assert blocked and len(blocked) < len(seen) / 2  # it happens, and not on every step
    for i in blocked:
        assert i >= 1 and not seen[i - 1][0]["blocked"]  # a step is checked once, by the next job
        before = seen[i - 2] if i >= 2 else (None, qnb.QuantumTrainer(cfg).model.parameters, None)
        assert np.array_equal(seen[i][1], before[1])
        assert (seen[i][2] is None and before[2] is None) or np.array_equal(seen[i][2], before[2])
    assert all(rec["jobs"] == 1 for rec, _, _ in seen)
    assert {rec["circuits"] for rec, _, _ in seen} <= {4 + 4, 4 + 4 + 4}  # k=2: +- 4, metric 4, check 4


def test_blocking_and_qnspsa_resume_exactly_even_into_an_undo(tmp_path):
    """Cut the run just before a blocked step: the resumed run's first job checks the step the
    checkpoint's last point and optimiser state describe, undoes it, and ends bit for bit equal."""
    cfg = qnb.TrainingConfig(**dict(ONE_JOB_OPTIONS, spsa_a=3.0, epochs=3))
    full = qnb.QuantumTrainer(cfg)
    full.fit(progress=False)
    first_blocked = next(s["step"] for s in full.history["steps"] if s["blocked"] and s["step"] >= 2)
    resumed = interrupt_then_resume(cfg, tmp_path / "run.ckpt.json", after_step=first_blocked - 1)
    assert np.array_equal(resumed.model.parameters, full.model.parameters)
    assert strip_wall(resumed.history) == strip_wall(full.history)


NOT_VALID = r"checkpoint run.ckpt.json: optimizer: not a valid optimizer state \(ValueError: "


@pytest.mark.parametrize("change,message", [
    # blocking: the point to check and the step rule's state to undo to
    (lambda o: o.update(last_point=[0.0] * 3), r"last_point: expected 48 finite numbers\)"),
    (lambda o: o.update(last_point=[float("nan")] * 48), r"last_point: expected 48 finite numbers\)"),
    (lambda o: o.update(undo_rule=None), r"undo_rule: not a valid step-rule state \(expected \{t: integer >= 0"),
    (lambda o: o["undo_rule"].update(m=[0.0] * 47), r"undo_rule: not a valid step-rule state \(m: expected None or "
                                                    r"(: expected )?48 finite numbers\)"),
    (lambda o: o.pop("undo_rule"), r"undo_rule: not a valid step-rule state"),
    # QN-SPSA: the running-average metric and its count
    (lambda o: o.update(metric_steps=-2), r"metric_steps: expected an integer >= 0, got -2\)"),
    (lambda o: o.update(metric_steps=True), r"metric_steps: expected an integer >= 0, got True\)"),
    (lambda o: o.update(metric=[[0.0]]), r"metric: expected 48 x 48 finite numbers\)"),
    (lambda o: o["metric"][0].__setitem__(0, float("inf")), r"metric: expected 48 x 48"),
    (lambda o: o.update(metric=None), r"metric: expected 48 x 48 finite numbers exactly after a step\)"),
    (lambda o: o.update(metric_steps=0), r"metric: expected 48 x 48 finite numbers exactly after a step\)"),
    # the step rule (momentum)
    (lambda o: o["rule"].update(v=None, t=-1), r"rule: not a valid step-rule state \(t: expected an integer >= 0, got -1\)"),
    (lambda o: o["rule"].update(m=None), r"rule: not a valid step-rule state \(m: present exactly when t > 0\)"),
])
def test_a_tampered_blocking_or_metric_state_is_refused_before_any_job(tmp_path, change, message):
    cfg = qnb.TrainingConfig(**ONE_JOB_OPTIONS)
    path = tmp_path / "run.ckpt.json"
    qnb.QuantumTrainer(cfg).fit(epochs=1, checkpoint=path, progress=False)
    state = json.loads(path.read_text())
    assert state["optimizer"]["last_point"] is not None and state["optimizer"]["metric_steps"] == 4  # something to damage
    change(state["optimizer"])
    path.write_text(json.dumps(state))  # NaN and Infinity are what json writes for them
    trainer = qnb.QuantumTrainer(cfg)
    before = trainer.manager.stats.jobs
    with pytest.raises(ValueError, match=NOT_VALID + message):
        trainer.fit(checkpoint=path, progress=False)
    assert trainer.manager.stats.jobs == before == 0


def test_blocking_budget_prices_the_first_checked_step():
    """The second step carries the first check (2k more circuits): a budget that affords the first
    step but not the dearer second one stops after one step, never past the budget."""
    cfg = qnb.TrainingConfig(**dict(ONE_JOB_OPTIONS, regularization=None))
    t = qnb.QuantumTrainer(cfg)
    lat = t.backend.latency
    one, two = lat.job_time(4, 100), lat.job_time(8, 100)
    t.fit(progress=False, budget_s=one + two - 1e-6)
    assert len(t.history["steps"]) == 1 and t.modeled_s <= one + two


def test_blocking_on_a_short_last_batch_and_several_directions():
    """22 samples in batches of 5 end with a batch of 2 (< k = 3): the check runs the 2 samples."""
    cfg = qnb.TrainingConfig(**dict(ONE_JOB_OPTIONS, n_train=22, gradient_subsample_size=3, num_directions=2, epochs=1))
    h = qnb.QuantumTrainer(cfg).fit(progress=False)
    circuits = [s["circuits"] for s in h["steps"]]
    assert circuits[0] == 2 * 2 * 3 + 4 and set(circuits[1:4]) <= {2 * 2 * 3 + 4 + 2 * 3, 2 * 2 * 3 + 4}
    assert circuits[-1] in (2 * 2 * 2 + 4 + 2 * 2, 2 * 2 * 2 + 4)
    assert all(s["jobs"] == 1 for s in h["steps"])


@pytest.mark.parametrize("kw,message", [
    (dict(blocking=True, gradient_method="parameter_shift"), r"^blocking: adds circuits to a step's single job"),
    (dict(blocking=True, gradient_method="spsa_parallel", enable_circuit_batching=False), r"^blocking: adds"),
    (dict(regularization=0.1, gradient_method="spsa_sequential"), r"^regularization: adds circuits to a step's single job"),
    (dict(qnspsa_regularization=0.1, gradient_method="spsa_sequential"), r"^regularization: adds"),  # the older name
    (dict(blocking=True, regularization=0.1, gradient_method="parameter_shift"), r"^blocking, regularization: adds"),
    (dict(regularization=0.0), r"^regularization: must be a finite number > 0, got 0.0"),
    (dict(qnspsa_regularization=0.0), r"^regularization: must be a finite number > 0, got 0.0"),
    (dict(blocking=True, regularization=0.1, gradient_method="spsa_parallel", num_directions=3,
          max_parallel_circuits=80), r"^max_parallel_circuits: a step of 84 circuits"),
    (dict(regularization="0.1"), r"^regularization: must be a finite number > 0, got '0.1'"),
    (dict(blocking="yes"), r"^blocking: must be True or False"),
])
def test_one_job_options_are_refused_where_they_cannot_be_one_job(kw, message):
    with pytest.raises(ValueError, match=message):
        qnb.TrainingConfig(**kw)


def test_the_documents_defects_are_refused_with_blocking_or_qnspsa():
    from qnb.research import defects as D
    for kw in (dict(blocking=True), dict(regularization=0.1)):
        with pytest.raises(ValueError, match=r"^blocking, regularization: the document's defects are for the plain"):
            D.DocumentConfig(qnb.TrainingConfig(gradient_method="spsa_parallel", **kw), ("params_minus_leak",))


def test_renamed_fields_keep_their_older_names_as_aliases():
    cfg = qnb.TrainingConfig(gradient_method="spsa_parallel", n_directions=2, qnspsa_regularization=0.5)
    assert (cfg.num_directions, cfg.n_directions, cfg.regularization, cfg.qnspsa_regularization) == (2, 2, 0.5, 0.5)
    assert cfg == qnb.TrainingConfig(gradient_method="spsa_parallel", num_directions=2, regularization=0.5)
    assert cfg.replace(n_directions=3).num_directions == 3
    assert {"num_directions", "regularization"} <= set(cfg.to_dict()) and "n_directions" not in cfg.to_dict()
    assert qnb.TrainingConfig.from_dict({"n_directions": 2, "qnspsa_regularization": 0.5,
                                         "gradient_method": "spsa_parallel"}) == cfg  # an older checkpoint's config
    for old, new in (("n_directions", "num_directions"), ("qnspsa_regularization", "regularization")):
        with pytest.raises(TypeError, match=rf"{old} and {new} name the same field"):
            qnb.TrainingConfig(**{old: 1, new: 1})
