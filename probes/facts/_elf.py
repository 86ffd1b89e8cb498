"""The dynamic section of an ELF shared object, read from the file (never loaded): the libraries it
asks the loader for (DT_NEEDED), its own name (DT_SONAME) and where it tells the loader to look
(DT_RPATH, DT_RUNPATH). Only the headers and the few strings needed are read, so a 500 MB
libtorch_cpu.so costs a handful of small reads. Never raises: None when the file is not ELF or is
damaged."""
import struct

PT_LOAD, PT_DYNAMIC = 1, 2
DT_NULL, DT_NEEDED, DT_STRTAB, DT_SONAME, DT_RPATH, DT_RUNPATH = 0, 1, 5, 14, 15, 29
MACHINES = {3: "x86", 62: "x86_64", 40: "arm", 183: "aarch64", 21: "ppc64", 22: "s390", 243: "riscv"}
_MAX_DYNAMIC = 1 << 20         # a dynamic section is a few KB; anything larger is not a real one


def read(path):
    """{'needed': [...], 'soname', 'rpath', 'runpath', 'machine', 'bits'} or None."""
    try:
        with open(path, "rb") as handle:
            return _read(handle)
    except (OSError, ValueError, struct.error):
        return None


def _read(f):
    ident = f.read(64)
    if len(ident) < 52 or ident[:4] != b"\x7fELF":
        return None
    bits = {1: 32, 2: 64}.get(ident[4])
    order = {1: "<", 2: ">"}.get(ident[5])
    if bits is None or order is None:
        return None
    if bits == 64:
        machine, = struct.unpack_from(order + "H", ident, 18)
        phoff, = struct.unpack_from(order + "Q", ident, 32)
        phentsize, phnum = struct.unpack_from(order + "HH", ident, 54)
        phdr, dyn = order + "IIQQQQQQ", order + "qQ"
    else:
        machine, = struct.unpack_from(order + "H", ident, 18)
        phoff, = struct.unpack_from(order + "I", ident, 28)
        phentsize, phnum = struct.unpack_from(order + "HH", ident, 42)
        phdr, dyn = order + "IIIIIIII", order + "iI"
    if not phnum or phentsize < struct.calcsize(phdr) or phnum > 4096:
        return None
    f.seek(phoff)
    table = f.read(phentsize * phnum)
    loads, dynamic = [], None
    for i in range(phnum):
        fields = struct.unpack_from(phdr, table, i * phentsize)
        if bits == 64:
            p_type, _, p_offset, p_vaddr, _, p_filesz = fields[:6]
        else:
            p_type, p_offset, p_vaddr, _, p_filesz = fields[:5]
        if p_type == PT_LOAD:
            loads.append((p_vaddr, p_offset, p_filesz))
        elif p_type == PT_DYNAMIC:
            dynamic = (p_offset, p_filesz)
    out = {"needed": [], "soname": None, "rpath": None, "runpath": None,
           "machine": MACHINES.get(machine, str(machine)), "bits": bits}
    if dynamic is None:
        return out                          # a static executable: asks for nothing
    offset, size = dynamic
    if size > _MAX_DYNAMIC:
        return None
    f.seek(offset)
    data = f.read(size)
    entry = struct.calcsize(dyn)
    strtab, wanted = None, []
    for i in range(len(data) // entry):
        tag, value = struct.unpack_from(dyn, data, i * entry)
        if tag == DT_NULL:
            break
        if tag == DT_STRTAB:
            strtab = value
        elif tag in (DT_NEEDED, DT_SONAME, DT_RPATH, DT_RUNPATH):
            wanted.append((tag, value))
    base = _file_offset(strtab, loads) if strtab is not None else None
    if base is None:
        return out
    for tag, value in wanted:
        text = _string(f, base + value)
        if tag == DT_NEEDED:
            out["needed"].append(text)
        else:
            out[{DT_SONAME: "soname", DT_RPATH: "rpath", DT_RUNPATH: "runpath"}[tag]] = text
    return out


def _file_offset(vaddr, loads):
    """DT_STRTAB holds a virtual address; the PT_LOAD segment containing it maps it to the file."""
    for p_vaddr, p_offset, p_filesz in loads:
        if p_vaddr <= vaddr < p_vaddr + p_filesz:
            return vaddr - p_vaddr + p_offset
    return None


def _string(f, offset, limit=4096):
    f.seek(offset)
    chunk = f.read(256)
    while b"\0" not in chunk and len(chunk) < limit:
        more = f.read(256)
        if not more:
            break
        chunk += more
    return chunk.split(b"\0", 1)[0].decode("utf-8", "replace")
