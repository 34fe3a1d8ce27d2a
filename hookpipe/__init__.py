"""hookpipe: a self-hosted webhook event pipeline (ingest -> RabbitMQ -> router -> deliverer)."""

__version__ = "0.1.0"
