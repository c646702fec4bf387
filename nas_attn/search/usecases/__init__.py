"""What the CLI commands run: the search, and the re-runs of a finished study's placements.

``service`` is the search use case (validate the input, start Ray, open the study, run the
driver); ``reseed`` trains the front of a finished study at more seeds; ``validate_proxy``
retrains a sample at a longer budget and rank-correlates it with the proxy. Private to this
package: ``_finished_study`` opens a finished study, its stored space and its worker pool for
those two. Nothing else in ``nas_attn.search`` imports this package.
"""
