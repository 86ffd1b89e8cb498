"""stackprof dist tests."""
