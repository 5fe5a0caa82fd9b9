//! Writes synthetic training and validation examples as raw little-endian files, for looking
//! at the data in other tools (e.g. numpy.fromfile).
//!
//! `cargo run --release -p sparse-scaling-data --example dump -- images OUT_DIR N_TRAIN N_VALID [SEED]`
//! `cargo run --release -p sparse-scaling-data --example dump -- text OUT_DIR N_TRAIN N_VALID [SEED]`
//! Images: `{train,valid}_x.f32` (N×C×H×W), `{train,valid}_y.u32`. Text: `{train,valid}_in.u32`
//! (N×input_len), `{train,valid}_tgt.u32` (N×target_len). Shapes are printed.
use std::io::Write;

use sparse_scaling_data::{Stream, SyntheticImageConfig, SyntheticImages, SyntheticText, SyntheticTextConfig};

fn write<T: Copy>(path: std::path::PathBuf, v: &[T], to_le: impl Fn(T) -> [u8; 4]) -> std::io::Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    for &x in v {
        f.write_all(&to_le(x))?;
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 5 {
        return Err("usage: dump images|text OUT_DIR N_TRAIN N_VALID [SEED]".into());
    }
    let out = std::path::PathBuf::from(&args[2]);
    std::fs::create_dir_all(&out)?;
    let (n_train, n_valid): (usize, usize) = (args[3].parse()?, args[4].parse()?);
    let seed: u64 = args.get(5).map(|s| s.parse()).transpose()?.unwrap_or(0);
    match args[1].as_str() {
        "images" => {
            let mut s = SyntheticImages::new(SyntheticImageConfig { seed, ..Default::default() })?;
            let t = std::time::Instant::now();
            let b = s.next_batch(n_train)?;
            eprintln!("{:.2} us/example", t.elapsed().as_secs_f64() * 1e6 / n_train as f64);
            let v = s.validation_set(n_valid, n_valid)?.remove(0);
            println!("images {}x{}x{} classes {}", b.channels, b.height, b.width, s.config().classes);
            write(out.join("train_x.f32"), &b.pixels, f32::to_le_bytes)?;
            write(out.join("train_y.u32"), &b.labels, u32::to_le_bytes)?;
            write(out.join("valid_x.f32"), &v.pixels, f32::to_le_bytes)?;
            write(out.join("valid_y.u32"), &v.labels, u32::to_le_bytes)?;
        }
        "text" => {
            let mut s = SyntheticText::new(SyntheticTextConfig { seed, ..Default::default() })?;
            let t = std::time::Instant::now();
            let b = s.next_batch(n_train)?;
            eprintln!("{:.2} us/example", t.elapsed().as_secs_f64() * 1e6 / n_train as f64);
            let v = s.validation_set(n_valid, n_valid)?.remove(0);
            println!("text input_len {} target_len {}", b.input_len, b.target_len);
            write(out.join("train_in.u32"), &b.inputs, u32::to_le_bytes)?;
            write(out.join("train_tgt.u32"), &b.targets, u32::to_le_bytes)?;
            write(out.join("valid_in.u32"), &v.inputs, u32::to_le_bytes)?;
            write(out.join("valid_tgt.u32"), &v.targets, u32::to_le_bytes)?;
        }
        other => return Err(format!("unknown kind {other:?}; use images or text").into()),
    }
    Ok(())
}
