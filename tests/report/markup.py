"""A small HTML tree for the report tests, on the standard library's parser.

Tests ask about elements ("one plot per journey", "a shaded rect per fault")
rather than substrings, so markup details such as attribute order or
whitespace cannot make them pass or fail by accident.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser

#: Elements that never have content in HTML, so the parser must not wait for their end tag.
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)


@dataclass
class Node:
    """One element: its tag, attributes, children and the text directly inside it."""

    tag: str
    attrs: dict[str, str]
    children: list[Node] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def walk(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            yield from child.walk()

    def find_all(self, tag: str, cls: str | None = None, **attrs: str) -> list[Node]:
        """Descendants (and self) with ``tag``, carrying class ``cls`` and these attributes."""
        return [
            n
            for n in self.walk()
            if n.tag == tag
            and (cls is None or cls in n.classes)
            and all(n.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())
        ]

    def find(self, tag: str, cls: str | None = None, **attrs: str) -> Node:
        found = self.find_all(tag, cls, **attrs)
        assert found, f"no <{tag}> with class={cls!r} {attrs}"
        return found[0]

    @property
    def text(self) -> str:
        """All text inside, entities decoded, whitespace collapsed."""
        parts: list[str] = []

        def collect(node: Node) -> None:
            parts.extend(node.texts)
            for child in node.children:
                collect(child)

        collect(self)
        return " ".join(" ".join(parts).split())


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self._stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self._stack[-1].children.append(node)
        if tag not in _VOID:
            self._stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._stack[-1].children.append(Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self._stack) - 1, 0, -1):
            if self._stack[depth].tag == tag:
                del self._stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        self._stack[-1].texts.append(data)


def parse(markup: str) -> Node:
    """The document as a tree of :class:`Node`."""
    builder = _TreeBuilder()
    builder.feed(markup)
    builder.close()
    return builder.root
