"""Differential suite: this package against the real Node classes, observation by observation.

The same cases go through ``@shopify/shopify-api`` 15.0.0 (``Session``, ``AuthScopes``) and the
DynamoDB adapter 8.0.0's own ``serializeSession`` / ``deserializeSession``, in one Node process
(tests/interop/differential.mjs), and through this package; both clocks are frozen at the same
instants. Every observation must be equal, or differ exactly as a row of the docs'
"Differences from Node" says (tests/support/differential_rules.py). Then each
side's outputs (property arrays with and without user data, items) are fed to both sides again.

Cases: hand-picked edges (the classes of issue 11, boundary dates, unicode, long ids) and
hypothesis-generated batches (derandomized, so CI sees the same cases on every run).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.conftest import IN_CI
from tests.support.differential import NodeObserver, python_observe
from tests.support.differential_cases import cases as generated_cases
from tests.support.differential_cases import edge_cases
from tests.support.differential_rules import (
    RULES,
    UNIT_TESTED,
    documented_rows,
    judge,
    rewritten,
)
from tests.support.dynalite import node_available

pytestmark = pytest.mark.interop

# CI runs the same derandomized batches every time; DIFFERENTIAL_EXPLORE=N runs N fresh ones
EXPLORE = int(os.environ.get("DIFFERENTIAL_EXPLORE", "0"))
EXAMPLES = EXPLORE or 60
TOTALS = {"cases": 0, "batches": 0}


@pytest.fixture(scope="module")
def node() -> Iterator[NodeObserver]:
    reason = node_available()
    if reason is not None:
        if IN_CI:
            pytest.fail(f"CI=true but the differential suite cannot run: {reason}")
        pytest.skip(f"the differential suite needs Node: {reason}")
    observer = NodeObserver()
    yield observer
    observer.close()


def _key(case: dict[str, Any]) -> str:
    return json.dumps(case, sort_keys=True)


def _observe_node(node: NodeObserver, cases: list[dict[str, Any]]) -> dict[str, Any]:
    """Node's observation of every case and of its rewritten form, by case."""
    wanted: dict[str, dict[str, Any]] = {}
    for case in cases:
        wanted.setdefault(_key(case), case)
        target, _ = rewritten(case)
        wanted.setdefault(_key(target), target)
    by_zone: dict[str, list[dict[str, Any]]] = {}
    for case in wanted.values():
        by_zone.setdefault(case.get("tz", "UTC"), []).append(case)
    observed: dict[str, Any] = {}
    for zone, group in by_zone.items():
        for case, result in zip(group, node.observe(group, zone), strict=True):
            observed[_key(case)] = result
    return observed


def _clip(text: str, size: int) -> str:
    return text if len(text) <= size else text[: size - 3] + "..."


def _outputs(case: dict[str, Any], observation: Any) -> list[dict[str, Any]]:
    """The property arrays and item one side produced, as new cases for both sides."""
    if case["kind"] == "scopes" or not isinstance(observation, dict) or "error" in observation:
        return []
    probes = case["probes"]
    out = []
    for name, rud in (("pa", False), ("paUser", True)):
        if isinstance(observation[name], list):
            out.append({"kind": "pa", "entries": observation[name], "rud": rud, "probes": probes})
    if "error" not in observation["item"]:
        out.append({"kind": "item", "item": observation["item"], "probes": probes})
    return out


def check(node: NodeObserver, cases: list[dict[str, Any]], *, feed: bool = True) -> set[str]:
    """Run ``cases`` on both sides (then what each side output); return the rules used."""
    observed = _observe_node(node, cases)
    problems: list[str] = []
    used: set[str] = set()
    fed: dict[str, dict[str, Any]] = {}
    for case in cases:
        python = python_observe(case)
        found, rules = judge(case, lambda c: observed[_key(c)], python)
        used |= rules
        problems += [f"{_clip(json.dumps(case), 240)}\n    {problem}" for problem in found]
        for output in _outputs(case, observed[_key(case)]) + _outputs(case, python):
            fed.setdefault(_key(output), output)
    TOTALS["cases"] += len(cases)
    if problems and os.environ.get("DIFFERENTIAL_DUMP"):  # whole failing cases, for debugging
        with open(os.environ["DIFFERENTIAL_DUMP"], "a", encoding="utf-8") as dump:
            dump.writelines(json.dumps(case) + "\n" for case in cases)
    assert not problems, f"{len(problems)} undocumented differences:\n" + "\n".join(problems[:15])
    if feed and fed:
        used |= check(node, list(fed.values()), feed=False)
    return used


def test_hand_picked_edges_match_node_or_differ_as_documented(node: NodeObserver) -> None:
    used = check(node, edge_cases())
    # each documented difference is seen at least once, so no row of the table is stale
    assert used == set(RULES), f"rules never exercised: {sorted(set(RULES) - used)}"


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not EXPLORE,
    database=None,
    phases=[Phase.explicit, Phase.generate],  # every failing case is printed whole: no shrinking
    suppress_health_check=list(HealthCheck),
)
@given(st.lists(generated_cases, min_size=8, max_size=16))
def test_generated_cases_match_node_or_differ_as_documented(
    node: NodeObserver, batch: list[dict[str, Any]]
) -> None:
    TOTALS["batches"] += 1
    check(node, batch)


def test_every_rule_is_documented_and_nothing_else() -> None:
    """One row of the docs' table (generated from DOCUMENTED) per rule or store-time check."""
    ids = [id for id, _, _ in documented_rows()]
    assert sorted(ids) == sorted({*RULES, *UNIT_TESTED})
    assert all(row.input and row.node and row.python and row.why for _, _, row in documented_rows())


def test_suite_size() -> None:
    if TOTALS["batches"] == 0:
        pytest.skip("run with the generated test to count cases")
    assert TOTALS["cases"] >= 1000, TOTALS
