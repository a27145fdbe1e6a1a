"""``grondslag bench``: the service, the projector and the audit log measured against raw
baselines in the same run. Run from a checkout; the benchmarks are not in the wheel."""
