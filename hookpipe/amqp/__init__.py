"""The broker layer: links, publishing with confirms, consuming and acks, the wire encoding of events,
topology names and declarations, dead letters."""
