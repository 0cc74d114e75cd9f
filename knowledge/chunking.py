"""Documents and chunks: parse Markdown / HTML / text into a :class:`Document`, split it by headings.

A chunk is one heading section (with the article title and heading path prefixed, so a
passage about "Refund timing" still says which article it belongs to). Long sections are cut
into windows of paragraphs that overlap by one paragraph, so an answer spanning a window
boundary is still whole in one of them; tiny sections are merged into the next one.
"""

from __future__ import annotations

import hashlib
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning

warnings.filterwarnings("ignore", category=MarkupResemblesLocatorWarning)

MAX_CHARS = 900  # a chunk's body; MiniLM truncates at 256 tokens (~1000 chars of English)
MIN_CHARS = 40  # only sections shorter than this are merged into the next one (each heading keeps its chunk)
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FRONT = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.S)


def sha(text: str) -> str:
    """Short, stable content hash."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


@dataclass
class Document:
    """One knowledge document (article, policy, resolved ticket) before chunking."""

    doc_id: str
    title: str
    text: str  # Markdown-ish plain text: '#' headings, blank-line paragraphs
    url: str | None = None
    source_type: str = "article"  # article | policy | ticket
    updated_at: str = ""
    language: str = ""  # "" = any
    brand: str = ""  # "" = every brand
    intents: list[str] = field(default_factory=list)

    @property
    def content_hash(self) -> str:
        return sha(f"{self.title}\n{self.text}")


@dataclass
class Chunk:
    """One embeddable passage of a document."""

    doc: Document
    index: int
    heading: str  # heading path inside the document ("" for the intro)
    body: str

    @property
    def embed_text(self) -> str:
        """What is embedded: title and heading path give short passages their context."""
        return self.text_for(self.doc.title, self.heading, self.body)

    @staticmethod
    def text_for(title: str, heading: str, body: str) -> str:
        """:attr:`embed_text` from a chunk's parts (as its stored metadata and text hold them)."""
        head = title + (f" - {heading}" if heading and heading != title else "")
        return f"{head}\n{body}"

    @property
    def content_hash(self) -> str:
        return sha(self.embed_text)

    def metadata(self) -> dict[str, Any]:
        """Chroma metadata (scalars only)."""
        d = self.doc
        return {
            "doc_id": d.doc_id,
            "title": d.title,
            "url": d.url or "",
            "source_type": d.source_type,
            "updated_at": d.updated_at or "",
            "language": d.language or "",
            "brand": (d.brand or "").strip(),  # compared exactly (knowledge.brands): no stray whitespace
            "intents": "," + ",".join(d.intents) + "," if d.intents else "",
            "heading": self.heading,
            "chunk_index": self.index,
            "content_hash": self.content_hash,
            "doc_hash": d.content_hash,
        }


# ---------------------------------------------------------------- parsing


def _front_matter(text: str) -> tuple[dict[str, Any], str]:
    m = _FRONT.match(text)
    if not m:
        return {}, text
    try:
        meta = yaml.safe_load(m.group(1)) or {}
    except yaml.YAMLError:
        return {}, text
    return (meta if isinstance(meta, dict) else {}), text[m.end():]


