"""Optuna's ``optuna.logging`` functions for the ``"tuneport"`` logger, so that a script moved with
``import tuneport as optuna`` keeps ``optuna.logging.set_verbosity(optuna.logging.WARNING)``.

The levels are the standard library's (``tuneport.logging.WARNING == logging.WARNING``).
"""

from __future__ import annotations

import logging as _std

from ._logging import _FallbackHandler

CRITICAL = _std.CRITICAL
FATAL = _std.FATAL
ERROR = _std.ERROR
WARNING = _std.WARNING
WARN = _std.WARN
INFO = _std.INFO
DEBUG = _std.DEBUG

_LOGGER = "tuneport"


def get_logger(name: str = _LOGGER) -> _std.Logger:
    """The logger named ``name``; ``"optuna"`` (or ``"optuna.<child>"``) is the ``"tuneport"``
    logger (or its child), so that a script moved with ``import tuneport as optuna`` and Optuna's
    ``optuna.logging.get_logger("optuna").addHandler(...)`` (its tutorials' way to print the
    trial lines on stdout) gets this library's records, as it got Optuna's."""
    if name == "optuna" or name.startswith("optuna."):
        name = _LOGGER + name[len("optuna") :]
    return _std.getLogger(name)


def set_verbosity(verbosity: int) -> None:
    """Sets the ``"tuneport"`` logger's level (Optuna's ``set_verbosity``)."""
    _std.getLogger(_LOGGER).setLevel(verbosity)


def get_verbosity() -> int:
    """The ``"tuneport"`` logger's effective level."""
    return _std.getLogger(_LOGGER).getEffectiveLevel()


def disable_default_handler() -> None:
    """Stops the fallback handler that writes to stderr (Optuna's name)."""
    for h in _std.getLogger(_LOGGER).handlers:
        if isinstance(h, _FallbackHandler):
            h.setLevel(_std.CRITICAL + 1)


def enable_default_handler() -> None:
    """Lets the fallback handler write again."""
    for h in _std.getLogger(_LOGGER).handlers:
        if isinstance(h, _FallbackHandler):
            h.setLevel(_std.NOTSET)


def disable_propagation() -> None:
    """Stops records reaching the root logger's handlers; the default handler (unless disabled)
    then writes them to stderr, as Optuna's does."""
    _std.getLogger(_LOGGER).propagate = False


def enable_propagation() -> None:
    """Lets records reach the root logger's handlers (the default)."""
    _std.getLogger(_LOGGER).propagate = True


__all__ = [
    "CRITICAL", "DEBUG", "ERROR", "FATAL", "INFO", "WARN", "WARNING", "disable_default_handler", "disable_propagation",
    "enable_default_handler", "enable_propagation", "get_logger", "get_verbosity", "set_verbosity",
]  # fmt: skip
