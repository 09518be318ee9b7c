"""Helpers shared by several test modules; no tests here (pytest collects nothing from it)."""
