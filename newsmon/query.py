"""The boolean query language of topic definitions.

Grammar (operators are upper-case; precedence from tightest to loosest: ``NEAR/n``,
``NOT``, ``AND``, ``OR``)::

    query   := or
    or      := and ("OR" and)*
    and     := unary (("AND" unary) | ("NOT" unary))*      # "a NOT b" means "a AND NOT b"
    unary   := "NOT" unary | near
    near    := primary ("NEAR/n" primary)?       # both sides: words, phrases, NEARs, (a OR b) of them
    primary := "(" or ")" | FIELD ":" primary | PHRASE | WORD

A WORD matches a whole word; ``*`` at its end matches any ending (``sanction*``). A
``"quoted phrase"`` matches its words in order, each separated by spaces or hyphens
(``"lab leak"`` also matches "lab-leak"); its words may end in ``*`` too. Matching ignores
case, and typographic quotes and dashes. ``title:`` and ``body:`` restrict a word, phrase or
group to the headline or to the body. ``a NEAR/n b`` holds when at most ``n`` words separate
``a`` and ``b``, in either order. Two words side by side without an operator are an error
(quote a phrase, or join them with AND or OR), so a typo cannot silently change a query.

A query is evaluated on a :class:`Unit`: a sentence, the title, or a whole document (title
and body). Evaluation memoizes each node, so the part of the query that matched can be
shown afterwards (:meth:`Query.explain`).
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from newsmon.errors import TopicDefinitionError
from newsmon.text import normalize_for_query

FIELDS = ("title", "body")
MAX_NEAR = 50


# A word's character in a script written with combining marks, which Python's \w leaves out
# although they are inside words there (the vowel sign of "चीनी", the virama of "क्रूस", Arabic
# harakat): \w, the combining blocks, and the Indic blocks but for their danda (।, ॥) that ends
# a sentence. Terms in those scripts are guarded with it; others with \w, whose patterns
# compile some fifteen times faster (a class of ranges costs a millisecond to compile).
_LETTER = (
    r"[\w\u0300-\u036f\u0483-\u0489\u0591-\u05c7\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed"
    r"\u0900-\u0963\u0966-\u0dff\u0f18-\u0fc6\u102b-\u103e\u1056-\u109d\u1ab0-\u1aff\u1dc0-\u1dff"
    r"\u20d0-\u20ff\ufe20-\ufe2f]"
)
_MARKED = re.compile(r"[\u0590-\u08ff\u0900-\u0dff\u0f00-\u0fff\u1000-\u109f]")  # Hebrew to Burmese
_WORD = re.compile(_LETTER + "+")
_NEAR = re.compile(r"^NEAR/(\d+)$")
_FIELD_PREFIX = re.compile(r"^([A-Za-z_]+):")
_BAD_IN_WORD = re.compile(r"[,;\[\]{}]")
_SIGNS = "-+!–—−"  # a web search engine's operators before a word (with the dashes they are typed as)
_SINGLE_QUOTED = re.compile(r"(?<![\w'‘’])['‘][^'‘’\"“”„()]*['’](?![\w'‘’])")  # 'a phrase' or ‘a phrase’
MAX_DEPTH = 100  # parentheses and NOTs inside one another
# phrase quotes, each with its closing one: straight, English, German, French (either way),
# and those typed with a Chinese or Japanese input method (full-width, corner brackets)
_QUOTES = {'"': '"', "“": "”", "”": "”", "„": "“", "«": "»", "»": "«", "「": "」", "『": "』", "＂": "＂"}
_PARENS = {"(": "LPAREN", ")": "RPAREN", "（": "LPAREN", "）": "RPAREN"}  # full-width ones too
_WORD_END = frozenset(_QUOTES) | frozenset(_QUOTES.values()) | frozenset(_PARENS)


@dataclass(frozen=True, slots=True)
class Unit:
    """What a query is evaluated on: normalized text per field (one or both fields).

    A sentence of the body is ``Unit((("body", text),))``; the headline is
    ``Unit((("title", text),))``; a whole document has both. A part named ``""`` joins
    parts for NEAR only (unscoped NEAR clauses may span it; plain terms look at the others).
    """

    parts: tuple[tuple[str, str], ...]

    def texts(self, scope: str | None) -> list[str]:
        """The texts a node scoped to ``scope`` (None: any field) may match in."""
        return [text for name, text in self.parts if name == scope or (scope is None and name)]


# -- the syntax tree ---------------------------------------------------------------------


class Node:
    """A node of a parsed query."""

    __slots__ = ("index", "source")

    def __init__(self, source: str) -> None:
        self.source = source  # canonical text of this node, as shown in clauses
        self.index = -1  # position in Query.nodes, set once the tree is complete

    def evaluate(self, unit: Unit, memo: list[bool | None]) -> bool:
        """True if this node holds on ``unit``; results are memoized by node index."""
        cached = memo[self.index]
        if cached is None:
            cached = memo[self.index] = self._evaluate(unit, memo)
        return cached

    def _evaluate(self, unit: Unit, memo: list[bool | None]) -> bool:
        raise NotImplementedError

    def children(self) -> tuple[Node, ...]:
        """Direct sub-nodes."""
        return ()

    def positional(self) -> bool:
        """True if this node has word positions (may be an operand of NEAR)."""
        return False

    def anchored(self) -> bool:
        """True if the node can hold only when at least one of its non-negated terms occurs."""
        return True

    def explain(self, memo: Sequence[bool | None]) -> str:
        """The part of this node that held, as query text (alternatives that did not match left out)."""
        return self.source

    def required(self) -> tuple[Term, ...]:
        """Terms one of which must occur wherever this node holds (for an anchored node)."""
        return ()


class Term(Node):
    """A word, a word with a trailing ``*``, or a quoted phrase, optionally scoped to a field."""

    __slots__ = ("pattern", "scope")

    def __init__(self, source: str, pattern: re.Pattern[str], scope: str | None) -> None:
        super().__init__(source)
        self.pattern = pattern
        self.scope = scope

    def _evaluate(self, unit: Unit, memo: list[bool | None]) -> bool:
        return any(self.pattern.search(text) for text in unit.texts(self.scope))

    def positional(self) -> bool:
        return True

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans of every match in ``text``."""
        return [m.span() for m in self.pattern.finditer(text)]

    def required(self) -> tuple[Term, ...]:
        return (self,)

    def with_scope(self, scope: str) -> Term:
        """The same term restricted to one field."""
        return Term(f"{scope}:{self.source}", self.pattern, scope)


