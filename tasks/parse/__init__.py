"""From a paper's documents to mathematics: LaTeX projects and PDF text → sections, expressions,
dependency edges.

- ``project``: read an e-print, find the main file, flatten ``\\input`` with a source map.
- ``macros``: user macros (``\\newcommand``, ``\\def``, ``\\DeclareMathOperator``) and their expansion.
- ``latex``: the LaTeX extractor (pylatexenc node tree → rows).
- ``pdf``: the PDF fallback (PyMuPDF layout → rows) and page mapping of LaTeX rows.
"""
