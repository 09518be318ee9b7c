"""Tests of the bank fake (ISO 20022)."""
