"""The public surface: ``__all__`` is exact, and every name in it exists."""

from __future__ import annotations

import inspect
import re

import tuneport as tp
from conftest import REPO

EXPECTED = {
    "AlreadyExistsError", "Categorical", "Client", "ClientClosedError", "CurveKeys", "Decision", "Distribution", "EnqueuedTrial", "QueuePosition", "TrialBudget",
    "FailedPreconditionError", "Float", "FrozenTrial", "Int", "InternalError", "InvalidArgumentError",
    "Lease", "LeaseLostError", "MalformedMessageError", "MessageTooLargeError", "NotFoundError", "Plot",
    "Restore", "ScheduleSegment", "SearchSpaceExhaustedError", "Lineage", "ParetoFront", "Study", "StudyDirection",
    "StudyStopped", "StudySummary", "TimeoutError",
    "TrajectoryPoint", "Trial",
    "TrialPruned", "TrialState", "TuneportError", "UnauthenticatedError", "UnavailableError", "UnknownOpError",
    "UnsupportedVersionError", "__version__", "connect", "copy_study", "create_study", "create_trial", "delete_study", "get_all_study_names",
    "get_all_study_summaries", "load_study",
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


def test_the_readme_documents_every_keyword_of_connect_and_create_study() -> None:
    """The README's signatures are written by hand; they must not leave a keyword out (it once
    left out ``curve=``)."""
    readme = (REPO / "python-client" / "README.md").read_text()
    for fn, pattern in ((tp.connect, r"`tp\.connect\(endpoint, \*, ([^)]*)\)"), (tp.create_study, r"`tp\.create_study\(\*, ([^)]*)\)")):
        m = re.search(pattern, readme)
        assert m, f"no signature line for {fn.__name__}"
        documented = {part.split("=")[0].strip() for part in m.group(1).split(",")}
        expected = {n for n, p in inspect.signature(fn).parameters.items() if p.kind is p.KEYWORD_ONLY}
        assert documented == expected, fn.__name__
