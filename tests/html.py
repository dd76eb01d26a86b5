"""Reading rendered pages by their structure, not by exact substrings.

A test that asks for `<data class="raised">`'s value keeps passing when an attribute moves or
a class is added, and fails when the figure is wrong; an exact substring does the opposite.
Built on BeautifulSoup with Python's own html.parser.
"""

from __future__ import annotations

from bs4 import BeautifulSoup, Tag


def soup(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


def text_of(element: Tag) -> str:
    """The element's visible text, with runs of white space folded to one space."""
    return " ".join(element.get_text(" ").split())


def texts(html: str, selector: str) -> list[str]:
    """The folded text of every element matching the CSS selector, in page order."""
    return [text_of(element) for element in soup(html).select(selector)]


def attributes(html: str, selector: str) -> list[dict]:
    """The attributes of every element matching the selector (class as one string)."""
    found = []
    for element in soup(html).select(selector):
        attrs = dict(element.attrs)
        if "class" in attrs:
            attrs["class"] = " ".join(attrs["class"])
        found.append(attrs)
    return found


def data_values(html: str, name: str) -> list[tuple[str, str]]:
    """(value, shown text) of every `<data class="name">`, in page order."""
    return [(element["value"], text_of(element)) for element in soup(html).select(f"data.{name}")]


def data_value(html: str, name: str) -> tuple[str, str]:
    """(value, shown text) of the one `<data class="name">`; fails unless exactly one."""
    values = data_values(html, name)
    assert len(values) == 1, f"expected one <data class={name!r}>, found {len(values)}"
    return values[0]


class Page:
    """A parsed page, with the lists older tests read: every tag, the h2 texts, the givers."""

    def __init__(self, html: str):
        self.soup = soup(html)

    @property
    def tags(self) -> list[tuple[str, dict]]:
        return [
            (
                element.name,
                {k: " ".join(v) if k == "class" else v for k, v in element.attrs.items()},
            )
            for element in self.soup.find_all(True)
        ]

    @property
    def h2_texts(self) -> list[str]:
        return [text_of(element) for element in self.soup.select("h2")]

    @property
    def giver_names(self) -> list[str]:
        return [text_of(element) for element in self.soup.select(".giver-name")]


def parse(html: str) -> Page:
    return Page(html)