class Or(Node):
    """Any of the alternatives."""

    __slots__ = ("items", "others", "pattern", "scope", "which", "which_terms")

    def __init__(self, items: Sequence[Node]) -> None:
        super().__init__("(" + " OR ".join(i.source for i in items) + ")")
        self.items = tuple(items)
        terms = [i for i in self.items if isinstance(i, Term)]
        scopes = {t.scope for t in terms}
        # The plain terms of the group (in one field) are searched with one pattern, not one by one.
        self.pattern = union_pattern(terms) if len(terms) > 1 and len(scopes) == 1 else None
        self.scope = scopes.pop() if self.pattern is not None else None
        self.others = tuple(i for i in self.items if not isinstance(i, Term)) if self.pattern else self.items
        # The same terms, one named group each: which of them matched (for explanations only).
        self.which_terms = tuple(terms) if self.pattern is not None else ()
        self.which = _grouped(terms) if self.pattern is not None else None

    def mark(self, unit: Unit, memo: list[bool | None]) -> None:
        """Record which alternatives hold on ``unit`` (after the group matched), for :meth:`explain`."""
        if self.which is not None:
            for text in unit.texts(self.scope):
                self.mark_text(text, memo)
        for item in self.others:
            item.evaluate(unit, memo)

    def mark_text(self, text: str, memo: list[bool | None]) -> bool:
        """Record which of the group's plain terms occur in ``text``; True if any does.

        The group's fast pattern finds where; the slower one with a group per term is tried
        only at those places, to say which term it was."""
        found = False
        if self.pattern is None or self.which is None:
            return found
        for hit in self.pattern.finditer(text):
            which = self.which.match(text, hit.start())
            if which is not None:
                memo[self.which_terms[int((which.lastgroup or "t0")[1:])].index] = found = True
        return found

    def _evaluate(self, unit: Unit, memo: list[bool | None]) -> bool:
        if self.pattern is not None and any(self.pattern.search(text) for text in unit.texts(self.scope)):
            return True
        return any(item.evaluate(unit, memo) for item in self.others)

    def children(self) -> tuple[Node, ...]:
        return self.items

    def positional(self) -> bool:
        return all(item.positional() for item in self.items)

    def anchored(self) -> bool:
        return all(item.anchored() for item in self.items)

    def required(self) -> tuple[Term, ...]:
        return tuple(term for item in self.items for term in item.required())

    def explain(self, memo: Sequence[bool | None]) -> str:
        held = [item.explain(memo) for item in self.items if memo[item.index] and not isinstance(item, Not)]
        held = held or [item.explain(memo) for item in self.items if memo[item.index]]
        if not held:
            return self.source
        return held[0] if len(held) == 1 else "(" + " OR ".join(held) + ")"


