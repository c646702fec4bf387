"""What the CLI commands run: the search, and the re-runs of a finished study's placements.

``service`` is the search use case (validate the input, start Ray, open the study, run the
driver); ``seed_policy`` decides which placements get another seed (fixed seeds or racing);
``seed_runs`` trains those extra seeds (racing, ``final_seeds``, ``reseed``); ``rerun_study``
opens a finished study and its worker pool for a re-run; ``reruns`` are the re-runs themselves
(``reseed`` and ``validate-proxy``).
"""
