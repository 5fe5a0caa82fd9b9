//! Synthetic text for T5: an infinite, seeded, never-repeating stream of documents in a made-up
//! language, byte-tokenised and span-corrupted like C4 in the paper's T5 runs (docs/THEORY.md §5);
//! and the same documents, not corrupted, for next-token prediction ([`SyntheticLm`], the
//! decoder-only model of docs/THEORY.md §6).
//!
//! Document `i` is a pure function of `(seed, i)`; the language (lexicon, grammar, topics) is a
//! function of `seed` alone. The language has learnable structure at several scales, so that
//! bigger models and longer training keep lowering the loss, plus irreducible sampling noise:
//! - **bytes**: words are built from a seeded phonotactics (onset–vowel–coda syllables);
//! - **lexicon**: a few thousand words per seed with Zipfian frequencies (a long tail to
//!   memorise), with morphology: plural `-s`/`-es`, 3rd-person `-s`, past `-ed`;
//! - **syntax**: sentences from a small probabilistic grammar (NP VP with adjectives,
//!   prepositional phrases, conjunctions), number agreement between subject and verb across
//!   the intervening words, determiners agreeing with nouns;
//! - **lexical semantics**: nouns fall into semantic classes; each verb prefers objects of one
//!   class and a preposition, each adjective prefers a class (pairwise associations to learn);
//! - **document**: a topic (Zipf) shifts word frequencies; a tense holds for the whole
//!   document; fresh names are invented per document and recur in it, so a masked name can
//!   only be recovered by copying from elsewhere in the input.

use serde::{Deserialize, Serialize};

use crate::error::DataError;
use crate::rng::{hash_bytes, mix, zipf_cdf, Rng};
use crate::stream::{LmBatch, LmStream, TextBatch, TextStream};
use crate::synthetic::cursor::{Synthetic, SyntheticCursor};
use crate::text::{corrupt_batch, TextShape};
use crate::vocab;

const KIND: &str = "synthetic-text";
const LM_KIND: &str = "synthetic-lm";
const DOMAIN_LANGUAGE: u64 = 0x4c41_4e47;
const DOMAIN_DOC: u64 = 0x444f_4355;
const DOMAIN_MASK: u64 = 0x4d41_534b;

/// Configuration of [`SyntheticText`]. All fields have defaults (see [`Default`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyntheticTextConfig {
    /// Seed of the language and of the documents.
    pub seed: u64,
    /// Sequence lengths and span corruption.
    pub shape: TextShape,
    /// Number of nouns in the lexicon (≥ 1).
    pub nouns: usize,
    /// Number of verbs (≥ 1).
    pub verbs: usize,
    /// Number of adjectives (≥ 1).
    pub adjectives: usize,
    /// Number of adverbs (≥ 1).
    pub adverbs: usize,
    /// Semantic classes of nouns (≥ 1).
    pub noun_classes: usize,
    /// Topics (≥ 1).
    pub topics: usize,
    /// Zipf exponent of word frequencies.
    pub zipf: f64,
}

impl Default for SyntheticTextConfig {
    /// 128/32 tokens, T5 corruption, a 2,650-word lexicon in 24 noun classes and 32 topics.
    fn default() -> Self {
        SyntheticTextConfig {
            seed: 0,
            shape: TextShape::default(),
            nouns: 1500,
            verbs: 600,
            adjectives: 400,
            adverbs: 150,
            noun_classes: 24,
            topics: 32,
            zipf: 1.05,
        }
    }
}

