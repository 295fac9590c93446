/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What gmem_iter.bpf.c and its users share.  The uAPI constants it needs
 * are in gmem_consts.h, with gmemctl's.
 */
#ifndef __GMEM_ITER_H
#define __GMEM_ITER_H

#include "gmem_consts.h"

/* Memslot bindings that the iterator's context holds per file. */
#define GMEM_ITER_MAX_BINDINGS		8
/* Regions printed per file, by default (the "max_regions" rodata). */
#define GMEM_ITER_MAX_REGIONS		256

#endif /* __GMEM_ITER_H */
