"""Benchmarks, run by hand: python -m bench.<name>. Results are printed, not asserted."""
