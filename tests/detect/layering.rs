//! The shape of `src/detect/`, checked: no detector folder under
//! `src/detect/detectors/` imports another detector's folder (or the registry), only
//! the registry imports the detector folders, no two files of `src/detect/` import
//! each other in a circle, and every detector folder is registered.
//!
//! How it reads imports (plain text, no compiler): comments, strings and character
//! literals are blanked; every `use` tree is expanded into whole paths; every other
//! path that starts with `crate::`, `super::`, `self::` or a child module's name is
//! taken too (`super::baseline::stats::DENIALS` in an expression is an import).
//! Each path is resolved to the deepest module file it names (`crate::detect::
//! engine::Engine` is `src/detect/engine.rs`, `crate::detect::Engine` the re-export
//! in `src/detect/mod.rs`), with `super` inside an inline `mod tests { … }` meaning
//! the file itself. A `mod x;` declaration is not an import. Paths outside
//! `crate::detect` are not followed. The checker's own tests below feed it a small
//! tree with a cross-detector import and a circle, so it is known to fail when it
//! should.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use kvwatch::detect::detectors::REGISTRY;

const DETECT: &str = "src/detect";
const DETECTORS: &str = "src/detect/detectors/";

/// One import: from a file to a file, and the path as written (for messages).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Edge {
    from: String,
    to: String,
    path: String,
}

/// Source files by path from the repository root (`src/detect/engine.rs`).
type Tree = BTreeMap<String, String>;

fn tree_on_disk() -> Tree {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut tree = Tree::new();
    for entry in walkdir::WalkDir::new(root.join(DETECT))
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "rs"))
    {
        let rel = entry
            .path()
            .strip_prefix(&root)
            .expect("under the repository")
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(entry.path()).expect("readable source");
        tree.insert(rel, text);
    }
    tree
}

/// The module path of a file: `src/detect/a/mod.rs` and `src/detect/a.rs` are both
/// `crate::detect::a`.
fn module_of(file: &str) -> Vec<String> {
    let rel = file.strip_prefix("src/").expect("under src/");
    let rel = rel.strip_suffix(".rs").expect("a Rust file");
    let mut parts: Vec<String> = rel.split('/').map(str::to_owned).collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    let mut out = vec!["crate".to_owned()];
    out.extend(parts);
    out
}

