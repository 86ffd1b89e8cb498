"""Rules: one small function per documented cause (catalogue ids A1…F10) or measurement (M1…).

A new rule is one function plus its ``@rule("ID", "name")`` line in the file of its catalogue letter;
importing a module registers its rules.
"""
from stackprof.rules import (a_blas, a_threads, b_platform, c_torch, c_torch_gpu,  # noqa: F401
                             d_e_frameworks, f_gpu, g_dist, i_packages, m_measured, p_profile)
from stackprof.rules.registry import RULES, Rule, rule

__all__ = ["RULES", "Rule", "rule"]
