//! End to end: colour data through the `latent` command: the generated shapes, an image folder
//! with --image-size and --channels, and what a run records of them.

mod common;

use std::path::Path;

use common::{fails, ok, s};

use latent_data::shapes;
use latent_data::source::{Data, Source};

/// The PNG colour type of a file (0 grey, 2 RGB) and its width and height.
fn png_kind(path: &Path) -> (u8, u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    assert!(bytes.starts_with(b"\x89PNG"), "{}", path.display());
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (bytes[25], be(16), be(20))
}

/// An autoencoder trains on the built-in shapes and draws its pictures in colour.
#[test]
fn a_model_trains_on_the_generated_shapes_with_colour_pictures() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let said = ok(&["train", "vae", "--dataset", "shapes", "--epochs", "1", "--limit-batches", "2", "--out", s(&run)]);
    assert!(said.contains("on shapes (10000 train / 2000 test"), "{said}");
    assert_eq!(png_kind(&run.join("reconstructions.png")).0, 2, "RGB reconstructions");
    assert_eq!(png_kind(&run.join("samples.png")).0, 2, "RGB samples");
    let config: serde_json::Value = serde_json::from_slice(&std::fs::read(run.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["data"]["name"], "shapes");
    assert_eq!(config["data"]["spec"]["shape"]["channels"], 3);
    assert_eq!(config["data"]["spec"]["class_names"][5], "triangle");
    // Later commands find the same generated data by its name.
    ok(&["eval", s(&run)]);
    let picture = tmp.path().join("samples.png");
    ok(&["sample", s(&run), "--n", "4", "--out", s(&picture)]);
    assert_eq!(png_kind(&picture), (2, 2 * (64 + 2) + 2, 2 * (64 + 2) + 2));
    // Image options belong to image folders.
    fails(
        &["train", "vae", "--dataset", "shapes", "--channels", "1", "--out", s(&tmp.path().join("x"))],
        "only with an image folder",
    );
}

/// An image folder read as grey at another size, recorded, read again the same way by later
/// commands, and not changed on --resume.
#[test]
fn an_image_folder_is_read_resized_and_grey_and_the_run_remembers_how() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("shapes");
    let data = Data {
        train: shapes::generate(48, 1).unwrap(),
        test: shapes::generate(12, 2).unwrap(),
        source: Source::Shapes,
        dropped_rows: 0,
    };
    shapes::write_folder(&data, &folder).unwrap();
    let run = tmp.path().join("run");
    let said = ok(&[
        "train",
        "ae",
        "--preset",
        "shallow",
        "--data",
        s(&folder),
        "--image-size",
        "16x20",
        "--channels",
        "1",
        "--epochs",
        "1",
        "--batch-size",
        "16",
        "--out",
        s(&run),
    ]);
    assert!(said.contains("48 train / 12 test"), "the folder's own test split: {said}");
    let config: serde_json::Value = serde_json::from_slice(&std::fs::read(run.join("config.json")).unwrap()).unwrap();
    let load = &config["data"]["load"];
    assert_eq!((load["format"].as_str(), load["channels"].as_u64()), (Some("images"), Some(1)));
    assert_eq!((load["image_size"]["height"].as_u64(), load["image_size"]["width"].as_u64()), (Some(16), Some(20)));
    let shape = &config["data"]["spec"]["shape"];
    assert_eq!(
        (shape["channels"].as_u64(), shape["height"].as_u64(), shape["width"].as_u64()),
        (Some(1), Some(16), Some(20))
    );
    assert_eq!(png_kind(&run.join("reconstructions.png")).0, 0, "grey pictures for one channel");

    // eval reads the folder again as the run did (grey, 16x20) without being told.
    ok(&["eval", s(&run)]);
    let recon = tmp.path().join("recon.png");
    ok(&["reconstruct", s(&run), "--n", "4", "--out", s(&recon)]);
    assert_eq!(png_kind(&recon).0, 0);

    fails(&["train", "ae", "--resume", "--out", s(&run), "--epochs", "2", "--image-size", "8"], "--image-size");
    fails(&["train", "ae", "--resume", "--out", s(&run), "--epochs", "2", "--channels", "3"], "--channels");
    fails(&["train", "ae", "--data", s(&folder), "--channels", "2", "--out", s(&tmp.path().join("x"))], "--channels 2");
    fails(
        &["train", "ae", "--data", s(&folder), "--image-size", "0x3", "--out", s(&tmp.path().join("x"))],
        "--image-size",
    );
}

/// A folder of mixed sizes is refused with the file and both sizes named, and accepted resized.
#[test]
fn mixed_sizes_are_refused_by_name_until_resized() {
    let tmp = tempfile::tempdir().unwrap();
    let folder = tmp.path().join("photos");
    let small = Data {
        train: shapes::generate(4, 1).unwrap(),
        test: shapes::generate(2, 2).unwrap(),
        source: Source::Shapes,
        dropped_rows: 0,
    };
    shapes::write_folder(&small, &folder).unwrap();
    // One picture of another size.
    let odd = folder.join("train/ring/odd.png");
    let other =
        latent_data::Dataset::from_pixels(vec![90; 3 * 16 * 20], vec![0], latent_data::SampleShape::image(3, 16, 20))
            .unwrap();
    latent_data::images::write_png(&odd, &other, 0).unwrap();
    fails(
        &["train", "ae", "--data", s(&folder), "--epochs", "1", "--out", s(&tmp.path().join("r"))],
        "odd.png: image is 16×20 (height×width) but the first image",
    );
    ok(&[
        "train",
        "ae",
        "--preset",
        "shallow",
        "--data",
        s(&folder),
        "--image-size",
        "32",
        "--epochs",
        "1",
        "--out",
        s(&tmp.path().join("r")),
        "--quiet",
    ]);
}
