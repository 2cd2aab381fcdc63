"""optimize stage of the pipeline."""
