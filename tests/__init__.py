"""The test suite. tests.support holds what the fixtures, the benchmark (bench/) and the
reliability run (reliability/) share."""
