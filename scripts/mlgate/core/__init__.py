"""The pure core: names and paths, ``models:/`` URIs, the frozen model, policy, sign-off counting, findings,
timestamps. No I/O and no third-party import (an import-linter contract in pyproject.toml)."""
