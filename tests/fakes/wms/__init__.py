"""Tests of the WMS fake (Qimen)."""