class And(Node):
    """All of the parts."""

    __slots__ = ("items",)

    def __init__(self, items: Sequence[Node]) -> None:
        super().__init__("(" + " AND ".join(i.source for i in items) + ")")
        self.items = tuple(items)

    def _evaluate(self, unit: Unit, memo: list[bool | None]) -> bool:
        return all(item.evaluate(unit, memo) for item in self.items)

    def children(self) -> tuple[Node, ...]:
        return self.items

    def anchored(self) -> bool:
        return any(item.anchored() for item in self.items)

    def required(self) -> tuple[Term, ...]:
        options = [item.required() for item in self.items if item.anchored()]
        return min(options, key=len) if options else ()

    def explain(self, memo: Sequence[bool | None]) -> str:
        """What matched: the parts that are not exclusions ("" when all of them are)."""
        held = [text for item in self.items if not isinstance(item, Not) and (text := item.explain(memo))]
        if not held:
            return ""
        return held[0] if len(held) == 1 else "(" + " AND ".join(held) + ")"


class Not(Node):
    """The negation of a part."""

    __slots__ = ("item",)

    def __init__(self, item: Node) -> None:
        super().__init__(f"NOT {item.source}")
        self.item = item

    def _evaluate(self, unit: Unit, memo: list[bool | None]) -> bool:
        return not self.item.evaluate(unit, memo)

    def children(self) -> tuple[Node, ...]:
        return (self.item,)

    def anchored(self) -> bool:
        return False


class Near(Node):
    """Two positional parts at most ``distance`` words apart, in either order, in one field."""

    __slots__ = ("distance", "left", "right")

    def __init__(self, left: Node, right: Node, distance: int) -> None:
        super().__init__(f"({left.source} NEAR/{distance} {right.source})")
        self.left, self.right, self.distance = left, right, distance

    def children(self) -> tuple[Node, ...]:
        return (self.left, self.right)

    def positional(self) -> bool:
        return True

    def required(self) -> tuple[Term, ...]:
        return min(self.left.required(), self.right.required(), key=len)

    def _evaluate(self, unit: Unit, memo: list[bool | None]) -> bool:
        return any(self.spans(name, text) for name, text in unit.parts)

    def mark(self, unit: Unit, memo: list[bool | None]) -> None:
        """Record which terms of the operands occur where the NEAR holds, for :meth:`explain`:
        within the close pairs' spans (a term elsewhere in the field, too far off, is not why)."""
        for name, text in unit.parts:
            if _mark(self, name, text, memo):
                return

    def spans(self, name: str, text: str) -> list[tuple[int, int]]:
        """Character spans covering each pair of close matches in one field's text."""
        left = _spans(self.left, name, text)
        right = _spans(self.right, name, text) if left else []
        if not right:
            return []
        starts = [m.start() for m in _WORD.finditer(text)]
        words_r = [_word_span(starts, span) for span in right]
        # the right matches by first word, so that each left match looks only at those within
        # reach (every pair was compared before: a long sentence repeating the words took time
        # growing with its square); pairs are still given in the order left, then right
        by_first = sorted(range(len(right)), key=lambda i: words_r[i][0])
        firsts = [words_r[i][0] for i in by_first]
        widest = max(last - first for first, last in words_r)
        out: list[tuple[int, int]] = []
        for l_span in left:
            l_first, l_last = _word_span(starts, l_span)
            low = bisect_left(firsts, l_first - self.distance - 1 - widest)
            high = bisect_right(firsts, l_last + self.distance + 1)
            for i in sorted(by_first[low:high]):
                r_first, r_last = words_r[i]
                if max(r_first - l_last, l_first - r_last) - 1 <= self.distance:
                    r_span = right[i]
                    out.append((min(l_span[0], r_span[0]), max(l_span[1], r_span[1])))
        return out

    def explain(self, memo: Sequence[bool | None]) -> str:
        left, right = (_grouped_text(n.explain(memo)) for n in (self.left, self.right))
        return f"{left} NEAR/{self.distance} {right}"


