#include "util/malloc_tuning.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace stele {

void UseFixedMmapThreshold() {
#if defined(__GLIBC__)
  // Setting the threshold explicitly also turns off glibc's dynamic
  // adjustment of it and of the trim threshold.
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
#endif
}

}  // namespace stele
