"""The generic cohort state-transition (Markov) engine: it knows nothing about family preservation.

``simulate`` moves a cohort through ``S`` states over ``T`` cycles and totals rewards under explicit
``Conventions`` (counting, discounting, timing of one-off values); every array may carry leading batch axes
(PSA iterations, strategies). :mod:`.cohort` holds the engine, :mod:`.threads` the kernel choice and thread
settings every compiled loop of the package follows, :mod:`.compiling` numba's set-up, :mod:`._dense` the
compiled dense loop, :mod:`.allocator` the allocator setting for long chunked runs.
"""
from ..exceptions import TransitionError
from .allocator import keep_freed_memory
from .cohort import (
    CohortResult,
    Conventions,
    DenseTransitions,
    Edges,
    Reward,
    SparseTransitions,
    TransitionModel,
    check_transitions,
    cycle_weights,
    discount_factors,
    simulate,
)

__all__ = ["CohortResult", "Conventions", "DenseTransitions", "Edges", "Reward", "SparseTransitions", "TransitionError",
           "TransitionModel", "check_transitions", "cycle_weights", "discount_factors", "keep_freed_memory", "simulate"]
