"""Workload profiles: where a real program's time goes, tied back to the stack.

py-spy samples the program (record.py); its collapsed stacks are parsed (collapsed.py) and every
sample is attributed to one category of the one table (categories.py, attribute.py); threads that
py-spy cannot see (OpenMP/BLAS pools) are measured from /proc (threads.py); summarize.py builds the
Run's ``profile`` section (docs/schema-profile.md); compare.py compares two profiled runs.
Measurement (record, threads) and presentation (stackprof/render/parts/profile.py) never mix.
"""
