"""Test helpers: a recording receiver, config builders, a TCP proxy, service processes, broker clean-up."""
