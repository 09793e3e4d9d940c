"""parse_835 and other billing commands."""
