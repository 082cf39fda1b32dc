//! The layering rule, checked: each layer names only the layers below it. From the bottom:
//! accounts → config → db → domain → error, auth, state → api → app, startup → server → main.

use std::path::{Path, PathBuf};

/// (files under `src/` starting with this path, what they must never name, why).
const RULES: &[(&str, &[&str], &str)] = &[
    (
        "accounts/",
        &["crate::"],
        "the account rules are pure: settings, stores and handlers all apply them",
    ),
    (
        "config.rs",
        &[
            "crate::api",
            "crate::app",
            "crate::auth",
            "crate::db",
            "crate::domain",
            "crate::error",
            "crate::state",
            "crate::startup",
            "crate::server",
        ],
        "settings are read and checked before anything else exists",
    ),
    (
        "db/",
        &[
            "crate::api",
            "crate::app",
            "crate::auth",
            "crate::domain",
            "crate::error",
            "crate::state",
            "crate::startup",
            "ApiError",
            "DomainError",
        ],
        "the database layer knows nothing above it",
    ),
    (
        "domain/",
        &[
            "crate::api",
            "crate::app",
            "crate::auth",
            "crate::error",
            "crate::state",
            "crate::startup",
            "ApiError",
            "actix",
        ],
        "the domain has no HTTP types and no callers",
    ),
    (
        "error.rs",
        &[
            "crate::api",
            "crate::app",
            "crate::auth",
            "crate::state",
            "crate::startup",
        ],
        "every layer above the domain returns `ApiError`, so it names none of them",
    ),
    (
        "auth/",
        &["crate::api", "crate::app", "crate::startup"],
        "authentication is below the handlers (the guard is given its operations table)",
    ),
    (
        "state.rs",
        &["crate::api", "crate::app", "crate::startup"],
        "the state every handler reaches sits below the handlers",
    ),
    (
        "api/",
        &["crate::app", "crate::startup", "crate::server"],
        "handlers take their state from `state`, not from the wiring",
    ),
    (
        "app.rs",
        &["crate::server"],
        "the app is wired without knowing how it is served",
    ),
];

fn rust_files(folder: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(folder).expect("a readable source folder") {
        let path = entry.expect("a readable entry").path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn no_module_names_a_layer_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut broken = Vec::new();
    for file in &files {
        let relative = file
            .strip_prefix(&src)
            .expect("under src/")
            .to_string_lossy()
            .replace('\\', "/");
        let text = std::fs::read_to_string(file).expect("a readable source file");
        for (prefix, forbidden, why) in RULES {
            if !relative.starts_with(prefix) {
                continue;
            }
            for (number, line) in text.lines().enumerate() {
                for word in *forbidden {
                    if line.contains(word) {
                        broken.push(format!("src/{relative}:{}: {word} ({why})", number + 1));
                    }
                }
            }
        }
    }
    assert!(
        files.len() > 50,
        "the scan found the sources ({} files)",
        files.len()
    );
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}
