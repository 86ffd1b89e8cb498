"""The one rule registry. A rule is a function ``(facts: Facts) -> Finding | None`` registered with
``@rule("A5", "short name")``; its id is the catalogue id (shared/reference/slow-env-causes.md) or a
measurement-rule id (M1…)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Rule:
    id: str
    name: str
    check: Callable


RULES: dict[str, Rule] = {}


def rule(rule_id: str, name: str):
    def register(check: Callable) -> Callable:
        if rule_id in RULES:
            raise ValueError(f"rule {rule_id} registered twice")
        RULES[rule_id] = Rule(rule_id, name, check)
        return check
    return register
