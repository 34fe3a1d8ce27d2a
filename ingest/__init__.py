"""ingest: the public HTTP edge. Verifies webhooks and answers 2xx only once RabbitMQ confirmed the event."""
