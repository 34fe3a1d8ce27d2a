"""The `hookpipe` sub-commands, one module per group; each adds its commands with `add_parser(commands)`."""
