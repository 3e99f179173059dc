"""Scripted "models under evaluation" for the scripted LLM server (tests and benchmarks only).

A request whose ``model`` starts with ``scripted-`` is answered in plain text by the behaviour the
name states, so the evaluation harness can be checked against known accuracies:

- ``scripted-always-a``: answers A; its derivations reach no result;
- ``scripted-p70`` (any two digits): right with probability 0.70, decided per request from a hash
  of the request (so samples, whose option order differs, are independent draws); without the
  question (options only) it guesses uniformly;
- ``scripted-options-reader``: picks the longest option, question or not (a model exploiting a
  leak: the correct option is the longest in leaky items);
- ``scripted-mute`` (no letter), ``scripted-two-letters``, ``scripted-french`` (always right,
  answering "Réponse : X"), ``scripted-slow`` (answers after ``Script.slow_s``).

It knows the right answers from ``Script.answer_key``: question → ``{"correct": the correct
option's text, "target": the result}``, as a capable model would know them. A planted wrong key
(the dataset marks another option correct) is therefore failed by every model.
"""

from __future__ import annotations

import hashlib
import re

OPTION = re.compile(r'<option label="([A-J])">\n(.*?)\n</option>', re.S)
PROBLEM = re.compile(r"^Problem:\n(.*?)\n\n<option", re.S)
JUDGED = re.compile(r"(Reference derivation \(from the paper\)|Answer to grade):\n<paper>\n(.*?)\n</paper>", re.S)
BOXED = re.compile(r"\\boxed\{(.*)\}")


def _draw(model: str, body: bytes, salt: str = "") -> float:
    digest = hashlib.sha256(model.encode() + salt.encode() + body).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def answer(model: str, system: str, user: str, body: bytes, key: dict[str, dict]) -> str:
    """The reply text of scripted model ``model`` to one request."""
    options = OPTION.findall(user)
    problem = PROBLEM.search(user)
    question = problem.group(1).strip() if problem else None
    truth = key.get(question or user.strip(), {})
    name = model.removeprefix("scripted-")
    if options:
        letters = [letter for letter, _ in options]
        right = next((letter for letter, text in options if text.strip() == truth.get("correct", "").strip()), None)
        if name == "always-a":
            return "Let me look at the options. Answer: A"
        if name == "mute":
            return "These derivations all look plausible to me; I cannot tell which one is right."
        if name == "two-letters":
            return "Both work, I think. Answer: A or C"
        if name == "options-reader":
            longest = max(options, key=lambda o: len(o[1]))[0]
            return f"The most complete derivation is {longest}.\nAnswer: {longest}"
        if name == "french" and right:
            return f"Après vérification de chaque étape, la bonne dérivation est la suivante.\nRéponse : {right}"
        match = re.fullmatch(r"p(\d\d)", name)
        if match:
            if right and question and _draw(model, body) < int(match.group(1)) / 100:
                return f"Checking each step, the derivation holds.\n\n**Answer: {right}**"
            pool = [x for x in letters if x != right] if (right and question) else letters
            guess = pool[int(_draw(model, body, "guess") * len(pool))]
            return f"I believe the answer is ({guess})."
        return "Answer: A"
    target = truth.get("target")
    if name == "always-a" or not target:
        return "We expand both sides but cannot close the argument. \\boxed{0}"
    match = re.fullmatch(r"p(\d\d)", name)
    if name == "french" or (match and _draw(model, body) < int(match.group(1)) / 100):
        return f"Expanding the definitions and simplifying step by step gives the result:\n\\[\\boxed{{{target}}}\\]"
    return f"Simplifying, we obtain\n\\[\\boxed{{{target} + 1}}\\]"


def judge_reply(user: str) -> dict:
    """A scripted judge: correct when the answer's boxed result appears in the reference."""
    parts = {label.split()[0]: text for label, text in JUDGED.findall(user)}
    reference, graded = parts.get("Reference", ""), parts.get("Answer", "")
    if "OUT-OF-RUBRIC" in graded:
        return {"correctness": 7, "clarity": 2, "completeness": 2, "similarity": 2, "rationale": "excellent"}
    boxed = BOXED.search(graded)
    squash = lambda s: re.sub(r"\s+", "", s)  # noqa: E731
    right = bool(boxed) and squash(boxed.group(1)) in squash(reference)
    score = 2 if right else 0
    return {"correctness": score, "clarity": 2, "completeness": score, "similarity": 1,
            "rationale": "reaches the reference's result" if right else "a different result"}
