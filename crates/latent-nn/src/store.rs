//! Named arrays in safetensors files, shared by [`checkpoint`](crate::checkpoint) and
//! [`train_state`](crate::train_state): encoding (deterministic: the same contents give the same
//! bytes), a content checksum in the metadata, atomic writes (through [`latent_fsio`]), and
//! parsing that treats the file as untrusted input.
//!
//! The checksum (`latent.sha256` in the metadata) covers the other metadata entries and every
//! tensor's name, dtype, shape and bytes, in name order, so it does not depend on how the file
//! lays tensors out. Files written
//! elsewhere (say, by `safetensors.torch.save_file`) have no checksum and are accepted on the
//! safetensors format's own checks alone; a file with other `latent.*` metadata entries but no
//! checksum is refused (its checksum entry was damaged).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::path::Path;

use ndarray::{ArrayD, IxDyn};
use safetensors::tensor::{TensorInfo, TensorView};
use safetensors::{Dtype, SafeTensors};
use serde::Serialize;
use serde::ser::SerializeMap;
use sha2::{Digest, Sha256};

use crate::error::{NnError, Result};

/// The metadata key of the content checksum.
pub const CHECKSUM_KEY: &str = "latent.sha256";

/// One tensor ready to be written: dtype, shape and little-endian bytes.
pub(crate) struct Encoded {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl Encoded {
    /// An `F32` tensor from an array (any memory layout; written in logical row-major order).
    pub(crate) fn f32(array: &ndarray::ArrayViewD<'_, f32>) -> Self {
        let mut bytes = Vec::with_capacity(array.len() * 4);
        for v in array.iter() {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        Encoded { dtype: Dtype::F32, shape: array.shape().to_vec(), bytes }
    }

    /// A 0-d `I64` tensor.
    pub(crate) fn i64_scalar(v: i64) -> Self {
        Encoded { dtype: Dtype::I64, shape: Vec::new(), bytes: v.to_le_bytes().to_vec() }
    }
}

/// For comparing [`serialize`] with the `safetensors` crate's serialiser in the tests.
#[cfg(test)]
impl safetensors::View for &Encoded {
    fn dtype(&self) -> Dtype {
        self.dtype
    }

    fn shape(&self) -> &[usize] {
        &self.shape
    }

    fn data(&self) -> std::borrow::Cow<'_, [u8]> {
        std::borrow::Cow::Borrowed(&self.bytes)
    }

    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

/// The checksum of the metadata (all entries but the checksum itself) and of the
/// `(name, dtype, shape, bytes)` entries, which must be sorted by name.
fn checksum<'a>(
    metadata: &HashMap<String, String>,
    entries: impl Iterator<Item = (&'a str, Dtype, &'a [usize], &'a [u8])>,
) -> String {
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
    for (name, dtype, shape, bytes) in entries {
        h.update((name.len() as u64).to_le_bytes());
        h.update(name.as_bytes());
        h.update(dtype.to_string().as_bytes());
        h.update((shape.len() as u64).to_le_bytes());
        for &d in shape {
            h.update((d as u64).to_le_bytes());
        }
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Write `entries` and `metadata` (plus the checksum) to `path` atomically.
///
/// The bytes depend only on the entries and the metadata (see [`serialize`]), so saving the same
/// model twice gives the same file.
///
/// # Errors
/// If two entries share a name, or the file cannot be written.
pub(crate) fn write(path: &Path, mut entries: Vec<(String, Encoded)>, metadata: HashMap<String, String>) -> Result<()> {
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some(w) = entries.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(NnError::DuplicateName { name: w[0].0.clone() });
    }
    let sum =
        checksum(&metadata, entries.iter().map(|(n, e)| (n.as_str(), e.dtype, e.shape.as_slice(), e.bytes.as_slice())));
    let mut metadata: BTreeMap<String, String> = metadata.into_iter().collect();
    metadata.insert(CHECKSUM_KEY.to_string(), sum);
    let bytes = serialize(&entries, &metadata).map_err(|e| NnError::corrupt(path, format!("could not encode: {e}")))?;
    latent_fsio::write_bytes(path, &bytes)?;
    Ok(())
}

/// The bytes of a safetensors file holding `entries` (sorted by name, names unique) and
/// `metadata`, the same for the same input.
///
/// The `safetensors` crate's own serialiser takes the metadata as a `HashMap` and writes it in
/// that map's (randomly seeded) iteration order, so two saves of one model differed in the
/// order of the metadata keys. This writes the header itself: the metadata in key order, then
/// the tensors in the order the crate lays them out (decreasing alignment, then name), each
/// with its data offsets, padded with spaces to a multiple of 8 bytes as the crate does.
/// Readers (this crate, `safetensors.torch.load_file`) see the same file as before.
fn serialize(entries: &[(String, Encoded)], metadata: &BTreeMap<String, String>) -> serde_json::Result<Vec<u8>> {
    struct Header<'a> {
        metadata: &'a BTreeMap<String, String>,
        tensors: Vec<(&'a str, TensorInfo)>,
    }
    impl Serialize for Header<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
            let mut map = s.serialize_map(Some(self.tensors.len() + 1))?;
            map.serialize_entry("__metadata__", self.metadata)?;
            for (name, info) in &self.tensors {
                map.serialize_entry(name, info)?;
            }
            map.end()
        }
    }
    let mut order: Vec<&(String, Encoded)> = entries.iter().collect();
    order.sort_by(|(ln, l), (rn, r)| r.dtype.cmp(&l.dtype).then(ln.cmp(rn)));
    let mut offset = 0;
    let tensors = order
        .iter()
        .map(|(name, e)| {
            let info =
                TensorInfo { dtype: e.dtype, shape: e.shape.clone(), data_offsets: (offset, offset + e.bytes.len()) };
            offset += e.bytes.len();
            (name.as_str(), info)
        })
        .collect();
    let mut header = serde_json::to_vec(&Header { metadata, tensors })?;
    header.resize(header.len().next_multiple_of(8), b' ');
    let mut out = Vec::with_capacity(8 + header.len() + offset);
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(&header);
    for (_, e) in order {
        out.extend_from_slice(&e.bytes);
    }
    Ok(out)
}

/// The whole file.
///
/// # Errors
/// If it cannot be read.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).map_err(|source| NnError::Io { action: "reading", path: path.to_path_buf(), source })
}

