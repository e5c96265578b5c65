//! Recomputing the content checksum of latent's safetensors files.
//!
//! `latent-nn` stores a SHA-256 of a checkpoint's or training state's metadata and tensors in
//! the metadata entry [`CHECKSUM_KEY`], and refuses a file that does not match it. Nearly every
//! mutant of such a file therefore stops at the checksum. [`reseal`] writes the checksum the
//! mutant's own content has, so a second campaign can reach what lies behind it: the
//! configuration and state JSON, the tensor names, dtypes and shapes.
//!
//! [`reseal`] also frames the header again when a mutation made it longer or shorter than its
//! declared length, so mutants that insert or remove bytes in the header JSON get through too.
//!
//! The checksum is computed here as `latent_nn::store` computes it (the metadata entries but the
//! checksum, sorted by key, then each tensor's name, dtype, shape and bytes, sorted by name, each
//! length-prefixed); the mutation tests of `latent-nn` check that resealing an intact file
//! changes nothing, so the two cannot drift apart unnoticed.

use safetensors::SafeTensors;
use sha2::{Digest, Sha256};

/// The metadata key of the content checksum (as in `latent_nn::store`).
pub const CHECKSUM_KEY: &str = "latent.sha256";

/// The bytes made consistent again, as far as they can be: the header length set to where the
/// header's JSON really ends (if a mutation moved it), and the checksum entry rewritten to match
/// the content. Bytes that do not parse as a safetensors file, or have no checksum entry of 64
/// characters, come back otherwise unchanged.
pub fn reseal(bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    repair_header_length(&mut out);
    if let Some(sum) = checksum_of(&out) {
        let _ = replace_checksum(&mut out, &sum);
    }
    out
}

/// Sets the 8-byte header length to the end of the JSON value that follows it (and the spaces
/// after it), if the declared length does not already frame valid JSON.
fn repair_header_length(bytes: &mut [u8]) {
    let Some((prefix, rest)) = bytes.split_first_chunk::<8>() else { return };
    let declared = u64::from_le_bytes(*prefix);
    let frames_json = usize::try_from(declared)
        .ok()
        .and_then(|n| rest.get(..n))
        .is_some_and(|header| serde_json::from_slice::<serde_json::Value>(header).is_ok());
    if frames_json {
        return;
    }
    let mut values = serde_json::Deserializer::from_slice(rest).into_iter::<serde_json::Value>();
    if let Some(Ok(_)) = values.next() {
        let mut end = values.byte_offset();
        while rest.get(end) == Some(&b' ') {
            end += 1;
        }
        bytes[..8].copy_from_slice(&(end as u64).to_le_bytes());
    }
}

