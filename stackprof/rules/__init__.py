"""Rules: one small function per documented cause (catalogue ids A1…F10) or measurement (M1…).

A new rule is one function plus its ``@rule("ID", "name")`` line in the file of its catalogue letter.
"""
from stackprof.rules.registry import RULES, Rule, rule
from stackprof.rules import a_blas, b_platform, c_torch, d_e_frameworks, f_gpu, m_measured  # noqa: F401  (registration)

__all__ = ["RULES", "Rule", "rule"]
