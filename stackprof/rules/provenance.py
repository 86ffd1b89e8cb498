"""Build provenance as rule evidence: which build of a framework this is (stackprof.provenance's words),
what BLAS its generic libblas.so.3 resolves to, which build brings each OpenMP runtime, and where the
native stack mixes pip and conda. Shared by A1, A9, C9, C1, D3, E1 and P1; never raises on a Run
that has no provenance (older documents): the helpers return None or [] and the rules keep their
other evidence."""
from __future__ import annotations

from stackprof import provenance as words
from stackprof.rules.facts import Facts
from stackprof.rules.findings import fact

REFERENCE = "reference"


def env(facts: Facts) -> dict:
    return facts.run.environment if isinstance(facts.run.environment, dict) else {}


def dist(facts: Facts, name: str) -> dict | None:
    return words.distributions(env(facts)).get(name)


def kind(facts: Facts, name: str) -> str | None:
    found = dist(facts, name)
    return words.kind(found) if found else None


def phrase(facts: Facts, name: str) -> str | None:
    found = dist(facts, name)
    return words.phrase(found) if found and words.kind(found) else None


def phrase_fact(facts: Facts, name: str) -> list[dict]:
    text = phrase(facts, name)
    return [fact(f"packages.distributions[{name}].provenance", text)] if text else []


def build(facts: Facts, name: str) -> dict:
    return words.builds(env(facts)).get(name) or {}


def blas_resolution(facts: Facts, name: str = "numpy") -> dict | None:
    """How this build's generic BLAS resolves: {link, implementation, reference, text} or None when
    the build bundles its BLAS or the probe did not examine it."""
    link = words.link_of(build(facts, name), ("blas",))
    if not link:
        return None
    label = str(link.get("library") or "")
    return {"link": link, "implementation": label, "reference": REFERENCE in label.lower(),
            "text": words.link_text(link, env(facts))}


def blas_evidence(facts: Facts, resolved: dict | None, name: str = "numpy") -> list[dict]:
    if not resolved:
        return []
    link = resolved["link"]
    return [fact(f"packages.builds.{name}.links[{link.get('name')}]", resolved["text"])]


def optimized_choices(resolved: dict | None) -> list[dict]:
    """Alternatives registered for the link group that are not the reference implementation."""
    if not resolved:
        return []
    alternative = resolved["link"].get("alternative")
    choices = alternative.get("choices") if isinstance(alternative, dict) else None
    return [c for c in choices or [] if isinstance(c, dict) and "/blas/" not in str(c.get("path"))
            and "/lapack/" not in str(c.get("path"))]


def openmp_origins(facts: Facts) -> list[tuple[str, str, str]]:
    """(OpenMP library, framework, how: bundles/links + the build's provenance phrase) per build."""
    out = []
    for name, record in sorted(words.builds(env(facts)).items()):
        where = phrase(facts, name) or "unknown origin"
        for item in record.get("bundled") or []:
            if isinstance(item, dict) and item.get("kind") == "openmp":
                out.append((str(item.get("library")), name, f"bundled in its {where}"))
        for link in record.get("links") or []:
            if isinstance(link, dict) and link.get("kind") == "openmp":
                owner = link.get("owner") if isinstance(link.get("owner"), dict) else {}
                source = f" from {owner.get('manager')} {owner.get('package')}" if owner.get("package") else ""
                out.append((str(link.get("library")), name, f"linked{source} ({where})"))
    return out


def native_sources(facts: Facts) -> dict[str, list[str]]:
    """Frameworks grouped by where their build came from: {'conda': ['numpy'], 'wheel': ['torch']}."""
    groups: dict[str, list[str]] = {}
    for name in sorted(words.builds(env(facts))):
        k = kind(facts, name)
        if k:
            groups.setdefault("pip" if k in ("wheel", "local-build", "editable") else k, []).append(name)
    return groups


def mixed_pip_conda(facts: Facts) -> str | None:
    """'torch (pip) next to numpy (conda)' when one environment's native stack comes from both."""
    groups = native_sources(facts)
    if groups.get("pip") and groups.get("conda"):
        return f"{', '.join(groups['pip'])} (pip) next to {', '.join(groups['conda'])} (conda)"
    return None


def origin_words(facts: Facts, name: str) -> str:
    """' (binary wheel from an index (manylinux…), PyTorch CPU-only build …)' or ''."""
    text = phrase(facts, name)
    return f" ({text})" if text else ""


# ---- wording for the rules that use provenance ------------------------------------------------------

def a1_title(facts: Facts, blas_name, resolved: dict | None) -> str:
    version = facts.get("numpy.version") or ""
    who = phrase(facts, "numpy")
    if resolved and resolved["reference"]:
        owner = resolved["link"].get("owner") if isinstance(resolved["link"].get("owner"), dict) else {}
        package = f", {owner['package']}" if owner.get("package") else ""
        return (f"numpy {version} ({who or 'unknown origin'}) resolves {resolved['link'].get('needed')} "
                f"to the {resolved['implementation']}{package}")
    if kind(facts, "numpy") == "local-build":
        return f"numpy {version}, {who}, uses an unoptimized BLAS ({blas_name or 'none found'})"
    return f"numpy uses an unoptimized BLAS ({blas_name or 'none found'})"


