"""The FastAPI mirror of the Django project: same URLs, tables and workload (DESIGN.md section 2)."""
