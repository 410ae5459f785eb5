//! The structure ARCHITECTURE.md describes, checked: which workspace crate
//! may depend on which, and no import circle between the modules of any
//! crate. A new dependency or a circle fails here, not in review.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Each workspace crate and the workspace crates it may use (normal,
/// build and dev dependencies alike). Anything else is forbidden.
const ALLOWED: &[(&str, &[&str])] = &[
    ("beatbook-schema", &[]),
    ("beatbook-store", &["beatbook-schema"]),
    (
        "beatbook-store-sqlite",
        &["beatbook-schema", "beatbook-store"],
    ),
    (
        "beatbook-store-postgres",
        // The SQLite backend only for the tests of `migrate-to`'s copy.
        &["beatbook-schema", "beatbook-store", "beatbook-store-sqlite"],
    ),
    (
        "beatbook-server",
        &[
            "beatbook-schema",
            "beatbook-store",
            "beatbook-store-sqlite",
            "beatbook-store-postgres",
            "beatbook-demo",
            "beatbook-xlsform",
        ],
    ),
    ("beatbook-demo", &["beatbook-schema"]),
    ("beatbook-xlsform", &["beatbook-schema"]),
    ("beatbook-idcard", &["beatbook-schema"]),
    ("beatbook-core", &["beatbook-schema"]),
    ("beatbook-web", &["beatbook-app", "beatbook-core"]),
    (
        "beatbook-app",
        &["beatbook-schema", "beatbook-core", "beatbook-idcard"],
    ),
    (
        "beatbook-tests",
        &[
            "beatbook-schema",
            "beatbook-store",
            "beatbook-store-sqlite",
            "beatbook-store-postgres",
            "beatbook-server",
            "beatbook-core",
            "beatbook-xlsform",
        ],
    ),
];

/// Dependencies that only a build for the tests may have: the PostgreSQL
/// backend's crate may use the SQLite one in its tests, never in its library.
const DEV_ONLY: &[(&str, &str)] = &[("beatbook-store-postgres", "beatbook-store-sqlite")];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the workspace")
        .to_owned()
}

#[derive(Debug)]
struct Package {
    name: String,
    /// `(dependency, kind)`, kind `normal`, `dev` or `build`.
    deps: Vec<(String, String)>,
    src: PathBuf,
}

