"""Analyses on the model: the deterministic base case, PSA draws (:mod:`.sampling`) and the PSA, DSA, value of
information, budget impact, operational validation, and the comparison arithmetic they share
(:mod:`.comparison`: incremental results, dominance, frontier, CEAC and EVPI sums). Each returns a result object
with ``summary()``, ``incremental()`` and ``to_json()``; none writes files."""
