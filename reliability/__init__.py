"""The reliability run (reliability/run, `python -m reliability.soak`)."""
