"""Benchmarks: `python -m bench NAME`. Each starts what it needs, prints its figures, and its
last line is one JSON object with them."""
