"""Tests of the judge (contract_tests/): invariants, reports, run validity."""
