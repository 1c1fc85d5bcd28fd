"""tuneport: the Python client of the tuneport hyperparameter-optimization server.

    import tuneport as tp
    client = tp.connect("tcp://127.0.0.1:5555")
    study = client.create_study("mlp", space={"lr": tp.Float(1e-5, 1e-1, log=True)}, load_if_exists=True)
    for trial in study.ask_many(20):
        with trial:
            ...
            trial.report(loss, epoch)     # Optuna's order
            trial.complete(loss)

or Optuna's style, ``study = tp.create_study(study_name="mlp", storage="tcp://127.0.0.1:5555")``
and ``study.optimize(objective, n_trials=20)``.

See README.md for the whole API, errors, retries and leases.
"""

from typing import TYPE_CHECKING

from ._client import (
    Client,
    __version__,
    connect,
    copy_study,
    create_study,
    delete_study,
    get_all_study_names,
    get_all_study_summaries,
    load_study,
)
from ._enums import StudyDirection, TrialState
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
    StudyStopped,
    TimeoutError,
    TrialPruned,
    TuneportError,
    UnauthenticatedError,
    UnavailableError,
    UnknownOpError,
    UnsupportedVersionError,
)
from ._logging import configure_default_logging
from ._plot import Plot
from ._enqueued import EnqueuedTrial, QueuePosition, TrialBudget
from ._study import Lineage, ParetoFront, ScheduleSegment, Study, StudySummary, create_trial
from ._trial import Decision, FrozenTrial, Lease, Restore, TrajectoryPoint, Trial

__all__ = [
    "AlreadyExistsError",
    "Categorical",
    "Client",
    "ClientClosedError",
    "CurveKeys",
    "Decision",
    "Distribution",
    "EnqueuedTrial",
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
    "StudyStopped",
    "ParetoFront",
    "QueuePosition",
    "StudyDirection",
    "StudySummary",
    "TimeoutError",
    "TrajectoryPoint",
    "Trial",
    "TrialBudget",
    "TrialPruned",
    "TrialState",
    "TuneportError",
    "UnauthenticatedError",
    "UnavailableError",
    "UnknownOpError",
    "UnsupportedVersionError",
    "__version__",
    "connect",
    "copy_study",
    "create_study",
    "create_trial",
    "delete_study",
    "get_all_study_names",
    "get_all_study_summaries",
    "load_study",
]

configure_default_logging()

# Optuna's submodules, for scripts moved with ``import tuneport as optuna``
# (``optuna.logging.set_verbosity``, ``optuna.trial.TrialState``, ``optuna.exceptions.TrialPruned``,
# ``optuna.distributions.FloatDistribution``, ``optuna.samplers.TPESampler(seed=1)``,
# ``optuna.pruners.MedianPruner()``, ``optuna.importance.get_param_importances(study)``).
from . import distributions, exceptions, importance, logging, pruners, samplers, study, trial  # noqa: E402

_OPTUNA_ONLY = {
    "visualization": "the server draws the plots: study.plot('pareto_front'), 'history', 'parallel', 'slice', "
    "'contour', 'importances', 'edf', 'intermediate', 'hypervolume_history' (a PNG; .save(path))",
    "storages": "a study lives on a tuneport server: pass storage='tcp://host:port' (or a Client) to create_study; "
    "heartbeats are built in (RDBStorage's heartbeat_interval and RetryFailedTrialCallback(max_retry=n): "
    "create_study(lease_ttl_s=..., max_retries=n); a retried trial's system_attrs['retry_of'] is the failed one's number)",
    "integration": "tuneport.lightning.PyTorchLightningPruningCallback is the Lightning one",
}


if not TYPE_CHECKING:  # type checkers keep flagging unknown names of the module

    def __getattr__(name: str) -> object:
        """Optuna's modules that tuneport has no counterpart of (``optuna.visualization``, ``optuna.storages``
        in a script moved with ``import tuneport as optuna``): an AttributeError that says what to use."""
        hint = _OPTUNA_ONLY.get(name)
        if hint is None:
            raise AttributeError(f"module 'tuneport' has no attribute {name!r}")
        raise AttributeError(f"module 'tuneport' has no attribute {name!r} (Optuna's optuna.{name}): {hint}")
