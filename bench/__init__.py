"""Benchmarks on a scaled synthetic clinic in its own database: `make bench` (see bench.__main__)."""
