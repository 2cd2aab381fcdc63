"""jobs stage of the pipeline."""
