"""What the service reports it billed, recorded beside qnb's estimate."""
import qnb
from qnb.emulator import Emulator


def test_a_qpu_runs_billed_seconds_are_recorded_beside_the_estimate():
    cfg = qnb.TrainingConfig(backend="ionq", device="ionq.qpu", n_train=10, n_test=10, epochs=1, batch_size=5,
                             gradient_subsample_size=2, shots_per_circuit=100, price="azure-ionq")
    with Emulator(latency_scale=0.0) as emu:
        trainer = qnb.QuantumTrainer(cfg, backend=emu.backend(device="ionq.qpu", seed=0))
        h = trainer.fit(progress=False)
        records = [emu._record(j, j["polls"]) for j in emu.jobs.values()]
    billed = [r["stats"]["billed_quantum_compute_time_us"] / 1e6 for r in records]
    assert [s["billed_s"] for s in h["steps"]] == billed and all(b > 0 for b in billed)
    assert all(s["usd"] > 0 and s["modeled_s"] > 0 for s in h["steps"])  # the estimates beside it


def test_a_simulator_reports_nothing_billed_and_the_record_stays_as_it_was():
    cfg = qnb.TrainingConfig(backend="ionq", n_train=10, n_test=10, epochs=1, batch_size=5, gradient_subsample_size=2)
    with Emulator(latency_scale=0.0) as emu:
        h = qnb.QuantumTrainer(cfg, backend=emu.backend(seed=0)).fit(progress=False)
    assert all("billed_s" not in s for s in h["steps"])