A1_DEFAULT_FIX = ("Install numpy from a wheel (pip install --force-reinstall numpy), which bundles OpenBLAS, or "
                  "point libblas.so.3 at OpenBLAS/MKL (update-alternatives --config libblas.so.3).")


def a1_fix(facts: Facts, resolved: dict | None) -> str:
    link = (resolved or {}).get("link") or {}
    owner = link.get("owner") if isinstance(link.get("owner"), dict) else {}
    alternative = link.get("alternative") if isinstance(link.get("alternative"), dict) else {}
    if resolved and resolved["reference"] and owner.get("manager") == "dpkg":
        better = optimized_choices(resolved)
        group = alternative.get("name") or "libblas.so.3-<arch>"
        if better:
            return (f"An optimized BLAS is installed but not selected: update-alternatives --set {group} "
                    f"{better[0].get('path')} (as root; do the same for liblapack.so.3), or use numpy from a wheel "
                    "in a virtual environment (pip install numpy), which bundles OpenBLAS.")
        return ("apt-get install libopenblas0-pthread (it registers libblas.so.3 and liblapack.so.3 alternatives "
                "with a higher priority than the reference BLAS), or use numpy from a wheel in a virtual "
                "environment (pip install numpy), which bundles OpenBLAS.")
    if resolved and resolved["reference"] and owner.get("manager") == "conda":
        return ("conda install \"libblas=*=*openblas\" (or \"*mkl\") in this environment: conda-forge's libblas "
                f"{owner.get('build') or ''} points at the reference BLAS.")
    if kind(facts, "numpy") == "local-build":
        return ("pip install --force-reinstall --only-binary=:all: numpy: the binary wheel bundles OpenBLAS; this copy "
                "was compiled on this machine without an optimized BLAS.")
    return A1_DEFAULT_FIX


def a9_origins(facts: Facts) -> str:
    """' (libgomp bundled in torch's wheel; libiomp5 linked by numpy from conda)' or ''."""
    found = openmp_origins(facts)
    if len({lib for lib, _, _ in found}) < 2:
        return ""
    return " — " + "; ".join(f"{lib}: {name}, {how}" for lib, name, how in found[:4])


def a9_evidence(facts: Facts) -> list[dict]:
    out = [fact(f"packages.builds.{name}", f"{lib}: {how}") for lib, name, how in openmp_origins(facts)]
    mixed = mixed_pip_conda(facts)
    if mixed:
        out.append(fact("packages.builds", f"native stack from two sources: {mixed}"))
    return out


def a9_fix(facts: Facts, default: str) -> str:
    mixed = mixed_pip_conda(facts)
    return default + (f" Here the native stack comes from both pip and conda: {mixed}; install them from one "
                      "source." if mixed else "")


def conda_channel(facts: Facts, name: str) -> str | None:
    found = dist(facts, name) or {}
    owner = (found.get("provenance") or {}).get("owner") if isinstance(found.get("provenance"), dict) else None
    if not isinstance(owner, dict) or not owner.get("channel"):
        return None
    family = owner.get("channel_family")
    channel = owner["channel"]
    return channel if family in (None, "other", channel) else f"{channel}, {family}"


def c9_evidence(facts: Facts) -> list[dict]:
    out = phrase_fact(facts, "torch")
    mixed = mixed_pip_conda(facts)
    if mixed:
        out.append(fact("packages.builds", f"native stack from two sources: {mixed}"))
    return out


def cpu_only_fix(facts: Facts, default: str) -> str:
    """C1's fix for the channel this CPU-only build came from."""
    found = dist(facts, "torch") or {}
    prov = found.get("provenance") if isinstance(found.get("provenance"), dict) else {}
    if prov.get("kind") == "conda":
        return ("Install a CUDA build from the same channel in a fresh environment (conda-forge: "
                "conda install -c conda-forge pytorch-gpu; its build string starts with cuda), or use the "
                "official wheel: pip install torch --index-url https://download.pytorch.org/whl/cu126.")
    if prov.get("kind") == "distribution":
        return ("The distribution's python3-torch is built without CUDA: use the official wheel in a virtual "
                "environment (pip install torch --index-url https://download.pytorch.org/whl/cu126).")
    return default


def gpu_build_words(facts: Facts, name: str, cuda_wheels: tuple[str, ...]) -> str:
    """' (tensorflow-cpu: CPU-only TensorFlow, binary wheel …; no nvidia-* CUDA wheels installed)'."""
    text = phrase(facts, name)
    installed = [d for d in words.distributions(env(facts)) if d.startswith(cuda_wheels)]
    cuda = (f"CUDA wheels: {', '.join(sorted(installed)[:4])}" if installed else
            "no " + "/".join(p.rstrip('-') + "*" for p in cuda_wheels) + " CUDA wheels installed")
    return f" ({name}: {text}; {cuda})" if text else f" ({cuda})"
