//! Mirrors: where the four files can be fetched from, an HTTP(S) base URL or a directory.
//!
//! `--mirror` takes either; a plain path or a `file://` URL is a directory. Mirrors given on the
//! command line are tried first, in the order given, then the data set's public mirrors
//! ([`NamedDataset::mirrors`](crate::catalog::NamedDataset::mirrors)) unless
//! `--no-default-mirrors`.

use std::fmt;
use std::path::PathBuf;

/// One place to fetch the files from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mirror {
    /// An HTTP or HTTPS base URL, ending in `/`.
    Http(String),
    /// A local directory holding the files.
    Dir(PathBuf),
}

impl Mirror {
    /// Reads a `--mirror` value: `http://` or `https://` URLs are HTTP mirrors, `file://` URLs
    /// and anything else are directories.
    pub fn parse(s: &str) -> Mirror {
        let lower = s.to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            let mut url = s.to_string();
            if !url.ends_with('/') {
                url.push('/');
            }
            Mirror::Http(url)
        } else if lower.starts_with("file://") {
            Mirror::Dir(PathBuf::from(&s["file://".len()..]))
        } else {
            Mirror::Dir(PathBuf::from(s))
        }
    }

    /// Where this mirror keeps `name`: a URL or a path, for messages.
    pub fn location(&self, name: &str) -> String {
        match self {
            Mirror::Http(base) => format!("{base}{name}"),
            Mirror::Dir(dir) => dir.join(name).display().to_string(),
        }
    }
}

impl fmt::Display for Mirror {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mirror::Http(base) => write!(f, "{base}"),
            Mirror::Dir(dir) => write!(f, "{}", dir.display()),
        }
    }
}

/// The mirrors to try, in order: the given ones, then `defaults` (each once).
pub fn mirror_list(given: &[String], defaults: &[&str]) -> Vec<Mirror> {
    let mut list: Vec<Mirror> = given.iter().map(|s| Mirror::parse(s)).collect();
    for d in defaults {
        let m = Mirror::parse(d);
        if !list.contains(&m) {
            list.push(m);
        }
    }
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls_and_directories() {
        assert_eq!(Mirror::parse("http://127.0.0.1:8080/m"), Mirror::Http("http://127.0.0.1:8080/m/".into()));
        assert_eq!(Mirror::parse("HTTPS://example.org/x/"), Mirror::Http("HTTPS://example.org/x/".into()));
        assert_eq!(Mirror::parse("file:///srv/mnist"), Mirror::Dir("/srv/mnist".into()));
        assert_eq!(Mirror::parse("../shared/datasets/mnist"), Mirror::Dir("../shared/datasets/mnist".into()));
        assert_eq!(Mirror::Http("http://h/".into()).location("a.gz"), "http://h/a.gz");
    }

    #[test]
    fn given_mirrors_come_first_then_the_defaults_once() {
        let defaults = crate::catalog::MNIST.mirrors;
        let list = mirror_list(&["/data".into(), defaults[1].into()], defaults);
        assert_eq!(list, vec![Mirror::Dir("/data".into()), Mirror::parse(defaults[1]), Mirror::parse(defaults[0])]);
        assert_eq!(mirror_list(&[], &[]), vec![]);
        assert_eq!(mirror_list(&[], defaults).len(), 2);
    }
}
