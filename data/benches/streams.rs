//! Cost of producing one batch of 32 examples from each stream (must be far below a training
//! step). `cargo bench -p sparse-scaling-data --bench streams`
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sparse_scaling_data::{
    Stream, SyntheticImageConfig, SyntheticImages, SyntheticText, SyntheticTextConfig, TextCorpus, TextCorpusConfig,
    TextCorpusStream,
};

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("batch32");
    g.throughput(Throughput::Elements(32));
    let mut img = SyntheticImages::new(SyntheticImageConfig::default()).unwrap();
    g.bench_function("synthetic_images_1x28x28", |b| b.iter(|| img.next_batch(32).unwrap()));
    let mut img3 = SyntheticImages::new(SyntheticImageConfig {
        channels: 3,
        height: 32,
        width: 32,
        max_shift: 3,
        ..Default::default()
    })
    .unwrap();
    g.bench_function("synthetic_images_3x32x32", |b| b.iter(|| img3.next_batch(32).unwrap()));
    let mut txt = SyntheticText::new(SyntheticTextConfig::default()).unwrap();
    g.bench_function("synthetic_text_128_32", |b| b.iter(|| txt.next_batch(32).unwrap()));
    let docs: Vec<Vec<u8>> = (0..2000).map(|i| txt.document(i, 300)).collect();
    let mut corpus = TextCorpusStream::new(TextCorpus::from_documents(docs), TextCorpusConfig::default()).unwrap();
    g.bench_function("corpus_text_packed_128_32", |b| b.iter(|| corpus.next_batch(32).unwrap()));
    g.finish();
}

criterion_group!(name = group; config = Criterion::default().sample_size(20); targets = benches);
criterion_main!(group);
