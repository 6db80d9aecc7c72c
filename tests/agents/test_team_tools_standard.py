"""LangChain's standard tool tests (``langchain-tests``) on the team tools, against a real Redis.

One unit and one integration class per tool (the suite takes one base per class).
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.tools import BaseTool
from langchain_tests.integration_tests import ToolsIntegrationTests
from langchain_tests.unit_tests import ToolsUnitTests

from langchain_redis_memory import team_tools

EXAMPLES: dict[str, dict[str, Any]] = {
    "claim_task": {"task_id": "summarise-q3"},
    "release_task": {"task_id": "summarise-q3"},
    "report_finding": {
        "task_id": "incident-7",
        "finding": "the pool is exhausted",
        "subject": "root cause",
        "verdict": "database pool",
    },
    "read_findings": {"task_id": "incident-7"},
    "who_is_doing_what": {},
    "find_agents": {"capabilities": ["summarise"]},
}


class _TeamTool:
    name = ""

    @pytest.fixture(autouse=True)
    def _on_the_test_server(self, config):
        self._config = config

    @property
    def tool_constructor(self) -> BaseTool:
        tools = {tool.name: tool for tool in team_tools("agent-a", config=self._config)}
        return tools[self.name]

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return EXAMPLES[self.name]


def test_every_team_tool_is_covered(config):
    assert {tool.name for tool in team_tools("a", config=config)} == set(EXAMPLES)


for _name in EXAMPLES:
    _title = "".join(word.title() for word in _name.split("_"))
    for _suite in (ToolsUnitTests, ToolsIntegrationTests):
        _class = f"Test{_title}{_suite.__name__.removeprefix('Tools')}"
        globals()[_class] = type(_class, (_TeamTool, _suite), {"name": _name})
