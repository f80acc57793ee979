"""Test doubles of the systems invtrack talks to."""
