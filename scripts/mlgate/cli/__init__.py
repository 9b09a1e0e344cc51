"""The ``mlgate`` command line: thin click commands over the library.

Each command parses its options, calls one library function, renders the result and returns an exit code.
Errors become messages and exit codes in exactly one place, :func:`mlgate.cli.app.main`. The command modules
register themselves on the group when imported here.
"""

from __future__ import annotations

from mlgate.cli import catalog, doctor, forge_cmds, imports, new, notify, pr, read, rollout  # noqa: F401 - importing registers the commands
from mlgate.cli.app import cli, main

__all__ = ["cli", "main"]
