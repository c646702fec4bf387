"""The one root exception of nas-attn.

Every user-facing problem (bad YAML, unknown module, impossible argument, unreachable storage)
is raised as :class:`NasAttnError`. It subclasses :class:`ValueError` so callers that already
catch ``ValueError`` keep working. The CLI prints its message as one line and exits non-zero.
"""

from __future__ import annotations


class NasAttnError(ValueError):
    """A problem the user can fix: the message names the problem and how to fix it."""


class TrialDivergedError(NasAttnError):
    """Proxy training produced a non-finite loss; the trial is failed and not retried."""


class Interrupted(NasAttnError):
    """The user stopped a command (Ctrl-C or SIGTERM): what finished is kept, and running the
    same command again resumes. The CLI exits 130 on it (a search, ``reseed`` and
    ``validate-proxy`` alike)."""
