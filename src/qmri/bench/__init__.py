"""Benchmarks that print their numbers next to a reference measured in the same run (``qmri bench``), and
the scoring of the implementation study."""
