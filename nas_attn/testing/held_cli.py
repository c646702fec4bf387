"""``python -m nas_attn.testing.held_cli --events DIR [--hold-from N] ARGS``: ``nas-attn ARGS``
(the real CLI) whose search workers are :class:`~nas_attn.testing.held_trials.HeldWorker`.

For tests that signal a real ``nas-attn search`` process mid-trial: a subprocess cannot be
handed an actor class, so this entry point passes it to
:func:`nas_attn.search.usecases.service.execute` (its ``actor`` parameter) for this process
only, then runs :func:`nas_attn.cli.main` with ``ARGS``. The test waits on and opens the
gate in ``DIR`` with :class:`~nas_attn.testing.held_trials.TrialGate`.
"""

from __future__ import annotations

import argparse
import faulthandler
import signal
import sys
from pathlib import Path
from unittest import mock

from nas_attn import cli
from nas_attn.search.driver import SearchObserver, SearchOutcome
from nas_attn.search.execution.pool import PoolConfig
from nas_attn.search.usecases import service
from nas_attn.testing.held_trials import HeldWorker, TrialGate


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m nas_attn.testing.held_cli")
    parser.add_argument("--events", type=Path, required=True, help="the gate's directory")
    parser.add_argument("--hold-from", type=int, default=0, help="trials from this start on wait")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the nas-attn command line")
    options = parser.parse_args(argv)
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # a test may ask where a hung run is
    gate = TrialGate(options.events)
    real_execute = service.execute

    def execute(
        prepared: service.PreparedSearch, plan: PoolConfig, observer: SearchObserver
    ) -> SearchOutcome:
        args = gate.actor_args(plan, options.hold_from)
        return real_execute(prepared, plan, observer, actor=HeldWorker, actor_args=args)

    sys.argv = ["nas-attn", *options.args]
    with mock.patch.object(service, "execute", execute):
        cli.main()


if __name__ == "__main__":
    main()
