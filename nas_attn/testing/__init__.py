"""Test doubles for the search: worker pools without Ray and results without training.

- :mod:`nas_attn.testing.fakes`: ``FakePool`` (the ``TrialPool`` protocol in-process, with
  scripted outcomes: lost workers, divergence, delays) and ``Recorder`` (a ``SearchObserver``
  that keeps what the driver reports). The driver tests run the real driver, ledger and storage
  on them.
- :mod:`nas_attn.testing.simulated`: ``SimulatedWorker``, a Ray actor with the pool worker's
  interface whose trials sleep and succeed (``benches/bench_orchestration.py`` measures the
  driver with it), and the placement-dependent results both use.

Nothing in the service imports this package.
"""