impl SyntheticTextConfig {
    /// Checks every field's range.
    pub fn validate(&self) -> Result<(), DataError> {
        self.shape.raw_len()?;
        let checks: [(&'static str, usize, usize); 6] = [
            ("nouns", self.nouns, 1),
            ("verbs", self.verbs, 1),
            ("adjectives", self.adjectives, 1),
            ("adverbs", self.adverbs, 1),
            ("noun_classes", self.noun_classes, 1),
            ("topics", self.topics, 1),
        ];
        for (field, v, min) in checks {
            if v < min || v > 1_000_000 {
                return Err(DataError::Config { field, value: v.to_string(), reason: format!("use {min}..=1000000") });
            }
        }
        if !(self.zipf >= 0.0 && self.zipf.is_finite()) {
            return Err(DataError::Config {
                field: "zipf",
                value: self.zipf.to_string(),
                reason: "use a finite exponent >= 0 (about 1 is natural-language-like)".into(),
            });
        }
        Ok(())
    }

    fn fingerprint(&self) -> u64 {
        hash_bytes(serde_json::to_string(self).unwrap_or_default().as_bytes())
    }
}

/// A list of words with a Zipf sampler over it.
#[derive(Clone, Debug)]
struct WordList {
    words: Vec<Vec<u8>>,
    cdf: Vec<f64>,
}

impl WordList {
    fn new(words: Vec<Vec<u8>>, zipf: f64) -> Self {
        let cdf = zipf_cdf(words.len(), zipf);
        WordList { words, cdf }
    }
    fn sample(&self, rng: &mut Rng) -> usize {
        rng.categorical_cdf(&self.cdf)
    }
}

/// Indices into a word list, sampled Zipf by position.
#[derive(Clone, Debug)]
struct Subset {
    members: Vec<usize>,
    cdf: Vec<f64>,
}

impl Subset {
    fn new(members: Vec<usize>, zipf: f64) -> Self {
        let cdf = zipf_cdf(members.len().max(1), zipf);
        Subset { members, cdf }
    }
    fn sample(&self, rng: &mut Rng) -> Option<usize> {
        if self.members.is_empty() {
            None
        } else {
            Some(self.members[rng.categorical_cdf(&self.cdf)])
        }
    }
}

#[derive(Clone, Debug)]
struct Phonotactics {
    onsets: Vec<&'static str>,
    onset_cdf: Vec<f64>,
    nuclei: Vec<&'static str>,
    nucleus_cdf: Vec<f64>,
    codas: Vec<&'static str>,
    coda_cdf: Vec<f64>,
}

impl Phonotactics {
    fn new(rng: &mut Rng) -> Self {
        let mut onsets = vec![
            "", "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z", "br", "cr",
            "dr", "fl", "gr", "pl", "pr", "sk", "st", "tr", "sh", "ch", "th", "kl", "sn", "qu", "gl",
        ];
        let mut nuclei = vec!["a", "e", "i", "o", "u", "ai", "ea", "ou", "y", "io", "ee", "oa"];
        let mut codas = vec!["", "n", "r", "s", "l", "m", "t", "nd", "st", "rk", "ng", "x", "ft", "mp"];
        rng.shuffle(&mut onsets);
        rng.shuffle(&mut nuclei);
        rng.shuffle(&mut codas);
        Phonotactics {
            onset_cdf: zipf_cdf(onsets.len(), 0.9),
            nucleus_cdf: zipf_cdf(nuclei.len(), 1.1),
            coda_cdf: zipf_cdf(codas.len(), 1.2),
            onsets,
            nuclei,
            codas,
        }
    }

