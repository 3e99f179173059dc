"""THE LLM boundary: the only importer of ``openai``.

- ``gateway``: ``Gateway.call`` — structured output, retries, rate limits, the cache, the ledger
  and the budget.
- ``agent``: ``Agent`` — a prompt template and a response model, asked through the gateway, with
  paper text quoted as data.
"""

from tasks.io.llm.agent import DATA_RULE, Agent, quote_paper
from tasks.io.llm.gateway import (
    CHARS_PER_TOKEN,
    TRUNCATED,
    Budget,
    CallTotals,
    Gateway,
    LLMResult,
    PlainText,
    cache_key,
    gateway_for,
    mode_of,
    parse_reply,
    price_of,
)

__all__ = ["CHARS_PER_TOKEN", "DATA_RULE", "Agent", "Budget", "CallTotals", "Gateway", "LLMResult", "PlainText",
           "TRUNCATED", "cache_key", "gateway_for", "mode_of", "parse_reply", "price_of", "quote_paper"]
