// SPDX-License-Identifier: GPL-2.0
/*
 * gmem-vmm: the summary of a run, whose lines the lab's tests and demo
 * read ("gmem-vmm: summary: ...").
 */
#define _GNU_SOURCE
#include "host.h"

#define MSG_SUMMARY_STATS \
	"summary: %-11s %llu conversions, %llu pages, %llu refused, min/avg/max %.1f/%.1f/%.1f us, discard avg %.1f us"

static void print_stats(const char *name, const struct conv_stats *s)
{
	if (!s->count) {
		info("summary: %-11s 0 conversions", name);
		return;
	}
	info(MSG_SUMMARY_STATS, name, (unsigned long long)s->count, (unsigned long long)s->pages,
	     (unsigned long long)s->refused,
	     s->min_ns / 1000.0, (double)s->total_ns / s->count / 1000.0,
	     s->max_ns / 1000.0, (double)s->discard_ns / s->count / 1000.0);
}

void print_summary(struct vmm *vmm)
{
	struct conv_stats all = vmm->to_shared;
	const struct conv_stats *p = &vmm->to_private;
	u64 now = now_ns();

	all.count += p->count;
	all.pages += p->pages;
	all.refused += p->refused;
	all.total_ns += p->total_ns;
	all.discard_ns += p->discard_ns;
	if (p->count && (!vmm->to_shared.count || p->min_ns < all.min_ns))
		all.min_ns = p->min_ns;
	if (p->max_ns > all.max_ns)
		all.max_ns = p->max_ns;

	info("summary: %llu rounds in %.3f s (mode %s, %llu MiB, %llu bounce pages)%s",
	     (unsigned long long)vmm->rounds_done,
	     (now - vmm->t_start_ns) / 1e9, vmm->convert_mode,
	     (unsigned long long)vmm->opt.mem_mib,
	     (unsigned long long)vmm->opt.bounce_pages,
	     stop_signal ? ", stopped by signal" : "");
	print_stats("to shared:", &vmm->to_shared);
	print_stats("to private:", &vmm->to_private);
	print_stats("total:", &all);
	info("summary: %llu pages converted, %llu implicit conversions (memory faults)",
	     (unsigned long long)all.pages,
	     (unsigned long long)vmm->mem_faults);

	if (vmm->mode != MODE_IN_PLACE) {
		info("summary: %llu refused (KVM_SET_MEMORY_ATTRIBUTES does not check for pins)",
		     (unsigned long long)all.refused);
		return;
	}
	if (!vmm->deny_note[0])
		snprintf(vmm->deny_note, sizeof(vmm->deny_note), "%s",
			 !vmm->opt.deny_round ? "no demonstration (--deny-round 0)" :
			 "no demonstration: its round was not reached");
	info("summary: %llu refused: %llu by our gup_test pin, %llu transient (retried); %s",
	     (unsigned long long)all.refused,
	     (unsigned long long)vmm->refused_pinned,
	     (unsigned long long)vmm->refused_transient, vmm->deny_note);
}

/* The run is over: say so and print the summary. */
void finish_run(struct vmm *vmm)
{
	event("guest done after %llu rounds",
	      (unsigned long long)vmm->rounds_done);
	print_summary(vmm);
}
