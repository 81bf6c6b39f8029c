"""The IonQ path: ``IonQBackend`` (pennylane-ionq's payloads, qnb's transport and checks)."""
from .backend import IonQBackend
from .transport import KEY_VARIABLES, IonQAuthError, IonQConnectError, IonQResponseError

__all__ = ["IonQBackend", "KEY_VARIABLES", "IonQAuthError", "IonQConnectError", "IonQResponseError"]