/// A parsed safetensors file whose checksum (if any) has been verified.
pub(crate) struct Parsed<'a> {
    path: &'a Path,
    tensors: SafeTensors<'a>,
    metadata: HashMap<String, String>,
}

impl<'a> Parsed<'a> {
    /// Parse `bytes` (read from `path`), checking the format and the checksum.
    ///
    /// # Errors
    /// [`NnError::Corrupt`] if the bytes are not a valid safetensors file or do not match
    /// their checksum.
    pub(crate) fn parse(path: &'a Path, bytes: &'a [u8]) -> Result<Self> {
        let corrupt = |e: safetensors::SafeTensorError| NnError::corrupt(path, e.to_string());
        let (_, header) = SafeTensors::read_metadata(bytes).map_err(corrupt)?;
        let metadata = header.metadata().clone().unwrap_or_default();
        let tensors = SafeTensors::deserialize(bytes).map_err(corrupt)?;
        let parsed = Parsed { path, tensors, metadata };
        let ours = parsed.metadata.keys().any(|k| k.starts_with("latent.") && k != CHECKSUM_KEY);
        if ours && !parsed.metadata.contains_key(CHECKSUM_KEY) {
            return Err(NnError::corrupt(
                path,
                format!("written by latent but the `{CHECKSUM_KEY}` metadata entry is missing"),
            ));
        }
        if let Some(expected) = parsed.metadata.get(CHECKSUM_KEY) {
            let mut views: Vec<(String, TensorView<'_>)> = parsed.tensors.tensors();
            views.sort_by(|a, b| a.0.cmp(&b.0));
            let found =
                checksum(&parsed.metadata, views.iter().map(|(n, v)| (n.as_str(), v.dtype(), v.shape(), v.data())));
            if &found != expected {
                return Err(NnError::corrupt(
                    path,
                    "contents do not match the checksum in the metadata (damaged file)",
                ));
            }
        }
        Ok(parsed)
    }

    /// The file's path.
    pub(crate) fn path(&self) -> &Path {
        self.path
    }

    /// A metadata entry.
    pub(crate) fn metadata(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).map(String::as_str)
    }

    /// The tensor names, sorted.
    pub(crate) fn names(&self) -> BTreeSet<&str> {
        self.tensors.names().into_iter().collect()
    }

    /// The tensor `name`, which must exist with `dtype` and `shape`.
    ///
    /// # Errors
    /// [`NnError::MissingTensor`], [`NnError::DtypeMismatch`] or [`NnError::ShapeMismatch`].
    pub(crate) fn expect(&self, name: &str, dtype: Dtype, shape: &[usize]) -> Result<TensorView<'a>> {
        let view = self.tensors.tensor(name).map_err(|_| NnError::MissingTensor {
            path: self.path.to_path_buf(),
            name: name.to_string(),
            expected: shape.to_vec(),
        })?;
        if view.dtype() != dtype {
            return Err(NnError::DtypeMismatch {
                path: self.path.to_path_buf(),
                name: name.to_string(),
                expected: dtype.to_string(),
                found: view.dtype().to_string(),
            });
        }
        if view.shape() != shape {
            return Err(NnError::ShapeMismatch {
                path: self.path.to_path_buf(),
                name: name.to_string(),
                expected: shape.to_vec(),
                found: view.shape().to_vec(),
            });
        }
        Ok(view)
    }

    /// The tensor `name`, which must exist and be `F32`, whatever its shape.
    ///
    /// # Errors
    /// [`NnError::MissingTensor`] or [`NnError::DtypeMismatch`].
    pub(crate) fn expect_f32(&self, name: &str) -> Result<TensorView<'a>> {
        let shape = self.tensors.tensor(name).map(|v| v.shape().to_vec()).unwrap_or_default();
        self.expect(name, Dtype::F32, &shape)
    }

    /// The shape of tensor `name` (empty if absent).
    pub(crate) fn shape_of(&self, name: &str) -> Vec<usize> {
        self.tensors.tensor(name).map(|v| v.shape().to_vec()).unwrap_or_default()
    }
}

