"""Stage 1, harvest: a date window → papers, reviews, the two rules' decisions, documents.

- ``sources``: where papers come from (live arXiv + OpenReview, a recorded snapshot, a folder).
- ``match``: arXiv papers ↔ OpenReview submissions.
- ``filters``: the rating rule (above weak accept) and the derivation-language rule.
- ``steps``: the stage's tasks (listing, venues, joining, document batches) and their counts.
"""
