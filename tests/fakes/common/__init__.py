"""Tests of what several fakes share: pipeline, wire values, control surface, tenancy."""