/// Comments, string and character literals replaced by spaces (lines kept).
fn blank(src: &str) -> String {
    let b: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    let keep = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(keep(b[i]));
                    i += 1;
                }
            }
        } else if c == 'r' && (next == Some('#') || next == Some('"')) && !ident_before(&b, i) {
            // A raw string: r"…" or r#"…"#.
            let mut hashes = 0;
            let mut j = i + 1;
            while b.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            let closing: String = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            let closing: Vec<char> = closing.chars().collect();
            while j < b.len() && !b[j..].starts_with(&closing) {
                j += 1;
            }
            let end = (j + closing.len()).min(b.len());
            out.extend(b[i..end].iter().map(|&c| keep(c)));
            i = end;
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < b.len() {
                    out.push(keep(b[i]));
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' {
            // A character literal ('x', '\n', '\u{1f}') or a lifetime ('a).
            let close = if next == Some('\\') {
                (i + 3..b.len().min(i + 12)).find(|&j| b[j] == '\'')
            } else if b.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match close {
                Some(j) => {
                    out.extend(std::iter::repeat_n(' ', j + 1 - i));
                    i = j + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn ident_before(b: &[char], i: usize) -> bool {
    i > 0 && (b[i - 1].is_alphanumeric() || b[i - 1] == '_')
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Path, // ::
    Open,
    Close,
    Semi,
    Comma,
    Star,
    Other,
}

fn tokens(src: &str) -> Vec<Token> {
    let b: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < b.len() && (b[i].is_alphanumeric() || b[i] == '_') {
                i += 1;
            }
            out.push(Token::Ident(b[start..i].iter().collect()));
            continue;
        }
        out.push(match c {
            ':' if b.get(i + 1) == Some(&':') => {
                i += 1;
                Token::Path
            }
            '{' => Token::Open,
            '}' => Token::Close,
            ';' => Token::Semi,
            ',' => Token::Comma,
            '*' => Token::Star,
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            _ => Token::Other,
        });
        i += 1;
    }
    out
}

/// Expands a `use` tree starting at `t[*i]` into whole paths, up to `;` (or the
/// `,`/`}` that ends a nested tree).
fn use_tree(t: &[Token], i: &mut usize, prefix: &[String], out: &mut Vec<Vec<String>>) {
    let mut path = prefix.to_vec();
    while *i < t.len() {
        match &t[*i] {
            Token::Ident(s) if s == "as" => {
                *i += 2; // the alias
                continue;
            }
            Token::Ident(s) => path.push(s.clone()),
            Token::Path | Token::Star => {}
            Token::Open => {
                *i += 1;
                loop {
                    use_tree(t, i, &path, out);
                    match t.get(*i) {
                        Some(Token::Comma) => *i += 1,
                        Some(Token::Close) => {
                            *i += 1;
                            break;
                        }
                        _ => break,
                    }
                    if t.get(*i) == Some(&Token::Close) {
                        *i += 1;
                        break;
                    }
                }
                return;
            }
            Token::Comma | Token::Close | Token::Semi => break,
            Token::Other => {}
        }
        *i += 1;
    }
    if path.len() > prefix.len() || !prefix.is_empty() {
        out.push(path);
    }
}

/// Every import of one file: (module path the import is written in, path).
fn imports(file: &str, src: &str) -> Vec<(Vec<String>, Vec<String>)> {
    let t = tokens(&blank(src));
    let module = module_of(file);
    let mut out = Vec::new();
    // Inline modules open at a brace depth: their names extend the module path.
    let mut inline: Vec<(usize, String)> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    let current = |inline: &[(usize, String)]| {
        let mut m = module.clone();
        m.extend(inline.iter().map(|(_, n)| n.clone()));
        m
    };
    while i < t.len() {
        match &t[i] {
            Token::Open => depth += 1,
            Token::Close => {
                if inline.last().is_some_and(|(d, _)| *d == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
            }
            Token::Ident(k) if k == "mod" => {
                if let (Some(Token::Ident(name)), Some(Token::Open)) = (t.get(i + 1), t.get(i + 2))
                {
                    inline.push((depth + 1, name.clone()));
                }
                i += 2; // `mod x;` declares, it does not import
                continue;
            }
            Token::Ident(k) if k == "use" => {
                i += 1;
                let mut paths = Vec::new();
                use_tree(&t, &mut i, &[], &mut paths);
                let here = current(&inline);
                out.extend(paths.into_iter().map(|p| (here.clone(), p)));
                continue;
            }
            Token::Ident(first) if t.get(i + 1) == Some(&Token::Path) => {
                let mut path = vec![first.clone()];
                let mut j = i + 1;
                while t.get(j) == Some(&Token::Path) {
                    match t.get(j + 1) {
                        Some(Token::Ident(s)) => path.push(s.clone()),
                        _ => break,
                    }
                    j += 2;
                }
                out.push((current(&inline), path));
                i = j;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// The file of the deepest module `path` names, from module `here`; `None` for
/// paths outside `crate::detect` or into other crates.
fn resolve(
    modules: &BTreeMap<Vec<String>, String>,
    here: &[String],
    path: &[String],
) -> Option<String> {
    let mut cur: Vec<String> = here.to_vec();
    let mut rest = path;
    match path.first().map(String::as_str) {
        Some("crate") => {
            cur = vec!["crate".to_owned()];
            rest = &path[1..];
        }
        Some("self") => rest = &path[1..],
        Some("super") => {
            while rest.first().is_some_and(|s| s == "super") {
                cur.pop();
                rest = &rest[1..];
            }
        }
        Some(first) => {
            let mut child = here.to_vec();
            child.push(first.to_owned());
            if !modules.contains_key(&child) {
                return None; // another crate (std, serde …) or a local name
            }
        }
        None => return None,
    }
    for seg in rest {
        let mut next = cur.clone();
        next.push(seg.clone());
        if modules.contains_key(&next) {
            cur = next;
        } else {
            break;
        }
    }
    // An inline module is part of its file: walk up to a module with a file.
    while !cur.is_empty() && !modules.contains_key(&cur) {
        cur.pop();
    }
    modules.get(&cur).cloned()
}

fn edges(tree: &Tree) -> Vec<Edge> {
    let modules: BTreeMap<Vec<String>, String> =
        tree.keys().map(|f| (module_of(f), f.clone())).collect();
    let mut out = BTreeSet::new();
    for (file, src) in tree {
        for (here, path) in imports(file, src) {
            if let Some(to) = resolve(&modules, &here, &path) {
                if &to != file {
                    out.insert(Edge {
                        from: file.clone(),
                        to,
                        path: path.join("::"),
                    });
                }
            }
        }
    }
    out.into_iter().collect()
}

/// The detector folder a file belongs to (`failed_auth`), if any.
fn detector_of(file: &str) -> Option<&str> {
    let rest = file.strip_prefix(DETECTORS)?;
    let (folder, _) = rest.split_once('/')?;
    Some(folder)
}

/// Imports that break the layering: into another detector's folder, from a detector
/// into the registry, or into a detector folder from anywhere but the registry.
fn layering_violations(edges: &[Edge]) -> Vec<String> {
    let registry = [
        format!("{DETECTORS}mod.rs"),
        format!("{DETECT}/registry.rs"),
    ];
    let mut out = Vec::new();
    for e in edges {
        let (from, to) = (detector_of(&e.from), detector_of(&e.to));
        match (from, to) {
            (Some(a), Some(b)) if a != b => out.push(format!(
                "{} imports another detector's folder: {} ({})",
                e.from, e.to, e.path
            )),
            (Some(_), None) if registry.contains(&e.to) => out.push(format!(
                "{} imports the registry: {} ({})",
                e.from, e.to, e.path
            )),
            (None, Some(_)) if !registry.contains(&e.from) => out.push(format!(
                "{} imports a detector folder, which only the registry may: {} ({})",
                e.from, e.to, e.path
            )),
            _ => {}
        }
    }
    out
}

/// The circles of the import graph (strongly connected sets of two files or more),
/// each with the imports that close it.
fn circles(edges: &[Edge]) -> Vec<String> {
    let mut graph: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for e in edges {
        graph.entry(&e.from).or_default().push(&e.to);
        graph.entry(&e.to).or_default();
    }
    // Tarjan's strongly connected components, iteratively small enough to recurse.
    struct Walk<'a> {
        graph: &'a BTreeMap<&'a str, Vec<&'a str>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        next: usize,
        found: Vec<Vec<&'a str>>,
    }
    fn visit<'a>(w: &mut Walk<'a>, v: &'a str) {
        w.index.insert(v, w.next);
        w.low.insert(v, w.next);
        w.next += 1;
        w.stack.push(v);
        w.on_stack.insert(v);
        let graph = w.graph;
        for &n in &graph[v] {
            if !w.index.contains_key(n) {
                visit(w, n);
                let low = w.low[v].min(w.low[n]);
                w.low.insert(v, low);
            } else if w.on_stack.contains(n) {
                let low = w.low[v].min(w.index[n]);
                w.low.insert(v, low);
            }
        }
        if w.low[v] == w.index[v] {
            let mut component = Vec::new();
            while let Some(x) = w.stack.pop() {
                w.on_stack.remove(x);
                component.push(x);
                if x == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort_unstable();
                w.found.push(component);
            }
        }
    }
    let mut w = Walk {
        graph: &graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        found: Vec::new(),
    };
    for &v in graph.keys() {
        if !w.index.contains_key(v) {
            visit(&mut w, v);
        }
    }
    w.found
        .iter()
        .map(|c| {
            let ties: Vec<String> = edges
                .iter()
                .filter(|e| c.contains(&e.from.as_str()) && c.contains(&e.to.as_str()))
                .map(|e| format!("    {} -> {} ({})", e.from, e.to, e.path))
                .collect();
            let shown = ties.len().min(40);
            format!(
                "circle of {} files: {}\n{}{}",
                c.len(),
                c.join(", "),
                ties[..shown].join("\n"),
                if ties.len() > shown {
                    format!("\n    … and {} more imports", ties.len() - shown)
                } else {
                    String::new()
                }
            )
        })
        .collect()
}

#[test]
fn no_detector_imports_another_and_no_file_of_detect_is_in_a_circle() {
    let tree = tree_on_disk();
    assert!(
        tree.keys().any(|f| f.starts_with(DETECTORS)),
        "the detector folders are there"
    );
    let edges = edges(&tree);
    assert!(edges.len() > 50, "imports were read: {}", edges.len());
    let mut problems = layering_violations(&edges);
    problems.extend(circles(&edges));
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn every_detector_folder_is_registered_and_every_registration_has_a_folder() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(DETECTORS);
    let mut folders: Vec<String> = std::fs::read_dir(&root)
        .expect("src/detect/detectors")
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    folders.sort();
    let mut registered: Vec<String> = REGISTRY.iter().map(|r| r.name.to_owned()).collect();
    registered.sort();
    assert_eq!(
        folders, registered,
        "one folder per registered detector, named after it"
    );
}

/// A small tree in the shape of `src/detect/`, with `extra` lines added to files.
fn sample_tree(extra: &[(&str, &str)]) -> Tree {
    let mut tree: Tree = [
        ("src/detect/mod.rs", "pub mod definition;\npub mod detectors;\npub mod registry;\npub use registry::build;\n"),
        ("src/detect/definition.rs", "//! use crate::detect::registry; (a comment)\npub struct Source;\n"),
        ("src/detect/registry.rs", "use super::detectors::REGISTRY;\npub fn build() { let _ = \"super::detectors\"; }\n"),
        ("src/detect/detectors/mod.rs", "pub mod a;\npub mod b;\npub const REGISTRY: [u8; 2] = [a::X, b::X];\n"),
        ("src/detect/detectors/a/mod.rs", "mod rules;\nuse crate::detect::definition::Source;\npub const X: u8 = rules::Y;\n#[cfg(test)]\nmod tests {\n    use super::*;\n}\n"),
        ("src/detect/detectors/a/rules.rs", "use crate::detect::definition::{self, Source};\npub const Y: u8 = 1;\n"),
        ("src/detect/detectors/b/mod.rs", "use crate::detect::{definition::Source};\npub const X: u8 = 2;\n"),
    ]
    .iter()
    .map(|(f, s)| ((*f).to_owned(), (*s).to_owned()))
    .collect();
    for (file, line) in extra {
        tree.entry((*file).to_owned()).or_default().push_str(line);
    }
    tree
}

#[test]
fn the_check_passes_a_clean_tree_and_reads_its_imports() {
    let edges = edges(&sample_tree(&[]));
    let pairs: Vec<(&str, &str)> = edges
        .iter()
        .map(|e| (e.from.as_str(), e.to.as_str()))
        .collect();
    assert!(pairs.contains(&(
        "src/detect/detectors/a/rules.rs",
        "src/detect/definition.rs"
    )));
    assert!(pairs.contains(&(
        "src/detect/detectors/mod.rs",
        "src/detect/detectors/a/mod.rs"
    )));
    assert!(pairs.contains(&(
        "src/detect/detectors/a/mod.rs",
        "src/detect/detectors/a/rules.rs"
    )));
    assert!(
        !pairs.iter().any(|(f, _)| *f == "src/detect/definition.rs"),
        "comments and strings are not imports: {pairs:?}"
    );
    assert!(layering_violations(&edges).is_empty());
    assert!(circles(&edges).is_empty(), "{:?}", circles(&edges));
}

#[test]
fn the_check_fails_on_an_import_of_another_detectors_folder() {
    for line in [
        "use crate::detect::detectors::a::X as AX;\n",
        "pub const Z: u8 = super::a::X;\n",
        "use super::super::detectors::{a::rules::Y};\n",
    ] {
        let edges = edges(&sample_tree(&[("src/detect/detectors/b/mod.rs", line)]));
        let found = layering_violations(&edges);
        assert!(
            found
                .iter()
                .any(|p| p.contains("another detector's folder")),
            "{line}: {found:?}"
        );
    }
    let edges = edges(&sample_tree(&[(
        "src/detect/definition.rs",
        "use super::detectors::a::X;\n",
    )]));
    assert!(
        !layering_violations(&edges).is_empty(),
        "only the registry imports detectors"
    );
}

#[test]
fn the_check_fails_on_a_circle() {
    let edges = edges(&sample_tree(&[(
        "src/detect/definition.rs",
        "use crate::detect::registry::build;\n",
    )]));
    let found = circles(&edges);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("src/detect/definition.rs -> src/detect/registry.rs"),
        "{found:?}"
    );
}
