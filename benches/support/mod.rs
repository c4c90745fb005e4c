//! Helpers shared by the benchmarks (not a benchmark itself).

// Each benchmark uses a part of these helpers.
#![allow(dead_code)]

pub mod estate;

/// A 64-bit linear congruential generator (Knuth's MMIX constants): small,
/// deterministic, good enough to mix misconfigurations.
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// True with a probability of `percent` %.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}
