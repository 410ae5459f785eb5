#!/usr/bin/env python3
"""Finds import circles between the modules of the workspace's crates.

For every crate root (src/lib.rs, src/main.rs, src/bin/*) it follows the
`mod x;` declarations to the module files, reads each file's references to
other modules of the same crate (`use crate::…`, `use super::…`, `self::…`,
`crate::…`/`super::…` paths in code, and `child::…` paths to a declared child
module) and keeps them as edges between sibling modules: an edge from
`ui/fields.rs` to `ui/form.rs` counts as fields → form; an edge between a
module and its own parent or child does not count (a parent declares and
re-exports its children; that is structure, not a circle). Any strongly
connected group of two or more siblings is a circle.

Usage: scripts/module-cycles.py [--edges] [CRATE_DIR ...]
With no crate directory, every workspace member of the root Cargo.toml.
Exits 1 when a circle is found, listing it.
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def workspace_members():
    text = (ROOT / "Cargo.toml").read_text()
    match = re.search(r"^members\s*=\s*\[(.*?)\]", text, re.S | re.M)
    return [ROOT / m for m in re.findall(r'"([^"]+)"', match.group(1))] if match else []


def strip_comments_and_strings(src):
    """Blanks comments, string and char literals (keeping line structure)."""
    out = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
        elif src.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if src.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif src.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    out.append("\n" if src[i] == "\n" else "")
                    i += 1
        elif c == "r" and re.match(r'r#*"', src[i:]) and (i == 0 or not (src[i - 1].isalnum() or src[i - 1] == "_")):
            hashes = re.match(r'r(#*)"', src[i:]).group(1)
            end = src.find('"' + hashes, i + len(hashes) + 2)
            end = n if end < 0 else end + 1 + len(hashes)
            out.append('""')
            i = end
        elif c == '"':
            j = i + 1
            while j < n and src[j] != '"':
                j += 2 if src[j] == "\\" else 1
            out.append('""')
            i = j + 1
        elif c == "'":
            m = re.match(r"'(\\.[^']*|[^\\'])'", src[i:])
            if m:
                out.append("' '")
                i += m.end()
            else:  # a lifetime
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def expand_use_tree(tree):
    """`a::{b, c::{d, e}}` → [[a, b], [a, c, d], [a, c, e]]."""
    tree = re.sub(r"\s+", "", tree)
    tree = re.sub(r"\bas\w+", "", tree)

    def split_top(s):
        parts, depth, cur = [], 0, ""
        for ch in s:
            if ch == "," and depth == 0:
                parts.append(cur)
                cur = ""
                continue
            depth += ch == "{"
            depth -= ch == "}"
            cur += ch
        if cur:
            parts.append(cur)
        return parts

    def expand(s):
        brace = s.find("{")
        if brace < 0:
            return [[p for p in s.split("::") if p]]
        prefix = [p for p in s[:brace].split("::") if p]
        inner = s[brace + 1 : s.rfind("}")]
        return [prefix + rest for part in split_top(inner) for rest in expand(part)]

    return expand(tree)


class Crate:
    def __init__(self, root_file):
        self.files = {}  # module path (tuple) -> file
        self.children = {}  # module path -> set of child names
        self._discover((), root_file)

    def _discover(self, module, file):
        self.files[module] = file
        src = strip_comments_and_strings(file.read_text())
        self.children[module] = set()
        is_dir_owner = file.name in ("mod.rs", "lib.rs", "main.rs") or file.parent.name == "bin"
        base = file.parent if is_dir_owner else file.parent / file.stem
        for name in re.findall(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", src, re.M):
            self.children[module].add(name)
            for candidate in (base / f"{name}.rs", base / name / "mod.rs"):
                if candidate.exists():
                    self._discover(module + (name,), candidate)
                    break

    def resolve(self, module, segments):
        """The module a path names, or None if outside this crate."""
        segs = list(segments)
        if segs[0] == "crate":
            base, segs = (), segs[1:]
        elif segs[0] in ("super", "self"):
            base = module
            while segs and segs[0] in ("super", "self"):
                if segs[0] == "super":
                    base = base[:-1]
                segs = segs[1:]
        elif segs[0] in self.children.get(module, ()):
            base = module
        else:
            return None
        target = base
        for seg in segs:
            if target + (seg,) not in self.files:
                break
            target = target + (seg,)
        return target

    def references(self, module):
        src = strip_comments_and_strings(self.files[module].read_text())
        paths = []
        # Inline modules (`mod tests { … }`): `super` inside them means the file.
        inline = [(m.start(), m.group(1)) for m in re.finditer(r"\bmod\s+(\w+)\s*\{", src)]

        def scope(pos):
            return module + tuple(name for start, name in inline if start < pos and _closes_after(src, start, pos))

        for m in re.finditer(r"\buse\s+([^;]+);", src):
            for p in expand_use_tree(m.group(1)):
                if p:
                    paths.append((scope(m.start()), p))
        uses = [(m.start(), m.end()) for m in re.finditer(r"\buse\s+[^;]+;", src)]
        for m in re.finditer(r"(?<![\w:])((?:crate|super|self|\w+)(?:::\w+)+)", src):
            if any(a <= m.start() < b for a, b in uses):
                continue
            paths.append((scope(m.start()), m.group(1).split("::")))
        targets = set()
        for where, p in paths:
            inline_depth = len(where) - len(module)
            # `super` from an inline module first climbs out of the inline modules.
            while inline_depth and p and p[0] == "super":
                p, inline_depth = p[1:], inline_depth - 1
            if not p:
                continue
            if inline_depth and p[0] not in ("crate", "super"):
                continue  # relative to an inline module: not a file module
            t = self.resolve(module, p)
            if t is not None:
                targets.add(t)
        targets.discard(module)
        return targets


def _closes_after(src, start, pos):
    """Whether the block opened at `start` is still open at `pos`."""
    depth = 0
    for i in range(src.index("{", start), pos):
        depth += src[i] == "{"
        depth -= src[i] == "}"
        if depth == 0:
            return False
    return True


def sibling_edges(crate):
    edges = set()
    for module in crate.files:
        for target in crate.references(module):
            common = 0
            while common < min(len(module), len(target)) and module[common] == target[common]:
                common += 1
            if common in (len(module), len(target)):
                continue  # parent and child
            edges.add((module[: common + 1], target[: common + 1]))
    return edges


def cycles(edges):
    graph = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set())
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def roots(crate_dir):
    src = crate_dir / "src"
    found = [f for f in (src / "lib.rs", src / "main.rs") if f.exists()]
    bins = src / "bin"
    if bins.is_dir():
        found += sorted(bins.glob("*.rs")) + sorted(bins.glob("*/main.rs"))
    return found


def name(module):
    return "::".join(module) or "(root)"


def main(argv):
    show_edges = "--edges" in argv
    dirs = [Path(a).resolve() for a in argv if a != "--edges"] or workspace_members()
    found = False
    for crate_dir in dirs:
        for root in roots(crate_dir):
            crate = Crate(root)
            edges = sibling_edges(crate)
            label = root.relative_to(ROOT) if root.is_relative_to(ROOT) else root
            if show_edges:
                for a, b in sorted(edges):
                    print(f"{label}: {name(a)} -> {name(b)}")
            for group in cycles(edges):
                found = True
                print(f"{label}: import circle: {' <-> '.join(name(m) for m in group)}")
    if not found:
        print(f"no import circle in {len(dirs)} crate(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
