"""Derivation language: the words with which a paper says a result follows from another.

Shared by the extractor (a running-text sentence that cites a formula is a dependency edge only
when it derives something) and the target picker of the generation stage (a formula whose
introduction derives it is worth a question).
"""

from __future__ import annotations

import re

_REFERENCE = (r"(?:(?:Eqs?|Equations?|Theorem|Thm|Lemma|Proposition|Prop|Corollary|Cor)\.?\s*~?\s*)?"
              r"[(\[]?\s*\\[A-Za-z]*(?:ref|eq)[A-Za-z]*\b")
"""A reference command: ``\\ref``, ``\\eqref``, ``\\cref`` and a paper's own (``\\lemref``, ``\\eqalt``)."""
DERIVATION_CUES = re.compile(
    r"\b(we (?:get|have|derive|arrive at|find)|obtain\w*|it follows|follows from|yields?|leads? to|gives?|"
    r"results? in|substitut\w*|plugging|rearrang\w*|simplif\w*(?! (?:the )?notation)|expand\w*|"
    r"hence|thus|therefore|implies|"
    r"combin\w*|differentiat\w*|integrat\w*|solv\w*|multiply\w*|eliminat\w*|insert\w*|"
    r"taking the (?:derivative|gradient|expectation)|by (?:induction|definition)|"
    r"becomes|reduces? to|(?:can|may) (?:also )?be (?:written|rewritten|decomposed|expressed|represented|"
    r"reformulated)|(?:to|we|one) (?:can )?(?:then )?write|re-?writ\w*|express\w*|equivalent(?:ly| form)|"
    r"(?:derivative|gradient|dual)(?: \([^()]{0,60}\))? of)\b"
    r"|(?<![\w\\])(?:by|from|using|following|applying|see) " + _REFERENCE, re.I)
"""A cue anywhere in a sentence marks it as deriving what follows ("substituting (3) into (5)
gives", "combining … we obtain", "this simplifies to", "the dual of (3) can be represented by",
"the policy gradient (Sutton, 2018) of Eq. (4) is", "by Theorem~\\ref{…}"); "to simplify the
notation" is not one."""
