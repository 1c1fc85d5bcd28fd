"""The public surface: ``__all__`` is exact, and every name in it exists."""

from __future__ import annotations

import tuneport as tp

EXPECTED = {
    "AlreadyExistsError", "Categorical", "Client", "ClientClosedError", "CurveKeys", "Decision", "Distribution",
    "FailedPreconditionError", "Float", "FrozenTrial", "Int", "InternalError", "InvalidArgumentError",
    "Lease", "LeaseLostError", "MalformedMessageError", "MessageTooLargeError", "NotFoundError", "Plot",
    "Restore", "ScheduleSegment", "SearchSpaceExhaustedError", "Lineage", "Study", "StudySummary", "TimeoutError",
    "TrajectoryPoint", "Trial",
    "TrialPruned", "TuneportError", "UnauthenticatedError", "UnavailableError", "UnknownOpError",
    "UnsupportedVersionError", "__version__", "connect",
}  # fmt: skip


def test_all_is_exactly_the_documented_surface() -> None:
    assert set(tp.__all__) == EXPECTED
    assert len(tp.__all__) == len(set(tp.__all__))


def test_every_exported_name_exists_and_no_private_module_leaks() -> None:
    for name in tp.__all__:
        assert hasattr(tp, name), name
    ns: dict[str, object] = {}
    exec("from tuneport import *", ns)
    assert {k for k in ns if not k.startswith("__")} | {"__version__"} == EXPECTED


def test_timeout_error_is_ours_not_the_builtin() -> None:
    assert issubclass(tp.TimeoutError, tp.TuneportError)
    assert not issubclass(tp.TimeoutError, OSError)  # not the builtin TimeoutError


def test_trial_pruned_is_control_flow_not_an_error() -> None:
    assert not issubclass(tp.TrialPruned, tp.TuneportError)
    assert issubclass(tp.TrialPruned, Exception)
