"""Works for about a second, then exits with status 3."""
import sys
import time

end = time.perf_counter() + (float(sys.argv[1]) if len(sys.argv) > 1 else 1.0)
total = 0
while time.perf_counter() < end:
    total += sum(range(1000))
sys.exit(3)
