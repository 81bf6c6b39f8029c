"""Module-level QNodes as a user writes them (decorated defs), for the classifier's tests: pickling
stores them by module and name, and scikit-learn's checks clone them."""
import pennylane as qml

dev = qml.device("default.qubit", wires=2)


@qml.qnode(dev)
def two_wire(x, w):
    """Any number of features on 2 wires: pairs of features re-uploaded, then entangling layers."""
    for i in range(0, len(x), 2):
        qml.AngleEmbedding(x[i:i + 2], wires=range(len(x[i:i + 2])))
    qml.StronglyEntanglingLayers(w, wires=range(2))
    return qml.expval(qml.PauliZ(0))
