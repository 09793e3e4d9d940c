"""End-to-end browser tests: headless Chromium against a live server."""
