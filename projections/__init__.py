"""Projections: pure folds of the events into query tables, kept live and rebuilt."""
