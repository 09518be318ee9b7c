"""Tests of the five fake systems, one folder per system, and what they share."""
