//! Prints a few synthetic documents and their span corruption, and image statistics.
//! `cargo run -p sparse-scaling-data --example peek`
use sparse_scaling_data::{
    span_corruption, vocab, Stream, SyntheticImageConfig, SyntheticImages, SyntheticText, SyntheticTextConfig,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut text = SyntheticText::new(SyntheticTextConfig::default())?;
    for i in 0..4 {
        println!("doc {i}: {}\n", String::from_utf8_lossy(&text.document(i, 300)));
    }
    let b = text.next_batch(2)?;
    let show = |ids: &[u32]| {
        ids.iter()
            .map(|&t| match vocab::id_to_byte(t) {
                Some(c) => (c as char).to_string(),
                None if vocab::is_sentinel(t) => format!("<{}>", 383 - t),
                None if t == vocab::EOS => "</s>".into(),
                None => String::new(),
            })
            .collect::<String>()
    };
    println!(
        "inputs:  {}\ntargets: {}\nrecon:   {}",
        show(b.input_row(0)),
        show(b.target_row(0)),
        show(&span_corruption::reconstruct(b.input_row(0), b.target_row(0)))
    );
    let mut img = SyntheticImages::new(SyntheticImageConfig::default())?;
    let t = std::time::Instant::now();
    let mut n = 0;
    for _ in 0..100 {
        let b = img.next_batch(32)?;
        n += b.batch;
    }
    println!("images: {:.1} us/example", t.elapsed().as_secs_f64() * 1e6 / n as f64);
    let t = std::time::Instant::now();
    for _ in 0..100 {
        text.next_batch(32)?;
    }
    println!("text: {:.1} us/example", t.elapsed().as_secs_f64() * 1e6 / 3200.0);
    Ok(())
}
