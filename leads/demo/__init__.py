"""Demo data for ``python manage.py seed_demo``: two fictional employers and their leads.

``data`` holds the fixed lists, ``setup`` the small per-employer rows (users, openings,
templates, ...), ``generate`` the deterministic lead histories, ``followups`` the emails of the
sequence and what the leads did after them, and ``writer`` the bulk insert.
"""
