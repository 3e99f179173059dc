"""Stage 4, the human in the loop: expert review → agreement → selection → the release.

- ``review``: accounts, blind assignment, submissions, the analysts' copy of the reviews.
- ``agreement``: Krippendorff's α and the adjudication queue.
- ``selection``: the final set from expert scores, spread over papers and topics.
- ``export``: splits by paper, three variants, the dataset card; ``distractor``: the agent that
  writes the multiple-choice variant's wrong derivations.
"""
