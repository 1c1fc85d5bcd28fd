"""``tuneport.study``: the names of Optuna's ``optuna.study`` module, for scripts moved with
``import tuneport as optuna`` (``optuna.study.StudyDirection``, ``optuna.study.MaxTrialsCallback``,
``optuna.study.create_study``)."""

from ._callbacks import MaxTrialsCallback
from ._client import copy_study, create_study, delete_study, get_all_study_names, get_all_study_summaries, load_study
from ._enums import StudyDirection
from ._study import Study, StudySummary

__all__ = [
    "MaxTrialsCallback", "Study", "StudyDirection", "StudySummary", "copy_study", "create_study", "delete_study",
    "get_all_study_names", "get_all_study_summaries", "load_study",
]  # fmt: skip
