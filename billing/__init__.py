"""Revenue cycle: charges, claims, remittance, denials. Built by the billing issue."""
