"""Tests for the billing app."""
