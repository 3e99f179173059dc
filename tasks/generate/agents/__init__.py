"""The six STORM agents, one module each: its prompt template (``prompts/<name>.md``), its
response model (``tasks.io.llm.Agent``), and how its input is rendered and its reply read.

1. ``extractor``: which expressions are derivable targets (no LLM for LaTeX papers);
2. ``query_draft``: preconditions, setting, symbols and a draft question per target;
3. ``answer_retriever``: the paper's own derivation, verbatim, with where it is;
4. ``context_collector``: verbatim passages the question needs;
5. ``question_refiner``: a self-contained question;
6. ``answer_filter``: a structured verdict, derive | define | other.

``excerpt`` decides what paper text a call is sent and checks that answers are grounded in it.
"""

from pathlib import Path

PROMPTS = Path(__file__).parent / "prompts"
