"""The scenario engine: scenario files, propagation through a factor model, mixtures.

``optimizer.scenarios`` re-exports the public names.
"""
