"""Benchmarks behind `couponry bench` (suite.run_all); every figure beside its raw baseline."""
