/*
 * What the reporters share: counting the cases of the run model, so that
 * the console summary and the JUnit counts always agree with the cases.
 */
#include "reporter.h"

/*
 * Adds the cases of `s` to `c` (the caller zeroes `c` first; calling this
 * for every stage sums a run).  A flaky test counts as passed and flaky.
 */
void rep_count_stage(const struct rep_stage *s, struct rep_counts *c)
{
	for (size_t i = 0; i < s->ncases; i++) {
		const struct rep_case *k = &s->cases[i];
		c->total++;
		switch (k->status) {
		case IT_PASS:
			c->passed++;
			if (k->flaky)
				c->flaky++;
			break;
		case IT_FAIL:
			c->failed++;
			break;
		case IT_ERROR:
			c->errors++;
			break;
		case IT_SKIP:
			c->skipped++;
			break;
		}
	}
}