def _merged(spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Character spans with those that overlap joined (every position of the result lies in one
    of ``spans``)."""
    out: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if out and start < out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _grouped_text(text: str) -> str:
    """Parenthesize a NEAR operand's explanation that is itself a NEAR clause."""
    return f"({text})" if " NEAR/" in text and not _wrapped(text) else text


def _mark(node: Node, name: str, text: str, memo: list[bool | None]) -> bool:
    """Record which terms of a NEAR (or of one of its operands) occur in a text, a NEAR's only
    where its operands are close (for :meth:`Node.explain`)."""
    if isinstance(node, Term):
        found = node.scope in (None, name) and node.pattern.search(text) is not None
    elif isinstance(node, Or):
        found = any([_mark(item, name, text, memo) for item in node.others])  # mark every item
        if node.which is not None and node.scope in (None, name) and node.mark_text(text, memo):
            found = True
    else:
        spans = _spans(node, name, text)
        found = bool(spans)
        if isinstance(node, Near):  # which of its operands' terms were close: within the spans, each stretch once
            for start, end in _merged(spans):
                _mark(node.left, name, text[start:end], memo)
                _mark(node.right, name, text[start:end], memo)
    if found:
        memo[node.index] = True
    return found


def _spans(node: Node, name: str, text: str) -> list[tuple[int, int]]:
    """Match spans of a positional node (a term, a NEAR, or an OR of them) in one field's text."""
    if isinstance(node, Term):
        return node.spans(text) if node.scope in (None, name) else []
    if isinstance(node, Or):
        spans = [span for item in node.others for span in _spans(item, name, text)]
        if node.pattern is not None and node.scope in (None, name):
            spans += [m.span() for m in node.pattern.finditer(text)]
        return spans
    if isinstance(node, Near):
        return node.spans(name, text)
    raise AssertionError(f"not positional: {node.source}")  # the parser refuses these


def _word_span(starts: list[int], span: tuple[int, int]) -> tuple[int, int]:
    """Indices of the first and last word a character span covers."""
    first = max(bisect_right(starts, span[0]) - 1, 0)
    last = max(bisect_left(starts, span[1]) - 1, first)
    return first, last


# -- compiled queries --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed query: its root, every node (for memoized evaluation) and its source text."""

    text: str
    root: Node
    nodes: tuple[Node, ...]
    terms: tuple[Term, ...] = field(default=())  # terms not under NOT

    def match(self, unit: Unit) -> list[bool | None] | None:
        """Evaluate on a unit: the memo (for :meth:`explain`) if the query holds, else None."""
        memo: list[bool | None] = [None] * len(self.nodes)
        return memo if self.root.evaluate(unit, memo) else None

    def holds(self, unit: Unit) -> bool:
        """True if the query holds on ``unit``."""
        return self.match(unit) is not None

    def explain(self, memo: list[bool | None], unit: Unit) -> str:
        """The part of the query that matched on ``unit``, as query text."""
        under_near = {d.index for n in self.nodes if isinstance(n, Near) for d in _descendants(n)}
        for node in self.nodes:  # groups searched with one pattern, and NEARs: find which terms held
            if not memo[node.index] or node.index in under_near:  # a NEAR marks its operands' terms itself
                continue
            if (isinstance(node, Or) and node.pattern is not None) or isinstance(node, Near):
                node.mark(unit, memo)
        text = self.root.explain(memo)
        return text[1:-1] if _wrapped(text) else text


def _descendants(node: Node) -> list[Node]:
    """Every node below ``node``."""
    return [d for child in node.children() for d in (child, *_descendants(child))]


def _wrapped(text: str) -> bool:
    """True if the outer parentheses of ``text`` enclose all of it."""
    if not (text.startswith("(") and text.endswith(")")):
        return False
    depth, quoted = 0, False
    for i, char in enumerate(text):
        if char == '"':
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
            if depth == 0 and i < len(text) - 1:
                return False
    return True


def finish(text: str, root: Node) -> Query:
    """Number the nodes of a tree built in code (as :func:`parse_query` does) into a Query."""
    nodes: list[Node] = []
    positive: list[Term] = []

    def walk(node: Node, negated: bool) -> None:
        node.index = len(nodes)
        nodes.append(node)
        if isinstance(node, Term) and not negated:
            positive.append(node)
        for child in node.children():
            walk(child, negated or isinstance(node, Not))

    walk(root, False)
    return Query(text=text, root=root, nodes=tuple(nodes), terms=tuple(positive))


def term_pattern(term: str) -> re.Pattern[str] | None:
    """Compile one word or phrase into a whole-word, case-insensitive pattern.

    ``*`` ends a word (any ending); spaces and hyphens between words match either. Returns
    None when the term has no word to match or puts ``*`` anywhere but at a word's end.

    A term matches whole words: not inside a longer word, and not before an apostrophe that
    continues the word (``xi`` does not match "Xi'an"; the possessive "Xi's" still counts).
    A term that begins or ends in a Chinese or Japanese character needs no word boundary on
    that side, since those scripts do not separate words with spaces (``制裁`` matches inside
    "对俄制裁").
    """
    words = [w for w in re.split(r"[\s\-]+", normalize_for_query(term)) if w]
    if not words or any(not w.rstrip("*") or "*" in w.rstrip("*") or w.endswith("**") for w in words):
        return None
    pieces = [re.escape(w[:-1]) + _ending(w) if w.endswith("*") else re.escape(w) for w in words]
    first, last = words[0][0], words[-1].rstrip("*")[-1]
    left = "" if _CJK.match(first) else (_LEFT_MARKED if _MARKED.match(first) else _LEFT)
    right = (
        "" if _CJK.match(last) and not words[-1].endswith("*") else (_RIGHT_MARKED if _MARKED.match(last) else _RIGHT)
    )
    return re.compile(left + r"[\s\-]+".join(pieces) + right)


def _ending(word: str) -> str:
    """What a word's ``*`` matches: any more of the word's letters (marks too, in the scripts that have them)."""
    return _LETTER + "*" if _MARKED.search(word) else r"\w*"


# scripts written without spaces between words: Chinese, Japanese, Thai, Lao, Khmer, Burmese
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff]")
_LEFT = r"(?<!\w)"
# Turkish writes a name's case ending after an apostrophe ("Kazakistan'da", "Rusya'nın",
# "Pekin'e"): an ending starts with a vowel of its own (dative, accusative, genitive) or with
# one of the consonants endings begin with and a vowel; "Xi'an", "Shi'ite" are one word.
_TURKISH_ENDING = r"(?:[ıiuü]n?|[ae]|[cçdtnylsğ][aeıiuü]\w*)(?!\w)"
# no letter after, nor an apostrophe that continues the word (the possessive "'s" and a
# Turkish ending leave the name whole)
_RIGHT = rf"(?!\w|'(?!s(?!\w)|{_TURKISH_ENDING})\w)"
_LEFT_MARKED = rf"(?<!{_LETTER})"
_RIGHT_MARKED = rf"(?!{_LETTER})"


