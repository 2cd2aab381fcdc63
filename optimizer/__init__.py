"""capalloc: scenario-driven portfolio allocation (import package ``optimizer``)."""

__version__ = "0.1.0"
