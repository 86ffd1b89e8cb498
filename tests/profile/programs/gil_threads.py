"""Three Python threads computing at once: all but one wait for the GIL at any moment."""
import sys
import threading
import time


def spin(end):
    total = 0
    while time.perf_counter() < end:
        for i in range(1000):
            total += i


seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
end = time.perf_counter() + seconds
threads = [threading.Thread(target=spin, args=(end,), name=f"spin-{i}") for i in range(3)]
for t in threads:
    t.start()
for t in threads:
    t.join()
