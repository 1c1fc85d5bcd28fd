"""Optuna scripts moved over unchanged, seventh audit (Optuna's tutorials run both ways: the RDB,
callback and "specify hyperparameters" recipes' logging, "re-use the best trial", the
configurations page's ``suggest_int``, the attributes recipe): each case is a divergence found by
running the same script with ``import optuna`` (Optuna 5.0) and with ``import tuneport as optuna``."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any, Callable

import optuna
import pytest
from optuna.storages.journal import JournalFileBackend

import tuneport as tp
from conftest import ServerProcess

optuna.logging.set_verbosity(optuna.logging.WARNING)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_get_logger_optuna_is_the_librarys_logger(server: ServerProcess, name: str) -> None:
    # The RDB, callback and specify-params recipes print the trial lines on stdout with
    # optuna.logging.get_logger("optuna").addHandler(logging.StreamHandler(sys.stdout)); under
    # import tuneport as optuna that handler sat on a logger nobody writes to and printed nothing.
    seen: dict[str, list[str]] = {}
    for lib, kwargs in ((optuna, {}), (tp, {"storage": server.endpoint, "study_name": name})):
        handler = _Records()
        logger = lib.logging.get_logger("optuna")
        logger.addHandler(handler)
        verbosity = lib.logging.get_verbosity()
        lib.logging.set_verbosity(lib.logging.INFO)
        try:
            lib.create_study(**kwargs).optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
        finally:
            logger.removeHandler(handler)
            lib.logging.set_verbosity(verbosity)
        seen[lib.__name__] = handler.messages
    for messages in seen.values():
        assert any(m.startswith("Trial 0 finished with value: ") for m in messages), messages
    assert tp.logging.get_logger("optuna.study") is logging.getLogger("tuneport.study")
    assert tp.logging.get_logger("optunaX") is logging.getLogger("optunaX")  # only that name and its children
