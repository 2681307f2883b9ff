"""End-to-end tests through a real Apache; `e2e.harness` is importable by the conformance tests and benchmarks."""
