"""tracehouse command line: serve, dashboard, demo, up."""
