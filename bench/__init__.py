"""The benchmark (bench/run, `python -m bench.bench`) and the floor it measures the service against."""
