"""Tests of the carrier fake (Kdniao)."""
