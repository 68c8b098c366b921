//! The module layering of `src/`: no top-level module imports one that
//! imports it back, and `db/` imports nothing above it. Read from the source
//! text (`crate::NAME` outside comments and test modules).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Graph = BTreeMap<String, BTreeSet<String>>;

fn scan_file(path: &Path, module: &str, graph: &mut Graph) {
    let text = std::fs::read_to_string(path).expect("source is UTF-8");
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    let deps = graph.entry(module.to_owned()).or_default();
    for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
        for (at, _) in line.match_indices("crate::") {
            let name: String = line[at + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() && name != module {
                deps.insert(name);
            }
        }
    }
}

fn scan(path: &Path, module: &str, graph: &mut Graph) {
    if path.is_dir() {
        for entry in std::fs::read_dir(path).expect("readable directory") {
            scan(&entry.expect("directory entry").path(), module, graph);
        }
    } else if path.extension().is_some_and(|e| e == "rs") {
        scan_file(path, module, graph);
    }
}

fn graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph = Graph::new();
    for entry in std::fs::read_dir(&src).expect("src is readable") {
        let path = entry.expect("directory entry").path();
        let module = path.file_stem().unwrap().to_string_lossy().into_owned();
        if module != "lib" && module != "main" {
            scan(&path, &module, &mut graph);
        }
    }
    graph
}

fn reaches(graph: &Graph, from: &str, to: &str) -> bool {
    let mut seen = BTreeSet::new();
    let mut stack = vec![from.to_owned()];
    while let Some(next) = stack.pop() {
        for dep in graph.get(&next).into_iter().flatten() {
            if dep == to {
                return true;
            }
            if seen.insert(dep.clone()) {
                stack.push(dep.clone());
            }
        }
    }
    false
}

#[test]
fn no_module_imports_a_module_that_imports_it_back() {
    let graph = graph();
    assert!(
        graph.get("sessions").is_some_and(|d| d.contains("db")),
        "the scan sees imports: {graph:#?}"
    );
    let cyclic: Vec<_> = graph.keys().filter(|m| reaches(&graph, m, m)).collect();
    assert!(
        cyclic.is_empty(),
        "import cycles through {cyclic:?}: {graph:#?}"
    );
}

#[test]
fn storage_imports_nothing_above_it() {
    let graph = graph();
    assert_eq!(graph.get("db"), Some(&BTreeSet::new()), "db/ imports more");
}

/// The domain areas speak their own errors and know nothing of HTTP: only
/// `routes/` maps their errors to `ApiError`, and actix stays at the edge.
#[test]
fn domain_areas_name_neither_actix_nor_the_http_error() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut offenders = Vec::new();
    for area in [
        "sessions", "users", "tokens", "auth", "db", "devices", "mail", "accounts", "mfa",
        "passkeys",
    ] {
        let mut files = Vec::new();
        collect(&src.join(area), &mut files);
        assert!(!files.is_empty(), "{area}/ has files");
        for file in files {
            let text = std::fs::read_to_string(&file).expect("source is UTF-8");
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
                if line.contains("actix_web") || line.contains("ApiError") {
                    offenders.push(format!("{}: {}", file.display(), line.trim()));
                }
            }
        }
    }
    assert!(offenders.is_empty(), "{offenders:#?}");
}

fn collect(path: &Path, files: &mut Vec<std::path::PathBuf>) {
    if path.is_dir() {
        for entry in std::fs::read_dir(path).expect("readable directory") {
            collect(&entry.expect("directory entry").path(), files);
        }
    } else if path.extension().is_some_and(|e| e == "rs") {
        files.push(path.to_owned());
    }
}