def _body(term: Term) -> str:
    """A term's pattern without its word-boundary guards, when it has both (most terms)."""
    pattern = term.pattern.pattern
    if pattern.startswith(_LEFT) and pattern.endswith(_RIGHT):
        return pattern[len(_LEFT) : -len(_RIGHT)]
    return ""


_ATOM = re.compile(re.escape(_LETTER + "*") + r"|\\w\*|\[\\s\\-\]\+|\\.|.", re.DOTALL)


def _trie(bodies: Sequence[str]) -> str:
    """The alternation of term bodies as a prefix tree (``kazakh\\w*|kyrgyz\\w*`` becomes
    ``k(?:azakh\\w*|yrgyz\\w*)``): Python's regex engine tries alternatives one by one, so
    sharing prefixes makes a union of many terms several times faster to search. Longer
    continuations are tried before a term ends, as in a longest-first alternation."""
    root: dict[str, Any] = {}
    for body in bodies:
        node = root
        for atom in _ATOM.findall(body):
            node = node.setdefault(atom, {})
        node[""] = {}  # a term ends here

    def emit(node: dict[str, Any]) -> str:
        branches = [atom + emit(child) for atom, child in node.items() if atom]
        if not branches:
            return ""
        if len(branches) == 1 and "" not in node:
            return branches[0]
        return "(?:" + "|".join(branches) + ")" + ("?" if "" in node else "")

    return emit(root)


def _union(alternatives: Sequence[tuple[str, str]], trie: bool = False) -> str:
    """One pattern for (guarded body, full pattern) pairs: the plain terms share one pair of
    guards (much faster to search than guards on each), the others keep their own."""
    bodies = [body for body, _ in alternatives if body]
    plain = _trie(bodies) if trie else "|".join(bodies)
    others = "|".join(full for body, full in alternatives if not body)
    union = f"{_LEFT}(?:{plain}){_RIGHT}" if plain else ""
    return f"{union}|{others}" if union and others else union or others


