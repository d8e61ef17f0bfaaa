"""The FastAPI mirror of the Django project: same URLs, tables and workload (docs/design.md, Endpoints)."""
