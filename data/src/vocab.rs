//! Byte-level vocabulary in the style of ByT5 (Xue et al., 2022), as used for the T5 runs of
//! the paper (docs/THEORY.md §5: T5 on C4, here at byte level so that no tokenizer file is needed).
//!
//! Ids: `PAD = 0`, `EOS = 1`, `UNK = 2`, byte `b` ↦ `b + 3` (3..=258), ids 259..=383 unused
//! except for the span-corruption sentinels, which count down from the top:
//! `sentinel(0) = 383`, `sentinel(1) = 382`, … (like T5's `<extra_id_0>` = last id).
//!
//! ```
//! use sparse_scaling_data::vocab;
//! assert_eq!(vocab::byte_to_id(b'a'), 100);
//! assert_eq!(vocab::id_to_byte(100), Some(b'a'));
//! assert_eq!(vocab::sentinel(0), 383);
//! assert!(vocab::is_sentinel(383) && !vocab::is_sentinel(258));
//! ```

/// Padding id (ignored by the loss).
pub const PAD: u32 = 0;
/// End of sequence.
pub const EOS: u32 = 1;
/// Unknown (never produced by byte encoding; reserved).
pub const UNK: u32 = 2;
/// Offset of byte ids: byte `b` has id `b + BYTE_OFFSET`.
pub const BYTE_OFFSET: u32 = 3;
/// Vocabulary size (embedding rows, logits width).
pub const VOCAB_SIZE: usize = 384;
/// Number of sentinel ids available (ids `259..=383`).
pub const NUM_SENTINELS: usize = VOCAB_SIZE - 256 - BYTE_OFFSET as usize;

/// Id of byte `b`.
#[inline]
pub fn byte_to_id(b: u8) -> u32 {
    b as u32 + BYTE_OFFSET
}

/// The byte an id stands for, or `None` for special ids and sentinels.
#[inline]
pub fn id_to_byte(id: u32) -> Option<u8> {
    if (BYTE_OFFSET..BYTE_OFFSET + 256).contains(&id) {
        Some((id - BYTE_OFFSET) as u8)
    } else {
        None
    }
}

/// Sentinel id number `i` (`<extra_id_i>`): `383 - i`. `i` is taken modulo [`NUM_SENTINELS`]
/// so that very long inputs with more spans than sentinels reuse them instead of panicking.
#[inline]
pub fn sentinel(i: usize) -> u32 {
    (VOCAB_SIZE - 1 - (i % NUM_SENTINELS)) as u32
}

/// True for sentinel ids (`259..=383`).
#[inline]
pub fn is_sentinel(id: u32) -> bool {
    id >= BYTE_OFFSET + 256 && (id as usize) < VOCAB_SIZE
}

/// Encodes bytes to ids (no EOS appended).
pub fn encode(bytes: &[u8]) -> Vec<u32> {
    bytes.iter().map(|&b| byte_to_id(b)).collect()
}

/// Decodes ids to bytes, dropping special ids and sentinels.
pub fn decode(ids: &[u32]) -> Vec<u8> {
    ids.iter().filter_map(|&i| id_to_byte(i)).collect()
}
