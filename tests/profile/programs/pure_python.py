"""Pure-Python loops for about SECONDS seconds: no native library does the work."""
import sys
import time


def work(n):
    total = 0
    for i in range(n):
        total += (i * i) % 7
    return total


seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
end = time.perf_counter() + seconds
while time.perf_counter() < end:
    work(20000)
