"""From a paper's documents to mathematics: LaTeX projects and PDF text → sections, expressions,
dependency edges.

- ``project``: find the main file of an e-print's files, flatten ``\\input`` with a source map.
- ``latex``: the LaTeX extractor (pylatexenc node tree → rows).
- ``pdf``: the PDF fallback (PyMuPDF layout → rows) and page mapping of LaTeX rows.
"""
