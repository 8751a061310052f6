"""Benchmarks: accuracy and cost measured over the network lab; numbers, not pass/fail."""
