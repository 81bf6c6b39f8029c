"""Three classes with one job per step: QuantumClassifier (one-vs-rest heads sharing each step's
job) against scikit-learn's LogisticRegression, on iris (4 features) and wine (13 features:
qnb's circuit re-uploads them on 4 wires), features scaled to [0, pi] by MinMaxScaler fitted on
the training split. Seeded: the split and the classifier share the seed.

    .venv/bin/python tools/multiclass.py [--seeds 5] [--epochs 20] [--a 1.0]
"""
import argparse
import time

import numpy as np
from sklearn.datasets import load_iris, load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

import qnb


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--a", type=float, default=1.0)
    args = ap.parse_args()
    print(f"QuantumClassifier(epochs={args.epochs}, a={args.a}, random_state=seed) vs LogisticRegression(max_iter=1000); "
          "70/30 stratified split (random_state=seed); test accuracy")
    for name, load in (("iris", load_iris), ("wine", load_wine)):
        x, y = load(return_X_y=True)
        q_acc, lr_acc = [], []
        for seed in range(args.seeds):
            xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.3, stratify=y, random_state=seed)
            start = time.perf_counter()
            q = make_pipeline(MinMaxScaler((0, np.pi)), qnb.QuantumClassifier(epochs=args.epochs, a=args.a,
                                                                              random_state=seed)).fit(xtr, ytr)
            lr = make_pipeline(MinMaxScaler((0, np.pi)), LogisticRegression(max_iter=1000)).fit(xtr, ytr)
            clf = q[-1]
            q_acc.append(q.score(xte, yte))
            lr_acc.append(lr.score(xte, yte))
            print(f"{name:5s} seed {seed}: qnb {q_acc[-1]:.3f}  LR {lr_acc[-1]:.3f}  ({clf.n_jobs_} jobs = steps "
                  f"{len(clf.history_['steps'])}, {clf.n_circuits_} circuits, {len(clf.classes_)} heads sharing each job, "
                  f"{time.perf_counter() - start:.1f} s)")
        print(f"{name:5s} mean: qnb {np.mean(q_acc):.3f}  LR {np.mean(lr_acc):.3f}")


if __name__ == "__main__":
    main()
