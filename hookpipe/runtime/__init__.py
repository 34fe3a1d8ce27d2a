"""How a hookpipe service runs: the process skeleton, config reload, the ops listener, metrics, logs and the
container healthcheck."""
