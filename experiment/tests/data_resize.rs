//! The `resize` filter of image data: each source's default is left out of the hash (so files
//! written before the field existed keep their points), another filter changes it.

use sparse_scaling_experiment::{Data, Experiment, Resize};

fn spec_of(data: &str) -> (String, String) {
    let src = format!(r#"(name: "r", model: (family: Vit, sizes: Widths([32])), steps: [10], data: {data})"#);
    let p = Experiment::from_ron_str(&src).unwrap().expand().unwrap().remove(0);
    (p.hash, p.spec.canonical_json())
}

#[test]
fn default_filters_keep_hashes_and_others_change_them() {
    let (cifar, json) = spec_of(r#"CifarBinary(path: "c")"#);
    assert!(json.contains(r#""data":{"CifarBinary":{"path":"c"}}"#), "{json}");
    assert_eq!(spec_of(r#"CifarBinary(path: "c", resize: Box)"#).0, cifar);
    assert_ne!(spec_of(r#"CifarBinary(path: "c", resize: Bilinear)"#).0, cifar);
    assert_ne!(spec_of(r#"CifarBinary(path: "c", resize: Nearest)"#).0, cifar);

    let (folder, json) = spec_of(r#"ImageFolder(path: "f")"#);
    assert!(json.contains(r#""data":{"ImageFolder":{"path":"f"}}"#), "{json}");
    assert_eq!(spec_of(r#"ImageFolder(path: "f", resize: Bilinear)"#).0, folder);
    let (boxed, json) = spec_of(r#"ImageFolder(path: "f", resize: Box)"#);
    assert_ne!(boxed, folder);
    assert!(json.contains(r#""resize":"Box""#), "{json}");

    let e = Experiment::from_ron_str(
        r#"(name: "r", model: (family: Vit, sizes: Widths([32])), steps: [10], data: CifarBinary(path: "c", resize: Lanczos))"#,
    )
    .unwrap_err();
    assert!(e.to_string().contains("Lanczos"), "{e}");
    let d = Experiment::from_ron_str(
        r#"(name: "r", model: (family: Vit, sizes: Widths([32])), steps: [10], data: ImageFolder(path: "f"))"#,
    )
    .unwrap()
    .data;
    assert_eq!(d, Data::ImageFolder { path: "f".into(), resize: Resize::Bilinear });
}
