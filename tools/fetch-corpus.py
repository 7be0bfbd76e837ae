#!/usr/bin/env python3
"""Builds the English text corpus of paper/table4.toml from Debian packages (the largest real English text we
found in the registries our machines reach; see plugins/tasks/text_corpus/README.md for what was looked at).

    python3 tools/fetch-corpus.py [--out data/corpus] [--debs .corpus-debs]

Downloads the packages below with `apt-get download` (no install, no root needed beyond apt's cache), unpacks
each with `dpkg-deb -x` into a temporary directory, turns its English prose into plain-text documents and writes
<out>/<package>.jsonl, one {"text": ...} document a line: a source file (a kernel or Python .rst page, a Perl
.pod, an HTML page with its tags stripped) or, for dictionaries and fortune files, consecutive entries up to
~64 KB. <out>/MANIFEST.json lists each package's version, documents and bytes. Neither is committed: data/ and
.corpus-debs/ are ignored. The same Debian release gives the same bytes, which the spec pins with corpus_hash.
"""
import argparse
import gzip
import html.parser
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

CHUNK = 64 * 1024  # bytes of dictionary or fortune entries per document


class _Text(html.parser.HTMLParser):
    """The visible text of an HTML page: no scripts, styles or navigation, paragraphs kept apart."""
    SKIP = {"script", "style", "head", "nav"}
    BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "dt", "dd", "table", "section"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out, self.skip = [], 0

    def handle_starttag(self, tag, attrs):
        self.skip += tag in self.SKIP
        if tag in self.BLOCK:
            self.out.append("\n")

    def handle_endtag(self, tag):
        self.skip -= tag in self.SKIP and self.skip > 0
        if tag in self.BLOCK:
            self.out.append("\n")

    def handle_data(self, data):
        if not self.skip:
            self.out.append(data)


def html_text(raw):
    p = _Text()
    p.feed(raw)
    text = "".join(p.out)
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def read(path):
    data = gzip.open(path).read() if path.suffix in (".gz", ".dz") else path.read_bytes()
    return data.decode("utf-8", errors="replace")


def chunks(entries):
    """Consecutive entries joined into documents of about CHUNK bytes."""
    doc, size = [], 0
    for e in entries:
        doc.append(e)
        size += len(e)
        if size >= CHUNK:
            yield "\n\n".join(doc)
            doc, size = [], 0
    if doc:
        yield "\n\n".join(doc)


def files(root, pattern):
    return sorted(p for p in root.rglob("*") if p.is_file() and re.search(pattern, p.as_posix()))


def one_per_file(pattern, convert=lambda t: t.strip()):
    def extract(root):
        for p in files(root, pattern):
            t = convert(read(p))
            if t:
                yield t
    return extract


def dictd(name):
    """A dictd database: entries are separated by blank lines; the 00-database-* headers are dropped."""
    def extract(root):
        for p in files(root, rf"/{name}\.dict\.dz$"):
            entries = [e.strip() for e in re.split(r"\n\s*\n", read(p)) if e.strip()]
            yield from chunks(e for e in entries if not e.startswith("00-database") and not e.startswith("00database"))
    return extract


def wordnet(root):
    """WordNet 3.0: each synset's words and gloss (definition and examples), "word, word: gloss"."""
    def entries():
        for p in files(root, r"/data\.(noun|verb|adj|adv)$"):
            for line in read(p).splitlines():
                if line.startswith(" ") or "|" not in line:
                    continue  # the license header
                head, gloss = line.split("|", 1)
                f = head.split()
                words = [f[4 + 2 * i].replace("_", " ") for i in range(int(f[3], 16))]
                yield ", ".join(words) + ": " + gloss.strip()
    yield from chunks(entries())


def fortunes(root):
    """Fortune cookies (the English, non-offensive set), separated by '%' lines."""
    for p in files(root, r"/games/fortunes/[a-z-]+$"):
        yield from chunks(c.strip() for c in re.split(r"\n%\n", read(p)) if c.strip())


# package -> how its English prose becomes documents. Sizes measured on Debian 12 are in the plugin's README.
PACKAGES = {
    "linux-doc-6.1": one_per_file(r"/Documentation/.*\.(rst|txt)(\.gz)?$"),
    "python3.11-doc": one_per_file(r"/html/_sources/.*\.rst\.txt$"),
    "perl-doc": one_per_file(r"\.pod$"),
    "postgresql-doc-15": one_per_file(r"/html/.*\.html$", html_text),
    "debian-handbook": one_per_file(r"/html/en-US/.*\.html$", html_text),
    "debian-reference-en": one_per_file(r"\.en\.html$|/debian-reference/.*\.html$", html_text),
    "bash-doc": one_per_file(r"/doc/bash/.*\.html$", html_text),
    "dict-gcide": dictd("gcide"),
    "wordnet-base": wordnet,
    "dict-foldoc": dictd("foldoc"),
    "dict-jargon": dictd("jargon"),
    "dict-devil": dictd("devil"),
    "fortunes": fortunes,
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="data/corpus", help="where the .jsonl files go (default data/corpus)")
    ap.add_argument("--debs", default=".corpus-debs", help="download cache for the .deb files")
    a = ap.parse_args()
    out, debs = Path(a.out), Path(a.debs)
    out.mkdir(parents=True, exist_ok=True)
    debs.mkdir(parents=True, exist_ok=True)
    manifest = {}
    for pkg, extract in PACKAGES.items():
        if not list(debs.glob(f"{pkg}_*.deb")):
            subprocess.run(["apt-get", "download", pkg], cwd=debs, check=True, stdout=subprocess.DEVNULL)
        deb = sorted(debs.glob(f"{pkg}_*.deb"))[-1]
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(["dpkg-deb", "-x", str(deb), tmp], check=True)
            docs, size = 0, 0
            dest = out / f"{pkg}.jsonl"
            with open(str(dest) + ".tmp", "w", encoding="utf-8") as f:
                for text in extract(Path(tmp)):
                    f.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")
                    docs += 1
                    size += len(text.encode("utf-8"))
                f.flush()
                os.fsync(f.fileno())
            os.replace(str(dest) + ".tmp", dest)
        manifest[pkg] = {"deb": deb.name, "documents": docs, "text_bytes": size}
        print(f"{pkg:22} {docs:7d} documents {size / 1e6:8.2f} MB", file=sys.stderr)
    total = sum(m["text_bytes"] for m in manifest.values())
    print(f"{'total':22} {sum(m['documents'] for m in manifest.values()):7d} documents {total / 1e6:8.2f} MB",
          file=sys.stderr)
    (out / "MANIFEST.json").write_text(json.dumps({"packages": manifest, "text_bytes": total}, indent=2) + "\n")


if __name__ == "__main__":
    main()
