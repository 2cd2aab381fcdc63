"""Deterministic pipelines for the monthly-job tests (selected with ``--processor``)."""