/// An `F32` view's values (the view's length has been checked against its shape by the
/// safetensors parser).
pub(crate) fn decode_f32(view: &TensorView<'_>) -> ArrayD<f32> {
    let values = view.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    ArrayD::from_shape_vec(IxDyn(view.shape()), values).expect("the parser checked the length")
}

/// A 0-d `I64` view's value.
pub(crate) fn decode_i64_scalar(view: &TensorView<'_>) -> i64 {
    let d = view.data();
    i64::from_le_bytes(std::array::from_fn(|i| d[i]))
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::path::PathBuf;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("latent-nn-store-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    #[test]
    fn round_trip_with_checksum_and_no_temporary_left() {
        let path = temp("a.safetensors");
        let a = ndarray::arr2(&[[1.0f32, 2.0], [3.0, 4.0]]).into_dyn();
        let t = a.t().to_owned();
        let entries = vec![("x".to_string(), Encoded::f32(&a.t())), ("n".to_string(), Encoded::i64_scalar(-7))];
        write(&path, entries, HashMap::from([("k".to_string(), "v".to_string())])).unwrap();
        let bytes = read(&path).unwrap();
        let parsed = Parsed::parse(&path, &bytes).unwrap();
        assert_eq!(parsed.metadata("k"), Some("v"));
        assert_eq!(decode_f32(&parsed.expect("x", Dtype::F32, &[2, 2]).unwrap()), t);
        assert_eq!(decode_i64_scalar(&parsed.expect("n", Dtype::I64, &[]).unwrap()), -7);
        assert!(matches!(parsed.expect("x", Dtype::I64, &[2, 2]), Err(NnError::DtypeMismatch { .. })));
        assert!(matches!(parsed.expect("x", Dtype::F32, &[4]), Err(NnError::ShapeMismatch { .. })));
        assert!(matches!(parsed.expect("y", Dtype::F32, &[4]), Err(NnError::MissingTensor { .. })));
        let leftovers = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().ends_with(latent_fsio::TEMP_SUFFIX));
        assert_eq!(leftovers.count(), 0);
        let dup = vec![("x".to_string(), Encoded::i64_scalar(1)), ("x".to_string(), Encoded::i64_scalar(2))];
        assert!(matches!(write(&path, dup, HashMap::new()), Err(NnError::DuplicateName { .. })));
    }

    /// With one metadata entry (no order to get wrong) the header written here is byte for byte
    /// the one the `safetensors` crate writes, tensor layout included.
    #[test]
    fn serialize_matches_the_safetensors_crate() {
        let a = ndarray::arr2(&[[1.0f32, 2.0, 3.0], [4.0, 5.0, 6.0]]).into_dyn();
        let entries = vec![
            ("a.weight".to_string(), Encoded::f32(&a.view())),
            ("b.num_batches_tracked".to_string(), Encoded::i64_scalar(3)),
            ("b.running_mean".to_string(), Encoded::f32(&a.t())),
        ];
        let metadata = BTreeMap::from([("format".to_string(), "pt".to_string())]);
        let ours = serialize(&entries, &metadata).unwrap();
        let theirs =
            safetensors::serialize(entries.iter().map(|(n, e)| (n.as_str(), e)), Some(metadata.into_iter().collect()))
                .unwrap();
        assert_eq!(String::from_utf8_lossy(&ours), String::from_utf8_lossy(&theirs));
        assert_eq!(ours, theirs);
    }

    #[test]
    fn a_flipped_data_byte_fails_the_checksum() {
        let path = temp("b.safetensors");
        let a = ndarray::arr1(&[1.0f32, 2.0, 3.0]).into_dyn();
        write(&path, vec![("x".to_string(), Encoded::f32(&a.view()))], HashMap::new()).unwrap();
        let mut bytes = read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x40;
        let err = Parsed::parse(&path, &bytes).err().unwrap();
        assert!(matches!(err, NnError::Corrupt { .. }) && err.to_string().contains("checksum"), "{err}");
    }
}