def _grouped(terms: Sequence[Term]) -> re.Pattern[str]:
    """The union of ``terms`` with one named group per term (``t<index>``), longest first."""
    order = sorted(range(len(terms)), key=lambda i: len(terms[i].pattern.pattern), reverse=True)
    return re.compile(
        _union(
            [
                (f"(?P<t{i}>{_body(terms[i])})" if _body(terms[i]) else "", f"(?P<t{i}>{terms[i].pattern.pattern})")
                for i in order
            ]
        )
    )


def union_pattern(terms: Sequence[Term]) -> re.Pattern[str] | None:
    """One pattern matching wherever any of ``terms`` matches (a cheap pre-check)."""
    unique = sorted({t.pattern.pattern: t for t in terms}.values(), key=lambda t: len(t.pattern.pattern), reverse=True)
    if not unique:
        return None
    return re.compile(_union([(_body(t), t.pattern.pattern) for t in unique], trie=True))


# -- the parser ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Origin:
    """A query as written, before its ``@groups`` were written out: where the parser's errors
    point. ``pieces``: (start, end) in the parsed text, (start, end) as written, and the group's
    name, for each group written out, in order."""

    text: str
    pieces: tuple[tuple[int, int, int, int, str], ...] = ()

    def locate(self, offset: int) -> tuple[int, str]:
        """Where ``offset`` of the parsed text is in the text as written, and in which group."""
        shift = 0
        for start, end, written_start, written_end, name in self.pieces:
            if offset < start:
                break
            if offset < end:
                return written_start, f" (in @{name})"
            shift += (end - start) - (written_end - written_start)
        return offset - shift, ""


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # WORD PHRASE FIELD LPAREN RPAREN AND OR NOT NEAR END
    text: str
    offset: int
    distance: int = 0


