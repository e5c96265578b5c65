//! The IDX reader against good, corrupted, truncated, hostile and random files: a typed error
//! naming the file each time, never a panic.

mod common;

use common::{Scratch, gzip, header, images};
use latent_data::idx::{self, DEFAULT_MAX_DATA_BYTES, IdxOptions};
use latent_data::{DataError, IdxArray, parse_idx, read_idx};
use proptest::prelude::*;

#[test]
fn raw_and_gzip_files_read_the_same_whatever_their_names() {
    let dir = Scratch::new("idx-roundtrip");
    let a = images(3, 4, 5);
    // Names lie on purpose: the content decides.
    let raw = dir.write("looks-compressed.gz", &a.to_bytes());
    let gz = dir.write("looks-raw", &a.to_gzip());
    assert!(idx::is_gzip(&a.to_gzip()) && !idx::is_gzip(&a.to_bytes()));
    for p in [&raw, &gz] {
        let b = read_idx(p).unwrap();
        assert_eq!(b, a);
        assert_eq!(b.dims(), &[3, 4, 5]);
    }
    assert_eq!(parse_idx(&a.to_gzip(), "mem").unwrap(), a);
    // Decompressed digests agree; the stored files differ.
    let d_raw = latent_data::content_sha256(&raw).unwrap();
    let d_gz = latent_data::content_sha256(&gz).unwrap();
    assert_eq!(d_raw, d_gz);
    assert_eq!(d_raw, a.content_sha256());
    idx::verify_sha256(&gz, &idx::hex(&d_raw)).unwrap();
    let err = idx::verify_sha256(&gz, &"0".repeat(64)).unwrap_err();
    assert!(matches!(err, DataError::Checksum { ref path, .. } if path == &gz), "{err}");
    // Compression is deterministic.
    assert_eq!(a.to_gzip(), a.clone().to_gzip());
}

#[test]
fn rank_is_checked_when_required() {
    let bytes = images(2, 2, 2).to_bytes();
    assert!(IdxOptions::with_rank(3).parse(&bytes, "x").is_ok());
    let err = IdxOptions::with_rank(1).parse(&bytes, "labels.idx").unwrap_err();
    assert!(matches!(err, DataError::Rank { expected: 1, found: 3, .. }), "{err}");
    assert!(err.to_string().contains("labels.idx"));
    let err = parse_idx(&header(8, &[]), "r0").unwrap_err();
    assert!(matches!(err, DataError::Dimensions { .. }), "{err}");
}

#[test]
fn wrong_magic_numbers_are_rejected() {
    for (bytes, what) in [
        (vec![], "empty"),
        (vec![0, 0, 8], "three bytes"),
        (b"PK\x03\x04 a zip file".to_vec(), "zip"),
        (vec![0, 1, 8, 1, 0, 0, 0, 1, 5], "second byte set"),
        (vec![0xff; 32], "all ones"),
    ] {
        let err = parse_idx(&bytes, "bad-magic").unwrap_err();
        assert!(matches!(err, DataError::BadMagic { .. }), "{what}: {err}");
        assert!(err.to_string().contains("bad-magic"), "{what}: {err}");
    }
    let err = parse_idx(&[0, 0, 0x0D, 1, 0, 0, 0, 1, 0, 0, 0, 0], "floats").unwrap_err();
    assert!(matches!(err, DataError::ElementType { found: 0x0D, .. }), "{err}");
    assert!(err.to_string().contains("32-bit float"), "{err}");
    let err = parse_idx(&[0, 0, 0x42, 1, 0, 0, 0, 0], "odd").unwrap_err();
    assert!(matches!(err, DataError::ElementType { found: 0x42, .. }), "{err}");
}

#[test]
fn truncated_files_are_rejected_raw_and_compressed() {
    let dir = Scratch::new("idx-truncated");
    let full = images(10, 28, 28).to_bytes();
    // Cut inside the data, inside the dimensions, right after the magic.
    for (cut, what) in [(full.len() - 1, "data"), (100, "data"), (9, "dimensions"), (4, "dimensions")] {
        let p = dir.write("cut.idx", &full[..cut]);
        let err = read_idx(&p).unwrap_err();
        match err {
            DataError::Truncated { what: w, ref path, .. } => {
                assert_eq!(w, what);
                assert_eq!(path, &p);
            }
            ref other => panic!("cut at {cut}: {other}"),
        }
        // The same content compressed is truncated too.
        let err = parse_idx(&gzip(&full[..cut]), "cut.gz").unwrap_err();
        assert!(matches!(err, DataError::Truncated { what: w, .. } if w == what), "{err}");
    }
    // A compressed stream cut short: truncated or a corrupt stream, never a panic.
    let gz = gzip(&full);
    for cut in [gz.len() - 1, gz.len() - 8, gz.len() / 2, 12, 3] {
        let err = parse_idx(&gz[..cut], "cut-stream.gz").unwrap_err();
        assert!(
            matches!(err, DataError::Truncated { .. } | DataError::Gzip { .. } | DataError::BadMagic { .. }),
            "cut at {cut}: {err}"
        );
    }
}

