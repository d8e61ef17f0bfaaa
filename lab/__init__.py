"""Lab tooling shared by the scripts and the bench driver: settings, database, limits, serving."""
