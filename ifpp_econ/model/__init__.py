"""The IFPP family-states model: what it needs besides values (:mod:`.spec`), scenarios (:mod:`.scenarios`), first
entry to care and the effect of IFPP (:mod:`.entry`), the 40 states and their monthly step (:mod:`.states`), the
compiled loop (:mod:`.kernels`, :mod:`._compiled`) and the costing of outcomes (:mod:`.family_states`:
``run_model``, ``monthly_cash``)."""
