"""The benchmark suite (not collected by pytest). Run: python -m tests.benchmarks --help"""
