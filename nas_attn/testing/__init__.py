"""Test doubles and development tools shared by the tests and the benchmarks (not public API).

- :mod:`nas_attn.testing.fakes`: ``FakePool`` (the ``TrialPool`` protocol in-process, with
  scripted outcomes: lost workers, divergence, delays) and ``Recorder`` (a ``SearchObserver``
  that keeps what the driver reports). The driver tests run the real driver, ledger and storage
  on them.
- :mod:`nas_attn.testing.simulated`: ``SimulatedWorker``, a Ray actor with the pool worker's
  interface whose trials sleep and succeed (``benches/bench_orchestration.py`` measures the
  driver with it), and the placement-dependent results both use.
- :mod:`nas_attn.testing.held_trials`: ``HeldWorker``, the real pool worker that says when a
  trial starts and can hold it until the test opens a gate (``TrialGate``), so fault and
  signal tests act mid-trial by waiting on events, not on guessed sleeps.
- :mod:`nas_attn.testing.held_cli`: ``python -m nas_attn.testing.held_cli --events DIR ...``,
  the real ``nas-attn`` CLI with ``HeldWorker`` workers (for tests that signal a CLI process).
- :mod:`nas_attn.testing.postgres_server`: a throwaway PostgreSQL server (``PostgresServer``).
- :mod:`nas_attn.testing.browser`: headless Chromium over the DevTools protocol.
- :mod:`nas_attn.testing.ports`: a free loopback port.

Nothing in the service imports this package.
"""
