"""The search space and what can be sampled from it (no Optuna storage, no Ray).

``space`` is the typed search-space YAML and ``sample_arch`` (a trial's ``ArchConfig``);
``placements`` enumerates a space (its size, every parameter set, the baseline placements);
``samplers`` is the seeded sampler registry (nsga2, tpe, random, exhaustive).
"""
