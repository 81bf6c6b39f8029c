"""Module-level QNodes as a user writes them (decorated defs), for the classifier's tests: pickling
stores them by module and name, and scikit-learn's checks clone them; and the circuits several
test files share."""
import pennylane as qml

dev = qml.device("default.qubit", wires=2)


@qml.qnode(dev)
def two_wire(x, w):
    """Any number of features on 2 wires: pairs of features re-uploaded, then entangling layers."""
    for i in range(0, len(x), 2):
        qml.AngleEmbedding(x[i:i + 2], wires=range(len(x[i:i + 2])))
    qml.StronglyEntanglingLayers(w, wires=range(2))
    return qml.expval(qml.PauliZ(0))


def seed_qnode(device="default.qubit", measure=lambda: qml.expval(qml.PauliZ(0)), wires=4, shots=None):
    """The document's classifier as a user's QNode: angle embedding, entangling layers, one
    read-out. ``device``: a name, or a device the caller made (an API key, an emulator's URL)."""
    dev = qml.device(device, wires=wires) if isinstance(device, str) else device

    @qml.qnode(dev, shots=shots)
    def classifier(x, w):
        qml.AngleEmbedding(x, wires=range(wires))
        qml.StronglyEntanglingLayers(w, wires=range(wires))
        return measure()
    return classifier


def vqe_ansatz(w, H, scale=1.0):
    """A two-qubit VQE ansatz measuring ``H`` (queued into whatever QNode calls it)."""
    qml.RY(w[0], 0)
    qml.RY(w[1], 1)
    qml.CNOT([0, 1])
    qml.RX(scale * w[2], 0)
    return qml.expval(H)
