//! Duration histograms: log2 slots, so that rollups can be summed and still give percentiles.

/// Histogram slot of a duration: 0 for < 1 ms, then one slot per power of two, capped.
pub const HIST_SLOTS: usize = 32;
pub fn hist_slot(ms: i64) -> usize {
    if ms < 1 {
        0
    } else {
        ((64 - (ms as u64).leading_zeros()) as usize).min(HIST_SLOTS - 1)
    }
}
