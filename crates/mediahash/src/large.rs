//! `LargeArray`: a zero-initialised array that asks Linux for transparent huge pages.
//!
//! The index probes 272 buckets at random per query over arrays of hundreds of megabytes; with 4 KiB pages
//! nearly every probe is a TLB miss and a page walk. The system's THP mode is often `madvise`, so a plain
//! `Vec` never gets huge pages; an anonymous map with `MADV_HUGEPAGE` does. Small arrays, other systems
//! and failures fall back to a `Vec`: huge pages are a speed hint, never a requirement.

use bytemuck::Pod;

/// Below this size a `Vec` is as good (no huge page fits anyway).
const MAP_THRESHOLD_BYTES: usize = 4 << 20;

pub(crate) struct LargeArray<T: Pod> {
    storage: Storage<T>,
    len: usize,
}

enum Storage<T> {
    Heap(Vec<T>),
    #[cfg(target_os = "linux")]
    Map(memmap2::MmapMut),
}

impl<T: Pod> LargeArray<T> {
    /// `len` zeroed elements.
    pub(crate) fn zeroed(len: usize) -> Self {
        #[cfg(target_os = "linux")]
        if let Some(bytes) = len.checked_mul(size_of::<T>())
            && bytes >= MAP_THRESHOLD_BYTES
            && huge_pages_wanted()
            && let Ok(map) = memmap2::MmapMut::map_anon(bytes)
        {
            // Best effort: without THP the map still works, only slower.
            let _ = map.advise(memmap2::Advice::HugePage);
            return LargeArray {
                storage: Storage::Map(map),
                len,
            };
        }
        LargeArray {
            storage: Storage::Heap(vec![T::zeroed(); len]),
            len,
        }
    }

    pub(crate) fn as_slice(&self) -> &[T] {
        match &self.storage {
            Storage::Heap(v) => v,
            #[cfg(target_os = "linux")]
            Storage::Map(m) => bytemuck::cast_slice(&m[..self.len * size_of::<T>()]),
        }
    }

    pub(crate) fn as_mut_slice(&mut self) -> &mut [T] {
        let len = self.len;
        match &mut self.storage {
            Storage::Heap(v) => v,
            #[cfg(target_os = "linux")]
            Storage::Map(m) => bytemuck::cast_slice_mut(&mut m[..len * size_of::<T>()]),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

/// `JIKIMI_PDQ_HUGE_PAGES=0` turns the request off: with the kernel's THP `defrag` set to `madvise`, each
/// huge-page fault may compact memory synchronously, which makes building or loading a very large index
/// slower on a fragmented machine (queries are faster either way).
fn huge_pages_wanted() -> bool {
    static WANTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *WANTED.get_or_init(|| std::env::var("JIKIMI_PDQ_HUGE_PAGES").map_or(true, |v| v != "0"))
}

impl<T: Pod> Clone for LargeArray<T> {
    fn clone(&self) -> Self {
        let mut out = LargeArray::zeroed(self.len);
        out.as_mut_slice().copy_from_slice(self.as_slice());
        out
    }
}

impl<T: Pod> Default for LargeArray<T> {
    fn default() -> Self {
        LargeArray::zeroed(0)
    }
}

impl<T: Pod> std::fmt::Debug for LargeArray<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LargeArray(len {})", self.len)
    }
}