def html_to_text(html: str) -> str:
    """HTML → Markdown-ish text: headings become '#' lines, blocks become paragraphs."""
    soup = BeautifulSoup(html or "", "html.parser")
    for bad in soup(["script", "style", "noscript", "iframe", "img"]):
        bad.decompose()
    for level in range(1, 7):
        for h in soup.find_all(f"h{level}"):
            h.replace_with(f"\n\n{'#' * level} {h.get_text(' ', strip=True)}\n\n")
    for li in soup.find_all("li"):
        li.insert_before("\n- ")
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for blk in soup.find_all(["p", "div", "ul", "ol", "table", "tr", "section", "article", "blockquote", "pre"]):
        blk.insert_before("\n\n")
        blk.insert_after("\n\n")
    text = soup.get_text()
    text = re.sub(r"[ \t\u00a0]+", " ", text)
    text = re.sub(r" *\n *", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _first_heading(text: str) -> str | None:
    for line in text.splitlines():
        m = _HEADING.match(line)
        if m:
            return m.group(2).strip()
    return None


def _as_list(v: Any) -> list[str]:
    if not v:
        return []
    if isinstance(v, str):
        return [s.strip() for s in v.split(",") if s.strip()]
    return [str(s).strip() for s in v if str(s).strip()]


def parse_file(path: Path, root: Path) -> Document:
    """Read one Markdown, HTML or text file as a :class:`Document`.

    Markdown front matter may set ``id``, ``title``, ``url``, ``type`` (article | policy),
    ``updated_at``, ``language``, ``brand`` and ``intents``; otherwise the title is the first
    heading (or the file name) and the id is the path relative to ``root``.
    """
    raw = path.read_text(encoding="utf-8", errors="replace")
    meta, body = _front_matter(raw)
    suffix = path.suffix.lower()
    if suffix in (".html", ".htm"):
        soup_title = BeautifulSoup(body, "html.parser").title
        text = html_to_text(body)
        title = meta.get("title") or (soup_title.get_text(strip=True) if soup_title else None) or _first_heading(text)
    else:
        text = body.strip()
        title = meta.get("title") or _first_heading(text)
        if not title and suffix not in (".md", ".markdown"):
            first = text.splitlines()[0].strip() if text else ""
            title = first if 0 < len(first) <= 120 else None
    rel = path.relative_to(root).as_posix()
    updated = meta.get("updated_at") or meta.get("updated")
    return Document(
        doc_id=str(meta.get("id") or rel),
        title=str(title or path.stem.replace("-", " ").replace("_", " ").strip().capitalize()),
        text=text,
        url=str(meta["url"]) if meta.get("url") else None,
        source_type=str(meta.get("type") or "article"),
        updated_at=str(updated) if updated else "",
        language=str(meta.get("language") or ""),
        brand=str(meta.get("brand") or ""),
        intents=_as_list(meta.get("intents")),
    )


SUPPORTED = (".md", ".markdown", ".html", ".htm", ".txt")


def load_folder(folder: str | Path) -> list[Document]:
    """Every supported file under ``folder`` (recursively), sorted by path for stable ids."""
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"knowledge folder not found: {root}")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED)
    return [parse_file(p, root) for p in files]


# ---------------------------------------------------------------- chunking


def _sections(doc: Document) -> list[tuple[str, str]]:
    """(heading path, body) per heading section; the document title heading is not a path element."""
    out: list[tuple[str, str]] = []
    path: list[tuple[int, str]] = []
    buf: list[str] = []

    def flush() -> None:
        body = "\n".join(buf).strip()
        if body:
            out.append((" > ".join(h for _, h in path if h != doc.title), body))
        buf.clear()

    for line in doc.text.splitlines():
        m = _HEADING.match(line)
        if m:
            flush()
            level = len(m.group(1))
            path = [(lv, h) for lv, h in path if lv < level] + [(level, m.group(2).strip())]
        else:
            buf.append(line)
    flush()
    return out


def _windows(body: str, max_chars: int) -> list[str]:
    """Split a long section into paragraph windows overlapping by one paragraph."""
    if len(body) <= max_chars:
        return [body]
    paras = [p.strip() for p in re.split(r"\n\s*\n", body) if p.strip()]
    # A single giant paragraph: fall back to sentences.
    if len(paras) == 1:
        paras = [s.strip() for s in re.split(r"(?<=[.!?])\s+", body) if s.strip()]
    out: list[str] = []
    cur: list[str] = []
    for p in paras:
        if cur and len("\n\n".join(cur + [p])) > max_chars:
            out.append("\n\n".join(cur))
            cur = [cur[-1]] if len(cur[-1]) < max_chars // 2 else []  # the overlap
        cur.append(p)
    if cur:
        out.append("\n\n".join(cur))
    return out


def chunk_document(doc: Document, max_chars: int = MAX_CHARS, min_chars: int = MIN_CHARS) -> list[Chunk]:
    """Chunks of ``doc``: one per heading section, long ones windowed, tiny ones merged forward."""
    merged: list[tuple[str, str]] = []
    carry_head, carry = "", ""
    for head, body in _sections(doc):
        if carry:
            body = f"{carry}\n\n{(head + ': ') if head else ''}{body}"
            head = carry_head or head
            carry_head, carry = "", ""
        if len(body) < min_chars:
            carry_head, carry = head, body
            continue
        merged.append((head, body))
    if carry:
        if merged:
            h, b = merged[-1]
            merged[-1] = (h, f"{b}\n\n{(carry_head + ': ') if carry_head else ''}{carry}")
        else:
            merged.append((carry_head, carry))
    chunks: list[Chunk] = []
    for head, body in merged:
        for w in _windows(body, max_chars):
            chunks.append(Chunk(doc=doc, index=len(chunks), heading=head, body=w))
    return chunks
