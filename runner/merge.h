/*
 * `itest merge`: several JUnit reports into one (merge.c).
 */
#ifndef ITEST_MERGE_H
#define ITEST_MERGE_H

/* argv[0] is "merge"; returns the exit status (0, or 2 on any error). */
int merge_main(int argc, char **argv);

#endif
