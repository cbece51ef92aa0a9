"""`fluxo bench`: throughput, latency and resource figures of a running Fluxo (docs/benchmarks.md)."""
