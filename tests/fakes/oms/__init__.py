"""Tests of the OMS fake (旺店通-style)."""
