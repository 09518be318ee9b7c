"""Benchmarks of the harness itself (issue 4): capacity, WireMock side by side, judge at scale."""
