"""Load benchmarks of «Аттестация»: a region-times-ten database and the real server under HTTP load.

Run: .venv/bin/python -m bench.run --help; results are described in docs/performance.md.
"""
