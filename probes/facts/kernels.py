"""Which CPU kernels really run: a tiny call per library and dtype with the library's own verbose
output switched on, parsed (shared/reference/cpu-dispatch.md).

- oneDNN (torch's mkldnn): torch.backends.mkldnn.verbose around a bf16 and an fp16 matmul and an
  fp32 / bf16 convolution; the `info,cpu,isa:` line is oneDNN's ceiling on this CPU, the implementation
  field of each `exec` line (brg_matmul:avx512_core_amx, brgconv:avx512_core, ref:any …) what ran.
- oneMKL (torch's fp32 GEMM on x86): torch.backends.mkl.verbose around an fp32 matmul; the header names
  the code path MKL chose (AVX-512, AVX2, AMX … or "Intel(R) Architecture processors", its generic
  path), each call line the threads used.
- ATen's own vectorised kernels: torch.backends.cpu.get_cpu_capability().
OpenBLAS's kernel comes from threadpoolctl / the native_libs probe. Verbose output goes to fd 1,
so it is captured at the file-descriptor level. Runs only where torch is already imported or
importable; never fails the run (errors[] instead). Python 3.8 syntax, stdlib + torch.
"""
import os
import re
import sys
import tempfile

from . import _framework

SIZE = 256
ISA_IN_IMPL = re.compile(r":([a-z0-9_]+)$")


def collect(ctx):
    if not _framework.installed("torch"):
        return {"torch": None}
    imp = _framework.Imported("torch")
    if imp.module is None:
        return {"torch": None, "errors": ["kernels: torch import failed: %s" % imp.error]}
    torch = imp.module
    out, errors = {}, []
    onednn_text = []
    mkl_text = ""
    for name, call in _calls(torch):
        try:
            if name.startswith("mkl"):
                mkl_text += _captured(lambda: _with_mkl_verbose(torch, call))
            else:
                onednn_text.append((name, _captured(lambda: _with_onednn_verbose(torch, call))))
        except Exception as exc:
            errors.append("kernels: %s: %s" % (name, _framework.one_line(exc)))
    out["onednn"] = parse_onednn("".join(text for _, text in onednn_text), [n for n, _ in onednn_text])
    out["mkl"] = parse_mkl(mkl_text)
    try:
        out["aten_capability"] = torch.backends.cpu.get_cpu_capability()
    except Exception:
        out["aten_capability"] = None
    result = {"torch": out}
    if errors:
        result["errors"] = errors
    return result


def _calls(torch):
    a = torch.randn(SIZE, SIZE)
    b = torch.randn(SIZE, SIZE)
    x = torch.randn(1, 16, 32, 32).to(memory_format=torch.channels_last)
    w = torch.randn(16, 16, 3, 3).to(memory_format=torch.channels_last)

    def conv(dtype):
        return lambda: torch.nn.functional.conv2d(x.to(dtype), w.to(dtype), padding=1)
    return [
        ("mkl fp32 matmul", lambda: torch.mm(a, b)),
        ("bf16 matmul", lambda: torch.mm(a.bfloat16(), b.bfloat16())),
        ("fp16 matmul", lambda: torch.mm(a.half(), b.half())),
        ("fp32 conv", conv(torch.float32)),
        ("bf16 conv", conv(torch.bfloat16)),
    ]


def _with_onednn_verbose(torch, call):
    mkldnn = torch.backends.mkldnn
    with mkldnn.verbose(getattr(mkldnn, "VERBOSE_ON", 1)):
        call()


def _with_mkl_verbose(torch, call):
    mkl = torch.backends.mkl
    with mkl.verbose(getattr(mkl, "VERBOSE_ON", 1)):
        call()


def _captured(fn):
    """What fn writes to file descriptor 1 (C libraries print there), as text."""
    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), 1)
        try:
            fn()
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)
        tmp.seek(0)
        return tmp.read(1 << 20).decode("utf-8", "replace")


def parse_onednn(text, names=()):
    """{"version", "isa_ceiling", "runtime", "calls": [{"primitive", "impl", "isa", "dtype", "shape"}]}."""
    version = ceiling = runtime = None
    calls = []
    for line in text.splitlines():
        parts = line.strip().split(",")
        if not parts or parts[0] not in ("onednn_verbose", "dnnl_verbose"):
            continue
        fields = parts[2:] if len(parts) > 1 and re.match(r"v\d+$", parts[1]) else parts[1:]
        if len(fields) >= 2 and fields[0] == "info":
            rest = ",".join(fields[1:])
            if rest.startswith("oneDNN v") or rest.startswith("DNNL v"):
                version = rest.split()[1].lstrip("v")
            elif rest.startswith("cpu,isa:"):
                ceiling = rest[len("cpu,isa:"):]
            elif rest.startswith("cpu,runtime:"):
                runtime = rest[len("cpu,runtime:"):]
        elif len(fields) >= 6 and fields[0] == "primitive" and fields[1] == "exec" and fields[2] == "cpu":
            impl = fields[4]
            match = ISA_IN_IMPL.search(impl)
            isa = "ref" if impl.startswith("ref") else match.group(1) if match else None
            descs = fields[6] if len(fields) > 6 else ""
            src = re.search(r"src:([a-z0-9]+):", descs) or re.search(r"src_[a-z]+:([a-z0-9]+):", descs)
            calls.append({"primitive": fields[3], "impl": impl, "isa": isa,
                          "dtype": _dtype(src.group(1)) if src else None,
                          "shape": fields[-2] if len(fields) >= 9 else None})
    if version is None and ceiling is None and not calls:
        return None
    return {"version": version, "isa_ceiling": ceiling, "runtime": runtime, "calls": calls,
            "probed": list(names)}


def parse_mkl(text):
    """{"version", "code_path", "calls": [{"function", "threads", "cnr"}]} from MKL_VERBOSE lines."""
    version = path = None
    calls = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("MKL_VERBOSE"):
            continue
        body = line[len("MKL_VERBOSE"):].strip()
        header = re.match(r"(?:oneMKL|Intel\(R\) MKL|Intel\(R\) Math Kernel Library)\s+(.*?)\s+Product build \S+ for "
                          r"(.*?)(?:, Lnx|, Win|, Mac|$)", body)
        if header:
            version = header.group(1)
            path = _code_path(header.group(2))
            continue
        call = re.match(r"([A-Z_0-9]+)\(.*?\)\s+\S+\s+(.*)$", body)
        if call:
            threads = re.search(r"NThr:(\d+)", call.group(2))
            cnr = re.search(r"CNR:(\S+)", call.group(2))
            calls.append({"function": call.group(1), "threads": int(threads.group(1)) if threads else None,
                          "cnr": cnr.group(1) if cnr else None})
    if version is None and not calls:
        return None
    return {"version": version, "code_path": path, "calls": calls}


def _code_path(text):
    """MKL's description of its code path: after 'for Intel(R) 64 architecture'."""
    text = text.strip()
    for prefix in ("Intel(R) 64 architecture", "Intel(R) 64"):
        if text.startswith(prefix):
            return text[len(prefix):].strip() or text
    return text


def _dtype(code):
    return {"f32": "fp32", "bf16": "bf16", "f16": "fp16", "s8": "int8", "u8": "int8", "f64": "fp64"}.get(code, code)
