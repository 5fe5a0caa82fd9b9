//! Synthetic record sets with answers computed by hand.
