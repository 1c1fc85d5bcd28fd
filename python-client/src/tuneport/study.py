"""``tuneport.study``: the names of Optuna's ``optuna.study`` module, for scripts moved with
``import tuneport as optuna`` (``optuna.study.StudyDirection``)."""

from ._enums import StudyDirection
from ._study import Study, StudySummary

__all__ = ["Study", "StudyDirection", "StudySummary"]
