"""Tools a LangChain agent calls to work in a team: claim tasks, share findings, see who does what.

The tools, their replies and their errors are the core's
(:mod:`redis_memory.agent_tools`); this module makes ``StructuredTool``\\ s of
them, whose errors are the tool's result (a ``ToolMessage`` of status ``error``).
"""

from __future__ import annotations

from typing import Any, Unpack

from langchain_core.tools import BaseTool, StructuredTool, ToolException

from redis_memory import AsyncTeamDesk, TeamDesk, ToolSpec
from redis_memory.agent_tools import TEAM_TOOLS, TOOL_ERRORS, TeamDeskOptions


def _tool(spec: ToolSpec, desk: TeamDesk, adesk: AsyncTeamDesk) -> StructuredTool:
    def run(**arguments: Any) -> str:
        try:
            return desk.call(spec.name, **arguments)
        except TOOL_ERRORS as exc:
            raise ToolException(spec.failed(exc)) from exc

    async def arun(**arguments: Any) -> str:
        try:
            return await adesk.call(spec.name, **arguments)
        except TOOL_ERRORS as exc:
            raise ToolException(spec.failed(exc)) from exc

    return StructuredTool(
        name=spec.name,
        description=spec.description,
        args_schema=spec.args,
        func=run,
        coroutine=arun,
        handle_tool_error=True,
        handle_validation_error=spec.failed,
    )


def team_tools(agent_id: str, **options: Unpack[TeamDeskOptions]) -> list[BaseTool]:
    """The tools one agent of a team calls: claim, release, report, read, look around.

    ``claim_task(task_id)``, ``release_task(task_id)``,
    ``report_finding(task_id, finding, subject=None, verdict=None)``,
    ``read_findings(task_id, last=20)``, ``who_is_doing_what()`` and
    ``find_agents(capabilities)``, as :data:`~redis_memory.agent_tools.TEAM_TOOLS`
    states them: ``invoke`` runs one on the agent's
    :class:`~redis_memory.agent_tools.TeamDesk`, built from ``agent_id`` and
    ``options`` (``team=``, ``url=``, ``client=``, ``config=``, ``claim_ttl=``),
    and ``ainvoke`` on its async twin. The agent id is fixed here: no tool takes
    an owner or an author, so the model cannot act as another agent.

    Example:
        .. code-block:: python

            from langchain_redis_memory import team_tools
            from redis_memory.presence import Presence

            with Presence("research", url="embedded").running("ana", capabilities=["web"]):
                tools = {t.name: t for t in team_tools("ana", team="research", url="embedded")}
                claimed = tools["claim_task"].invoke({"task_id": "survey-1"})
                assert claimed.startswith("You claimed task 'survey-1'.")
                assert "claim 'survey-1'" in tools["who_is_doing_what"].invoke({})
                # An agent: create_agent(model, tools=list(tools.values()))
    """
    desk, adesk = TeamDesk(agent_id, **options), AsyncTeamDesk(agent_id, **options)
    return [_tool(spec, desk, adesk) for spec in TEAM_TOOLS]


__all__ = ["team_tools"]