#[test]
fn a_truncated_file_reports_what_it_holds() {
    let bytes = [header(8, &[60_000, 28, 28]), vec![0; 1000]].concat();
    let err = parse_idx(&bytes, "train-images-idx3-ubyte").unwrap_err();
    assert!(matches!(err, DataError::Truncated { expected: 47_040_000, found: 1000, .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("train-images-idx3-ubyte") && msg.contains("47040000"), "{msg}");
}

#[test]
fn trailing_bytes_are_rejected() {
    let mut bytes = images(2, 3, 3).to_bytes();
    bytes.push(0);
    let err = parse_idx(&bytes, "long").unwrap_err();
    assert!(matches!(err, DataError::TrailingBytes { expected: 18, found: 19, exact: true, .. }), "{err}");
    let err = parse_idx(&gzip(&bytes), "long.gz").unwrap_err();
    assert!(matches!(err, DataError::TrailingBytes { exact: false, .. }), "{err}");
}

#[test]
fn hostile_dimensions_never_allocate() {
    // The product overflows 64 bits.
    let err = parse_idx(&header(8, &[u32::MAX, u32::MAX, u32::MAX]), "overflow").unwrap_err();
    assert!(matches!(err, DataError::TooLarge { bytes: None, .. }), "{err}");
    assert!(err.to_string().contains("over 2^64"), "{err}");
    // Fits in 64 bits but exceeds the limit.
    let err = parse_idx(&header(8, &[u32::MAX, 4]), "huge").unwrap_err();
    assert!(
        matches!(err, DataError::TooLarge { bytes: Some(b), limit, .. } if b == 4 * u64::from(u32::MAX) && limit == DEFAULT_MAX_DATA_BYTES),
        "{err}"
    );
    // Under the limit but far beyond the file: refused before reading, raw or compressed.
    let claim = [header(8, &[1 << 30]), vec![1, 2, 3]].concat();
    let err = parse_idx(&claim, "liar").unwrap_err();
    assert!(matches!(err, DataError::Truncated { expected: 1_073_741_824, found: 3, .. }), "{err}");
    let err = parse_idx(&gzip(&claim), "liar.gz").unwrap_err();
    assert!(matches!(err, DataError::Truncated { expected: 1_073_741_824, found: 3, .. }), "{err}");
    // A tighter limit applies.
    let opts = IdxOptions { rank: None, max_data_bytes: 10 };
    let err = opts.parse(&images(1, 4, 4).to_bytes(), "limited").unwrap_err();
    assert!(matches!(err, DataError::TooLarge { limit: 10, .. }), "{err}");
}

#[test]
fn a_corrupted_gzip_stream_is_a_typed_error() {
    let mut gz = images(4, 8, 8).to_gzip();
    // Flip a byte of the CRC in the trailer, then one in the middle of the deflate stream.
    let n = gz.len();
    gz[n - 6] ^= 0xff;
    let err = parse_idx(&gz, "crc.gz").unwrap_err();
    assert!(matches!(err, DataError::Gzip { .. }), "{err}");
    let mut gz = images(4, 8, 8).to_gzip();
    gz[n / 2] ^= 0x55;
    assert!(parse_idx(&gz, "mid.gz").is_err());
}

#[test]
fn missing_files_name_the_path() {
    let err = read_idx("/nonexistent/train-images-idx3-ubyte.gz").unwrap_err();
    assert!(matches!(err, DataError::Io { .. }), "{err}");
    assert!(err.to_string().contains("/nonexistent/train-images-idx3-ubyte.gz"));
}

#[test]
fn new_checks_its_arguments() {
    assert!(IdxArray::new(vec![], vec![]).is_err());
    assert!(IdxArray::new(vec![2, 2], vec![0; 3]).is_err());
    assert!(IdxArray::new(vec![usize::MAX, 2], vec![]).is_err());
    assert!(IdxArray::new(vec![0, 5], vec![]).is_ok());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Random bytes: a typed result, never a panic; a success only for a well-formed file.
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        if let Ok(a) = parse_idx(&bytes, "random") {
            prop_assert_eq!(a.to_bytes(), bytes);
        }
    }

    /// Random bytes behind a plausible header, raw and compressed.
    #[test]
    fn random_headers_never_panic(
        ty in prop_oneof![Just(8u8), any::<u8>()],
        dims in proptest::collection::vec(prop_oneof![0u32..6, any::<u32>()], 0..5),
        body in proptest::collection::vec(any::<u8>(), 0..128),
    ) {
        let bytes = [header(ty, &dims), body].concat();
        let raw = parse_idx(&bytes, "raw");
        let gz = parse_idx(&gzip(&bytes), "gz");
        match (&raw, &gz) {
            (Ok(a), Ok(b)) => prop_assert_eq!(a, b),
            (Err(_), Err(_)) => {}
            _ => prop_assert!(false, "raw {:?} but gzip {:?}", raw, gz),
        }
    }

    /// A valid file with one byte changed: a typed result, never a panic. Cut short: an error.
    #[test]
    fn mutated_files_never_panic(at in 0usize..200, xor in 1u8..=255, cut in 0usize..200, zip in any::<bool>()) {
        let good = images(2, 5, 5);
        let bytes = if zip { good.to_gzip() } else { good.to_bytes() };
        let mut flipped = bytes.clone();
        let at = at % bytes.len();
        flipped[at] ^= xor;
        if let Ok(a) = parse_idx(&flipped, "flipped") {
            // Only a flip inside raw pixel data, or one gzip tolerates, can still parse.
            prop_assert_eq!(a.dims(), good.dims());
        }
        let cut = cut % bytes.len();
        prop_assert!(parse_idx(&bytes[..cut], "cut").is_err());
    }
}
