"""`make demo` runs examples/demo.py: it must work end to end and say what it did."""

from __future__ import annotations

import subprocess
import sys

from _paths import ROOT

DEMO = ROOT / "examples" / "demo.py"


def test_demo_runs_and_prints_its_walkthrough():
    done = subprocess.run(
        [sys.executable, str(DEMO)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    steps = out.split("\n\n")
    assert "(Search: True)" in steps[0]
    langchain, llama_index, continued = steps[1], steps[2], steps[3]
    assert "ai: Pastéis de nata in Belém" in langchain
    # LlamaIndex's Memory sees LangChain's turns, in order, as user/assistant.
    assert llama_index.index("user: Two days in Lisbon") < llama_index.index(
        "assistant: Alfama at dusk"
    )
    assert "assistant: Pastéis de nata in Belém" in llama_index
    # ...and LangChain then reads what LlamaIndex added.
    assert "human: Is Sintra worth a whole day?" in continued
    assert "ai: Yes: Pena, Regaleira, Moorish castle." in continued
    assert "demo:session:{traveller%3Aana}:messages': 6 messages" in out
    assert '"added":1,"ids":[null],"count":7}' in out
    cache = steps[5]
    assert "        miss:" in cache
    assert "   exact hit:" in cache
    assert "semantic hit:" in cache
    assert "the model ran 1 time(s)" in cache
    assert "1 exact hit(s), 1 semantic hit(s)" in cache
    assert "0 error(s)" in cache
    agents = steps[6]
    assert "a third agent finds nothing left: None" in agents
    assert agents.count("findings on") == 3
    assert "a dashboard following 'tasks' saw 3 events" in agents
    langgraph = steps[7]
    assert "worker 1 ran the agent until it asked: 'Book the day trip to Sintra?'" in langgraph
    assert "worker 2 resumed it in" in langgraph
    assert "'Done: booked Sintra for Saturday.'" in langgraph
    # LlamaIndex reads the agent's conversation, in order, through the mirrored session.
    read_back = langgraph.split("LlamaIndex reads the agent's conversation")[1]
    assert read_back.index("user: Book me a day trip") < read_back.index("tool: booked Sintra")
    assert read_back.index("tool: booked Sintra") < read_back.index(
        "assistant: Done: booked Sintra for Saturday."
    )
    assert "nothing is left running" in out
    assert "Warning" not in done.stderr
