"""`hookpipe admin`: the operator's HTTP API under /api/v1 and the delivery-log index it answers from."""
