"""Bytes → text, shared by the stages: ``read`` (check and read a fetched PDF or e-print: text,
pages, or a snake_case reason), ``eprint`` (an e-print's LaTeX files, comments blanked) and
``pages`` (a PDF page as an image). Imports ``tasks.core`` only."""
