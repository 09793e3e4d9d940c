"""Chart scrub and the daily huddle sheet (pre-visit). Built by the huddle issue."""
