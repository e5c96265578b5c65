//! CSV tables through `--data`: good files load with their classes and feature names, split and
//! standardise; malformed ones (ragged rows, NaN and non-numeric cells, empty files, bad column
//! names) are refused with the file, line and column named, or their incomplete rows dropped
//! and counted.

use std::path::{Path, PathBuf};

use latent_data::csv::{CsvOptions, MAX_TABLE_BYTES, read_csv};
use latent_data::source::{self, LoadOptions, Source};
use latent_data::{DataError, Format, SampleShape, ValueKind};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn labelled(label: &str) -> CsvOptions {
    CsvOptions { label_column: Some(label.into()), ..CsvOptions::default() }
}

fn error(path: &Path, options: &CsvOptions) -> String {
    let e = read_csv(path, options).unwrap_err();
    assert!(matches!(e, DataError::Table { .. } | DataError::Io { .. }), "{e:?}");
    e.to_string()
}

/// The bundled sample of the Wisconsin breast-cancer table.
fn bundled() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sample/table/wdbc-200.csv")
}

#[test]
fn the_bundled_table_loads_splits_and_standardises() {
    let options = LoadOptions { label_column: Some("diagnosis".into()), ..LoadOptions::default() };
    let source = Source::from_path(&bundled(), None).unwrap();
    assert_eq!(source.format(), Format::Csv);
    let data = source::load(source, &options).unwrap().prepare(&options, None).unwrap();
    assert_eq!((data.train.len(), data.test.len(), data.dropped_rows), (160, 40, 0));
    let spec = data.spec();
    assert_eq!((spec.shape, spec.values), (SampleShape::Features { features: 30 }, ValueKind::Real));
    assert_eq!(spec.class_names.as_deref(), Some(&["benign".to_string(), "malignant".to_string()][..]));
    let features = spec.feature_names.as_ref().unwrap();
    assert_eq!((features[0].as_str(), features[29].as_str()), ("radius_mean", "fractal_dimension_worst"));
    // Standardised with the training split's statistics: mean 0 and spread 1 per feature there.
    let train = data.train.to_flat(latent_data::Scale::ZeroOne);
    for column in train.columns() {
        let mean = column.mean().unwrap();
        let sd = column.std(0.0);
        assert!(mean.abs() < 1e-4 && (sd - 1.0).abs() < 1e-3, "{mean} {sd}");
    }
    let stats = spec.standardization.as_ref().unwrap();
    assert!((stats.mean[0] - 14.0).abs() < 1.5, "radius_mean's mean {}", stats.mean[0]);
    // The same options give the same split: a later `eval` sees the same test rows.
    let again = source::load(Source::from_path(&bundled(), None).unwrap(), &options)
        .unwrap()
        .prepare(&options, Some(stats))
        .unwrap();
    assert_eq!(again.test, data.test);
    // --classes by name keeps one class (a one-class training set).
    let benign = LoadOptions { classes: Some(vec!["benign".into()]), ..options.clone() };
    let data =
        source::load(Source::from_path(&bundled(), None).unwrap(), &benign).unwrap().prepare(&benign, None).unwrap();
    assert!(data.train.labels().iter().chain(data.test.labels()).all(|&l| l == 0));
}

#[test]
fn labels_columns_and_order_are_as_asked() {
    let dir = tempfile::tempdir().unwrap();
    // CRLF line ends, quoted fields, spaces around cells, integer labels out of order.
    let p = write(dir.path(), "t.csv", "a,\"b\",c,label\r\n1, 2 ,3,10\r\n4,5,6,2\r\n7,8,9,\"10\"\r\n0.5,-1e2,+3,2\r\n");
    let t = read_csv(&p, &labelled("label")).unwrap();
    assert_eq!(t.dataset.spec().class_names.as_deref(), Some(&["2".to_string(), "10".to_string()][..]));
    assert_eq!(t.dataset.labels(), [1, 0, 1, 0]);
    assert_eq!(t.dataset.to_flat(latent_data::Scale::ZeroOne).row(3).to_vec(), [0.5, -100.0, 3.0]);
    let chosen = CsvOptions { columns: Some(vec!["c".into(), "a".into()]), ..labelled("label") };
    let t = read_csv(&p, &chosen).unwrap();
    assert_eq!(t.dataset.spec().feature_names.as_deref(), Some(&["c".to_string(), "a".to_string()][..]));
    assert_eq!(t.dataset.to_flat(latent_data::Scale::ZeroOne).row(0).to_vec(), [3.0, 1.0]);
    // No label column: every column is a feature, and the rows are unlabelled.
    // A UTF-8 byte-order mark (as spreadsheet programs write) is not part of the first name.
    let numbers = write(dir.path(), "n.csv", "\u{feff}x,y\n1,2\n3,4\n");
    let t = read_csv(&numbers, &CsvOptions::default()).unwrap();
    assert_eq!(
        (t.dataset.shape(), t.dataset.spec().class_names.clone()),
        (SampleShape::Features { features: 2 }, None)
    );
    assert_eq!(t.dataset.labels(), [0, 0]);
    assert_eq!(t.dataset.spec().feature_names.as_deref(), Some(&["x".to_string(), "y".to_string()][..]));
}

