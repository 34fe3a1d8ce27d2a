"""deliverer: consumes each destination's queue and POSTs the event to its endpoint, signed."""