class _Parser:
    """Recursive-descent parser; every error is one line naming the position and what was expected."""

    def __init__(self, text: str, where: str, origin: Origin | None = None) -> None:
        self.text = text
        self.where = where
        self.origin = origin
        self._check_single_quotes()
        self.tokens = self._lex()
        self.pos = 0
        self.depth = 0  # parentheses and NOTs open: bounded, so matching never runs out of stack

    # - errors -
    def error(self, offset: int, message: str) -> TopicDefinitionError:
        return TopicDefinitionError(f"{self.where}: query error at {self.position(offset)}: {message}")

    def position(self, offset: int) -> str:
        """``column N`` (or ``line L of the query, column N``) of an offset, in the query as
        written (with its @groups, if any: ``column N (in @name)``)."""
        text, note = self.text, ""
        if self.origin is not None:
            (offset, note), text = self.origin.locate(offset), self.origin.text
        line = text.count("\n", 0, offset) + 1
        column = offset - (text.rfind("\n", 0, offset) + 1) + 1
        at = f"line {line} of the query, column {column}" if "\n" in text.strip() else f"column {column}"
        return at + note

    def expected(self, what: str, token: _Token, hint: str = "") -> TopicDefinitionError:
        found = "the end of the query" if token.kind == "END" else repr(token.text)
        return self.error(token.offset, f"expected {what}, found {found}{hint}")

    # - lexer -
    def _lex(self) -> list[_Token]:
        tokens: list[_Token] = []
        text, i = self.text, 0
        while i < len(text):
            char = text[i]
            if char.isspace():
                i += 1
            elif char in _PARENS:
                tokens.append(_Token(_PARENS[char], char, i))
                i += 1
            elif char in _QUOTES:
                i = self._lex_phrase(tokens, i)
            else:
                i = self._lex_word(tokens, i)
        tokens.append(_Token("END", "", len(text)))
        return tokens

    def _lex_phrase(self, tokens: list[_Token], start: int) -> int:
        closing = {self.text[start], _QUOTES[self.text[start]], '"', "”"}
        end = start + 1
        while end < len(self.text) and self.text[end] not in closing:
            end += 1
        if end >= len(self.text):
            raise self.error(start, 'unterminated quoted phrase: add the closing "')
        tokens.append(_Token("PHRASE", self.text[start + 1 : end], start))
        return end + 1

    def _lex_word(self, tokens: list[_Token], start: int) -> int:
        end = start
        while end < len(self.text) and not self.text[end].isspace() and self.text[end] not in _WORD_END:
            end += 1
        word = self.text[start:end]
        if word == "#" or word.startswith("##"):  # "# note", as in the topics file; #word is a hashtag
            raise self.error(
                start,
                "a comment ('#') cannot sit inside a query string: put it on a line of its own, outside the quotes",
            )
        prefix = _FIELD_PREFIX.match(word)
        if prefix:
            name = prefix.group(1)
            if word[len(name) :].startswith("://"):
                raise self.error(
                    start,
                    f"word {word!r} is a web address, and terms never match inside links:"
                    " use the site's name (e.g. example for www.example.com)",
                )
            if name not in FIELDS:
                raise self.error(start, f"unknown field {name!r}: use title: or body:")
            tokens.append(_Token("FIELD", name, start))
            return start + len(name) + 1
        if word in ("AND", "OR", "NOT"):
            tokens.append(_Token(word, word, start))
        elif word.startswith("NEAR"):
            near = _NEAR.match(word)
            if not near or not 0 <= int(near.group(1)) <= MAX_NEAR:
                raise self.error(start, f"expected NEAR/n with a distance n from 0 to {MAX_NEAR} (e.g. NEAR/5)")
            tokens.append(_Token("NEAR", word, start, int(near.group(1))))
        else:
            bad = _BAD_IN_WORD.search(word)
            if bad:
                raise self.error(start + bad.start(), f"unexpected {bad.group()!r}: join alternatives with OR")
            self._check_search_syntax(word, start)
            tokens.append(_Token("WORD", word, start))
        return end

    def _check_search_syntax(self, word: str, start: int) -> None:
        """Refuse a web search engine's syntax, which would otherwise be read as words and change
        the query's meaning in silence (``-kazakhstan`` matched "kazakhstan")."""
        if word[0] in _SIGNS and word.lstrip(_SIGNS):
            todo = "to require a word, use AND (a AND b)" if word[0] == "+" else "to exclude a word, use NOT (a NOT b)"
            raise self.error(start, f"{word[0]!r} before a word is not an operator here: {todo}")
        if len(word) > 1 and word[-1] in "?~":
            raise self.error(
                start + len(word) - 1, f"{word[-1]!r} is not an operator here: end a word with * for any ending"
            )
        if "?" in word:  # colou?r: no one-letter wildcard here, and text never has a "?" inside a word
            raise self.error(
                start + word.index("?"),
                "'?' is not a wildcard here: list the spellings with OR (color OR colour), or end a word with *",
            )

    def _check_single_quotes(self) -> None:
        """Refuse a phrase in single quotes (``'lab leak'``), which would be read as two words
        with quotes in them; a word that starts with an apostrophe (``'ndrangheta``) is a word."""
        quoted = _SINGLE_QUOTED.search(self.text)
        if quoted:
            raise self.error(quoted.start(), 'a phrase is quoted with double quotes: "two words"')

    # - grammar -
    def peek(self) -> _Token:
        return self.tokens[self.pos]

    def take(self) -> _Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def parse(self) -> Node:
        if self.peek().kind == "END":
            raise self.error(0, "the query is empty: write at least one word")
        node = self.parse_or()
        token = self.peek()
        if token.kind != "END":
            hint = ""
            if token.kind == "WORD":
                hint = (
                    " (operators are upper-case)"
                    if token.text.lower() in ("and", "or", "not") or token.text.lower().startswith("near")
                    else ': join words with AND or OR, or quote a phrase ("two words")'
                )
            if token.kind == "RPAREN":
                raise self.error(token.offset, "unbalanced ')': remove it or add a '(' before it")
            raise self.expected("AND, OR, NOT, NEAR/n or the end of the query", token, hint)
        return node

    def parse_or(self) -> Node:
        items = [self.parse_and()]
        while self.peek().kind == "OR":
            self.take()
            items.append(self.parse_and())
        return items[0] if len(items) == 1 else Or(items)

    def parse_and(self) -> Node:
        items = [self.parse_unary()]
        while self.peek().kind in ("AND", "NOT"):
            if self.take().kind == "NOT":
                items.append(Not(self.parse_unary()))
            else:
                items.append(self.parse_unary())
        return items[0] if len(items) == 1 else And(items)

    def parse_unary(self) -> Node:
        if self.peek().kind == "NOT":
            token = self.take()
            self._enter(token)
            node = Not(self.parse_unary())
            self.depth -= 1
            return node
        return self.parse_near()

    def _enter(self, token: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(
                token.offset, f"nested more than {MAX_DEPTH} levels deep (parentheses or NOT): write it flatter"
            )

    def parse_near(self) -> Node:
        start = self.peek()
        left = self.parse_primary()
        if self.peek().kind != "NEAR":
            return left
        near = self.take()
        right_token = self.peek()
        if right_token.kind == "NOT":
            raise self.error(
                right_token.offset, "NOT cannot be an operand of NEAR/n: to leave a word out, write (a NEAR/n b) NOT c"
            )
        if right_token.kind not in ("WORD", "PHRASE", "LPAREN", "FIELD"):
            raise self.expected("a word, a phrase or '(' after NEAR/n", right_token)
        right = self.parse_primary()
        for side, token in ((left, start), (right, right_token)):
            if not side.positional():
                raise self.error(token.offset, "NEAR/n joins words, phrases, NEAR clauses or (a OR b) groups of them")
        if self.peek().kind == "NEAR":
            raise self.error(self.peek().offset, "one NEAR/n per group: write (a NEAR/n b) NEAR/m c")
        return Near(left, right, near.distance)

    def parse_primary(self, scope: str | None = None) -> Node:
        token = self.take()
        if token.kind == "LPAREN":
            if self.peek().kind == "RPAREN":
                raise self.expected("a word, a phrase or '('", self.peek())
            self._enter(token)
            inner = self.parse_or()
            if self.peek().kind != "RPAREN":
                raise self.expected("')' or an operator", self.peek(), f" (the '(' at {self.position(token.offset)})")
            self.take()
            self.depth -= 1
            if scope is None:
                return inner
            try:
                return _scoped(inner, scope)
            except ValueError as err:
                raise self.error(token.offset, str(err)) from None
        if token.kind == "FIELD":
            if scope is not None:
                raise self.error(token.offset, f"{token.text}: inside {scope}: — a part has one field")
            return self.parse_primary(token.text)
        if token.kind in ("WORD", "PHRASE"):
            return self._term(token, scope)
        if scope is not None:
            hint = f" (to leave out a word, write NOT {scope}:word)" if token.kind == "NOT" else ""
            raise self.expected(f"a word, a phrase or '(' after {scope}:", token, hint)
        raise self.expected("a word, a phrase, '(' or NOT", token)

    def _term(self, token: _Token, scope: str | None) -> Term:
        what = "phrase" if token.kind == "PHRASE" else "word"
        normalized = normalize_for_query(token.text)
        if not normalized.strip() and any(c.isalnum() for c in token.text):
            raise self.error(
                token.offset,
                f"{what} {token.text!r} is a web address, and terms never match inside links:"
                " use the site's name (e.g. example for www.example.com)",
            )
        pattern = term_pattern(token.text) if any(c.isalnum() for c in normalized) else None
        if pattern is None:
            raise self.error(token.offset, f"{what} {token.text!r} has no letters to match, or '*' not at a word's end")
        words = " ".join(w for w in re.split(r"[\s\-]+", normalize_for_query(token.text)) if w)
        source = f'"{words}"' if token.kind == "PHRASE" or " " in words else words
        term = Term(source, pattern, None)
        return term.with_scope(scope) if scope else term


def _scoped(node: Node, scope: str) -> Node:
    """Restrict every term below ``node`` to one field."""
    if isinstance(node, Term):
        if node.scope not in (None, scope):
            raise ValueError(f"{node.source} inside {scope}: — a part has one field")
        return node if node.scope == scope else node.with_scope(scope)
    if isinstance(node, Or):
        return Or([_scoped(i, scope) for i in node.items])
    if isinstance(node, And):
        return And([_scoped(i, scope) for i in node.items])
    if isinstance(node, Not):
        return Not(_scoped(node.item, scope))
    if isinstance(node, Near):
        return Near(_scoped(node.left, scope), _scoped(node.right, scope), node.distance)
    raise AssertionError(type(node).__name__)


def parse_query(text: str, where: str, origin: Origin | None = None) -> Query:
    """Parse a query; raise :class:`TopicDefinitionError` naming ``where``, the position (in
    ``origin``, the query as written, when ``text`` has its @groups written out) and what was
    expected."""
    if not isinstance(text, str):
        raise TopicDefinitionError(f"{where}: must be a query string such as 'sanction* AND russia*', not {text!r}")
    return finish(text, _Parser(text, where, origin).parse())  # nesting is bounded (MAX_DEPTH): no deep recursion