#[test]
fn malformed_tables_are_refused_naming_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let l = labelled("y");
    let cases: &[(&str, &str, &CsvOptions, &str)] = &[
        ("ragged.csv", "a,b,y\n1,2,p\n3,4\n", &l, "line 3: expected 3 cells, as the header has, found 2 cells"),
        ("long.csv", "a,b,y\n1,2,p,9\n", &l, "line 2: expected 3 cells, as the header has, found 4 cells"),
        (
            "nan.csv",
            "a,b,y\n1,2,p\n3,NaN,q\n",
            &l,
            "line 3, column 'b': expected a number, found 'NaN', which is not a finite number",
        ),
        (
            "inf.csv",
            "a,b,y\n-inf,2,p\n",
            &l,
            "line 2, column 'a': expected a number, found '-inf', which is not a finite number",
        ),
        ("word.csv", "a,b,y\n1,2,p\n\n3,abc,q\n", &l, "line 4, column 'b': expected a number, found 'abc'"),
        (
            "blank-lines.csv",
            "\r\n\na,b,y\r\n\r\n1,2,p\r\n\r\n\r\n3,x,q\r\n",
            &l,
            "line 8, column 'b': expected a number, found 'x'",
        ),
        ("quoted.csv", "a,b,y\n1,2,\"two\nlines\"\n3,?,q\n", &l, "line 4, column 'b': expected a number, found '?'"),
        ("empty-cell.csv", "a,b,y\n1,,p\n", &l, "line 2, column 'b': expected a number, found an empty cell"),
        ("no-label.csv", "a,b,y\n1,2,\n", &l, "line 2, column 'y': expected a label, found an empty cell"),
        ("empty.csv", "", &l, "line 1: expected a header row naming the columns, found an empty file"),
        ("header-only.csv", "a,b,y\n", &l, "expected at least one row of data after the header, found only the header"),
        (
            "dup.csv",
            "a,b,a,y\n1,2,3,p\n",
            &l,
            "line 1, column 'a': expected distinct column names, found columns 1 and 3 both named 'a'",
        ),
        (
            "unknown-label.csv",
            "a,b\n1,2\n",
            &l,
            "expected a column named 'y' (--label-column) among: a, b, found no such column",
        ),
    ];
    for (name, text, options, expected) in cases {
        let p = write(dir.path(), name, text);
        let e = error(&p, options);
        assert!(e.contains(name) && e.ends_with(expected), "{name}: {e}");
    }
    let p = write(dir.path(), "t.csv", "a,b,y\n1,2,p\n");
    let unknown = CsvOptions { columns: Some(vec!["a".into(), "z".into()]), ..l.clone() };
    assert!(error(&p, &unknown).contains("expected a column named 'z' (--columns) among: a, b, y"));
    let label_as_feature = CsvOptions { columns: Some(vec!["a".into(), "y".into()]), ..l.clone() };
    assert!(error(&p, &label_as_feature).contains("the label column among the features"));
    let twice = CsvOptions { columns: Some(vec!["a".into(), "a".into()]), ..l.clone() };
    assert!(error(&p, &twice).contains("a column named twice in --columns"));
    let only_label = write(dir.path(), "only-label.csv", "y\np\n");
    assert!(error(&only_label, &l).contains("at least one feature column besides the label column"));
    let latin1 = dir.path().join("latin1.csv");
    std::fs::write(&latin1, b"a,b,y\n1,\xe92,p\n").unwrap();
    assert!(error(&latin1, &l).contains("line 2, column 'b': expected a number, found bytes that are not UTF-8"));
    let missing = error(&dir.path().join("missing.csv"), &l);
    assert!(missing.contains("missing.csv") && missing.contains("cannot read"), "{missing}");
    // More than 256 classes.
    let many: String = std::iter::once("a,y\n".to_string()).chain((0..300).map(|i| format!("1,c{i}\n"))).collect();
    let p = write(dir.path(), "many.csv", &many);
    assert!(
        error(&p, &l).contains("line 258, column 'y': expected at most 256 distinct labels, found a 257th: 'c256'")
    );
    // A file over the size cap is refused from its size alone (a sparse file: nothing is written).
    let huge = dir.path().join("huge.csv");
    std::fs::File::create(&huge).unwrap().set_len(MAX_TABLE_BYTES + 1).unwrap();
    assert!(error(&huge, &l).contains(&format!("expected a table of at most {MAX_TABLE_BYTES} bytes")));
}

