"""The platform's work, as rooms in pipeline order on shared ground.

Shared ground (every stage may import it):

- ``core``: records (one pydantic model per table, the allowed values), settings, the task
  hand-off (``stage_task``, ``Opaque``, ``gather``).
- ``io``: the boundaries — storage (lake, catalog, review database), llm (gateway, agents),
  validate (the Great Expectations gate), runs (the run lifecycle), memo (skip-if-unchanged),
  ratelimit.
- ``documents``: bytes → text (PDF and e-print reading, page rendering).

Stages, in pipeline order (a stage imports the shared ground, never another stage):

- ``harvest``: sources (live, snapshot, local), matching, the rating and keyword rules.
- ``extract``: documents → sections, expressions, dependency edges.
- ``generate``: the six STORM agents → derivation candidates.
- ``curate``: expert review, agreement, selection, the release.

``flows/`` composes the stages (flows import stages; nothing imports flows). The rules are
checked by ``tests/test_architecture.py``.
"""
