"""Scripts that print figures (not part of the test run): python -m benchmarks.NAME."""
