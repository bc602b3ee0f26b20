"""Tactica: marketing execution — segments, offers, contact policies, campaigns, responses."""

__version__ = "0.1.0"
