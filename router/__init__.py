"""router: consumes ingested events, matches routes, and publishes one delivery per (event, destination)."""
