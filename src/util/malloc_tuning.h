// Process-wide glibc malloc settings for a long-running writer.
#pragma once

namespace stele {

// Fixes glibc's mmap threshold at 1 MiB.  By default glibc raises the
// threshold (up to 32 MiB) each time a large block is freed; after a few
// seals the live field index's growing arrays then come from the heap, whose
// holes are rarely returned, and the writer's RSS crept with the log's size
// (216 -> 300 MiB over 40M events).  With a fixed threshold every block of
// 1 MiB or more is mapped and unmapped on its own and RSS stays flat
// (112-174 MiB over the same 40M; docs/performance.md, "Memory").
//
// It changes the whole process's allocator, so the library never calls it
// on its own: the `stele` binary and the Python module do, and an embedding
// program may (or set GLIBC_TUNABLES=glibc.malloc.mmap_threshold=1048576).
// A no-op where glibc is not the allocator.
void UseFixedMmapThreshold();

}  // namespace stele
