//! Memory a run needs, for models that state it (`prism.memory_base_mib`,
//! `prism.memory_bytes_per_pixel`: FILM's pyramid), checked against the budget before the run so
//! a frame that cannot fit is refused with the numbers instead of the process being killed.

use super::Interpolator;
use crate::error::{Error, Result};

/// Peak resident memory of one run: `base + bytes_per_pixel x padded pixels x batch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MemoryModel {
    pub(crate) base_mib: u64,
    pub(crate) bytes_per_pixel: u64,
}

impl MemoryModel {
    /// MiB one run on `batch` padded `height x width` frames needs.
    pub(crate) fn need_mib(&self, height: usize, width: usize, batch: usize) -> u64 {
        let pixels = (height * width * batch) as u64;
        self.base_mib + (pixels * self.bytes_per_pixel).div_ceil(1 << 20)
    }
}

impl Interpolator {
    /// Refuses a run whose estimated need exceeds the budget (`--memory-budget`, else the memory
    /// available now on CPU; on GPU only an explicit budget is checked).
    pub(super) fn check_memory(&self, height: usize, width: usize, batch: usize) -> Result<()> {
        let Some(model) = self.memory else {
            return Ok(());
        };
        let (budget, what) = match self.options.memory_budget_mib {
            Some(mib) => (mib, "the memory budget"),
            None if self.model.provider().is_gpu() => return Ok(()),
            None => match available_mib() {
                Some(mib) => (mib, "the memory available now"),
                None => return Ok(()),
            },
        };
        let (hp, wp) = (
            height.div_ceil(self.pad_multiple) * self.pad_multiple,
            width.div_ceil(self.pad_multiple) * self.pad_multiple,
        );
        let need = model.need_mib(hp, wp, batch);
        if need > budget {
            return Err(Error::Memory {
                path: self.path.clone(),
                width,
                height,
                batch,
                need_mib: need,
                budget_mib: budget,
                budget_source: what,
            });
        }
        Ok(())
    }
}

/// `MemAvailable` of `/proc/meminfo`, in MiB (None where there is none).
fn available_mib() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    parse_available(&text)
}

fn parse_available(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn need_grows_with_pixels_and_batch() {
        let m = MemoryModel {
            base_mib: 100,
            bytes_per_pixel: 1 << 20,
        };
        assert_eq!(m.need_mib(2, 3, 1), 106);
        assert_eq!(m.need_mib(2, 3, 2), 112);
    }

    #[test]
    fn reads_meminfo() {
        let text = "MemTotal:       24000000 kB\nMemFree:  100 kB\nMemAvailable:   2097152 kB\n";
        assert_eq!(parse_available(text), Some(2048));
        assert_eq!(parse_available("MemTotal: 1 kB\n"), None);
    }
}
