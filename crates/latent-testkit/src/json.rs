//! Structure-aware mutation of JSON: a random node of a document replaced,
//! removed, duplicated or emptied, with numbers set to boundary values — so the mutants of a
//! `config.json`, or of the JSON in a checkpoint's metadata, are valid JSON that reaches the
//! checks of each field rather than stopping at the JSON parser.
//!
//! A string that itself holds a JSON document (the configuration and state in a safetensors
//! file's metadata are JSON inside JSON) is mutated as a document and written back as a string.
//!
//! ```
//! use latent_testkit::Mutator;
//! use latent_testkit::json::mutate_text;
//!
//! let config = br#"{"train": {"epochs": 10, "batch_size": 128}, "hidden": [400, 20]}"#;
//! let mutants: Vec<Vec<u8>> = (0..200).map(|s| mutate_text(&mut Mutator::new(s), config)).collect();
//! // Every mutant is still JSON...
//! assert!(mutants.iter().all(|m| serde_json::from_slice::<serde_json::Value>(m).is_ok()));
//! // ... with, among others, huge sizes and missing fields.
//! assert!(mutants.iter().any(|m| String::from_utf8_lossy(m).contains("18446744073709551615")));
//! assert!(mutants.iter().any(|m| !String::from_utf8_lossy(m).contains("batch_size")));
//! ```

use serde_json::{Map, Value};

use crate::mutate::{HUGE_DECIMALS, Mutator};

/// Strings a mutated string becomes (besides a mutated copy of itself).
const STRINGS: [&str; 9] =
    ["", " ", "0", "-1", "NaN", "18446744073709551616", "340282366920938463463374607431768211456", "x/y", "\u{0}"];

/// Mutates one to three nodes of `doc` in place.
pub fn mutate(m: &mut Mutator, doc: &mut Value) {
    for _ in 0..=m.pick(3) {
        let count = count_nodes(doc);
        let target = m.pick(count);
        let mut seen = 0;
        mutate_nth(m, doc, target, &mut seen);
    }
}

/// Mutates a JSON text; text that is not JSON gets a byte-level mutation instead.
pub fn mutate_text(m: &mut Mutator, text: &[u8]) -> Vec<u8> {
    match serde_json::from_slice::<Value>(text) {
        Ok(mut doc) => {
            mutate(m, &mut doc);
            serde_json::to_vec(&doc).unwrap_or_else(|_| text.to_vec())
        }
        Err(_) => m.mutate(text, &[]),
    }
}

fn count_nodes(v: &Value) -> usize {
    1 + match v {
        Value::Array(a) => a.iter().map(count_nodes).sum(),
        Value::Object(o) => o.values().map(count_nodes).sum(),
        _ => 0,
    }
}

/// Mutates the `target`-th node in pre-order; `seen` counts the nodes passed.
fn mutate_nth(m: &mut Mutator, v: &mut Value, target: usize, seen: &mut usize) -> bool {
    if *seen == target {
        mutate_node(m, v);
        return true;
    }
    *seen += 1;
    match v {
        Value::Array(a) => a.iter_mut().any(|c| mutate_nth(m, c, target, seen)),
        Value::Object(o) => o.values_mut().any(|c| mutate_nth(m, c, target, seen)),
        _ => false,
    }
}

fn huge_number(m: &mut Mutator) -> Value {
    let text = HUGE_DECIMALS[m.pick(HUGE_DECIMALS.len())];
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_string()))
}

fn mutate_node(m: &mut Mutator, v: &mut Value) {
    // One time in six, whatever the node is, it becomes a value of another type.
    if m.pick(6) == 0 {
        *v = match m.pick(6) {
            0 => Value::Null,
            1 => Value::Bool(m.pick(2) == 0),
            2 => Value::Array(Vec::new()),
            3 => Value::Object(Map::new()),
            4 => Value::String(STRINGS[m.pick(STRINGS.len())].to_string()),
            _ => huge_number(m),
        };
        return;
    }
    match v {
        Value::Number(_) | Value::Null | Value::Bool(_) => *v = huge_number(m),
        Value::String(s) => {
            if let Ok(mut inner @ (Value::Object(_) | Value::Array(_))) = serde_json::from_str::<Value>(s) {
                mutate(m, &mut inner);
                *s = inner.to_string();
            } else if m.pick(2) == 0 {
                *s = STRINGS[m.pick(STRINGS.len())].to_string();
            } else {
                let bytes = m.mutate(s.as_bytes(), &[]);
                *s = String::from_utf8_lossy(&bytes).into_owned();
            }
        }
        Value::Array(a) => match m.pick(5) {
            0 if !a.is_empty() => {
                let i = m.pick(a.len());
                a.remove(i);
            }
            1 if !a.is_empty() => {
                let i = m.pick(a.len());
                let copy = a[i].clone();
                let times = if m.pick(4) == 0 { 64 } else { 1 };
                for _ in 0..times {
                    a.insert(i, copy.clone());
                }
            }
            2 => a.clear(),
            _ => a.push(huge_number(m)),
        },
        Value::Object(o) => {
            let keys: Vec<String> = o.keys().cloned().collect();
            match m.pick(4) {
                0 if !keys.is_empty() => {
                    o.remove(&keys[m.pick(keys.len())]);
                }
                1 if !keys.is_empty() => {
                    // A key renamed: a field missing and an unknown one present.
                    let key = &keys[m.pick(keys.len())];
                    if let Some(value) = o.remove(key) {
                        o.insert(format!("{key}_"), value);
                    }
                }
                2 if !keys.is_empty() => {
                    let key = &keys[m.pick(keys.len())];
                    o.insert(key.clone(), Value::Null);
                }
                _ => {
                    let value = huge_number(m);
                    o.insert(STRINGS[m.pick(STRINGS.len())].to_string(), value);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_documents_in_strings_are_mutated_as_documents() {
        let doc = serde_json::json!({"__metadata__": {"latent.config": "{\"hidden\":[4],\"seed\":1}"}});
        let mut reached_inner = false;
        for seed in 0..300 {
            let mut v = doc.clone();
            mutate(&mut Mutator::new(seed), &mut v);
            if let Some(Value::String(inner)) = v.pointer("/__metadata__/latent.config")
                && let Ok(inner) = serde_json::from_str::<Value>(inner)
            {
                reached_inner |= inner != serde_json::json!({"hidden": [4], "seed": 1});
            }
        }
        assert!(reached_inner);
    }

    #[test]
    fn every_kind_of_node_changes() {
        let doc = serde_json::json!({"a": [1, 2], "b": "text", "c": null, "d": true, "e": 2.5});
        let changed = (0..200)
            .filter(|&s| {
                let mut v = doc.clone();
                mutate(&mut Mutator::new(s), &mut v);
                v != doc
            })
            .count();
        assert!(changed > 150, "{changed}");
    }
}
