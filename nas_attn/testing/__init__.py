"""Test doubles for the search: worker pools without Ray, results without training, held trials.

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

Nothing in the service imports this package.
"""
