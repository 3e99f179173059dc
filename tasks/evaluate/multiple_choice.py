"""Multiple choice, and the options-only baseline: the model picks a letter among shuffled options.

Input columns: ``question``, ``choices``, ``answer_index`` (an item of the release's
multiple-choice variant). Output columns (``evaluations``, format ``mc`` or ``options_only``):
``choice_order`` (the options as shown), ``expected`` (the correct letter in that order),
``parsed_answer`` (the letter read from the reply), ``grade``, ``tier`` = ``letter``, ``reason``.

The options are shuffled per (item, sample), so a model that favours a position cannot score by
it, and the position bias is measured from the letters it picks. The options-only baseline shows
the same options without the question: accuracy above chance there means the distractors give
the answer away (a too-short, differently styled or self-contradicting wrong option).

Reading the letter: the reply's last answer statement ("Answer: B", "the answer is (b)",
``\\boxed{B}``, "Réponse : B", "答案：B"…; full-width letters are read as letters), else a reply
that is a letter alone. A statement naming two different letters is ``multiple_letters``, a
reply without one ``no_letter``, a letter beyond the options ``letter_out_of_range``: each is
``unparsed``, never counted as a wrong answer.
"""

from __future__ import annotations

import random
import re
import unicodedata
from pathlib import Path

from tasks.core.records import Grade
from tasks.evaluate.items import LETTERS, EvalItem
from tasks.io.llm import Agent, PlainText

PROMPTS = Path(__file__).parent / "prompts"
MC = Agent("multiple_choice", PlainText, PROMPTS)
OPTIONS_ONLY = Agent("options_only", PlainText, PROMPTS)

_ANSWER_LINE = re.compile(r"^\W*(?:final\s+)?(?:answer|antwort|réponse|reponse|respuesta|risposta|resposta|ответ|"
                          r"答案|答|回答|正解|정답|cevap|jawaban|câu trả lời)\s*[:：]\s*(?P<rest>.*)$", re.I | re.M)
"""The form the prompt asks for ("Answer: X" on its own line): the last such line decides."""
_ANSWER_WORD = re.compile(r"answer|correct (?:option|choice|derivation)|right (?:option|choice)|"
                          r"antwort|réponse|reponse|respuesta|risposta|resposta|ответ|答案|答|回答|正解|정답|cevap|"
                          r"jawaban|câu trả lời", re.I)
"""Answer statements in prose ("the answer is (b)", "the correct option is C"). A bare "option" or
"choice" is not one: "Option A is wrong" after the answer must not replace it."""
_BOXED = re.compile(r"\\boxed\{\s*(?:\\text\{)?([^{}]{0,20})\}")
_LETTER = re.compile(r"(?<![A-Za-z])\(?([A-J])\)?(?![A-Za-z])|\(([a-j])\)|(?<![A-Za-z])([a-j])(?=\s*[.)]?\s*$)")
_CONNECTIVE = re.compile(r"^\s*(?:is|est|es|ist|è|é|was|would be|should be|是|は|:|：|=|-)*\s*", re.I)
_REASONS = re.compile(r"(?<=[A-Ja-j\)])\s*[.;。](?:\s|$)|\s(?:because|since|as|which|car|weil|porque|but)\s", re.I)
_ALONE = re.compile(r"^\W*\(?\s*([A-Ja-j])\s*\)?\W*$")


def order_for(item: EvalItem, sample: int) -> list[int]:
    """The options' order for one sample: a permutation seeded by the item and the sample."""
    order = list(range(len(item.choices)))
    random.Random(f"{item.item_id}/{sample}").shuffle(order)
    return order


def fields(item: EvalItem, order: list[int]) -> dict:
    # An option's text cannot close its own tag and pose as another option.
    shown = [item.choices[i].replace("</option", "‹/option").replace("<option", "‹option") for i in order]
    return {"question": item.question, "options": list(zip(LETTERS, shown, strict=False))}


def expected_letter(item: EvalItem, order: list[int]) -> str:
    return LETTERS[order.index(item.answer_index)]


def _letters_in(text: str, options: int) -> list[str]:
    """The option letters named in ``text`` (the pronoun "I" only when it is an option)."""
    found = [next(g for g in m.groups() if g).upper() for m in _LETTER.finditer(text)]
    return list(dict.fromkeys(x for x in found if x != "I" or LETTERS.index("I") < options))


def _named(rest: str, options: int) -> list[str]:
    rest = _REASONS.split(_CONNECTIVE.sub("", rest[:60], count=1), maxsplit=1)[0]
    return _letters_in(rest, options)


def _statement_letters(text: str, options: int) -> list[str]:
    """The letters of the answer: the last "Answer: X" line (the form asked for), else the last
    ``\\boxed{X}``, else the last prose statement that names a letter (a later "answer" without
    one, as in "the answer requires care", does not hide an earlier "the answer is B")."""
    for line in reversed(list(_ANSWER_LINE.finditer(text))):
        letters = _named(line.group("rest"), options)
        if letters:
            return letters
    boxed = _BOXED.findall(text)
    if boxed and _letters_in(boxed[-1], options):
        return _letters_in(boxed[-1], options)
    for word in reversed(list(_ANSWER_WORD.finditer(text))):
        letters = _named(text[word.end():].split("\n", 1)[0], options)
        if letters:
            return letters
    return []


def parse_letter(reply: str, options: int) -> tuple[str | None, str | None]:
    """(letter, None) or (None, reason): see the module docstring."""
    text = unicodedata.normalize("NFKC", reply or "").replace("*", "")
    candidates = _statement_letters(text, options)
    if not candidates:
        last = text.strip().splitlines()[-1] if text.strip() else ""
        alone = _ALONE.match(last) or _ALONE.match(text.strip())
        candidates = [alone.group(1).upper()] if alone else []
    if not candidates:
        return None, "no_letter"
    if len(candidates) > 1:
        return None, "multiple_letters"
    letter = candidates[0]
    if LETTERS.index(letter) >= options:
        return None, "letter_out_of_range"
    return letter, None


def grade(reply: str, expected: str, options: int) -> tuple[Grade, str | None, str | None]:
    """(grade, the letter read, reason)."""
    letter, reason = parse_letter(reply, options)
    if letter is None:
        return "unparsed", None, reason
    return ("correct" if letter == expected else "incorrect"), letter, None
