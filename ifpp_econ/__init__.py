"""ifpp-econ: cost-effectiveness of Intensive Family Preservation Programmes."""

__version__ = "0.1.0"
