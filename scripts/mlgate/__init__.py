"""mlgate: a GitOps model registry driven by pull requests.

The public API, imported lazily so that ``import mlgate.<module>`` (serving, in
particular) pays only for what it uses. The CLI (``mlgate.cli``) is a thin
layer over these names.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "MlgateError": "errors",
    "UsageError": "errors",
    "InputError": "errors",
    "GitError": "errors",
    "NotFoundError": "errors",
    "CheckFailed": "errors",
    "RULES": "check.rules",
    "Rule": "core.rules",
    "Finding": "core.findings",
    "Report": "core.findings",
    "Registry": "registry.snapshot",
    "ModelRef": "registry.snapshot",
    "Resolved": "registry.snapshot",
    "parse_uri": "registry.snapshot",
    "validate": "check.run",
    "validate_repo": "check.run",
    "register": "api",
    "promote": "api",
    "PullRequestInfo": "api",
    "GateFailed": "errors",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mlgate' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
