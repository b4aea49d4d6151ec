"""A local stand-in for East Money's and Tencent's quote hosts (tests, the demo, benchmarks)."""
