"""Protocol-based refill management (ongoing). Built by the refills issue on the core's patterns."""
