"""Judging a connector: invariants over the run databases, latencies, counts and reports."""
