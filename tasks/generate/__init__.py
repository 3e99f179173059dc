"""Stage 3, generation: extracted expressions → grounded derivation candidates.

- ``agents``: the six STORM agents, one module each (prompt, response model, parse).
- ``targets``: agent 1 for a batch of papers (which expressions become problems).
- ``pipeline``: agents 2–6 for one paper's targets.
- ``steps``: plan the work, run a batch of papers, validate and land (skip-if-unchanged).
"""
