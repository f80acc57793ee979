"""Helpers the test suites share: plain modules, imported where needed."""
