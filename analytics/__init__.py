"""tracehouse analytics: failure-mode clustering and drift jobs (load -> compute -> save)."""
