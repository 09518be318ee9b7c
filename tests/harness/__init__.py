"""Tests of the harness: world, demand, scenarios, runner, CLI, load tools."""
