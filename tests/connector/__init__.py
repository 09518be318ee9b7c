"""Tests of the reference and faulty connectors."""
