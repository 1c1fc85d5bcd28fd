"""Install hints for the optional helpers. Each names packages that pip can install from PyPI
(the ``[torch]``/``[lightning]`` extras exist only where the client is installed from its
source or wheel, so they are named with a path, never as if tuneport were on PyPI)."""

from __future__ import annotations

TORCH_HINT = (
    "{module} needs PyTorch: pip install torch "
    "(or install the client with its extra: pip install './python-client[torch]')"
)
LIGHTNING_HINT = (
    "tuneport.lightning needs Lightning: pip install lightning (or: pip install pytorch-lightning; "
    "or install the client with its extra: pip install './python-client[lightning]')"
)
