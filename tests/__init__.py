"""mlgate's test suite: one folder per layer of the package (core, infra, registry, forge, serving, check,
audit, render, change, cli, testing), the cross-cutting attacks in adversarial/, golden cases in cases/.

Fixtures shared by every layer are in conftest.py; fakes a user of the library would also want (repository
builders, static reviews, the GitHub stand-in) are in :mod:`mlgate.testing`, not here.
"""

from pathlib import Path

#: the repository's root: README.md, .github/, schemas/ and registry/ as committed
ROOT = Path(__file__).resolve().parent.parent