#[test]
fn incomplete_rows_are_dropped_and_counted_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "gaps.csv", "a,b,y\n1,2,p\n,4,q\n5,NaN,p\n7,x,q\n9,10,\n11,12,q\n13,14,p\n15,16,q\n");
    let options = LoadOptions {
        label_column: Some("y".into()),
        drop_incomplete: true,
        test_fraction: 0.25,
        ..LoadOptions::default()
    };
    let data = source::load(Source::from_path(&p, None).unwrap(), &options).unwrap();
    assert_eq!((data.train.len() + data.test.len(), data.dropped_rows), (4, 4));
    // Ragged rows stay errors: the file is not the table its header describes.
    let ragged = write(dir.path(), "ragged.csv", "a,b,y\n1,2,p\n3,q\n");
    let e = source::load(Source::from_path(&ragged, None).unwrap(), &options).unwrap_err();
    assert!(e.to_string().contains("line 3: expected 3 cells"), "{e}");
    // Every row incomplete.
    let none = write(dir.path(), "none.csv", "a,y\n,p\nx,q\n");
    let e = source::load(Source::from_path(&none, None).unwrap(), &options).unwrap_err();
    assert!(e.to_string().contains("found none: all 2 rows are incomplete and were dropped"), "{e}");
}

#[test]
fn table_options_on_other_formats_and_bad_fractions_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "t.csv", "a,y\n1,p\n2,q\n");
    let options = LoadOptions { label_column: Some("y".into()), test_fraction: 0.1, ..LoadOptions::default() };
    let e = source::load(Source::from_path(&p, None).unwrap(), &options).unwrap_err().to_string();
    assert!(e.contains("test fraction") && e.contains("the data has 2 examples"), "{e}");
    let keyed = LoadOptions { data_key: Some("x".into()), ..LoadOptions::default() };
    let e = source::load(Source::from_path(&p, None).unwrap(), &keyed).unwrap_err().to_string();
    assert!(e.contains("an .npz archive"), "{e}");
    // A forced format wins over the extension.
    let forced = Source::from_path(&p, Some(Format::Npy)).unwrap();
    assert_eq!(forced.format(), Format::Npy);
    let e = source::load(forced, &LoadOptions::default()).unwrap_err().to_string();
    assert!(e.contains("t.csv") && e.contains("not a .npy"), "{e}");
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

        /// Any text of CSV-ish characters is read or refused with a table error, never a panic,
        /// and what is read has one label per row and finite values.
        #[test]
        fn any_table_is_read_or_refused(text in "[0-9a-c,.\"\r\n eE+-]{0,200}", drop in any::<bool>(), label in any::<bool>()) {
            let dir = tempfile::tempdir().unwrap();
            let p = write(dir.path(), "t.csv", &text);
            let options = CsvOptions {
                label_column: label.then(|| text.split([',', '\n', '\r']).next().unwrap_or("").trim().to_string()),
                drop_incomplete: drop,
                ..CsvOptions::default()
            };
            match read_csv(&p, &options) {
                Ok(t) => {
                    let flat = t.dataset.to_flat(latent_data::Scale::ZeroOne);
                    prop_assert_eq!(flat.nrows(), t.dataset.labels().len());
                    prop_assert!(flat.iter().all(|v| v.is_finite()));
                }
                Err(e) => prop_assert!(matches!(e, DataError::Table { .. }), "{e:?}"),
            }
        }

        /// Arbitrary bytes, too.
        #[test]
        fn any_bytes_are_read_or_refused(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let dir = tempfile::tempdir().unwrap();
            let p = dir.path().join("b.csv");
            std::fs::write(&p, &bytes).unwrap();
            if let Err(e) = read_csv(&p, &CsvOptions::default()) {
                prop_assert!(matches!(e, DataError::Table { .. }), "{e:?}");
            }
        }
    }
}

/// New data to score: every row, in file order, unsplit; the header read on its own.
#[test]
fn a_table_is_read_whole_in_file_order_to_be_scored() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "new.csv", "a,b,kind\n1,2,x\n3,4,y\n5,6,x\n7,8,x\n9,10,y\n");
    assert_eq!(latent_data::csv::read_header(&path).unwrap(), ["a", "b", "kind"]);
    let options = LoadOptions { label_column: Some("kind".into()), ..LoadOptions::default() };
    let source = Source::from_path(&path, None).unwrap();
    let (all, dropped) = source::load_all(source.clone(), &options).unwrap();
    assert_eq!((all.len(), dropped), (5, 0));
    assert_eq!(all.labels(), [0, 1, 0, 0, 1]);
    assert_eq!(all.to_flat(latent_data::Scale::ZeroOne).column(0).to_vec(), [1.0, 3.0, 5.0, 7.0, 9.0]);
    // The same options a split load refuses are refused here too.
    let keyed = LoadOptions { data_key: Some("x".into()), ..LoadOptions::default() };
    assert!(source::load_all(source, &keyed).unwrap_err().to_string().contains(".npz"));
    let empty = write(dir.path(), "empty.csv", "");
    assert!(latent_data::csv::read_header(&empty).unwrap_err().to_string().contains("empty file"));
}
