"""Stage 2, expressions: accepted papers' documents → sections, expressions, dependency edges.

- ``parse``: LaTeX projects (main file, ``\\input`` tree, macros) and PDF layout → rows.
- ``steps``: plan, extract per paper (skip-if-unchanged), validate and land.
"""