    fn word(&self, rng: &mut Rng, syllables: usize) -> Vec<u8> {
        let mut w = Vec::new();
        for _ in 0..syllables {
            w.extend_from_slice(self.onsets[rng.categorical_cdf(&self.onset_cdf)].as_bytes());
            w.extend_from_slice(self.nuclei[rng.categorical_cdf(&self.nucleus_cdf)].as_bytes());
            w.extend_from_slice(self.codas[rng.categorical_cdf(&self.coda_cdf)].as_bytes());
        }
        w
    }
}

#[derive(Clone, Debug)]
struct Language {
    phon: Phonotactics,
    nouns: WordList,
    noun_class: Vec<usize>,
    nouns_by_class: Vec<Subset>,
    verbs: WordList,
    verb_transitive: Vec<bool>,
    verb_object_class: Vec<usize>,
    verb_prep: Vec<usize>,
    adjectives: WordList,
    adjectives_by_class: Vec<Subset>,
    adverbs: WordList,
    det_sg: WordList,
    det_pl: WordList,
    preps: WordList,
    conjs: WordList,
    topic_nouns: Vec<Subset>,
    topic_verbs: Vec<Subset>,
    topic_cdf: Vec<f64>,
}

impl Language {
    fn new(cfg: &SyntheticTextConfig) -> Self {
        let mut rng = Rng::new(&[cfg.seed, DOMAIN_LANGUAGE]);
        let phon = Phonotactics::new(&mut rng);
        let mut seen = std::collections::HashSet::new();
        let mut make = |rng: &mut Rng, n: usize, syl: &[f64]| -> Vec<Vec<u8>> {
            let mut out = Vec::with_capacity(n);
            let mut attempts = 0usize;
            while out.len() < n {
                let s = 1 + rng.categorical_cdf(syl);
                let w = phon.word(rng, s);
                attempts += 1;
                // Unique words; after many collisions accept longer words to guarantee progress.
                if w.len() >= 2 && (seen.insert(w.clone()) || attempts > 50 * n) {
                    out.push(w);
                }
            }
            out
        };
        // Cumulative syllable-count distributions: function words short, content words longer.
        let function_syl = [1.0, 1.0, 1.0];
        let content_syl = [0.25, 0.75, 0.95, 1.0];
        let det_sg = WordList::new(make(&mut rng, 4, &function_syl[..1]), 1.0);
        let det_pl = WordList::new(make(&mut rng, 4, &function_syl[..1]), 1.0);
        let preps = WordList::new(make(&mut rng, 12, &[0.7, 1.0]), 1.0);
        let conjs = WordList::new(make(&mut rng, 4, &[0.8, 1.0]), 1.0);
        let nouns = WordList::new(make(&mut rng, cfg.nouns, &content_syl), cfg.zipf);
        let verbs = WordList::new(make(&mut rng, cfg.verbs, &content_syl), cfg.zipf);
        let adjectives = WordList::new(make(&mut rng, cfg.adjectives, &content_syl), cfg.zipf);
        let adverbs = WordList::new(make(&mut rng, cfg.adverbs, &content_syl), cfg.zipf);

        let noun_class: Vec<usize> = (0..cfg.nouns).map(|_| rng.below(cfg.noun_classes as u64) as usize).collect();
        let nouns_by_class = (0..cfg.noun_classes)
            .map(|k| Subset::new((0..cfg.nouns).filter(|&n| noun_class[n] == k).collect(), cfg.zipf))
            .collect();
        let adj_class: Vec<usize> = (0..cfg.adjectives).map(|_| rng.below(cfg.noun_classes as u64) as usize).collect();
        let adjectives_by_class = (0..cfg.noun_classes)
            .map(|k| Subset::new((0..cfg.adjectives).filter(|&a| adj_class[a] == k).collect(), cfg.zipf))
            .collect();
        let verb_transitive = (0..cfg.verbs).map(|_| rng.uniform() < 0.6).collect();
        let verb_object_class = (0..cfg.verbs).map(|_| rng.below(cfg.noun_classes as u64) as usize).collect();
        let verb_prep = (0..cfg.verbs).map(|_| preps.sample(&mut rng)).collect();

        let topic_subset = |rng: &mut Rng, n: usize, k: usize| {
            let k = k.min(n);
            let members: Vec<usize> = (0..k).map(|_| rng.below(n as u64) as usize).collect();
            Subset::new(members, 0.8)
        };
        let topic_nouns = (0..cfg.topics).map(|_| topic_subset(&mut rng, cfg.nouns, 48)).collect();
        let topic_verbs = (0..cfg.topics).map(|_| topic_subset(&mut rng, cfg.verbs, 24)).collect();
        Language {
            phon,
            nouns,
            noun_class,
            nouns_by_class,
            verbs,
            verb_transitive,
            verb_object_class,
            verb_prep,
            adjectives,
            adjectives_by_class,
            adverbs,
            det_sg,
            det_pl,
            preps,
            conjs,
            topic_nouns,
            topic_verbs,
            topic_cdf: zipf_cdf(cfg.topics, 1.0),
        }
    }
}

/// Per-document state.
struct Doc {
    topic: usize,
    past: bool,
    names: Vec<Vec<u8>>,
    names_cdf: Vec<f64>,
}

/// The synthetic text stream.
#[derive(Clone, Debug)]
pub struct SyntheticText {
    cfg: SyntheticTextConfig,
    lang: Language,
    raw_len: usize,
    cursor: SyntheticCursor,
}

impl SyntheticText {
    /// Builds the language from the seed (a few ms).
    pub fn new(cfg: SyntheticTextConfig) -> Result<Self, DataError> {
        cfg.validate()?;
        let raw_len = cfg.shape.raw_len()?;
        Ok(SyntheticText {
            lang: Language::new(&cfg),
            raw_len,
            cursor: SyntheticCursor::new(KIND, cfg.fingerprint()),
            cfg,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SyntheticTextConfig {
        &self.cfg
    }

    /// Raw (uncorrupted) tokens per example.
    pub fn raw_len(&self) -> usize {
        self.raw_len
    }

    /// The text of document `index`, at least `min_bytes` long (whole sentences).
    pub fn document(&self, index: u64, min_bytes: usize) -> Vec<u8> {
        let mut rng = Rng::new(&[self.cfg.seed, DOMAIN_DOC, index]);
        let lang = &self.lang;
        let topic = rng.categorical_cdf(&lang.topic_cdf);
        let past = rng.uniform() < 0.5;
        let n_names = 2 + rng.below(3) as usize;
        let names = (0..n_names)
            .map(|_| {
                let s = 2 + rng.below(2) as usize;
                let mut w = lang.phon.word(&mut rng, s);
                w[0] = w[0].to_ascii_uppercase();
                w
            })
            .collect();
        let doc = Doc { topic, past, names, names_cdf: zipf_cdf(n_names, 1.0) };
        let mut out = Vec::with_capacity(min_bytes + 64);
        while out.len() < min_bytes {
            self.sentence(&doc, &mut rng, &mut out);
            if out.len() < min_bytes {
                out.push(if rng.uniform() < 0.1 { b'\n' } else { b' ' });
            }
        }
        out
    }

    fn sentence(&self, doc: &Doc, rng: &mut Rng, out: &mut Vec<u8>) {
        let start = out.len();
        self.clause(doc, rng, out);
        if rng.uniform() < 0.15 {
            out.extend_from_slice(b", ");
            let c = self.lang.conjs.sample(rng);
            out.extend_from_slice(&self.lang.conjs.words[c]);
            out.push(b' ');
            self.clause(doc, rng, out);
        }
        out.push(b'.');
        if let Some(b) = out.get_mut(start) {
            *b = b.to_ascii_uppercase();
        }
    }

    fn clause(&self, doc: &Doc, rng: &mut Rng, out: &mut Vec<u8>) {
        let lang = &self.lang;
        let plural = self.noun_phrase(doc, rng, out, None, 0.3, 1);
        out.push(b' ');
        if rng.uniform() < 0.15 {
            let a = lang.adverbs.sample(rng);
            out.extend_from_slice(&lang.adverbs.words[a]);
            out.push(b' ');
        }
        let v = if rng.uniform() < 0.4 {
            lang.topic_verbs[doc.topic].sample(rng).unwrap_or(0)
        } else {
            lang.verbs.sample(rng)
        };
        let verb = &lang.verbs.words[v];
        out.extend_from_slice(verb);
        if doc.past {
            out.extend_from_slice(if verb.last() == Some(&b'e') { b"d" } else { b"ed" });
        } else if !plural {
            out.extend_from_slice(suffix_s(verb));
        }
        if lang.verb_transitive[v] {
            out.push(b' ');
            self.noun_phrase(doc, rng, out, Some(lang.verb_object_class[v]), 0.1, 1);
        }
        if rng.uniform() < 0.45 {
            out.push(b' ');
            out.extend_from_slice(&lang.preps.words[lang.verb_prep[v]]);
            out.push(b' ');
            self.noun_phrase(doc, rng, out, None, 0.1, 1);
        }
    }

    /// Writes a noun phrase; returns whether it is plural.
    fn noun_phrase(
        &self,
        doc: &Doc,
        rng: &mut Rng,
        out: &mut Vec<u8>,
        class: Option<usize>,
        p_name: f64,
        depth: usize,
    ) -> bool {
        let lang = &self.lang;
        if rng.uniform() < p_name {
            let k = rng.categorical_cdf(&doc.names_cdf);
            out.extend_from_slice(&doc.names[k]);
            return false;
        }
        let noun = match class {
            Some(k) if rng.uniform() < 0.7 => lang.nouns_by_class[k].sample(rng),
            _ if rng.uniform() < 0.4 => lang.topic_nouns[doc.topic].sample(rng),
            _ => None,
        }
        .unwrap_or_else(|| lang.nouns.sample(rng));
        let plural = rng.uniform() < 0.3;
        let dets = if plural { &lang.det_pl } else { &lang.det_sg };
        out.extend_from_slice(&dets.words[dets.sample(rng)]);
        out.push(b' ');
        let n_adj = match rng.uniform() {
            u if u < 0.6 => 0,
            u if u < 0.9 => 1,
            _ => 2,
        };
        for _ in 0..n_adj {
            let a =
                if rng.uniform() < 0.6 { lang.adjectives_by_class[lang.noun_class[noun]].sample(rng) } else { None }
                    .unwrap_or_else(|| lang.adjectives.sample(rng));
            out.extend_from_slice(&lang.adjectives.words[a]);
            out.push(b' ');
        }
        let word = &lang.nouns.words[noun];
        out.extend_from_slice(word);
        if plural {
            out.extend_from_slice(suffix_s(word));
        }
        if depth > 0 && rng.uniform() < 0.12 {
            out.push(b' ');
            let p = lang.preps.sample(rng);
            out.extend_from_slice(&lang.preps.words[p]);
            out.push(b' ');
            self.noun_phrase(doc, rng, out, None, 0.1, depth - 1);
        }
        plural
    }

    /// Raw tokens of example `index` (the first `raw_len` bytes of document `index`).
    pub fn raw_example(&self, index: u64) -> Vec<u32> {
        let doc = self.document(index, self.raw_len);
        vocab::encode(&doc[..self.raw_len])
    }
}

fn suffix_s(word: &[u8]) -> &'static [u8] {
    match word.last() {
        Some(b's') | Some(b'x') | Some(b'h') => b"es",
        _ => b"s",
    }
}

impl Synthetic for SyntheticText {
    type Batch = TextBatch;

    fn cursor(&self) -> &SyntheticCursor {
        &self.cursor
    }

    fn cursor_mut(&mut self) -> &mut SyntheticCursor {
        &mut self.cursor
    }

    fn batch_from(&self, start: u64, n: usize) -> TextBatch {
        let chunks: Vec<Vec<u32>> = (0..n as u64).map(|i| self.raw_example(start + i)).collect();
        let rngs = (0..n as u64).map(|i| Rng::new(&[self.cfg.seed, DOMAIN_MASK, start + i]));
        corrupt_batch(&self.cfg.shape, &chunks, rngs)
    }
}

impl TextStream for SyntheticText {
    fn input_len(&self) -> usize {
        self.cfg.shape.input_len
    }
    fn target_len(&self) -> usize {
        self.cfg.shape.target_len
    }
}

/// Next-token prediction on the synthetic language: row `i` is the first `seq_len` byte tokens
/// of document `i` of a [`SyntheticText`] (the same documents, not span-corrupted), a pure
/// function of `(seed, i)` that never repeats; validation rows come from the disjoint index
/// range, as for every synthetic stream.
#[derive(Clone, Debug)]
pub struct SyntheticLm {
    text: SyntheticText,
    seq_len: usize,
    cursor: SyntheticCursor,
}

impl SyntheticLm {
    /// Rows of `seq_len` tokens (1..=2^20) in the language of `cfg`: its seed and lexicon; its
    /// `shape` (the span corruption) plays no part.
    pub fn new(cfg: SyntheticTextConfig, seq_len: usize) -> Result<Self, DataError> {
        if seq_len == 0 || seq_len > 1 << 20 {
            return Err(DataError::Config {
                field: "seq_len",
                value: seq_len.to_string(),
                reason: "use 1..=1048576 tokens per row".into(),
            });
        }
        let text = SyntheticText::new(cfg)?;
        let fingerprint = mix(&[text.cfg.fingerprint(), seq_len as u64]);
        Ok(SyntheticLm { text, seq_len, cursor: SyntheticCursor::new(LM_KIND, fingerprint) })
    }

    /// The configuration of the language.
    pub fn config(&self) -> &SyntheticTextConfig {
        self.text.config()
    }

    /// Tokens of row `index` (the first `seq_len` bytes of document `index`).
    pub fn example(&self, index: u64) -> Vec<u32> {
        let doc = self.text.document(index, self.seq_len);
        vocab::encode(&doc[..self.seq_len])
    }
}

impl Synthetic for SyntheticLm {
    type Batch = LmBatch;

    fn cursor(&self) -> &SyntheticCursor {
        &self.cursor
    }

    fn cursor_mut(&mut self) -> &mut SyntheticCursor {
        &mut self.cursor
    }

    fn batch_from(&self, start: u64, n: usize) -> LmBatch {
        let tokens = (0..n as u64).flat_map(|i| self.example(start + i)).collect();
        LmBatch { batch: n, len: self.seq_len, tokens }
    }
}

impl LmStream for SyntheticLm {
    fn seq_len(&self) -> usize {
        self.seq_len
    }
}