fn workspace_packages() -> Vec<Package> {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(workspace_root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");
    let packages = meta["packages"].as_array().expect("packages");
    packages
        .iter()
        .map(|p| {
            let manifest = PathBuf::from(p["manifest_path"].as_str().expect("manifest path"));
            Package {
                name: p["name"].as_str().expect("name").to_owned(),
                deps: p["dependencies"]
                    .as_array()
                    .expect("dependencies")
                    .iter()
                    .filter(|d| d["path"].is_string())
                    .map(|d| {
                        (
                            d["name"].as_str().expect("name").to_owned(),
                            d["kind"].as_str().unwrap_or("normal").to_owned(),
                        )
                    })
                    .collect(),
                src: manifest.parent().expect("crate dir").join("src"),
            }
        })
        .collect()
}

#[test]
fn crates_depend_only_on_what_architecture_md_allows() {
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut wrong = Vec::new();
    for p in workspace_packages() {
        let Some(may) = allowed.get(p.name.as_str()) else {
            wrong.push(format!(
                "{} is not in ARCHITECTURE.md's table (tests/tests/architecture.rs ALLOWED)",
                p.name
            ));
            continue;
        };
        for (dep, kind) in &p.deps {
            if !may.contains(&dep.as_str()) {
                wrong.push(format!("{} may not depend on {dep} ({kind})", p.name));
            } else if kind != "dev" && DEV_ONLY.contains(&(p.name.as_str(), dep.as_str())) {
                wrong.push(format!(
                    "{} may use {dep} in its tests only, not as a {kind} dependency",
                    p.name
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "forbidden dependencies:\n{}",
        wrong.join("\n")
    );
}

// ---------------------------------------------------------------- modules

/// A module path within a crate, e.g. `["review", "session"]`.
type ModPath = Vec<String>;

/// The module each source file is: `src/review/session.rs` → `review::session`,
/// `src/review/mod.rs` → `review`, `src/lib.rs` → the crate root.
fn module_of(src: &Path, file: &Path) -> ModPath {
    let rel = file.strip_prefix(src).expect("a file under src");
    let mut parts: Vec<String> = rel
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            // Binaries under src/bin are crates of their own.
            if path.file_name().is_some_and(|n| n != "bin") {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without its unit tests (`#[cfg(test)]` and what
/// follows at the top level) and without comments.
fn code_of(text: &str) -> String {
    let mut code = String::new();
    for line in text.lines() {
        if line.starts_with("#[cfg(test)]") {
            break;
        }
        let trimmed = line.trim_start();
        if trimmed.starts_with("//") {
            continue;
        }
        code.push_str(line);
        code.push('\n');
    }
    code
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Module paths a file names with `crate::…` or `super::…` (each followed as
/// far as it goes: the caller trims it to a module that exists), with the
/// first level of a `{…}` group expanded.
fn references(code: &str, here: &ModPath) -> Vec<ModPath> {
    let mut refs = Vec::new();
    let bytes: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        let starts = |word: &str| {
            bytes[i..].iter().take(word.len()).copied().eq(word.chars())
                && (i == 0 || !is_ident(bytes[i - 1]))
        };
        let (mut base, skip) = if starts("crate::") {
            (Vec::new(), "crate::".len())
        } else if starts("super::") {
            let mut base = here.clone();
            base.pop();
            (base, "super::".len())
        } else {
            i += 1;
            continue;
        };
        i += skip;
        // More `super::` hops.
        while bytes[i..].iter().take(7).copied().eq("super::".chars()) {
            base.pop();
            i += 7;
        }
        let mut path = base;
        loop {
            let start = i;
            while i < bytes.len() && is_ident(bytes[i]) {
                i += 1;
            }
            if i > start {
                path.push(bytes[start..i].iter().collect());
            }
            if bytes[i..].iter().take(2).copied().eq("::".chars()) {
                i += 2;
                if bytes.get(i) == Some(&'{') {
                    // A group: each first-level name.
                    let close = bytes[i..]
                        .iter()
                        .position(|&c| c == '}')
                        .map_or(bytes.len(), |p| i + p);
                    let inner: String = bytes[i + 1..close].iter().collect();
                    for item in inner.split(',') {
                        let name: String =
                            item.trim().chars().take_while(|&c| is_ident(c)).collect();
                        if !name.is_empty() {
                            let mut p = path.clone();
                            p.push(name);
                            refs.push(p);
                        }
                    }
                    i = close;
                    path.clear();
                    break;
                }
                continue;
            }
            break;
        }
        if !path.is_empty() {
            refs.push(path);
        }
    }
    refs
}

/// Circles among the modules of one crate's `src`: a reference from module
/// `a::b::c` to `a::x::y` is an edge `b → x` between the children of their
/// nearest common module (a module naming its own ancestors or descendants is
/// not a circle: `mod` declarations and re-exports go that way).
fn module_cycles(src: &Path) -> Vec<Vec<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: BTreeSet<ModPath> = files.iter().map(|f| module_of(src, f)).collect();
    let mut edges: BTreeMap<ModPath, BTreeSet<ModPath>> = BTreeMap::new();
    for file in &files {
        let here = module_of(src, file);
        let text = std::fs::read_to_string(file).expect("source file reads");
        for mut target in references(&code_of(&text), &here) {
            while !target.is_empty() && !modules.contains(&target) {
                target.pop();
            }
            let common = here.iter().zip(&target).take_while(|(a, b)| a == b).count();
            if common == here.len() || common == target.len() {
                continue;
            }
            edges
                .entry(here[..=common].to_vec())
                .or_default()
                .insert(target[..=common].to_vec());
        }
    }
    // Every circle found by a depth-first search from each module.
    let mut cycles = BTreeSet::new();
    for start in edges.keys() {
        let mut stack = vec![(start.clone(), vec![start.clone()])];
        while let Some((node, path)) = stack.pop() {
            for next in edges.get(&node).into_iter().flatten() {
                if next == start {
                    let mut cycle: Vec<String> = path.iter().map(|m| m.join("::")).collect();
                    let min = cycle
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, m)| *m)
                        .map_or(0, |(i, _)| i);
                    cycle.rotate_left(min);
                    cycles.insert(cycle);
                } else if !path.contains(next) && next > start {
                    let mut longer = path.clone();
                    longer.push(next.clone());
                    stack.push((next.clone(), longer));
                }
            }
        }
    }
    cycles.into_iter().collect()
}

#[test]
fn no_crate_has_an_import_circle_between_its_modules() {
    let mut found = Vec::new();
    for p in workspace_packages() {
        for cycle in module_cycles(&p.src) {
            found.push(format!("{}: {}", p.name, cycle.join(" → ")));
        }
    }
    assert!(found.is_empty(), "import circles:\n{}", found.join("\n"));
}

#[test]
fn the_circle_check_finds_a_circle() {
    let dir = tempfile::tempdir().expect("dir");
    let src = dir.path();
    std::fs::create_dir_all(src.join("review")).expect("dirs");
    std::fs::write(src.join("lib.rs"), "mod review;\nmod store;\n").expect("lib");
    std::fs::write(src.join("store.rs"), "pub struct S;\n").expect("store");
    std::fs::write(src.join("review/mod.rs"), "mod layout;\nmod session;\n").expect("mod");
    std::fs::write(
        src.join("review/layout.rs"),
        "use super::session::{csrf, Reviewer};\nuse crate::store::S;\n",
    )
    .expect("layout");
    std::fs::write(
        src.join("review/session.rs"),
        "pub fn f() { super::layout::page() }\n#[cfg(test)]\nmod tests { use crate::review::layout; }\n",
    )
    .expect("session");
    assert_eq!(
        module_cycles(src),
        vec![vec![
            "review::layout".to_owned(),
            "review::session".to_owned()
        ]]
    );
    std::fs::write(src.join("review/session.rs"), "pub fn f() {}\n").expect("session");
    assert!(module_cycles(src).is_empty());
}
