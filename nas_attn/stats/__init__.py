"""Pure computation over trial results, no I/O and no Optuna.

- :mod:`nas_attn.stats.pareto`: dominance, non-dominated ranks, crowding distance, the front,
  the knee and the hypervolume.
- :mod:`nas_attn.stats.seeds`: per-placement statistics over training seeds (mean, Student-t
  95% interval, paired deltas against the plain backbone).
- :mod:`nas_attn.stats.ranks`: rank correlations (Kendall tau-b, Spearman rho).
"""
