"""tuneport: the Python client of the tuneport hyperparameter-optimization server.

    import tuneport as tp
    client = tp.connect("tcp://127.0.0.1:5555")
    study = client.create_study("mlp", space={"lr": tp.Float(1e-5, 1e-1, log=True)}, load_if_exists=True)
    for trial in study.ask_many(20):
        with trial:
            ...
            trial.complete(loss)

See README.md for the whole API, errors, retries and leases.
"""

from ._client import Client, __version__, connect
from ._distributions import Categorical, Distribution, Float, Int
from ._protocol import CurveKeys
from ._errors import (
    AlreadyExistsError,
    ClientClosedError,
    FailedPreconditionError,
    InternalError,
    InvalidArgumentError,
    LeaseLostError,
    MalformedMessageError,
    MessageTooLargeError,
    NotFoundError,
    SearchSpaceExhaustedError,
    TimeoutError,
    TrialPruned,
    TuneportError,
    UnauthenticatedError,
    UnavailableError,
    UnknownOpError,
    UnsupportedVersionError,
)
from ._plot import Plot
from ._study import Lineage, ScheduleSegment, Study, StudySummary
from ._trial import Decision, FrozenTrial, Lease, Restore, TrajectoryPoint, Trial

__all__ = [
    "AlreadyExistsError",
    "Categorical",
    "Client",
    "ClientClosedError",
    "CurveKeys",
    "Decision",
    "Distribution",
    "FailedPreconditionError",
    "Float",
    "FrozenTrial",
    "Int",
    "InternalError",
    "InvalidArgumentError",
    "Lease",
    "LeaseLostError",
    "Lineage",
    "MalformedMessageError",
    "MessageTooLargeError",
    "NotFoundError",
    "Plot",
    "Restore",
    "ScheduleSegment",
    "SearchSpaceExhaustedError",
    "Study",
    "StudySummary",
    "TimeoutError",
    "TrajectoryPoint",
    "Trial",
    "TrialPruned",
    "TuneportError",
    "UnauthenticatedError",
    "UnavailableError",
    "UnknownOpError",
    "UnsupportedVersionError",
    "__version__",
    "connect",
]
