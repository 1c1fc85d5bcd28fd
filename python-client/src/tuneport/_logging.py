"""The ``"tuneport"`` logger's defaults, chosen to behave like Optuna's out of the box.

The logger is set to INFO, so ``optimize`` prints its per-trial lines ("Trial 3 finished with
value ...") without any set-up. They reach stderr through a fallback handler that speaks only
while the application has configured no logging of its own (the root logger has no handlers):
once it has, records propagate to the application's handlers and nothing is printed twice.
With propagation turned off (``tuneport.logging.disable_propagation()``) the fallback handler
prints them again, as Optuna's own handler does.
Quieter: ``logging.getLogger("tuneport").setLevel(logging.WARNING)``.
"""

from __future__ import annotations

import logging
import sys


class _FallbackHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to stderr only while the record would reach no handler of the root logger: the root
    has none, or the ``"tuneport"`` logger does not propagate (``disable_propagation()``, after
    which the application's handlers never see the record and nothing else would print it)."""

    def emit(self, record: logging.LogRecord) -> None:
        if logging.getLogger("tuneport").propagate and logging.getLogger().handlers:
            return
        self.stream = sys.stderr  # the current one (tests and notebooks replace it)
        super().emit(record)


def configure_default_logging() -> None:
    """Installs the defaults once; leaves a level or handlers the application already set alone."""
    logger = logging.getLogger("tuneport")
    if any(isinstance(h, _FallbackHandler) for h in logger.handlers):
        return
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    handler = _FallbackHandler()
    handler.setFormatter(logging.Formatter("[tuneport %(levelname)s %(asctime)s] %(message)s"))
    logger.addHandler(handler)
