"""In-environment probes, run BY the interpreter being diagnosed (stdlib + the framework probed).

Loaded by agent.py under the synthetic package name ``_stackprof_probes`` so that nothing in
this folder can shadow a module of the target environment. Syntax must parse under Python 3.8.
"""
