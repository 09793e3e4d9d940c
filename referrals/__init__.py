"""Closed-loop referrals (post-visit). Built by the referrals issue on the core's patterns."""
