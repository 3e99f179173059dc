"""Stage 5, closing the loop: grade models on a release, calibrate the graders, audit the items.

- ``items``: the items to evaluate, from a release or a dataset file (ours or STORM-BORN's).
- ``multiple_choice``: shuffled options, the letter parsed, the options-only baseline.
- ``judge``: an LLM grades a free-form derivation against the paper's, in both orders.
- ``symbolic``: the derivation's final result against the target (Math-Verify, SymPy, numbers).
- ``calibration``: the graders against the experts; a pass rate with the judge's bias removed.
- ``audits``: solve rates and the flags that send an item to adjudication.
- ``report``: what an evaluation run prints: accuracy, the leak test, letters picked, months.
- ``steps``: the evaluation run (concurrent, cached and budgeted through the LLM gateway).
"""
