"""Scheduling: appointments (the list the pre-visit work hangs off)."""
