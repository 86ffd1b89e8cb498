"""Sleeps for about SECONDS seconds in short naps (a program waiting on something)."""
import sys
import time

seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
end = time.perf_counter() + seconds
while time.perf_counter() < end:
    time.sleep(0.05)
