"""Tools a LlamaIndex agent calls to work in a team: claim tasks, share findings, see who does what.

The tools, their replies and their errors are the core's
(:mod:`redis_memory.agent_tools`); this module makes ``FunctionTool``\\ s of
them, whose errors are an error ``ToolOutput`` (``is_error=True``).
"""

from __future__ import annotations

from functools import partial
from typing import Any, Unpack

from llama_index.core.tools import FunctionTool, ToolMetadata, ToolOutput

from redis_memory import AsyncTeamDesk, TeamDesk, ToolSpec
from redis_memory.agent_tools import TEAM_TOOLS, TOOL_ERRORS, TeamDeskOptions


class _TeamTool(FunctionTool):
    """A tool of the core's desk whose expected failures are error results, as agents show them."""

    def __init__(self, spec: ToolSpec, desk: TeamDesk, adesk: AsyncTeamDesk) -> None:
        super().__init__(
            fn=partial(desk.call, spec.name),
            async_fn=partial(adesk.call, spec.name),
            metadata=ToolMetadata(
                description=spec.description, name=spec.name, fn_schema=spec.args
            ),
        )
        self._spec = spec

    def _failure(self, exc: Exception, args: Any, kwargs: Any) -> ToolOutput:
        message = self._spec.failed(exc)
        return ToolOutput(
            content=message,
            tool_name=self._spec.name,
            raw_input={"args": args, "kwargs": kwargs},
            raw_output=message,
            is_error=True,
            exception=exc,
        )

    def call(self, *args: Any, **kwargs: Any) -> ToolOutput:
        try:
            return super().call(*args, **kwargs)
        except TOOL_ERRORS as exc:
            return self._failure(exc, args, kwargs)

    async def acall(self, *args: Any, **kwargs: Any) -> ToolOutput:
        try:
            return await super().acall(*args, **kwargs)
        except TOOL_ERRORS as exc:
            return self._failure(exc, args, kwargs)


def team_tools(agent_id: str, **options: Unpack[TeamDeskOptions]) -> list[FunctionTool]:
    """The tools one agent of a team calls, as LlamaIndex ``FunctionTool``\\ s.

    The six tools of :func:`langchain_redis_memory.team_tools`, with the same
    arguments and replies (:data:`~redis_memory.agent_tools.TEAM_TOOLS`). Each
    tool's ``fn`` calls the :class:`~redis_memory.agent_tools.TeamDesk` of
    ``agent_id`` (its ``options``: ``team=``, ``url=``, ``client=``, ``config=``,
    ``claim_ttl=``), its ``async_fn`` the desk's async twin. An argument a tool
    does not take (an ``owner``, an ``author``) is an error result.

    Example:
        .. code-block:: python

            from llama_index_redis_memory import team_tools
            from redis_memory.presence import Presence

            with Presence("research", url="embedded").running("ana", capabilities=["web"]):
                tools = team_tools("ana", team="research", url="embedded")
                claim_task = next(t for t in tools if t.metadata.name == "claim_task")
                claimed = claim_task.call(task_id="survey-1")
                assert claimed.content.startswith("You claimed task 'survey-1'.")
                assert claim_task.call(task_id="survey-1", owner="bob").is_error
                # An agent: FunctionAgent(tools=tools, llm=...)
    """
    desk, adesk = TeamDesk(agent_id, **options), AsyncTeamDesk(agent_id, **options)
    return [_TeamTool(spec, desk, adesk) for spec in TEAM_TOOLS]


__all__ = ["team_tools"]
