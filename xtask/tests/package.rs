//! Every crate of the workspace can be published: its manifest says what crates.io shows
//! (description, licence, repository, documentation, readme, keywords, categories), its
//! dependencies on the workspace's crates carry a version, and its directory holds its README and
//! both licence files, identical to the workspace's (cargo packages only what is in a crate's
//! own directory). The unpublished crates (the test kit) are only ever path dev-dependencies
//! without a version, which `cargo package` drops.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The workspace root: the parent of the xtask crate.
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

/// `cargo metadata` of the workspace's own packages.
fn metadata() -> Value {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--no-deps", "--format-version", "1", "--offline"])
        .current_dir(root())
        .output()
        .expect("cargo metadata runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn published(meta: &Value) -> Vec<&Value> {
    // `publish: []` means never published (xtask).
    meta["packages"].as_array().unwrap().iter().filter(|p| p["publish"] != serde_json::json!([])).collect()
}

#[test]
fn every_published_manifest_is_complete() {
    let meta = metadata();
    let members: Vec<String> =
        meta["packages"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap().to_string()).collect();
    let packages = published(&meta);
    assert!(packages.len() >= 7, "{} packages", packages.len());
    for p in packages {
        let name = p["name"].as_str().unwrap();
        for field in ["description", "license", "repository", "documentation", "readme"] {
            assert!(p[field].as_str().is_some_and(|v| !v.is_empty()), "{name}: no {field}");
        }
        assert_eq!(p["license"], "MIT OR Apache-2.0", "{name}");
        assert_eq!(p["documentation"].as_str().unwrap(), format!("https://docs.rs/{name}"), "{name}");
        let keywords = p["keywords"].as_array().unwrap();
        assert!((1..=5).contains(&keywords.len()), "{name}: {} keywords (crates.io takes 1 to 5)", keywords.len());
        assert!(!p["categories"].as_array().unwrap().is_empty(), "{name}: no categories");
        for dep in p["dependencies"].as_array().unwrap() {
            let dep_name = dep["name"].as_str().unwrap();
            if members.iter().any(|m| m == dep_name) && dep["kind"].is_null() {
                assert_ne!(dep["req"], "*", "{name} depends on {dep_name} by path only: give it a version");
            }
        }
    }
}

#[test]
fn every_published_crate_carries_its_readme_and_both_licences() {
    let licences: Vec<(&str, Vec<u8>)> =
        ["LICENSE-MIT", "LICENSE-APACHE"].into_iter().map(|f| (f, std::fs::read(root().join(f)).unwrap())).collect();
    let meta = metadata();
    for p in published(&meta) {
        let dir: PathBuf = Path::new(p["manifest_path"].as_str().unwrap()).parent().unwrap().to_path_buf();
        let name = p["name"].as_str().unwrap();
        assert!(dir.join(p["readme"].as_str().unwrap()).is_file(), "{name}: no README in {}", dir.display());
        for (file, text) in &licences {
            let copy = std::fs::read(dir.join(file)).unwrap_or_default();
            assert!(copy == *text, "{name}: {file} missing or not the workspace's in {}", dir.display());
        }
    }
}

#[test]
fn unpublished_crates_are_only_versionless_dev_dependencies() {
    let meta = metadata();
    let unpublished: Vec<&str> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["publish"] == serde_json::json!([]))
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(unpublished.contains(&"latent-testkit"), "{unpublished:?}");
    for p in published(&meta) {
        let name = p["name"].as_str().unwrap();
        for dep in p["dependencies"].as_array().unwrap() {
            let dep_name = dep["name"].as_str().unwrap();
            if unpublished.contains(&dep_name) {
                assert_eq!(dep["kind"], "dev", "{name} depends on the unpublished {dep_name} outside its tests");
                assert_eq!(dep["req"], "*", "{name}: give the unpublished {dep_name} no version, so cargo drops it");
            }
        }
    }
}
