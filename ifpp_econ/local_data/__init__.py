"""A local authority's own data: SSDA903 returns read and cleaned into periods of care (:mod:`.ssda903`) and the
care dynamics estimated from them (:mod:`.care_dynamics`). Files are only read; errors name file, row and column."""
