"""rebalance stage of the pipeline."""
