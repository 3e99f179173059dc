"""Bytes → text, shared by the stages: ``read`` (check and read a fetched PDF or e-print: text,
pages, or a snake_case reason), ``eprint`` (an e-print's LaTeX files, comments blanked), ``pages``
(a PDF page as an image), ``latex_macros`` (a paper's user macros: read by the extractor, stored
with its extraction, expanded by any stage that shows the paper's LaTeX) and ``language``
(derivation wording). Imports ``tasks.core`` only."""
