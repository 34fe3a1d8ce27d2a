"""The operator's side of hookpipe: the `hookpipe` command and every tool behind it.

It sits on top of the layout: the only package that imports the services (ingest, router, deliverer) as well as
the core (hookpipe). `control.cli` assembles the command line from `control.commands`, one module per command
group; the modules beside it do the work (reading dead letters, the status document, replay, pruning).
"""
