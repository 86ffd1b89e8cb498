"""GPU facts through NVML (nvidia-ml-py's ``pynvml`` module), in the host process.

Placeholder until the probe work lands: reports availability only.
"""
from __future__ import annotations


def collect_gpus() -> tuple[dict, list[str]]:
    try:
        import pynvml
    except ImportError:
        return {"available": False, "reason": "nvidia-ml-py is not installed"}, []
    try:
        pynvml.nvmlInit()
    except Exception as exc:  # NVMLError_LibraryNotFound, DriverNotLoaded, …
        return {"available": False, "reason": f"no NVIDIA driver: {exc}"}, []
    try:
        count = pynvml.nvmlDeviceGetCount()
        return {"available": True, "count": count, "devices": []}, []
    finally:
        pynvml.nvmlShutdown()
