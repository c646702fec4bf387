"""Extra training seeds for a study's placements, shared by the driver (racing during the search)
and the use cases (``final_seeds``, ``reseed``).

``policy`` decides which ``(trial, seed)`` trainings are wanted (fixed seeds or racing; pure, no
Optuna, no Ray); ``runner`` trains them on the worker pool and stores each result in the study.
"""
