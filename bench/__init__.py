"""asgi-wsgi-lab bench: the driver (runs servers and tools, records) and the analysis
(reads results files, draws charts, writes reports). The analysis never imports the
driver, so a report can be rebuilt anywhere from a run folder alone."""
