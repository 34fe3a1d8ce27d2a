"""The delivery-log index of `hookpipe admin`: every event with its routing decision, deliveries and attempts,
searchable in milliseconds over millions of events.

The Indexer reads the archive stream (`{prefix}.archive`, the events) and the delivery log (`{prefix}.attempts`,
what the router and the deliverer did with them) into a SQLite file (the default, one per admin process) or a
PostgreSQL database that several admin replicas share (one of them indexes at a time). The index only ever
holds what the streams hold: it can be rebuilt from them at any time. Delete the SQLite file (with hookpipe admin
stopped), or call `Index.reset()`, and the Indexer reads both streams from their start again.
"""

from control.admin.index.index import Index, open_index
from control.admin.index.indexer import Indexer
from control.admin.index.query import BadCursor, DeliveryStatus, EventQuery, EventStatus, Page
from control.admin.index.streams import read_archived

__all__ = ["BadCursor", "DeliveryStatus", "EventQuery", "EventStatus", "Index", "Indexer", "Page", "open_index",
           "read_archived"]
