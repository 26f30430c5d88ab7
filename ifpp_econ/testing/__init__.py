"""Seeded synthetic data for tests and benchmarks (never real children's records): SSDA903 returns simulated from
known rates (:mod:`.synthetic903`)."""
