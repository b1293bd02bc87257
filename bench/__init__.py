"""Benchmarks: each script measures the suite side by side with its baselines in one run."""
