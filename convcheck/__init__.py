"""convcheck: property-based verification and grading for the building blocks of CNNs."""

__version__ = "0.1.0"
