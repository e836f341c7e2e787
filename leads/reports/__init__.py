"""Reports for admins: aggregate queries the database runs, a few per report whatever the data size.

Each module builds one report from ``ReportFilters`` (``filters.py``): its figures, the tables
shown under its charts (``tables.py``, the same rows as its CSV export, ``csv.py``) and its
charts (``charts.py``, server-side SVG).
"""