/// The checksum latent-nn would write for these bytes' metadata and tensors, if they parse and
/// carry a checksum entry.
fn checksum_of(bytes: &[u8]) -> Option<String> {
    let (_, header) = SafeTensors::read_metadata(bytes).ok()?;
    let metadata = header.metadata().clone()?;
    metadata.get(CHECKSUM_KEY)?;
    let tensors = SafeTensors::deserialize(bytes).ok()?;
    let mut h = Sha256::new();
    let mut keys: Vec<&String> = metadata.keys().filter(|k| k.as_str() != CHECKSUM_KEY).collect();
    keys.sort();
    h.update((keys.len() as u64).to_le_bytes());
    for k in keys {
        for s in [k, &metadata[k]] {
            h.update((s.len() as u64).to_le_bytes());
            h.update(s.as_bytes());
        }
    }
    let mut views = tensors.tensors();
    views.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, view) in &views {
        h.update((name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        h.update(view.dtype().to_string().as_bytes());
        h.update((view.shape().len() as u64).to_le_bytes());
        for &d in view.shape() {
            h.update((d as u64).to_le_bytes());
        }
        h.update((view.data().len() as u64).to_le_bytes());
        h.update(view.data());
    }
    Some(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Writes `sum` over the checksum entry's value in place (same length, so no offset moves).
fn replace_checksum(bytes: &mut [u8], sum: &str) -> Option<()> {
    let (header_len, header) = SafeTensors::read_metadata(bytes).ok()?;
    let old = header.metadata().as_ref()?.get(CHECKSUM_KEY)?.clone();
    if old.len() != sum.len() {
        return None;
    }
    let header_bytes = &bytes[8..8 + header_len];
    let key_at = find(header_bytes, format!("\"{CHECKSUM_KEY}\"").as_bytes())?;
    let value_at = key_at + find(&header_bytes[key_at..], format!("\"{old}\"").as_bytes())? + 1;
    bytes[8 + value_at..8 + value_at + sum.len()].copy_from_slice(sum.as_bytes());
    Some(())
}

/// A structure-aware mutant of a latent safetensors file, resealed: three times in four, one
/// to three nodes of the header JSON mutated (the configuration or training state JSON inside
/// the metadata included, tensor shapes, dtypes and offsets); else a few bytes of the tensor
/// data. Then the header is framed again and the checksum rewritten, so the damage reaches the
/// checks behind the checksum. For [`Campaign::mutation`](crate::Campaign::mutation).
pub fn mutate_file(m: &mut crate::Mutator, file: &[u8], _donors: &[Vec<u8>]) -> Vec<u8> {
    use crate::mutate::Op;
    let header_len = file
        .first_chunk::<8>()
        .and_then(|p| usize::try_from(u64::from_le_bytes(*p)).ok())
        .filter(|&n| n <= file.len() - 8);
    let Some(n) = header_len else { return reseal(&m.mutate(file, &[])) };
    let (header, data) = (&file[8..8 + n], &file[8 + n..]);
    let mut out;
    if m.pick(4) > 0 || data.is_empty() {
        let mut new_header = crate::json::mutate_text(m, header);
        new_header.resize(new_header.len().next_multiple_of(8), b' ');
        out = (new_header.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(&new_header);
        out.extend_from_slice(data);
    } else {
        let mut new_data = data.to_vec();
        let op = [Op::FlipBits, Op::HugeInt, Op::InterestingByte, Op::RandomByte][m.pick(4)];
        m.apply(op, &mut new_data, &[]);
        new_data.truncate(data.len());
        out = file[..8 + n].to_vec();
        out.extend_from_slice(&new_data);
    }
    reseal(&out)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A file written by the safetensors crate with a checksum entry of the right length.
    fn file(data: &[f32], sum: &str) -> Vec<u8> {
        let bytes: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        let view = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![data.len()], &bytes).unwrap();
        let meta = HashMap::from([(CHECKSUM_KEY.to_string(), sum.to_string()), ("k".to_string(), "v".to_string())]);
        safetensors::serialize([("x", view)], Some(meta)).unwrap()
    }

    #[test]
    fn resealing_is_idempotent_and_follows_the_content() {
        let stale = file(&[1.0, 2.0], &"0".repeat(64));
        let sealed = reseal(&stale);
        assert_ne!(sealed, stale);
        assert_eq!(sealed.len(), stale.len());
        assert_eq!(reseal(&sealed), sealed);
        let mut changed = sealed.clone();
        let last = changed.len() - 1;
        changed[last] ^= 1;
        assert_ne!(reseal(&changed), changed);
        assert_eq!(reseal(b"not a safetensors file"), b"not a safetensors file");
        let short = file(&[1.0], "short");
        assert_eq!(reseal(&short), short);
    }

    #[test]
    fn a_header_that_grew_or_shrank_is_framed_again() {
        let sealed = reseal(&file(&[1.0, 2.0], &"0".repeat(64)));
        let n = u64::from_le_bytes(sealed[..8].try_into().unwrap()) as usize;
        // Insert a metadata entry: the header is longer than its declared length.
        let header = String::from_utf8(sealed[8..8 + n].to_vec()).unwrap();
        let grown = header.replacen("\"__metadata__\":{", "\"__metadata__\":{\"added\":\"entry\",", 1);
        assert_ne!(grown, header);
        let mut bytes = sealed[..8].to_vec();
        bytes.extend_from_slice(grown.as_bytes());
        bytes.extend_from_slice(&sealed[8 + n..]);
        assert!(SafeTensors::deserialize(&bytes).is_err());
        let repaired = reseal(&bytes);
        let st = SafeTensors::deserialize(&repaired).unwrap();
        assert_eq!(st.tensor("x").unwrap().data(), &sealed[8 + n..]);
        assert_eq!(reseal(&repaired), repaired, "and the checksum matches");
    }
}
