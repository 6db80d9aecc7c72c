"""An approval graph that interrupts for a human, and a second process that resumes it.

``tests/langgraph/test_langgraph_graphs.py`` runs the graph to its interrupt, then runs this file
as a script, a new interpreter with no state of the first one::

    python tests/langgraph/_hitl_resume.py REDIS_URL PREFIX THREAD_ID ANSWER

which resumes the thread with ``Command(resume=ANSWER)`` through a new ``RedisSaver``
and prints the final state as JSON on stdout.
"""

from __future__ import annotations

import json
import operator
import os
import sys
from collections import Counter
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt

from langchain_redis_memory import RedisSaver
from redis_memory import RedisMemoryConfig


class Approval(TypedDict, total=False):
    request: str
    answer: str
    outcome: str
    log: Annotated[list[str], operator.add]


def build_approval_graph(checkpointer: Any, runs: Counter[str] | None = None) -> Any:
    """prep -> ask (interrupts for an answer) -> act. ``runs`` counts each node's runs."""
    runs = Counter() if runs is None else runs

    def prep(state: Approval) -> Approval:
        runs["prep"] += 1
        return {"request": state["request"].strip(), "log": ["prep"]}

    def ask(state: Approval) -> Approval:
        runs["ask"] += 1
        answer = interrupt({"question": f"approve {state['request']}?"})
        return {"answer": answer, "log": [f"ask:{answer}"]}

    def act(state: Approval) -> Approval:
        runs["act"] += 1
        verb = "done" if state["answer"] == "yes" else "refused"
        return {"outcome": f"{verb}: {state['request']}", "log": ["act"]}

    builder = StateGraph(Approval)
    builder.add_node("prep", prep)
    builder.add_node("ask", ask)
    builder.add_node("act", act)
    builder.add_edge(START, "prep")
    builder.add_edge("prep", "ask")
    builder.add_edge("ask", "act")
    builder.add_edge("act", END)
    return builder.compile(checkpointer=checkpointer)


def main(argv: list[str]) -> int:
    url, prefix, thread_id, answer = argv
    saver = RedisSaver(config=RedisMemoryConfig(url=url, prefix=prefix))
    runs: Counter[str] = Counter()
    graph = build_approval_graph(saver, runs)
    result = graph.invoke(Command(resume=answer), {"configurable": {"thread_id": thread_id}})
    print(json.dumps({"pid": os.getpid(), "result": result, "runs": dict(runs)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
